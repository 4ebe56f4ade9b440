"""C2/C1/C4 over real HTTP: the read-only funds endpoints the pages use (uvicorn on 127.0.0.1)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from tests.services._funds import file_all, settle_at
from tests.support.live_server import live_server
from yidi.api.app import create_app
from yidi.services import clearing, prepayment
from yidi.services.users import create_user


@pytest.fixture
def served(ctx):
    with live_server(create_app(ctx)) as url:
        yield ctx, url


def test_c2_clearing_statements_and_prepayments_over_http(served):
    ctx, base = served
    file_all(ctx)
    settle_at(ctx, "P001", date(2023, 12, 5))
    settle_at(ctx, "P001", date(2024, 3, 3))
    settle_at(ctx, "P002", date(2024, 3, 4))
    statement = clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    prepayment.confirm(ctx, 2024, on=date(2024, 1, 20))
    create_user(ctx, username="sup", password="pw-sup", role="supervisor")  # funds are agency/supervisor only
    with httpx.Client(base_url=base, timeout=30, auth=("sup", "pw-sup")) as client:
        runs = client.get("/api/funds/clearing").json()
        assert [run["month"] for run in runs] == ["2024-03"] and runs[0]["net"] == statement.to_dict()["net"]
        body = client.get("/api/funds/clearing/2024-03").json()
        assert body["province_transfers"] == statement.to_dict()["province_transfers"]
        assert {(t["from_province"], t["to_province"]) for t in body["province_transfers"]} == {
            ("410000", "110000"), ("370000", "310000")}
        city = client.get("/api/funds/clearing/2024-03/cities/410800").json()
        assert [f["mdtrtarea_admvs"] for f in city["payable"]] == ["110000"] and city["receivable"] == []
        assert client.get("/api/funds/clearing/2024-03/reconciliation").json()["balanced"] is True
        prepaid = client.get("/api/funds/prepayments", params={"year": 2024}).json()
        assert [(p["payer_admdvs"], p["payee_admdvs"]) for p in prepaid] == [("410000", "110000")]
        # bad input: coded errors, never a 500
        missing = client.get("/api/funds/clearing/2024-05")
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
        malformed = client.get("/api/funds/clearing/2024-99")
        assert malformed.status_code == 422 and malformed.json()["code"] == "INVALID_INPUT"
        assert client.get("/api/funds/prepayments", params={"year": "abc"}).json()["code"] == "INVALID_INPUT"
