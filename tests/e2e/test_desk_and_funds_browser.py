"""In a real browser: the desk settles through the hospital-interface visit service, and the agency sees one
month's clearing statement (with downloads) and the C4 reconciliation naming the settlements that differ."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.e2e.conftest import login
from yidi.adapters.orm import AuditRow, FeeDetailRow, SettlementRow, VisitRow
from yidi.domain.catalog import FeeItem
from yidi.web.core import money_text
from yidi.services import clearing, settlements

pytestmark = pytest.mark.browser


def _admit_zhang_san(page, url: str) -> str:
    login(page, url, "desk-beijing", "demo-desk")
    page.fill("#certno", "410802195501011234")
    page.click("button:has-text('读卡')")
    page.fill("#begntime", "2023-03-01")
    page.click("button:has-text('办理入院')")
    page.wait_for_url("**/desk/visits/*")
    return page.url.rsplit("/", 1)[1]


def _upload(page, rows: list[tuple[str, str]]) -> None:
    codes, amounts = page.locator("input[name=code]"), page.locator("input[name=amount]")
    for index, (code, amount) in enumerate(rows):
        codes.nth(index).fill(code)
        amounts.nth(index).fill(amount)
    page.click("button:has-text('上传费用')")
    page.wait_for_load_state("load")


def test_desk_admits_uploads_withdraws_settles_prints_and_cancels_through_the_visit_service(page, live_app):
    url, ctx = live_app
    mdtrt_id = _admit_zhang_san(page, url)
    _upload(page, [("X007", "8000"), ("X004", "4000"), ("X004", "100")])
    # 2302: withdraw the third row; it stops counting but keeps its number
    page.click("button[aria-label='撤销明细 W0003']")
    page.wait_for_load_state("load")
    assert "W0003" in page.inner_text("[data-testid=revoked-fees]")
    # a bad field is refused on the visit page itself, with the code, and nothing is written
    _upload(page, [("X004", "12.345")])
    assert "INVALID_INPUT" in page.inner_text("[role=alert]") and page.url.endswith("/fees")
    page.goto(f"{url}/desk/visits/{mdtrt_id}")
    page.fill("#endtime", "2023-03-10")
    page.click("button:has-text('预结算')")
    assert page.inner_text("[data-testid=preview-fund]") == "9,435.00"
    page.click("button:text-is('结算')")
    page.wait_for_url("**/desk/settlements/*")
    setl_id = page.inner_text("[data-testid=setl-id]")
    assert page.inner_text("[data-testid=fund-big]") == "9,435.00"
    slip = page.request.get(page.url + "/slip.pdf")
    assert slip.status == 200 and slip.body().startswith(b"%PDF")
    # 2305: cancel; the visit reopens so the fees can be corrected and settled again
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('撤销结算')")
    page.wait_for_load_state("load")
    assert "已撤销" in page.inner_text("main")
    page.click(f"a:has-text('返回就诊 {mdtrt_id}')")
    page.wait_for_url(f"**/desk/visits/{mdtrt_id}")
    # a stay with its discharge date goes back to 已出院 (as after 2402), ready for corrected fees
    assert "已出院" in page.inner_text("main") and page.locator("button:has-text('预结算')").count() == 1

    with ctx.unit_of_work() as session:
        visit = session.get(VisitRow, mdtrt_id)
        fees = {row.feedetl_sn: row.active for row in session.scalars(
            select(FeeDetailRow).where(FeeDetailRow.mdtrt_id == mdtrt_id))}
        settlement = session.get(SettlementRow, setl_id)
        actions = [row.action for row in session.scalars(select(AuditRow).where(AuditRow.target == mdtrt_id)
                                                         .order_by(AuditRow.id))]
    assert visit.state == "discharged" and visit.endtime == date(2023, 3, 10)
    assert fees == {"W0001": True, "W0002": True, "W0003": False}
    assert settlement.status == "cancelled" and settlement.mdtrt_id == mdtrt_id and settlement.msgid is None
    # the same use cases as the interface's 2401 / 2301 / 2302 wrote the audit trail
    assert actions == ["visit.register", "visit.fees", "visit.fees_revoked"]


def test_desk_settling_a_settled_visit_again_is_refused_with_the_interface_code(page, live_app):
    url, _ = live_app
    mdtrt_id = _admit_zhang_san(page, url)
    _upload(page, [("X004", "4000")])
    page.fill("#endtime", "2023-03-02")
    page.click("button:text-is('结算')")
    page.wait_for_url("**/desk/settlements/*")
    # the same session posts the settle form a second time (a second tab, a double click)
    response = page.request.post(f"{url}/desk/visits/{mdtrt_id}/settle", form={
        "csrf_token": page.evaluate("() => document.querySelector('input[name=csrf_token]').value"),
        "endtime": "2023-03-02"})
    assert response.status == 409 and "DUPLICATE_CLAIM" in response.text()


def _settle_p001(ctx, day: date) -> str:
    """张三 (焦作) in 北京 on his demo filing: one day in hospital."""
    return settlements.settle(ctx, settlements.SettleCommand(
        psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=day, endtime=day,
        items=(FeeItem(code="X004", amount_fen=500_000),), setl_date=day)).setl_id  # history: settled that day


def test_agency_sees_the_clearing_statement_downloads_it_and_c4_names_the_settlement_that_changed(page, live_app):
    url, ctx = live_app
    _settle_p001(ctx, date(2024, 3, 3))
    changed = _settle_p001(ctx, date(2024, 3, 4))
    clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    settlements.cancel(ctx, changed, on=date(2024, 3, 31))  # back-dated into the cleared month

    login(page, url, "clerk-jiaozuo", "demo-clerk")
    page.goto(f"{url}/agency/funds?month=2024-03")
    # the clerk sees 焦作's part (services.funds_scope): its city statement, no national totals or transfers
    assert "410800" in page.inner_text("[data-testid=statement-scope]")
    assert page.locator("[data-testid=province-transfers], [data-testid=statement-net]").count() == 0
    only_jiaozuo = clearing.get_statement(ctx, "2024-03")  # 张三's two stays in 北京 are the month's only flow
    assert page.inner_text("[data-testid=city-payable]") == money_text(only_jiaozuo.net_fen)
    xlsx = page.request.get(url + page.locator("[data-testid=download-xlsx]").get_attribute("href"))
    assert xlsx.status == 200
    workbook = load_workbook(io.BytesIO(xlsx.body()))
    assert workbook.sheetnames == ["清算单", "410800焦作市"]
    assert workbook["清算单"]["A1"].value == "参保地"
    csv_link = page.locator("a[href*='/csv/']").first
    response = page.request.get(url + csv_link.get_attribute("href"))
    header = next(csv.reader(io.StringIO(response.body().decode("utf-8-sig"))))
    assert response.status == 200 and header[0] == "参保地" and "attachment" in response.headers["content-disposition"]

    page.goto(f"{url}/agency/reconciliation?month=2024-03")
    assert "不符" in page.inner_text("[data-testid=c4-result]")
    differences = page.inner_text("[data-testid=c4-differences]")
    assert changed in differences and "清算单与结算明细汇总不符" in differences
    page.goto(f"{url}/agency/reconciliation?month=2024-02")
    assert "账账相符" in page.inner_text("[data-testid=c4-result]")
    page.goto(f"{url}/agency/reconciliation?month=2024-13")
    assert "INVALID_INPUT" in page.inner_text("main")
