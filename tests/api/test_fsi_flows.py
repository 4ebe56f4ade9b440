"""Hospital interface flows over real HTTP (uvicorn in a thread) on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from tests.api.test_fsi_support import BEIJING, client_for, demo_ctx, file_filing, his, ok, row_counts, server  # noqa: F401
from yidi.adapters.orm import SettlementRow, UsageRow
from yidi.client import fee_row
from yidi.services import ledger

ZHANG_CERT = "410802195501011234"


def _admit_and_upload(his, begntime="2023-03-01"):
    mdtrt_id = ok(his.admit("P001", "21", begntime, insutype="310"))["result"]["mdtrt_id"]
    rows = [fee_row(mdtrt_id, "1", "X007", "8000.00", cnt=1, pric="8000.00", fee_ocur_time=f"{begntime} 10:00:00"),
            fee_row(mdtrt_id, "2", "X004", 4000, cnt="10", pric="400.0")]
    uploaded = ok(his.upload_inpatient_fees(rows))
    return mdtrt_id, uploaded


def test_s2_inpatient_flow_equals_scenario_e01(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    info = ok(his.person_info("02", ZHANG_CERT))
    assert info["baseinfo"]["psn_no"] == "P001"
    assert info["baseinfo"]["certno"] == "410802********1234"
    assert info["baseinfo"]["brdy"] == "1955-01-01" and info["baseinfo"]["gend"] == "1"
    assert isinstance(info["insuinfo"], list) and info["insuinfo"][0]["insutype"] == "310"
    assert [f["mdtrtarea_admvs"] for f in info["filings"]] == ["110000"] and "message" not in info

    mdtrt_id, uploaded = _admit_and_upload(his)
    assert [r["med_chrgitm_type"] for r in uploaded["result"]] == ["06", "01"]  # national 大类 (S1)
    assert [r["chrgitm_lv"] for r in uploaded["result"]] == ["01", "01"]

    before = row_counts(demo_ctx)
    pre = ok(his.presettle_inpatient(mdtrt_id, "P001", medfee_sumamt="12000.00", endtime="2023-03-10"))
    assert pre["setlinfo"]["hifp_pay"] == 9435.0 and pre["setlinfo"]["setl_id"] == ""
    assert row_counts(demo_ctx) == before  # pre-settle changes nothing (S3)

    response = his.settle_inpatient(mdtrt_id, "P001", medfee_sumamt=12000, endtime="2023-03-10")
    setl = ok(response)["setlinfo"]
    expected = {"medfee_sumamt": 12000.0, "inscp_scp_amt": 12000.0, "act_pay_dedc": 900.0,
                "hifp_pay": 9435.0, "fund_pay_sumamt": 9435.0, "psn_part_amt": 2565.0, "acct_pay": 0.0,
                "psn_cash_pay": 2565.0, "clr_type": "21", "clr_optins": "410800"}
    assert {k: setl[k] for k in expected} == expected
    assert ok(response)["setldetail"][0]["fund_payamt"] == 9435.0
    assert isinstance(response["infcode"], int)
    with demo_ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl["setl_id"])
        assert row.hifp_pay == 943500 and row.mdtrt_id == mdtrt_id
        assert session.scalars(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")).one() == 943500
        assert ledger.trial_balance(session) == 0


def test_s3_cancel_2305_reverses_exactly_once(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id, _ = _admit_and_upload(his)
    setl_id = ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["setl_id"]
    first = ok(his.cancel_inpatient_settlement(setl_id, mdtrt_id, "P001"))
    assert first["setlinfo"]["setl_status"] == "cancelled"
    again = his.cancel_inpatient_settlement(setl_id, mdtrt_id, "P001")
    assert again["infcode"] == -1 and again["err_msg"].startswith("SETTLEMENT_ALREADY_CANCELLED")
    with demo_ctx.unit_of_work() as session:
        assert session.scalars(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")).one() == 0
        assert ledger.trial_balance(session) == 0 and not ledger.unbalanced_entries(session)
    # the stay can be settled again after the cancel, with the same numbers
    assert ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["hifp_pay"] == 9435.0


def test_s3_reversal_2601_exactly_once_and_safe(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id, _ = _admit_and_upload(his)
    settle_msgid = his.new_msgid()
    setl_id = ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=settle_msgid))["setlinfo"]["setl_id"]
    assert ok(his.reverse(settle_msgid, "2304"))["result"]["rslt"] == "reversed"
    assert ok(his.reverse(settle_msgid, "2304"))["result"]["rslt"] == "already_reversed"  # a new 2601: no effect
    with demo_ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        assert row.status == "reversed"
        assert session.scalars(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")).one() == 0
        assert ledger.trial_balance(session) == 0
        entries = session.scalars(select(ledger.JournalEntryRow.kind).where(ledger.JournalEntryRow.ref == setl_id))
        assert sorted(entries) == ["reversal", "settlement"]
    # 冲正 of a message that never arrived: safe, and a late copy of it is then refused
    ghost = his.new_msgid()
    assert ok(his.reverse(ghost, "2304"))["result"]["rslt"] == "never_processed"
    late = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=ghost)
    assert late["infcode"] == -1 and late["err_msg"].startswith("MESSAGE_REVERSED")


def test_s3_msgid_replay_returns_first_answer_and_conflict_is_refused(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id, _ = _admit_and_upload(his)
    msgid = his.new_msgid()
    first = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    counts = row_counts(demo_ctx)
    replay = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert replay == first  # "did my 2304 go through?" — the stored answer, unchanged
    other = his.settle_inpatient(mdtrt_id, endtime="2023-03-11", msgid=msgid)
    assert other["infcode"] == -1 and other["err_msg"].startswith("MSGID_CONFLICT")
    assert row_counts(demo_ctx) == counts


def test_s1_outpatient_flow_with_per_row_split(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.register_outpatient("P001", "2023-04-02 09:00:00", insutype="310"))["data"]["mdtrt_id"]
    ok(his.outpatient_info(mdtrt_id, "11", "J06.9", psn_no="P001"))
    rows = [fee_row(mdtrt_id, "a1", "X001", "60.00", cnt=2, pric="30"),       # 甲类
            fee_row(mdtrt_id, "a2", "X003", "3500.00", cnt=1, pric="3500"),   # 乙类 with a 3000 price limit
            fee_row(mdtrt_id, "a3", "X005", "100.00", cnt="1.0", pric=100),    # 丙类
            fee_row(mdtrt_id, "a4", "X001", "-30.00", cnt="-1.0", pric="30", init_feedetl_sn="a1")]  # refund
    split = {r["feedetl_sn"]: r for r in ok(his.upload_outpatient_fees(rows))["result"]}
    assert split["a1"]["chrgitm_lv"] == "01" and split["a1"]["inscp_scp_amt"] == 60.0
    assert split["a2"]["chrgitm_lv"] == "02" and split["a2"]["selfpay_prop"] == 0.2
    assert split["a2"]["overlmt_amt"] == 500.0 and split["a2"]["preselfpay_amt"] == 600.0
    assert split["a2"]["inscp_scp_amt"] == 2400.0
    assert split["a3"]["chrgitm_lv"] == "03" and split["a3"]["fulamt_ownpay_amt"] == 100.0
    assert split["a4"]["det_item_fee_sumamt"] == -30.0 and split["a4"]["inscp_scp_amt"] == -30.0
    pre = ok(his.presettle_outpatient(mdtrt_id, "P001", medfee_sumamt="3630.00"))["setlinfo"]
    assert pre["medfee_sumamt"] == 3630.0 and pre["overlmt_selfpay"] == 500.0
    assert pre["fulamt_ownpay_amt"] == 100.0 and pre["preselfpay_amt"] == 600.0
    setl = ok(his.settle_outpatient(mdtrt_id, "P001", medfee_sumamt="3630.00"))["setlinfo"]
    assert {k: setl[k] for k in ("medfee_sumamt", "hifp_pay", "clr_type")} == \
        {k: pre[k] for k in ("medfee_sumamt", "hifp_pay")} | {"clr_type": "11"}
    again = his.settle_outpatient(mdtrt_id, "P001")
    assert again["infcode"] == -1 and again["err_msg"].startswith("DUPLICATE_CLAIM")
    ok(his.cancel_outpatient_settlement(setl["setl_id"], mdtrt_id))
    with demo_ctx.unit_of_work() as session:
        assert ledger.trial_balance(session) == 0


def test_s3_same_msgid_sent_twice_at_once_settles_once(demo_ctx, his, server):
    import threading

    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id, _ = _admit_and_upload(his)
    msgid = his.new_msgid()
    barrier = threading.Barrier(4)
    answers = []

    def terminal():
        client = client_for(server)
        barrier.wait()
        answers.append(client.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid))

    threads = [threading.Thread(target=terminal) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 4 and all(answer == answers[0] for answer in answers)
    assert answers[0]["infcode"] == 0
    with demo_ctx.unit_of_work() as session:
        assert len(session.scalars(select(SettlementRow)).all()) == 1
        assert session.scalars(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")).one() == 943500
        assert ledger.trial_balance(session) == 0


def test_fee_upload_accepts_exactly_300_rows(demo_ctx, his):
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    rows = [{"feedetl_sn": str(n), "mdtrt_id": mdtrt_id, "med_list_codg": "X004", "det_item_fee_sumamt": 1, "cnt": 1}
            for n in range(300)]
    assert len(ok(his.upload_inpatient_fees(rows))["result"]) == 300
