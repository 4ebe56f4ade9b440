"""Issue 13, money: dates of care may not lie in the future, and a settlement is dated by the server clock.

The attack: 2304/2207/2402 (and a manual claim) with a discharge in 2099 opened a fresh annual cap for a person
whose cap was used up, and dated the settlement by that discharge, hiding it from every clearing month.
Over real HTTP on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from tests.api.test_fsi_support import client_for, demo_ctx, ok, row_counts, serving  # noqa: F401
from yidi.adapters.orm import SettlementRow
from yidi.client import fee_row
from yidi.domain.errors import YidiError
from yidi.services import settlements
from yidi.services.demo import load_demo
from yidi.services.verify import verify

FUTURE = "2099-12-31"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def _refused(answer: dict, field: str) -> None:
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("CARE_DATE_IN_FUTURE"), answer["err_msg"]
    assert field in answer["err_msg"] and "将来" in answer["err_msg"]


def test_h13_future_dates_of_care_are_refused_on_every_door(demo_ctx):
    load_demo(demo_ctx)  # P001 has a long-term filing for 北京; users for the manual claim
    today = date.today()
    admitted = (today - timedelta(days=5)).isoformat()
    with serving(demo_ctx) as server:
        his = client_for(server)
        _refused(his.admit("P001", "21", FUTURE, insutype="310"), "begntime")  # 2401
        _refused(his.register_outpatient("P001", FUTURE, insutype="310"), "begntime")  # 2201
        mdtrt_id = ok(his.admit("P001", "21", admitted, insutype="310"))["result"]["mdtrt_id"]
        ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X004", "3000.00", cnt=1, pric="3000.00")]))
        before = row_counts(demo_ctx)
        _refused(his.discharge(mdtrt_id, FUTURE), "endtime")  # 2402
        _refused(his.presettle_inpatient(mdtrt_id, endtime=FUTURE), "endtime")  # 2303
        _refused(his.settle_inpatient(mdtrt_id, endtime="2027-01-05"), "endtime")  # 2304
        with httpx.Client(base_url=server.url, auth=("P001", "demo-person")) as person:
            claim = person.post("/api/claims/manual", json={
                "psn_no": "P001", "fixmedins_code": "H11000000001", "med_type": "21", "begntime": admitted,
                "endtime": "2100-01-01", "items": [{"code": "X004", "amount": "3000.00"}],
                "bank_name": "中国银行焦作分行", "bank_account": "6217 8520 0001 2345 678", "account_name": "张三",
                "attachments": [{"kind": kind, "filename": f"{kind}.pdf", "content_type": "application/pdf",
                                 "content_base64": base64.b64encode(PDF).decode()}
                                for kind in ("invoice", "fee_list")]})
            assert claim.status_code == 422 and claim.json()["code"] == "CARE_DATE_IN_FUTURE"
        estimate = httpx.post(f"{server.url}/api/benefit/estimate", json={
            "insuplc_admdvs": "410800", "insutype": "310", "fixmedins_code": "H11000000001", "med_type": "21",
            "begntime": admitted, "endtime": FUTURE, "items": [{"code": "X004", "amount": "100.00"}]})
        assert estimate.status_code == 422 and estimate.json()["code"] == "CARE_DATE_IN_FUTURE"
        assert row_counts(demo_ctx) == before  # nothing written by any refusal
        with demo_ctx.unit_of_work() as session:
            assert session.scalars(select(SettlementRow)).all() == []

        # today's discharge settles, dated by the server clock; the cap year is the year of the discharge
        ok(his.discharge(mdtrt_id, (today - timedelta(days=1)).isoformat()))
        setl_id = ok(his.settle_inpatient(mdtrt_id))["setlinfo"]["setl_id"]
    with demo_ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        assert row.setl_date == today and row.endtime == today - timedelta(days=1)
        assert row.cap_year == row.endtime.year


def test_h13_outpatient_2206_2207_with_a_future_visit_date_are_refused(demo_ctx):
    load_demo(demo_ctx)
    with serving(demo_ctx) as server:
        his = client_for(server)
        visit_day = (date.today() - timedelta(days=1)).isoformat()
        mdtrt_id = ok(his.register_outpatient("P001", visit_day, insutype="310"))["data"]["mdtrt_id"]
        ok(his.outpatient_info(mdtrt_id, "11"))
        ok(his.upload_outpatient_fees([fee_row(mdtrt_id, "1", "X004", "200.00", cnt=1, pric="200.00")]))
        # the visit date moved into the future by 2203 (门诊就诊信息上传) is refused there
        moved = his.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "med_type": "11", "begntime": FUTURE},
                                  "diseinfo": []})
        _refused(moved, "begntime")
        assert ok(his.presettle_outpatient(mdtrt_id))["setlinfo"]["medfee_sumamt"] == 200.00  # 2206 (a JSON number, issue 18)
        ok(his.settle_outpatient(mdtrt_id))  # 2207


def test_h13_verify_reports_a_settlement_dated_after_its_settlement_time(ctx):
    load_demo(ctx)
    day = date(2024, 3, 5)
    setl_id = settlements.settle(ctx, settlements.SettleCommand(
        psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=day, endtime=day,
        items=settlements.parse_items([{"code": "X004", "amount": "1000.00"}]), setl_date=day)).setl_id
    assert verify(ctx).checks["settlement_dates"] == "ok"
    with ctx.unit_of_work() as session:  # what the attack left behind: a settlement dated by a 2099 discharge
        session.execute(update(SettlementRow).where(SettlementRow.setl_id == setl_id)
                        .values(endtime=date(2099, 1, 1), setl_date=date(2099, 1, 1)))
    report = verify(ctx)
    assert report.checks["settlement_dates"] == "1 problem(s)"
    assert any(setl_id in problem and "2099-01-01" in problem for problem in report.problems)


def test_h13_a_settlement_before_its_care_is_refused_at_the_service(ctx):
    """Code that replays history passes its own settlement date; care after it is refused just the same."""
    load_demo(ctx)
    command = settlements.SettleCommand(
        psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=date(2024, 3, 1),
        endtime=date(2024, 3, 9), items=settlements.parse_items([{"code": "X004", "amount": "10.00"}]),
        setl_date=date(2024, 3, 8))
    with pytest.raises(YidiError) as refused:
        settlements.settle(ctx, command)
    assert refused.value.code == "CARE_DATE_IN_FUTURE" and refused.value.params["field"] == "endtime"
