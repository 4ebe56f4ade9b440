"""Browser tests: the real app served by uvicorn on 127.0.0.1, driven by Debian's chromium via Playwright.

In CI (CI=true) a missing chromium or Playwright is a failure; elsewhere these tests skip with one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from yidi.web.live import chromium_path

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SKIP_LINE = "browser tests skipped: needs /usr/bin/chromium (apt-get install chromium) and `pip install playwright`"


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if chromium_path() is None:
        return "chromium is not installed at /usr/bin/chromium"
    return None


@pytest.fixture(scope="session")
def browser():
    problem = _unavailable()
    if problem:
        if IN_CI:
            pytest.fail(f"CI requires the browser tests to run: {problem}")
        pytest.skip(SKIP_LINE)
    from playwright.sync_api import sync_playwright

    from yidi.web.live import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def live_app(tmp_path: Path):
    """A fresh SQLite database with the demo data (users included), served on a free port."""
    from yidi.api.app import create_app
    from yidi.services.context import AppContext
    from yidi.services.demo import load_demo
    from yidi.web.live import serve

    ctx = AppContext.from_url(f"sqlite:///{tmp_path}/yidi.db")
    load_demo(ctx)
    with serve(create_app(ctx)) as url:
        yield url, ctx
    ctx.engine.dispose()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def login(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
