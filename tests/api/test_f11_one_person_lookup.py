"""F11: the interface's 1101 and the desk's 读卡 page answer from the one person lookup
(services/person_lookup.py): pending filings shown as pending, a province-level pool's own cities need no
filing, and a filing covers from its start date — the same answer at both doors."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx

from tests.api.test_fsi_support import client_for, demo_ctx, file_filing, ok, server  # noqa: F401
from yidi.services.filings import FileCommand
from yidi.services.filings import file_filing as file_with
from yidi.services.reference import add_person
from yidi.services.users import create_user

ZHANG_CERT = "410802195501011234"


def _desk(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": "desk-f11",
                                       "password": "pw-desk-f11"}).status_code == 303
    return client


def _read_card(client: httpx.Client, certno: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk").text).group(1)
    page = client.post("/desk/read", data={"csrf_token": token, "certno": certno})
    assert page.status_code == 200, page.text[:300]
    return page.text


def _notice(html: str) -> str | None:
    found = re.search(r'data-testid="filing-notice">([^<]*)', html)
    return found.group(1) if found else None


def test_f11_1101_and_the_desk_show_a_pending_filing_as_pending(demo_ctx, server):
    today = date.today()
    file_with(demo_ctx, FileCommand(psn_no="P001", filing_type="retired_relocated", basis="proof",
                                    mdtrtarea_admvs="110000", begndate=today, apply_date=today, channel="app"))
    info = ok(client_for(server).person_info("02", ZHANG_CERT))
    assert [f["status"] for f in info["filings"]] == ["pending"]
    assert info["message"].startswith("备案尚在审核中")
    create_user(demo_ctx, username="desk-f11", password="pw-desk-f11", role="hospital", admdvs="110000",
                fixmedins_code="H11000000001")
    html = _read_card(_desk(server.url), ZHANG_CERT)
    assert "待审核" in html and _notice(html).startswith("备案尚在审核中")


def test_f11_1101_a_province_level_pool_needs_no_filing_in_its_own_cities(demo_ctx, server):
    with demo_ctx.unit_of_work() as session:
        add_person(session, psn_no="P410", name="省本级", certno="410105198001011230", insuplc_admdvs="410000",
                   insutype="310")
    zhengzhou = ok(client_for(server, "H41010000001").person_info("02", "410105198001011230"))
    assert zhengzhou["filings"] == [] and "message" not in zhengzhou  # 郑州 is inside the 河南 provincial pool
    assert ok(client_for(server).person_info("02", "410105198001011230"))["message"].startswith("未查询到")


def test_f11_1101_and_the_desk_a_filing_covers_from_its_start_date(demo_ctx, server):
    start = date.today() + timedelta(days=10)
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", start.isoformat(), "张三")
    info = ok(client_for(server).person_info("02", ZHANG_CERT))
    assert [f["begndate"] for f in info["filings"]] == [start.isoformat()]  # listed: it is approved
    assert info["message"].startswith("未查询到")  # but it does not cover today
    create_user(demo_ctx, username="desk-f11", password="pw-desk-f11", role="hospital", admdvs="110000",
                fixmedins_code="H11000000001")
    assert _notice(_read_card(_desk(server.url), ZHANG_CERT)).startswith("未查询到")
