"""S4 / V3: refused direct settlement → coded reason; online manual claim, paid on the clerk's approval;
never paid twice."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests.api.test_fsi_support import (  # noqa: F401
    claim_papers, client_for, demo_ctx, file_filing, his, ok, row_counts, server)
from yidi.adapters.orm import SettlementRow
from yidi.client import fee_row
from yidi.services import ledger
from yidi.services.users import create_user

WUHAN_LI = "P003"  # 武汉职工, treated in Shanghai (scenario e03)


def _person_user(ctx):
    create_user(ctx, username="P003", password="pw-li", role="person", admdvs="420100", psn_no="P003")


def test_s4_refused_direct_settlement_then_manual_claim_once(demo_ctx, server):
    shanghai = client_for(server, "H31000000001")
    mdtrt_id = ok(shanghai.admit(WUHAN_LI, "21", "2023-02-01"))["result"]["mdtrt_id"]
    ok(shanghai.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"),
                                       fee_row(mdtrt_id, "2", "X004", "4000.00")]))
    before = row_counts(demo_ctx)
    refused = shanghai.settle_inpatient(mdtrt_id, endtime="2023-02-05")
    assert refused["infcode"] == -1 and refused["err_msg"].startswith("NOT_FILED")
    assert "备案" in refused["err_msg"] and len(refused["err_msg"]) <= 200
    assert row_counts(demo_ctx) == before

    # the person pays, files afterwards, and claims online for the uploaded visit
    file_filing(demo_ctx, WUHAN_LI, "resident_worker", "310000", "2023-02-03", "李五")
    _person_user(demo_ctx)
    create_user(demo_ctx, username="clerk-wh", password="pw-clerk", role="agency", admdvs="420100")
    claim_body = {"mdtrt_id": mdtrt_id, "endtime": "2023-02-05"} | claim_papers()
    response = httpx.post(f"{server.url}/api/claims/manual", json=claim_body, auth=("P003", "pw-li"))
    assert response.status_code == 200, response.text
    claim = response.json()
    assert claim["kind"] == "manual" and claim["status"] == "submitted" and claim["medfee_sumamt"] == "12000.00"
    # a second submission while the first waits is the same claim again
    waiting = httpx.post(f"{server.url}/api/claims/manual", json=claim_body, auth=("P003", "pw-li"))
    assert waiting.status_code == 409 and waiting.json()["code"] == "CLAIM_PENDING"
    assert claim["claim_id"] in waiting.json()["message"]
    approved = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/approve", json={},
                          auth=("clerk-wh", "pw-clerk")).json()
    assert approved["setl_id"].startswith("LX") and approved["settlement"]["medfee_sumamt"] == "12000.00"

    # never twice: manual again, or direct after manual
    again = httpx.post(f"{server.url}/api/claims/manual", json=claim_body, auth=("P003", "pw-li"))
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_CLAIM"
    direct = httpx.post(f"{server.url}/api/claims/manual", auth=("P003", "pw-li"), json={
        "psn_no": WUHAN_LI, "fixmedins_code": "H31000000001", "med_type": "21", "begntime": "2023-02-01",
        "endtime": "2023-02-05", "items": [{"code": "X007", "amount": "8000.00"}, {"code": "X004", "amount": "4000.00"}]}
        | claim_papers())
    assert direct.status_code == 409 and direct.json()["code"] == "DUPLICATE_CLAIM"
    with demo_ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 1
        assert ledger.trial_balance(session) == 0


def test_v3_direct_then_manual_is_a_duplicate(demo_ctx, his, server):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00")]))
    ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))
    create_user(demo_ctx, username="P001", password="pw-zhang", role="person", admdvs="410800", psn_no="P001")
    claim = {"psn_no": "P001", "fixmedins_code": "H11000000001", "med_type": "21", "begntime": "2023-03-01",
             "endtime": "2023-03-10", "items": [{"code": "X007", "amount": "8000.00"}]} | claim_papers()
    response = httpx.post(f"{server.url}/api/claims/manual", json=claim, auth=("P001", "pw-zhang"))
    assert response.status_code == 409 and response.json()["code"] == "DUPLICATE_CLAIM"
    # someone else's claim, no login, bad body: coded refusals
    assert httpx.post(f"{server.url}/api/claims/manual", json=claim | {"psn_no": "P002"},
                      auth=("P001", "pw-zhang")).json()["code"] == "FORBIDDEN"
    assert httpx.post(f"{server.url}/api/claims/manual", json=claim).json()["code"] == "AUTH_FAILED"
    bad = httpx.post(f"{server.url}/api/claims/manual", json=claim | {"begntime": "soon"}, auth=("P001", "pw-zhang"))
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_INPUT"
