"""POST /api/benefit/estimate over real HTTP (uvicorn in a thread on a free port, httpx client)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.live_server import live_server
from yidi.adapters.orm import SettlementRow
from yidi.api.app import create_app
from yidi.services import filings as filing_service
from yidi.services import users


@pytest.fixture
def base_url(ctx):
    # an estimate naming a person shows that person's filings and usage: it needs their login (issue 13)
    users.create_user(ctx, username="P001", password="demo-person", role="person", admdvs="410800", psn_no="P001")
    with live_server(create_app(ctx)) as url:
        yield url


AS_P001 = ("P001", "demo-person")


BILL = {"fixmedins_code": "H11000000001", "med_type": "21", "begntime": "2023-03-01", "endtime": "2023-03-10",
        "items": [{"code": "X007", "amount": "8000.00"}, {"code": "X004", "qty": 10, "price": "400.00"}]}


def test_estimate_for_a_filed_person(ctx, base_url):
    filing_service.file_filing(ctx, filing_service.FileCommand(
        psn_no="P001", filing_type="retired_relocated", basis="commitment", mdtrtarea_admvs="110000",
        begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10), channel="window", commitment_signature="张三"))
    response = httpx.post(f"{base_url}/api/benefit/estimate", json={"psn_no": "P001", **BILL}, timeout=30,
                          auth=AS_P001)
    assert response.status_code == 200, response.text
    body = response.json()
    # (12000 − 900) × 85% = 9435.00; psn 2565.00
    assert body["estimate"] is True
    assert (body["medfee_sumamt"], body["act_pay_dedc"], body["hifp_pay"], body["psn_part_amt"]) == (
        "12000.00", "900.00", "9435.00", "2565.00")
    assert body["trace"] and all(step["rule"] and step["policy_version"] for step in body["trace"])
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 0


def test_anonymous_estimate_names_insured_region_and_filing_type(base_url):
    body = {"insuplc_admdvs": "410800", "insutype": "310", "filing_type": "other_temporary", **BILL}
    response = httpx.post(f"{base_url}/api/benefit/estimate", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["hifp_pay"] == "7215.00"  # (12000 − 900) × (85 − 20)%
    dezhou = {"insuplc_admdvs": "371400", "insutype": "310", **BILL, "fixmedins_code": "H37010000001"}
    result = httpx.post(f"{base_url}/api/benefit/estimate", json=dezhou, timeout=30).json()
    # 济南, no filing needed (F9): 首先自付 1200; (10800 − 800) × 85% = 8500.00
    assert (result["first_selfpay"], result["hifp_pay"]) == ("1200.00", "8500.00")


@pytest.mark.parametrize("body, status, code, field", [
    ({"psn_no": "NOBODY", **BILL}, 403, "FORBIDDEN", None),  # not the logged-in person
    ({"psn_no": "P001", **BILL, "fixmedins_code": "H0"}, 404, "UNKNOWN_INSTITUTION", None),
    ({**BILL}, 422, "INVALID_INPUT", "psn_no"),
    ({"psn_no": "P001", **BILL, "endtime": "2023-02-30"}, 422, "INVALID_INPUT", "endtime"),
    ({"psn_no": "P001", **BILL, "items": [{"code": "X007", "amount": "abc"}]}, 422, "INVALID_INPUT", "items[0].amount"),
    ({"psn_no": "P001", **BILL, "med_type": "99"}, 422, "INVALID_INPUT", "med_type"),
    ({"psn_no": "P001", **BILL, "colour": "red"}, 422, "INVALID_INPUT", "colour"),
    ({"insuplc_admdvs": "410800", "insutype": "310", "filing_type": "holiday", **BILL}, 422, "INVALID_INPUT", "filing_type"),
    ({"insuplc_admdvs": "410800", "insutype": "310", **BILL}, 409, "NOT_FILED", None),
])
def test_estimate_refusals_are_coded_never_500(base_url, body, status, code, field):
    response = httpx.post(f"{base_url}/api/benefit/estimate", json=body, timeout=30, auth=AS_P001)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if field:
        assert field in response.json()["message"]
