"""Serve the app on 127.0.0.1 in a thread and launch Debian's chromium — for the browser tests and
scripts/screenshots.py. No browser is ever downloaded: the system chromium is used or nothing."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import uvicorn

CHROMIUM = os.environ.get("YIDI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"]


def chromium_path() -> str | None:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(app) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread; yield its base URL; stop it afterwards."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def fill_form(page, fields: dict[str, str], rows: list[tuple[str, str]] = ()) -> None:
    """Fill a page's form as a person would: ``fields`` by CSS selector (a <select> is chosen, an <input>
    typed), then fee rows (code, amount) top to bottom — for the browser tests and the screenshots."""
    for selector, value in fields.items():
        locator = page.locator(selector)
        if locator.evaluate("el => el.tagName") == "SELECT":
            locator.select_option(value)
        else:
            locator.fill(value)
    codes, amounts = page.locator("input[name=code]"), page.locator("input[name=amount]")
    for index, (code, amount) in enumerate(rows):
        codes.nth(index).fill(code)
        amounts.nth(index).fill(amount)


def launch(playwright):
    path = chromium_path()
    if path is None:
        raise FileNotFoundError(CHROMIUM)
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


# What a page must not have at any width (checked by the browser tests and printed by scripts/screenshots.py):
# a form field nobody can name (no <label for>, no wrapping <label>, no aria-label/aria-labelledby), a button
# without a name, or content wider than the screen outside a scrolling .table-wrap.
LAYOUT_PROBLEMS_JS = """() => {
  const problems = [];
  const visible = el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden';
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const named = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
      || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!named) problems.push(`field without a label: ${el.outerHTML.slice(0, 80)}`);
  }
  for (const el of document.querySelectorAll('button, a.button')) {
    if (visible(el) && !(el.innerText.trim() || el.getAttribute('aria-label')))
      problems.push(`button without a name: ${el.outerHTML.slice(0, 80)}`);
  }
  const width = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('main *')) {
    if (!visible(el) || el.closest('.table-wrap') || el.closest('svg')) continue;
    const right = el.getBoundingClientRect().right;
    if (right > width + 1) { problems.push(`wider than the screen (${Math.round(right)} > ${width}px): <${el.tagName.toLowerCase()} ${el.className}>`); break; }
  }
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}px`);
  return problems;
}"""


def layout_problems(page) -> list[str]:
    return page.evaluate(LAYOUT_PROBLEMS_JS)
