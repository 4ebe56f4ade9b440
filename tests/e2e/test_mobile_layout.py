"""The main pages on a 390 px phone screen: every field has a label, every button a name, and nothing but a
table (inside its horizontally scrolling .table-wrap) is wider than the screen."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login
from yidi.web.live import layout_problems

pytestmark = pytest.mark.browser

PAGES = {
    None: ["/", "/estimate", "/login", "/hospitals?admdvs=110000"],
    ("P005", "demo-person"): ["/person", "/person/filing/new", "/person/estimate", "/person/claim"],
    ("desk-beijing", "demo-desk"): ["/desk", "/desk/reconciliation"],
    ("clerk-jiaozuo", "demo-clerk"): ["/agency", "/agency/search?q=张三", "/agency/funds",
                                      "/agency/reconciliation?month=2024-03"],
    ("supervisor", "demo-super"): ["/supervision", "/stats"],
}


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_the_check_finds_an_unlabelled_field_and_a_page_wider_than_the_phone(phone):
    phone.set_content("<main><input name=x><div style='width:900px'>宽</div><button></button></main>")
    problems = " | ".join(layout_problems(phone))
    assert "field without a label" in problems and "wider than the screen" in problems
    assert "button without a name" in problems


@pytest.mark.parametrize("account", list(PAGES), ids=lambda a: a[0] if a else "anonymous")
def test_main_pages_fit_a_390px_screen_with_labelled_fields(phone, live_app, account):
    url, _ = live_app
    if account:
        login(phone, url, *account)
    for path in PAGES[account]:
        phone.goto(url + path)
        assert phone.locator("main").count() == 1, path
        assert layout_problems(phone) == [], path


def test_desk_visit_page_fits_a_390px_screen(phone, live_app):
    url, _ = live_app
    login(phone, url, "desk-beijing", "demo-desk")
    phone.fill("#certno", "410802195501011234")
    phone.click("button:has-text('读卡')")
    assert layout_problems(phone) == []
    phone.fill("#begntime", "2023-11-01")
    phone.click("button:has-text('办理入院')")
    phone.locator("input[name=code]").nth(0).fill("X004")
    phone.locator("input[name=amount]").nth(0).fill("3000")
    phone.click("button:has-text('上传费用')")
    phone.fill("#endtime", "2023-11-03")
    phone.click("button:has-text('预结算')")
    assert phone.inner_text("[data-testid=preview-fund]") == "1,785.00"
    assert layout_problems(phone) == []
