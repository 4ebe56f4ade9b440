"""Pages for the people who use them (issue 20), in Debian's chromium: the public entry, refusals in the
person's words beside the field with what was typed kept, both regions and the zero-payment reason on every
settlement view and the slip, the clerk's queue, supervision leads and the monthly chart."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.e2e.conftest import login
from tests.e2e.test_desk_and_funds_browser import _admit_zhang_san
from tests.support.pdf_text import pdf_text
from yidi.domain.catalog import FeeItem
from yidi.services import filings as filing_service
from yidi.services import settlements, supervision
from yidi.services.filings import FileCommand, file_filing, list_filings
from yidi.web.core import money_text
from yidi.web.live import fill_form

pytestmark = pytest.mark.browser

DEVELOPER_WORDS = re.compile(r"items\[\d+\]|enddate（|begntime|接口文档|\b(temporary|other_temporary|"
                             r"manual_without_filing|pending|active|hospital|agency|person|supervisor)\b")


def _plain(page) -> str:
    text = page.inner_text("main")
    assert not DEVELOPER_WORDS.search(text), DEVELOPER_WORDS.search(text).group(0)
    return text


def _outpatient(ctx, day: date, amount_fen: int, hospital: str = "H11000000001", psn_no: str = "P001"):
    return settlements.settle(ctx, settlements.SettleCommand(
        psn_no=psn_no, fixmedins_code=hospital, med_type="11", begntime=day, endtime=day,
        items=(FeeItem(code="X004", amount_fen=amount_fen),), setl_date=day))  # replayed: settled that day


def test_public_entry_explains_filing_and_each_regions_rules_without_login(page, live_app):
    url, ctx = live_app
    page.goto(f"{url}/")
    assert page.url.rstrip("/") == url, "the public entry is not a login box"
    text = _plain(page)
    for words in ("什么是异地就医备案", "谁需要备案", "在哪里办", "需要准备什么", "各地规定", "遇到问题怎么办", "12393"):
        assert words in text
    assert "国家医保服务平台APP" in page.inner_text("[data-testid=channels]")
    assert "转诊转院证明" in page.inner_text("[data-testid=materials]")
    for region in ctx.policy.insured:  # the rules are read from each region's policy, not written on the page
        rules = ctx.policy.insured_policy(region, date.today()).params.filing
        card = page.inner_text(f"[data-testid=rules-{region}]")
        assert f"{rules.temporary_validity_months.value}个月" in card
        assert ("即时生效" in card) if rules.online_auto_approve.value else (
            f"{rules.approval_working_days.value}个工作日" in card)
        lock = rules.commitment_lock_months.value  # 湖北's document sets none (0): "可随时办理"
        assert (f"满 {lock} 个月" in card) if lock else ("可随时办理" in card)
    # the networked-institution finder: levels as 一级/二级/三级, a 社区卫生服务中心 is not a 医院
    page.select_option("#level", "1")
    page.click("form[action='/hospitals'] button")
    page.wait_for_url("**/hospitals?**")
    row = page.locator("tr", has_text="焦作某社区卫生服务中心").inner_text()
    assert "一级" in row and "社区卫生服务中心" in row and "医院" not in row.replace("焦作某社区卫生服务中心", "")
    assert "级级" not in _plain(page) and "1级" not in page.inner_text("main")


def test_anonymous_estimate_keeps_every_row_and_says_what_is_wrong_beside_it(page, live_app):
    url, _ = live_app
    page.goto(f"{url}/estimate")
    fill_form(page, {"#insured": "410800", "#insutype": "310", "#filing_type": "referral",
                     "#hospital": "H11000000001", "#begntime": "2024-03-01", "#endtime": "2024-03-10"},
              [("X007", "8000"), ("X004", "4千")])
    page.click("button:has-text('测算')")
    codes, amounts = page.locator("input[name=code]"), page.locator("input[name=amount]")
    beside = page.inner_text("[data-testid=field-error-amount-1]")
    assert "第2行费用的金额" in beside and "“4千”不是金额" in beside
    _plain(page)
    # what was typed comes back: rows, profile, hospital and dates
    assert [codes.nth(0).input_value(), amounts.nth(0).input_value(), codes.nth(1).input_value(),
            amounts.nth(1).input_value()] == ["X007", "8000", "X004", "4千"]
    assert page.input_value("#insured") == "410800" and page.input_value("#filing_type") == "referral"
    assert page.input_value("#endtime") == "2024-03-10"
    amounts.nth(1).fill("4000")
    page.fill("#endtime", "2024-02-20")  # before the admission: said as that
    page.click("button:has-text('测算')")
    assert "出院日期 2024-02-20 早于入院（就诊）日期 2024-03-01" in page.inner_text("[data-testid=field-error-endtime]")
    page.fill("#endtime", "2024-03-10")
    page.click("button:has-text('测算')")
    assert re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", page.inner_text("[data-testid=fund-big]"))
    assert "12,000.00" in page.inner_text("[data-testid=fund] >> xpath=ancestor::table")


def test_filing_form_refusal_keeps_the_answers_and_says_the_end_is_before_the_start(page, live_app):
    url, ctx = live_app
    login(page, url, "P005", "demo-person")
    page.goto(f"{url}/person/filing/new")
    page.check("input[name=type][value=other_temporary]")
    page.check("input[name=basis][value=proof]")
    page.click("button:has-text('下一步')")
    begin, end = date.today() + timedelta(days=10), date.today() + timedelta(days=3)
    page.select_option("#area", "110000")
    page.fill("#begndate", begin.isoformat())
    page.fill("#enddate", end.isoformat())
    page.click("button:has-text('下一步')")
    assert f"结束日期 {end} 早于开始日期 {begin}" in page.inner_text("[data-testid=field-error-enddate]")
    assert page.input_value("#begndate") == begin.isoformat() and page.input_value("#area") == "110000"
    assert page.input_value("#enddate") == end.isoformat()
    _plain(page)
    assert list_filings(ctx, psn_no="P005") == []


def test_settlement_views_and_the_slip_name_both_regions_and_why_the_fund_paid_nothing(page, live_app):
    url, ctx = live_app
    first = _outpatient(ctx, date(2024, 3, 1), 500_000)  # uses up 焦作's 2,000 yuan outpatient limit
    second = _outpatient(ctx, date(2024, 3, 2), 10_000)
    assert second.row_fields["fund_pay_sumamt"] == "0.00"
    login(page, url, "P001", "demo-person")
    home = page.inner_text("main")
    assert "5,000.00" in home and home.index("2024-03-02") < home.index("2024-03-01")  # newest first
    page.goto(f"{url}/person/settlements/{second.setl_id}")
    assert page.inner_text("[data-testid=insured-region]") == "焦作市"
    assert page.inner_text("[data-testid=treatment-region]") == "北京市"
    assert "年度门诊限额已用完" in page.inner_text("[data-testid=zero-reason]")
    assert "B12" not in page.inner_text("h1") + page.inner_text("[data-testid=zero-reason]")
    page.goto(f"{url}/person/settlements/{first.setl_id}")
    assert page.locator("[data-testid=zero-reason]").count() == 0
    assert page.inner_text("[data-testid=fund-big]") == "2,000.00"

    login(page, url, "desk-beijing", "demo-desk")
    page.goto(f"{url}/desk/settlements/{second.setl_id}")
    assert page.inner_text("[data-testid=treatment-region]") == "北京市"
    slip = pdf_text(page.request.get(f"{url}/desk/settlements/{second.setl_id}/slip.pdf").body())
    for words in ("参保地焦作市", "就医地北京市", "结算时间", "诊断", "签字", "年度门诊限额已用完"):
        assert words in slip, words
    page.goto(f"{url}/desk/reconciliation?day=2024-03-01")
    assert "张三" in page.inner_text("main")  # names beside person numbers


def test_a_filing_changed_before_its_start_never_shows_an_end_before_the_start(page, live_app):
    url, ctx = live_app
    begin = date.today() + timedelta(days=5)
    filing = file_filing(ctx, FileCommand(psn_no="P005", filing_type="other_temporary", basis="proof",
                                          mdtrtarea_admvs="110000", begndate=begin, apply_date=date.today(),
                                          channel="window"))
    filing_service.cancel_filing(ctx, filing.filing_id, begin, proof=True, actor="P005", reason="行程取消")
    stored = filing_service.get_filing(ctx, filing.filing_id)
    assert stored.enddate < stored.begndate  # as stored: covers nothing
    login(page, url, "P005", "demo-person")
    row = page.locator("tr", has_text="其他临时外出就医").inner_text()
    assert "未生效" in row and str(stored.enddate) not in row
    page.goto(f"{url}/person/filings/{filing.filing_id}")
    assert "未生效" in page.inner_text("main") and str(stored.enddate) not in page.inner_text(".card.grid")


def test_clerk_sees_materials_and_history_and_approves_several_at_once(page, live_app):
    url, ctx = live_app
    today = date.today()
    one = file_filing(ctx, FileCommand(psn_no="P004", filing_type="other_temporary", basis="proof",
                                       mdtrtarea_admvs="420100", begndate=today, apply_date=today, channel="app"))
    two = file_filing(ctx, FileCommand(psn_no="P001", filing_type="referral", basis="proof",
                                       mdtrtarea_admvs="310000", begndate=today, apply_date=today, channel="app"))
    _outpatient(ctx, date(2024, 3, 1), 20_000)
    login(page, url, "clerk-jiaozuo", "demo-clerk")
    assert "转诊转院证明" in page.inner_text(f"[data-testid=materials-{two.filing_id}]")
    history = page.locator(f"[data-testid=history-{two.filing_id}]")
    assert "其他备案 1 条，结算 1 笔" in history.inner_text()
    history.locator("summary").click()
    assert "异地安置退休" in history.inner_text() and "北京协和医院" in history.inner_text()
    date_cell = page.locator(f"tr[data-filing={one.filing_id}] td.date").first
    assert date_cell.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
    page.locator(f"tr[data-filing={one.filing_id}] button:has-text('驳回')").click()  # no reason given
    page.wait_for_load_state("load")
    assert "驳回备案需填写原因" in page.inner_text("[data-testid=refused]")
    assert page.locator(f"tr[data-filing={one.filing_id}]").count() == 1  # still waiting, on the same queue
    page.check(f"input[name=filing_id][value={one.filing_id}]")
    page.check(f"input[name=filing_id][value={two.filing_id}]")
    page.click("[data-testid=approve-selected]")
    page.wait_for_load_state("load")
    done = page.inner_text("[data-testid=done]")
    assert one.filing_id in done and two.filing_id in done and "有效" in done
    assert {f.status.value for f in list_filings(ctx, psn_no="P004") if f.filing_id == one.filing_id} == {"active"}
    assert {f.status.value for f in list_filings(ctx, psn_no="P001") if f.filing_id == two.filing_id} == {"active"}


def _stay(ctx, hospital: str, begin: date, end: date, amount_fen: int):
    return settlements.settle(ctx, settlements.SettleCommand(
        psn_no="P001", fixmedins_code=hospital, med_type="21", begntime=begin, endtime=end,
        items=(FeeItem(code="X007", amount_fen=amount_fen),), setl_date=end))  # replayed: settled at discharge


def test_leads_are_grouped_per_person_with_names_amounts_reasons_and_evidence(page, live_app):
    url, ctx = live_app
    a = _stay(ctx, "H11000000001", date(2024, 3, 1), date(2024, 3, 10), 800_000)
    b = _stay(ctx, "H11000000002", date(2024, 3, 5), date(2024, 3, 12), 300_000)
    supervision.run_rules(ctx, on=date.today(), actor="test", admdvs=None)
    login(page, url, "supervisor", "demo-super")
    page.goto(f"{url}/supervision")
    group = page.locator("[data-testid=lead-group-P001]")
    text = group.inner_text()
    assert "张三（P001）" in text and "住院时间重叠" in text
    fund = a.row_fields["fund_pay_sumamt"], b.row_fields["fund_pay_sumamt"]
    total = sum(int(v.replace(".", "")) for v in fund)
    assert money_text(total) in text
    for heading in page.locator("h1, h2, h3").all_inner_texts():
        assert not re.search(r"\bV\d\b", heading), heading
    group.locator("a:has-text('查看证据')").first.click()
    page.wait_for_url("**/supervision/leads/*")
    evidence = page.inner_text("[data-testid=evidence-claims]")
    assert a.setl_id in evidence and b.setl_id in evidence and "北京协和医院" in evidence
    assert "2024-03-05" in page.inner_text("[data-testid=evidence]")


def test_monthly_chart_shows_empty_months_across_the_width(page, live_app):
    url, ctx = live_app
    _outpatient(ctx, date(2024, 1, 10), 20_000)
    _outpatient(ctx, date(2024, 4, 10), 20_000)
    login(page, url, "supervisor", "demo-super")
    page.goto(f"{url}/stats")
    months = page.locator("[data-testid=fund-chart] g[data-month]")
    assert [months.nth(i).get_attribute("data-month") for i in range(months.count())] == [
        "2024-01", "2024-02", "2024-03", "2024-04"]
    box = page.locator("[data-testid=fund-chart]").bounding_box()
    svg = page.locator("[data-testid=fund-chart] svg").bounding_box()
    assert svg["width"] >= 0.9 * (box["width"] - 40)


def test_refusals_name_roles_and_fields_in_chinese(page, live_app):
    url, _ = live_app
    login(page, url, "P001", "demo-person")
    page.goto(f"{url}/desk")
    assert "医院医保办" in _plain(page)
    login(page, url, "desk-beijing", "demo-desk")
    page.fill("#certno", "410802195501019999")  # a mistyped number: said on the desk page, the number kept
    page.click("button:has-text('读卡')")
    assert "未找到参保人员" in page.inner_text("[data-testid=problem]")
    assert page.input_value("#certno") == "410802195501019999"
    _admit_zhang_san(page, url)
    page.locator("input[name=code]").nth(0).fill("X007")
    page.click("button:has-text('上传费用')")
    assert "第1行费用的金额：请填写金额" in page.inner_text("[data-testid=field-error-amount-0]")
    assert page.locator("input[name=code]").nth(0).input_value() == "X007"
    _plain(page)
