"""Seed 001 二(五) over real HTTP: a clerk records that a 跨省 commitment-based long-term filer supplied the filing's
materials (POST /api/filings/{id}/materials); the filing is proof-based from that day and two-way benefits follow."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from tests.support.live_server import live_server
from yidi.api.app import create_app
from yidi.services import settlements
from yidi.services.context import AppContext
from yidi.services.demo import load_demo
from yidi.services.settlements import SettleCommand, parse_items


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ctx = AppContext.from_url(f"sqlite:///{tmp_path_factory.mktemp('materials')}/yidi.db", demo_mode=True)
    load_demo(ctx)
    with live_server(create_app(ctx)) as url:
        yield ctx, url
    ctx.engine.dispose()


def _login(url: str, username: str, password: str) -> httpx.Client:
    response = httpx.post(f"{url}/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {response.json()['access_token']}"},
                        timeout=30)


def _home_stay(ctx, day: date) -> dict:
    """P001 (焦作, filed by commitment to 北京 in the demo) in 焦作市人民医院: returning benefits or not (B3)."""
    return settlements.presettle(ctx, SettleCommand(
        psn_no="P001", fixmedins_code="H41080000001", med_type="21", begntime=day, endtime=day + timedelta(days=4),
        items=parse_items([{"code": "X007", "amount": "12000"}])))


def test_b3_clerk_records_supplied_materials_and_two_way_benefits_start_that_day(served):
    ctx, url = served
    with _login(url, "clerk-jiaozuo", "demo-clerk") as clerk, _login(url, "P001", "demo-person") as person:
        filing = next(f for f in clerk.get("/api/filings", params={"psn_no": "P001"}).json()["filings"]
                      if f["status"] == "active")
        assert filing["basis"] == "commitment" and filing["mdtrtarea_admvs"] == "110000"
        before = _home_stay(ctx, date(2023, 5, 1))
        assert (before["coverage"], before["ratio"]) == ("temporary", "65%")  # 85% − 20: not yet two-way

        refused = person.post(f"/api/filings/{filing['filing_id']}/materials", json={"date": "2023-04-01"})
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
        future = clerk.post(f"/api/filings/{filing['filing_id']}/materials",
                            json={"date": (date.today() + timedelta(days=1)).isoformat()})
        assert future.status_code == 422 and future.json()["code"] == "INVALID_INPUT"

        supplied = clerk.post(f"/api/filings/{filing['filing_id']}/materials", json={"date": "2023-04-01"})
        assert supplied.status_code == 200, supplied.text
        body = supplied.json()
        assert (body["basis"], body["begndate"], body["replaces"]) == ("proof", "2023-04-01", filing["filing_id"])
        again = clerk.post(f"/api/filings/{filing['filing_id']}/materials", json={"date": "2023-04-02"})
        assert again.status_code == 409 and again.json()["code"] == "FILING_NOT_ACTIVE"
        history = clerk.get(f"/api/filings/{filing['filing_id']}/history").json()
        assert "materials_supplied" in [e["event"] for e in history["history"]]

    after = _home_stay(ctx, date(2023, 5, 1))
    assert (after["coverage"], after["ratio"]) == ("long_term_returning", "75%")  # 焦作 −10 (seed 000 二(二))
    assert _home_stay(ctx, date(2023, 3, 1))["ratio"] == "65%"  # admitted before the supply: unchanged
