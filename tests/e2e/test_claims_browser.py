"""零星报销 in a real browser: the person uploads the invoice and the fee list and is paid nothing yet; the
clerk of the insured region opens the review and approves; the settlement appears then."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.e2e.conftest import login
from yidi.adapters.orm import SettlementRow

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _settlements(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(SettlementRow))


def test_s4_claim_with_files_then_clerk_approves_in_the_browser(browser, live_app, tmp_path):
    url, ctx = live_app
    invoice, fee_list = tmp_path / "发票.pdf", tmp_path / "清单.png"
    invoice.write_bytes(PDF)
    fee_list.write_bytes(PNG)
    person = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900}).new_page()
    login(person, url, "P001", "demo-person")
    person.goto(f"{url}/person/claim")
    person.select_option("#hospital", "H11000000001")
    person.fill("#begntime", "2023-03-01")
    person.fill("#endtime", "2023-03-10")
    person.locator("input[name=code]").nth(0).fill("X007")
    person.locator("input[name=amount]").nth(0).fill("8000")
    person.set_input_files("input[name=invoice]", str(invoice))
    person.set_input_files("input[name=fee_list]", str(fee_list))
    person.fill("input[name=bank_name]", "中国银行焦作分行")
    person.fill("input[name=bank_account]", "6217852000012345678")
    person.check("input[name=agree]")
    before = _settlements(ctx)
    person.click("button:has-text('提交报销申请')")
    person.wait_for_url("**/person/claims/*")
    assert "待审核" in person.inner_text("main") and "审核通过前不会支付" in person.inner_text("main")
    assert _settlements(ctx) == before

    clerk = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900}).new_page()
    login(clerk, url, "clerk-jiaozuo", "demo-clerk")
    clerk.goto(f"{url}/agency/claims")
    clerk.click("text=待审核：审核")
    assert "8000.00" in clerk.inner_text("main") and "怎么算出来的" in clerk.inner_text("main")
    with clerk.expect_download() as download:
        clerk.click("text=发票：发票.pdf")
    assert download.value.path().read_bytes() == PDF
    clerk.click("button:has-text('审核通过并支付')")
    clerk.wait_for_url("**/agency/claims?done=*")
    assert "审核通过" in clerk.inner_text("main")
    assert _settlements(ctx) == before + 1
    person.reload()
    assert "审核通过" in person.inner_text("main")
    person.context.close()
    clerk.context.close()
