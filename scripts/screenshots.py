"""Screenshots of the main pages into docs/screenshots/ (run: .venv/bin/python scripts/screenshots.py).

Serves the app on 127.0.0.1 with a fresh SQLite database and the demo data, adds a few settlements
(direct, a duplicate manual claim, a split admission) and a cleared month with a settlement cancelled
afterwards, so that the desk, funds, reconciliation (C4), supervision and statistics pages have something
to show, then drives Debian's chromium through each role's pages — the main ones also at 390 px, the width
of a phone. Every page is checked for unlabelled fields, nameless buttons and sideways scrolling
(yidi.web.live.layout_problems); problems are printed and make the script exit with 1.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

from playwright.sync_api import sync_playwright

from yidi.api.app import create_app
from yidi.domain.catalog import FeeItem
from yidi.services import clearing
from yidi.services.context import AppContext
from yidi.services.settlements import cancel
from yidi.services.demo import load_demo
from yidi.services.filings import FileCommand, file_filing
from yidi.services.settlements import SettleCommand, settle
from yidi.services.supervision import run_rules
from yidi.web.live import fill_form, launch, layout_problems, serve

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def seed(ctx: AppContext) -> None:
    def claim(begin, end, kind="direct", hospital="H11000000001", dise="I21.0"):
        return settle(ctx, SettleCommand(psn_no="P001", fixmedins_code=hospital, med_type="21", begntime=begin,
                                         endtime=end, items=(FeeItem("X007", 800_000), FeeItem("X004", 400_000)),
                                         dise_codg=dise, kind=kind))

    claim(date(2023, 3, 1), date(2023, 3, 10))
    claim(date(2023, 3, 15), date(2023, 3, 20))  # same diagnosis 5 days later: 分解住院
    claim(date(2023, 4, 2), date(2023, 4, 6), kind="manual", hospital="H11000000002", dise="K35.9")
    claim(date(2023, 4, 4), date(2023, 4, 8), dise="J18.9")  # overlaps the manual claim
    file_filing(ctx, FileCommand(psn_no="P004", filing_type="other_temporary", basis="proof",
                                 mdtrtarea_admvs="420100", begndate=date.today(), apply_date=date.today(),
                                 channel="app"))
    file_filing(ctx, FileCommand(psn_no="P001", filing_type="referral", basis="proof", mdtrtarea_admvs="310000",
                                 begndate=date.today(), apply_date=date.today(), channel="app"))
    # outpatient visits past 焦作's annual outpatient limit: the last one pays nothing from the fund, and says why
    for day, fen in ((date(2023, 5, 8), 500_000), (date(2023, 5, 20), 12_000)):
        settle(ctx, SettleCommand(psn_no="P001", fixmedins_code="H11000000001", med_type="11", begntime=day,
                                  endtime=day, items=(FeeItem("X006", fen),), dise_codg="J06.9"))
    run_rules(ctx, on=date.today(), actor="screenshots")
    # a cleared month, then a cancellation dated inside it: the funds page has a statement, C4 a mismatch
    claim(date(2024, 3, 3), date(2024, 3, 5), dise="K80.2")
    late = claim(date(2024, 3, 12), date(2024, 3, 14), dise="N20.0")
    clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1), actor="screenshots")
    cancel(ctx, late.setl_id, on=date(2024, 3, 31), actor="screenshots")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext.from_url(f"sqlite:///{tmp}/yidi.db")
        load_demo(ctx)
        seed(ctx)
        with serve(create_app(ctx)) as url, sync_playwright() as playwright:
            browser = launch(playwright)

            def session(username, password, width=1100):
                context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/login")
                if username:
                    page.fill("#username", username)
                    page.fill("#password", password)
                    page.click("button[type=submit]")
                    page.wait_for_load_state("load")
                return page

            problems: list[str] = []

            def shot(page, name):
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                print("wrote", OUT / f"{name}.png")
                for problem in layout_problems(page):
                    problems.append(f"{name} ({page.url}): {problem}")

            page = session(None, None)
            shot(page, "01-login")
            page.goto(f"{url}/")
            shot(page, "21-public-home")
            page.goto(f"{url}/estimate")
            fill_form(page, {"#insured": "410800", "#filing_type": "referral", "#hospital": "H11000000001",
                             "#begntime": "2024-03-01", "#endtime": "2024-03-10"}, [("X007", "8000"), ("X004", "4千")])
            page.click("button:has-text('测算')")
            shot(page, "22-public-estimate-refused-kept")
            fill_form(page, {}, [("X007", "8000"), ("X004", "4000")])
            page.click("button:has-text('测算')")
            shot(page, "23-public-estimate-result")
            page = session(None, None, width=390)
            page.goto(f"{url}/")
            shot(page, "24-public-home-mobile")
            page = session("P005", "demo-person")
            page.goto(f"{url}/person/filing/new")
            page.check("input[name=type][value=long_term_resident]")
            page.check("input[name=basis][value=commitment]")
            page.click("button:has-text('下一步')")
            page.select_option("#area", "110000")
            page.click("button:has-text('下一步')")
            shot(page, "02-person-filing-step3-commitment")
            page.check("input[name=agree]")
            page.fill("#signature", "孙一")
            page.click("button:has-text('提交备案')")
            page.select_option("#action", "cancel")
            page.click("form[action$='/change'] button[type=submit]")
            shot(page, "03-person-filing-refused-6-months")
            page = session("P005", "demo-person")
            page.goto(f"{url}/person/filing/new")
            page.check("input[name=type][value=other_temporary]")
            page.check("input[name=basis][value=proof]")
            page.click("button:has-text('下一步')")
            page.select_option("#area", "110000")
            page.fill("#begndate", "2024-05-10")
            page.fill("#enddate", "2024-05-01")
            page.click("button:has-text('下一步')")
            shot(page, "25-person-filing-step2-refused-kept")
            page = session("P001", "demo-person", width=390)
            shot(page, "04-person-home-mobile")
            page.locator("a", has_text="2023-05-20").click()
            page.wait_for_url("**/person/settlements/*")
            shot(page, "26-person-settlement-zero-fund-mobile")
            page.goto(f"{url}/person/estimate")
            page.select_option("#hospital", "H11000000001")
            page.fill("#begntime", "2023-06-01")
            page.fill("#endtime", "2023-06-05")
            page.locator("input[name=code]").nth(0).fill("X007")
            page.locator("input[name=amount]").nth(0).fill("5000")
            page.click("button:has-text('测算')")
            shot(page, "05-person-estimate-mobile")
            page = session(None, None)
            page.goto(f"{url}/hospitals?admdvs=110000")
            shot(page, "06-hospitals")
            page = session("desk-beijing", "demo-desk")
            page.fill("#certno", "410802195501011234")
            page.click("button:has-text('读卡')")
            page.fill("#begntime", "2023-09-01")
            page.click("button:has-text('办理入院')")
            fill_form(page, {}, [("X007", "8000"), ("X004", "4000")])
            page.click("button:has-text('上传费用')")
            page.fill("#endtime", "2023-09-10")
            page.click("button:has-text('预结算')")
            shot(page, "07-desk-presettle")
            page.click("button:text-is('结算')")
            page.wait_for_url("**/desk/settlements/*")
            shot(page, "08-desk-settlement")
            page.goto(f"{url}/desk/reconciliation?day=2023-09-10")
            shot(page, "09-desk-reconciliation")
            page = session("clerk-jiaozuo", "demo-clerk")
            shot(page, "10-agency-queue")
            page.goto(f"{url}/agency/reconciliation?month=2024-03")
            shot(page, "11-agency-reconciliation")
            page.goto(f"{url}/agency/funds?month=2024-03")
            shot(page, "12-agency-funds")
            page.goto(f"{url}/supervision")
            shot(page, "13-supervision-leads")
            page.locator("a[href^='/supervision/leads/']").first.click()
            shot(page, "14-supervision-lead")
            page.goto(f"{url}/stats")
            shot(page, "15-statistics")

            # the same pages on a phone
            page = session("P005", "demo-person", width=390)
            page.goto(f"{url}/person/filing/new")
            shot(page, "16-person-filing-step1-mobile")
            page = session("desk-beijing", "demo-desk", width=390)
            page.fill("#certno", "410802195501011234")
            page.click("button:has-text('读卡')")
            shot(page, "17-desk-read-card-mobile")
            page.fill("#begntime", "2023-11-01")
            page.click("button:has-text('办理入院')")
            fill_form(page, {}, [("X004", "3000")])
            page.click("button:has-text('上传费用')")
            page.fill("#endtime", "2023-11-03")
            page.click("button:has-text('预结算')")
            shot(page, "18-desk-visit-mobile")
            page = session("clerk-jiaozuo", "demo-clerk", width=390)
            page.goto(f"{url}/agency/funds?month=2024-03")
            shot(page, "19-agency-funds-mobile")
            page.goto(f"{url}/agency/reconciliation?month=2024-03")
            shot(page, "20-agency-reconciliation-mobile")
            browser.close()
    for problem in problems:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
