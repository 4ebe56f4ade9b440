"""The three main flows in a real browser: a person files, a desk settles, a clerk approves."""

from __future__ import annotations

from datetime import date

import pytest

from tests.e2e.conftest import login
from yidi.services.filings import FileCommand, file_filing, list_filings

pytestmark = pytest.mark.browser


def test_person_files_in_three_steps_and_sees_it(page, live_app):
    url, ctx = live_app
    login(page, url, "P005", "demo-person")
    assert page.url.endswith("/person")
    page.click("text=办理新备案")
    page.check("input[name=type][value=long_term_resident]")
    page.check("input[name=basis][value=commitment]")
    page.click("button:has-text('下一步')")
    page.select_option("#area", "110000")
    page.click("button:has-text('下一步')")
    commitment = page.inner_text("[data-testid=commitment]")
    assert "孙一" in commitment and "北京市" in commitment and "个人承诺书" in commitment
    page.click("button:has-text('提交备案')")  # not ticked, not signed: the browser refuses to submit
    assert "/person/filing/step3" in page.url
    page.check("input[name=agree]")
    page.fill("#signature", "孙一")
    page.click("button:has-text('提交备案')")
    page.wait_for_url("**/person/filings/*")
    assert "备案已提交" in page.inner_text("main")
    assert page.inner_text("[data-testid=filing-status]") == "有效"  # 武汉: online filings take effect at once
    # 湖北 sets no time limit on change or cancel (seed 002 二(一), F-R15): the page says so, and a cancel without
    # proof goes through at once. (Until issue 15 this expected the 6-month refusal, which is 焦作's and 德州's.)
    assert "参保地未规定长期备案变更或取消的时限" in page.inner_text("main")
    [filing] = list_filings(ctx, psn_no="P005")
    assert filing.channel.value == "web" and filing.status.value == "active"
    page.goto(f"{url}/person")
    assert "异地长期居住" in page.inner_text("main") and "北京市" in page.inner_text("main")
    page.goto(f"{url}/person/filings/{filing.filing_id}")
    page.select_option("#action", "cancel")
    page.click("form[action$='/change'] button[type=submit]")
    page.wait_for_url(f"**/person/filings/{filing.filing_id}")
    assert page.inner_text("[data-testid=filing-status]") == "已取消"
    assert list_filings(ctx, psn_no="P005")[0].status.value == "cancelled"


def test_desk_settles_zhang_san_and_prints_the_slip(page, live_app):
    url, _ = live_app
    login(page, url, "desk-beijing", "demo-desk")
    page.fill("#certno", "410802195501011234")
    page.click("button:has-text('读卡')")
    assert page.inner_text("[data-testid=person-name]") == "张三"
    page.fill("#begntime", "2023-03-01")
    page.click("button:has-text('办理入院')")
    page.wait_for_url("**/desk/visits/*")
    codes, amounts = page.locator("input[name=code]"), page.locator("input[name=amount]")
    codes.nth(0).fill("X007")
    amounts.nth(0).fill("8000")
    codes.nth(1).fill("X004")
    amounts.nth(1).fill("4000")
    page.click("button:has-text('上传费用')")
    page.fill("#endtime", "2023-03-10")
    page.click("button:has-text('预结算')")
    assert page.inner_text("[data-testid=preview-fund]") == "9,435.00"
    page.click("button:text-is('结算')")
    page.wait_for_url("**/desk/settlements/*")
    assert page.inner_text("[data-testid=fund-big]") == "9,435.00"
    assert page.inner_text("[data-testid=personal]") == "2,565.00"
    slip = page.request.get(page.url + "/slip.pdf")
    assert slip.status == 200 and slip.body().startswith(b"%PDF")
    page.goto(f"{url}/desk/reconciliation")  # today: a settlement is dated the day it is made
    assert page.inner_text("[data-testid=recon-fund-settled]") == "9,435.00"


def test_clerk_approves_a_pending_online_filing(page, live_app):
    url, ctx = live_app
    filing = file_filing(ctx, FileCommand(psn_no="P004", filing_type="other_temporary", basis="proof",
                                          mdtrtarea_admvs="420100", begndate=date.today(), apply_date=date.today(),
                                          channel="app"))
    assert filing.status.value == "pending"  # 焦作: online filings wait for a clerk (F4)
    login(page, url, "clerk-jiaozuo", "demo-clerk")
    row = page.locator(f"tr[data-filing={filing.filing_id}]")
    assert "王小" in row.inner_text() and "4108021****" not in row.inner_text()
    assert "410802********2222" in row.inner_text()  # masked certificate number
    row.locator("button:has-text('通过')").click()
    page.wait_for_load_state("load")
    assert f"已办理：{filing.filing_id}（有效）" in page.inner_text("main")
    assert list_filings(ctx, psn_no="P004", status="active")[-1].filing_id in {
        f.filing_id for f in list_filings(ctx, psn_no="P004")}
    assert [f.status.value for f in list_filings(ctx, psn_no="P004") if f.filing_id == filing.filing_id] == ["active"]


def test_f5_f3_b13_filing_pages_explain_the_current_rules_and_store_what_they_show(page, live_app):
    """Temporary filings end the day before the corresponding day; commitment for every type; emergencies
    need a filing (the flag only lifts a covering temporary filing)."""
    from dateutil.relativedelta import relativedelta

    url, ctx = live_app
    login(page, url, "P005", "demo-person")
    page.goto(f"{url}/person/filing/new")
    rules_text = page.inner_text("[data-testid=filing-rules]")
    assert "2023-06-01 起至 2023-11-30" in rules_text
    assert "所有备案类型均可选择个人承诺" in rules_text and "急诊抢救也需要备案" in rules_text
    page.check("input[name=type][value=emergency]")
    page.check("input[name=basis][value=commitment]")  # accepted for a temporary type too
    page.click("button:has-text('下一步')")
    expected_end = date.today() + relativedelta(months=6) - relativedelta(days=1)
    assert f"有效至 {expected_end.isoformat()}" in page.inner_text("#enddate-help")
    page.select_option("#area", "110000")
    page.click("button:has-text('下一步')")
    assert page.inner_text("[data-testid=validity]") == f"{date.today().isoformat()} 起至 {expected_end.isoformat()}"
    assert "孙一" in page.inner_text("[data-testid=commitment]")
    page.check("input[name=agree]")
    page.fill("#signature", "孙一")
    page.click("button:has-text('提交备案')")
    page.wait_for_url("**/person/filings/*")
    [filing] = list_filings(ctx, psn_no="P005")
    assert filing.filing_type.value == "emergency" and filing.basis.value == "commitment"
    assert filing.enddate == expected_end
