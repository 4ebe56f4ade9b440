"""Sessions and CSRF over real HTTP (no browser needed): every POST without the session's token is refused
and changes nothing; certificate numbers are masked for clerks."""

from __future__ import annotations

import re

import httpx

from yidi.services.filings import list_filings


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_post_without_csrf_token_is_refused(live_app):
    url, ctx = live_app
    with httpx.Client(base_url=url) as client:
        assert client.post("/login", data={"username": "P005", "password": "demo-person"}).status_code == 403
        token = _token(client.get("/login").text)
        wrong = client.post("/login", data={"csrf_token": token, "username": "P005", "password": "nope"})
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
        logged_in = client.post("/login", data={"csrf_token": token, "username": "P005", "password": "demo-person"})
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/person"
        form = {"type": "long_term_resident", "basis": "commitment", "mdtrtarea_admvs": "110000",
                "begndate": "2026-01-05", "agree": "yes", "signature": "孙一"}
        assert client.post("/person/filing/submit", data=form).status_code == 403
        assert client.post("/person/filing/submit", data={**form, "csrf_token": token}).status_code == 403  # renewed at login
        assert list_filings(ctx, psn_no="P005") == []
        fresh = _token(client.get("/person").text)
        assert client.post("/person/filing/submit", data={**form, "csrf_token": fresh}).status_code == 303
        assert len(list_filings(ctx, psn_no="P005")) == 1
        # A person cannot open the desk or the agency pages.
        assert client.get("/desk").status_code == 403 and client.get("/agency").status_code == 403
    with httpx.Client(base_url=url) as anonymous:
        response = anonymous.get("/person")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_clerk_search_masks_certificate_numbers(live_app):
    url, _ = live_app
    with httpx.Client(base_url=url) as client:
        token = _token(client.get("/login").text)
        client.post("/login", data={"csrf_token": token, "username": "clerk-jiaozuo", "password": "demo-clerk"})
        page = client.get("/agency/search", params={"q": "张三"}).text
        assert "410802********1234" in page and "410802195501011234" not in page
        # Wuhan's person is outside Jiaozuo's region.
        assert "孙一" not in client.get("/agency/search", params={"q": "孙一"}).text.split("<h2>参保人</h2>")[1].split("<h2>")[0]


def test_supervision_leads_and_statistics_pages(live_app):
    """The supervisor runs the rules from the page, opens a lead, asks Beijing for 协查 and closes it with a
    recovered amount; the statistics page shows the I4 rate."""
    from datetime import date

    from yidi.domain.catalog import FeeItem
    from yidi.services.settlements import SettleCommand, settle
    from yidi.services.supervision import get_lead, list_leads

    url, ctx = live_app
    # overlapping stays at two Beijing hospitals (at one hospital the second is refused DUPLICATE_CLAIM, B-R14)
    for begin, end, kind, hospital in ((date(2023, 3, 1), date(2023, 3, 10), "direct", "H11000000001"),
                                       (date(2023, 3, 5), date(2023, 3, 12), "manual", "H11000000002")):
        settle(ctx, SettleCommand(psn_no="P001", fixmedins_code=hospital, med_type="21", begntime=begin,
                                  endtime=end, items=(FeeItem("X007", 800_000),), dise_codg="I21.0", kind=kind))
    with httpx.Client(base_url=url) as client:
        token = _token(client.get("/login").text)
        client.post("/login", data={"csrf_token": token, "username": "supervisor", "password": "demo-super"})
        token = _token(client.get("/supervision").text)
        ran = client.post("/supervision/run", data={"csrf_token": token})
        assert ran.status_code == 303 and ran.headers["location"] == "/supervision?ran=2-1-1"
        [lead] = list_leads(ctx)
        detail = client.get(f"/supervision/leads/{lead.lead_id}").text
        assert "住院时间重叠" in detail and "2023-03-05" in detail
        path = f"/supervision/leads/{lead.lead_id}"
        assert client.post(path + "/assign", data={"csrf_token": token, "assigned_admdvs": "110000"}).status_code == 303
        bad = client.post(path + "/close", data={"csrf_token": token, "outcome": "confirmed", "recovered": "abc"})
        assert bad.status_code == 422 and "INVALID_INPUT" in bad.text
        closed = client.post(path + "/close", data={"csrf_token": token, "outcome": "confirmed", "recovered": "500.00",
                                                    "recovery_setl_id": lead.setl_ids[0]})
        assert closed.status_code == 303
        lead_after, investigations = get_lead(ctx, lead.lead_id)
        assert lead_after.status == "closed" and investigations[-1].recovered_fen == 50_000
        stats = client.get("/stats").text
        assert 'data-testid="rate-inpatient">50.00%' in stats and "<svg" in stats and "目标 70%" in stats
        funds_page = client.get("/agency/funds")
        assert funds_page.status_code == 200 and "月度清算记录" in funds_page.text
