"""More transactions over real HTTP: 2402/2404/2302/2205/2202, chronic dialysis (e03), 3201/3202, 9001/9002,
HMAC-SHA1 compatibility credentials."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tests.api.test_fsi_support import client_for, demo_ctx, file_filing, his, ok, row_counts, server  # noqa: F401
from yidi.adapters.orm import AuditRow, CredentialRow, FeeDetailRow
from yidi.client import HospitalClient, fee_row
from yidi.services import ledger


def test_stay_with_discharge_revoke_and_cancelled_admission(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"), fee_row(mdtrt_id, "2", "X004", "4000.00"),
                                  fee_row(mdtrt_id, "3", "X006", "999.00")]))
    assert ok(his.revoke_inpatient_fees(mdtrt_id, "3"))["result"]["revoked_rows"] == 1  # 2302 one row
    refused = his.revoke_inpatient_fees(mdtrt_id, "3")
    assert refused["infcode"] == -1 and "feedetl_sn" in refused["err_msg"]
    ok(his.discharge(mdtrt_id, "2023-03-10 16:00:00", "P001"))  # 2402: the end date comes from here
    setl = ok(his.settle_inpatient(mdtrt_id, "P001", "12000.00"))["setlinfo"]
    assert setl["hifp_pay"] == "9435.00" and setl["enddate"] == "2023-03-10"
    settled_cancel = his.cancel_admission(mdtrt_id)  # 2404 after settlement: refused
    assert settled_cancel["infcode"] == -1 and settled_cancel["err_msg"].startswith("VISIT_STATE")

    other = ok(his.admit("P001", "21", "2023-05-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(other, "1", "X007", "100.00")]))
    assert ok(his.cancel_admission(other, "P001"))["result"]["state"] == "cancelled"  # 2404 before settlement
    with demo_ctx.unit_of_work() as session:
        active = select(func.count()).select_from(FeeDetailRow).where(FeeDetailRow.mdtrt_id == other,
                                                                       FeeDetailRow.active.is_(True))
        assert session.scalar(active) == 0
        actions = set(session.scalars(select(AuditRow.action)))
    assert {"visit.register", "visit.fees", "visit.fees_revoked", "visit.discharge", "visit.cancel",
            "settlement.direct"} <= actions  # the audit log records every write


def test_chronic_dialysis_outpatient_equals_scenario_e03(demo_ctx, server):
    file_filing(demo_ctx, "P003", "resident_worker", "310000", "2023-02-03", "李五")
    shanghai = client_for(server, "H31000000001")
    mdtrt_id = ok(shanghai.register_outpatient("P003", "2023-02-05"))["data"]["mdtrt_id"]
    ok(shanghai.outpatient_info(mdtrt_id, "14", "N18"))
    ok(shanghai.upload_outpatient_fees([fee_row(mdtrt_id, "d1", "X008", "8000.00")]))
    setl = ok(shanghai.settle_outpatient(mdtrt_id, "P003", "8000.00"))["setlinfo"]
    assert (setl["act_pay_dedc"], setl["hifp_pay"], setl["psn_part_amt"]) == ("0.00", "6800.00", "1200.00")
    assert setl["med_type"] == "14" and setl["clr_type"] == "11"
    # an outpatient visit cancelled before settlement (2202), its fees revoked first (2205)
    second = ok(shanghai.register_outpatient("P003", "2023-02-06"))["data"]["mdtrt_id"]
    ok(shanghai.upload_outpatient_fees([fee_row(second, "d1", "X008", "100.00")]))
    assert ok(shanghai.revoke_outpatient_fees(second))["result"]["revoked_rows"] == 1
    ok(shanghai.cancel_outpatient(second))


def test_reconciliation_3201_3202(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    setl_ids = []
    for begin in ("2023-03-01", "2023-04-01"):
        mdtrt_id = ok(his.admit("P001", "21", begin))["result"]["mdtrt_id"]
        ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"),
                                      fee_row(mdtrt_id, "2", "X004", "4000.00")]))
        setl_ids.append(ok(his.settle_inpatient(mdtrt_id, endtime=begin[:8] + "10"))["setlinfo"])
    fund = sum(int(s["fund_pay_sumamt"].replace(".", "")) for s in setl_ids)
    fund_yuan = f"{fund // 100}.{fund % 100:02d}"
    # reconciliation is by settlement date, which is the day the settlement was made (server clock)
    today = date.today().isoformat()
    same = ok(his.reconcile_totals(today, today, medfee_sumamt="24000.00", fund_pay_sumamt=fund_yuan,
                                   fixmedins_setl_cnt=2, insutype="310", clr_type="21"))["stmt_totlrslt"]
    assert same["stmt_rslt"] == "0" and same["differences"] == {}
    off = ok(his.reconcile_totals(today, today, medfee_sumamt="24000.00", fund_pay_sumamt=fund_yuan,
                                  fixmedins_setl_cnt=3))["stmt_totlrslt"]
    assert off["stmt_rslt"] == "1" and off["differences"] == {"fixmedins_setl_cnt": 1}
    first, second = setl_ids
    rows = [{"setl_id": first["setl_id"], "medfee_sumamt": first["medfee_sumamt"],
             "fund_pay_sumamt": first["fund_pay_sumamt"]},
            {"setl_id": second["setl_id"], "medfee_sumamt": "1.00", "fund_pay_sumamt": second["fund_pay_sumamt"]},
            {"setl_id": "SLUNKNOWN", "medfee_sumamt": "5.00", "fund_pay_sumamt": "0.00"}]
    detail = ok(his.reconcile_details(today, today, rows))
    assert detail["stmt_rslt"] == "1"
    assert {(d["setl_id"], d["reason"]) for d in detail["differing"]} == \
        {(second["setl_id"], "amount"), ("SLUNKNOWN", "only_reported")}
    # after a cancel, ours no longer counts it
    ok(his.cancel_inpatient_settlement(second["setl_id"]))
    after = ok(his.reconcile_details(today, today, rows[:1]))
    assert after["stmt_rslt"] == "0"


def test_sign_in_out_and_sha1_compatibility_credential(demo_ctx, his, server):
    sign_no = ok(his.sign_in())["signinoutb"]["sign_no"]
    assert ok(his.sign_out(sign_no))["signoutoutb"]["sign_no"] == sign_no
    with demo_ctx.unit_of_work() as session:
        session.add(CredentialRow(access_key="legacy-H11000000002", fixmedins_code="H11000000002", secret="legacy-s",
                                  algorithm="HMAC-SHA1", demo_only=False))
    legacy = HospitalClient(server.url, "legacy-H11000000002", "legacy-s", "H11000000002", algorithm="HMAC-SHA1")
    ok(legacy.sign_in())
    wrong_algorithm = HospitalClient(server.url, "legacy-H11000000002", "legacy-s", "H11000000002")
    before = row_counts(demo_ctx)
    refused = wrong_algorithm.sign_in()
    assert refused["infcode"] == -1 and refused["err_msg"].startswith("AUTH_FAILED")
    assert row_counts(demo_ctx) == before
    with demo_ctx.unit_of_work() as session:
        assert ledger.trial_balance(session) == 0


def test_bad_input_in_other_transactions_changes_nothing(demo_ctx, his):
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    before = row_counts(demo_ctx)
    cases = [
        ("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "endtime": "2023-02-01"}}, "endtime"),
        ("2402", {"dscginfo": {"mdtrt_id": mdtrt_id}}, "endtime"),
        ("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "med_type": "21"}}, "med_type"),
        ("2302", {"data": [{"mdtrt_id": mdtrt_id, "feedetl_sn": "nope"}]}, "feedetl_sn"),
        ("2302", {"data": [{"feedetl_sn": "1"}]}, "mdtrt_id"),
        ("3202", {"data": {"stmt_begndate": "2023-01-01", "stmt_enddate": "2023-01-31"},
                  "detail": [{"setl_id": "X", "medfee_sumamt": "1.234", "fund_pay_sumamt": 0}]}, "medfee_sumamt"),
        ("9002", {"signOut": {}}, "sign_no"),
        ("2601", {"data": {"oinfno": "2304"}}, "omsgid"),
        ("2601", {"data": {"omsgid": "H31000000001202303011200000001", "oinfno": "2304"}}, "omsgid"),
        ("2201", {"data": {"psn_no": "P001", "begntime": "2023-03-01", "med_type": "21"}}, "med_type"),
    ]
    for infno, input_data, field in cases:
        response = his.call(infno, input_data)
        assert response["infcode"] == -1 and response["err_msg"].startswith("INVALID_INPUT"), (infno, response)
        assert field in response["err_msg"], (infno, response["err_msg"])
    assert row_counts(demo_ctx) == before


def test_fault_before_commit_leaves_nothing_and_the_resend_settles_once(demo_ctx, his):
    """A crash between the calculation and the write: coded answer, nothing stored (no 单边账), and the HIS's
    resend of the same msgid then settles exactly once."""
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"), fee_row(mdtrt_id, "2", "X004", "4000.00")]))
    faults = []

    def crash_once(_cmd):
        if not faults:
            faults.append(1)
            raise RuntimeError("simulated crash before the write")

    demo_ctx.hooks["before_write"] = crash_once
    before = row_counts(demo_ctx)
    msgid = his.new_msgid()
    failed = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert failed["infcode"] == -1 and failed["err_msg"].startswith("SERVICE_UNAVAILABLE")
    assert "零星报销" in failed["err_msg"] and len(failed["err_msg"]) <= 200
    assert row_counts(demo_ctx) == before
    again = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert ok(again)["setlinfo"]["hifp_pay"] == "9435.00"
    assert his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid) == again
    with demo_ctx.unit_of_work() as session:
        assert ledger.trial_balance(session) == 0


def test_1101_unfiled_person_gets_the_filing_channels(demo_ctx, his):
    info = ok(his.person_info("02", "371402196601012020"))  # 赵五, 德州, no filing for 北京
    assert info["filings"] == [] and info["message"].startswith("未查询到")
    assert "国家医保服务平台APP" in info["message"]
    assert info["baseinfo"]["certno"] == "371402********2020" and info["baseinfo"]["gend"] == "2"
