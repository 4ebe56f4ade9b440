"""I2 degraded mode: while the insured region is out, 2304/2207 get a coded answer and the visit is queued;
when service returns, the drain (or the next settlement call) settles it once, under the original msgid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

from sqlalchemy import func, select

from tests.api.test_fsi_support import (  # noqa: F401
    BEIJING, client_for, demo_ctx, file_filing, his, ok, row_counts, server)
from yidi.adapters.orm import SettlementRow
from yidi.adapters.orm_ops import DeferredSettlementRow
from yidi.client import fee_row
from yidi.interface import deferred
from yidi.services import ops
from yidi.services.verify import verify


def _stay(his, psn_no="P001", begntime="2023-03-01"):
    mdtrt_id = ok(his.admit(psn_no, "21", begntime))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"), fee_row(mdtrt_id, "2", "X004", "4000.00")]))
    ok(his.discharge(mdtrt_id, begntime[:8] + "10"))  # one open stay per person: the next admission may follow
    return mdtrt_id


def _outage(ctx, region="410800"):
    now = datetime.now()
    return ops.add_outage(ctx, region, now - timedelta(hours=1), now + timedelta(hours=2), reason="计划停机（测试）")


def _settlements(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(SettlementRow))


def test_i2_settlement_during_outage_is_queued_then_drained_once(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = _stay(his)
    _outage(demo_ctx, "410000")  # a province-wide window covers 焦作 (410800)
    msgid = his.new_msgid()
    refused = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert refused["infcode"] == -1
    assert refused["err_msg"].startswith("SERVICE_UNAVAILABLE"), refused["err_msg"]
    assert "已排队" in refused["err_msg"] and msgid in refused["err_msg"]  # says what happened and what to do
    assert _settlements(demo_ctx) == 0
    again = his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)  # the HIS retries: still one entry
    assert again["err_msg"] == refused["err_msg"]
    other_msgid = his.settle_inpatient(mdtrt_id, endtime="2023-03-10")  # a new msgid for the same visit
    assert other_msgid["err_msg"].startswith("SERVICE_UNAVAILABLE") and msgid in other_msgid["err_msg"]
    queue = ops.queued(demo_ctx)
    assert [(q.mdtrt_id, q.msgid, q.state) for q in queue] == [(mdtrt_id, msgid, "queued")]

    assert deferred.drain(demo_ctx).still_queued == 1  # region still out: nothing settles
    assert ops.clear_outages(demo_ctx) == 1
    report = deferred.drain(demo_ctx)
    assert (report.settled, report.still_queued) == (1, 0)
    assert deferred.drain(demo_ctx).settled == 0  # idempotent

    answer = ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid))  # resend: the stored answer
    assert answer["setlinfo"]["setl_id"] == report.details[0]["result"]
    assert answer["setlinfo"]["hifp_pay"] == 9435.0
    assert _settlements(demo_ctx) == 1
    assert verify(demo_ctx).ok, verify(demo_ctx).problems


def test_i2_next_call_after_the_outage_settles_the_queue_without_a_drain(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    first, second = _stay(his, begntime="2023-03-01"), _stay(his, begntime="2023-04-01")
    _outage(demo_ctx)
    m1, m2 = his.new_msgid(), his.new_msgid()
    assert his.settle_inpatient(first, endtime="2023-03-05", msgid=m1)["err_msg"].startswith("SERVICE_UNAVAILABLE")
    assert his.settle_inpatient(second, endtime="2023-04-05", msgid=m2)["err_msg"].startswith("SERVICE_UNAVAILABLE")
    ops.clear_outages(demo_ctx, "410800")
    # the hospital asks about its first message: the call itself drains the queue, then answers from it
    first_answer = ok(his.settle_inpatient(first, endtime="2023-03-05", msgid=m1))
    assert [q.state for q in ops.queued(demo_ctx, state=None)] == ["settled", "settled"]
    second_answer = ok(his.settle_inpatient(second, endtime="2023-04-05", msgid=m2))
    assert first_answer["setlinfo"]["setl_id"] != second_answer["setlinfo"]["setl_id"]
    assert _settlements(demo_ctx) == 2
    assert verify(demo_ctx).ok


def test_i2_a_queued_visit_cancelled_meanwhile_ends_refused_and_nothing_is_paid(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = _stay(his)
    _outage(demo_ctx)
    assert his.settle_inpatient(mdtrt_id, endtime="2023-03-10")["infcode"] == -1
    ok(his.revoke_inpatient_fees(mdtrt_id))
    ok(his.cancel_admission(mdtrt_id))  # the person went for manual reimbursement instead
    ops.clear_outages(demo_ctx)
    report = deferred.drain(demo_ctx)
    assert report.refused == 1 and report.details[0]["result"].startswith("VISIT_STATE")
    assert _settlements(demo_ctx) == 0 and not ops.queued(demo_ctx)


def test_i2_other_regions_and_reads_are_not_affected(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = _stay(his)
    _outage(demo_ctx, "420100")  # 武汉 is out; P001 is insured in 焦作
    assert ok(his.presettle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["hifp_pay"] == 9435.0
    assert ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["hifp_pay"] == 9435.0
    assert not ops.queued(demo_ctx)


def test_i2_ops_cli_adds_lists_clears_and_drains(tmp_path):
    env = {**os.environ, "YIDI_DATABASE_URL": f"sqlite:///{tmp_path}/ops.db"}
    yidi = [os.path.join(os.path.dirname(sys.executable), "yidi")]

    def run(*args):
        return subprocess.run([*yidi, "ops", *args], env=env, capture_output=True, text=True, timeout=120)

    added = run("outage", "add", "--region", "410800", "--from", "2024-03-01 22:00", "--to", "2099-03-02 06:00")
    assert added.returncode == 0, added.stderr
    listed = json.loads(run("outage", "list", "--json").stdout)
    assert [(o["admdvs"], o["from"], o["to"]) for o in listed] == [("410800", "2024-03-01 22:00", "2099-03-02 06:00")]
    bad = run("outage", "add", "--region", "410800", "--from", "tonight", "--to", "2099-03-02 06:00")
    assert bad.returncode == 2 and "INVALID_INPUT" in bad.stderr
    assert run("outage", "clear", "--region", "410800").returncode == 0
    assert json.loads(run("outage", "list", "--json").stdout) == []
    drained = run("drain", "--json")
    assert drained.returncode == 0 and json.loads(drained.stdout)["still_queued"] == 0
