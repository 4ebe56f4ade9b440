"""Issue 17 in one process (real NATS, real HTTP to the 北京 node): the insured node unreachable — a coded answer,
nothing half-written, the settlement queued in the JetStream work queue and settled exactly once when the node is
back; and 2601 of a settlement the treatment node never recorded — forwarded to the insured node, which reverses it
(or tombstones the msgid), and the treatment node records its side."""

from __future__ import annotations

import time

from sqlalchemy import select

from tests.api.test_fsi_support import ok
from tests.federation.test_cross_province import _admit_and_upload, _count, beijing_his  # noqa: F401 - fixture
from yidi.adapters.orm import MessageRow, SettlementRow, UsageRow, VisitRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.federation.node import Node
from yidi.services import ledger


def _wait_for(condition, seconds: float = 90.0) -> None:
    """Poll until ``condition()`` holds (the queue drains in the background); fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def test_federation_insured_node_unreachable_queues_in_jetstream_and_settles_exactly_once(federation, beijing_his):
    beijing, henan = federation.nodes["11"], federation.nodes["41"]
    mdtrt_id = _admit_and_upload(beijing_his)
    henan.bridge.close()  # the 河南 node stops serving
    federation._bridges.remove(henan.bridge)

    msgid = beijing_his.new_msgid()
    answer = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("SERVICE_UNAVAILABLE")
    assert "参保地 410000 节点未运行" in answer["err_msg"] and "已排队" in answer["err_msg"], answer["err_msg"]
    assert msgid in answer["err_msg"]  # the hospital is told which msgid to resend
    # nothing half-written at the 北京 node: no record, no stored answer, the visit still open for settlement
    with beijing.ctx.unit_of_work() as session:
        assert session.get(MessageRow, msgid) is None and session.get(VisitRow, mdtrt_id).state != "settled"
    assert _count(beijing.ctx, TreatmentSettlementRow) == 0
    # the resend while the node is still away: the same queue entry (Nats-Msg-Id de-duplication), no second one
    again = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert again["err_msg"] == answer["err_msg"]
    assert beijing.ctx.federation.deferred.pending() == 1

    # the 河南 node is back (a new connection serving its subjects): the queue drains by itself
    Node("41", henan.ctx, federation._bridge("41-back"), federation.names).start()
    _wait_for(lambda: _count(beijing.ctx, TreatmentSettlementRow) == 1)
    _wait_for(lambda: beijing.ctx.federation.deferred.pending() == 0)  # acknowledged: gone from the work queue
    settled = ok(beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid))["setlinfo"]
    with henan.ctx.unit_of_work() as session:
        (only,) = session.scalars(select(SettlementRow)).all()
        assert (only.setl_id, only.msgid, only.status) == (settled["setl_id"], msgid, "settled")
        assert session.scalar(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")) == only.hifp_pay
        assert ledger.trial_balance(session) == 0
    with beijing.ctx.unit_of_work() as session:
        record = session.get(TreatmentSettlementRow, settled["setl_id"])
        assert (record.request_id, record.status) == (msgid, "settled")
        assert session.get(VisitRow, mdtrt_id).state == "settled"


def test_federation_2601_of_a_settlement_the_treatment_node_never_recorded_reverses_it_on_both_sides(
        federation, beijing_his):
    """The known gap of issue 16: the 河南 node committed, the 北京 node failed before its own commit, and the HIS
    reverses (2601) instead of resending. The 北京 node forwards the reversal; the 河南 node reverses the settlement
    exactly once and the 北京 node records its side of it (settled, then reversed) — both sides hold the same."""
    beijing, henan = federation.nodes["11"].ctx, federation.nodes["41"].ctx

    def die(_answer):
        raise RuntimeError("treatment node lost before its commit")

    mdtrt_id = _admit_and_upload(beijing_his)
    for psn_no in ("P001", ""):  # with the person named, and without (every other node is asked)
        beijing.hooks["after_insured_commit"] = die
        msgid = beijing_his.new_msgid()
        failed = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
        assert failed["infcode"] == -1
        del beijing.hooks["after_insured_commit"]
        with henan.unit_of_work() as session:
            setl_id = session.scalar(select(SettlementRow.setl_id).where(SettlementRow.msgid == msgid))
        assert setl_id is not None and _count(beijing, TreatmentSettlementRow,
                                              TreatmentSettlementRow.setl_id == setl_id) == 0

        assert ok(beijing_his.reverse(msgid, "2304", psn_no))["result"]["rslt"] == "reversed"
        assert ok(beijing_his.reverse(msgid, "2304", psn_no))["result"]["rslt"] == "already_reversed"
        with henan.unit_of_work() as session:
            assert session.get(SettlementRow, setl_id).status == "reversed"
            assert ledger.trial_balance(session) == 0
        with beijing.unit_of_work() as session:
            record = session.get(TreatmentSettlementRow, setl_id)
            assert (record.request_id, record.status, record.mdtrt_id) == (msgid, "reversed", mdtrt_id)
            assert record.cancelled_on is not None
        resend = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
        assert resend["err_msg"].startswith("MESSAGE_REVERSED")
    with henan.unit_of_work() as session:
        assert session.scalar(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")) == 0


def test_federation_2601_before_its_settlement_arrives_tombstones_it_at_the_insured_node(federation, beijing_his):
    """A 2601 that overtakes its 2304 (never processed anywhere): both nodes take the msgid, so the late 2304 is
    refused MESSAGE_REVERSED on both sides and settles nowhere."""
    beijing, henan = federation.nodes["11"].ctx, federation.nodes["41"].ctx
    mdtrt_id = _admit_and_upload(beijing_his)
    msgid = beijing_his.new_msgid()
    assert ok(beijing_his.reverse(msgid, "2304", "P001"))["result"]["rslt"] == "never_processed"
    with henan.unit_of_work() as session:
        assert session.get(MessageRow, msgid).reversed
    late = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert late["err_msg"].startswith("MESSAGE_REVERSED")
    assert _count(henan, SettlementRow) == 0 and _count(beijing, TreatmentSettlementRow) == 0


def test_federation_planned_outage_queues_in_the_jetstream_work_queue(federation, beijing_his):
    """I2 on a federation node: a 2304 during a planned outage window of the insured region is queued in the node's
    JetStream work queue (not the single-node table) and settled once the window is over."""
    from datetime import datetime, timedelta

    from yidi.services import ops

    beijing = federation.nodes["11"]
    mdtrt_id = _admit_and_upload(beijing_his)
    now = datetime.now()
    ops.add_outage(beijing.ctx, "410000", now - timedelta(hours=1), now + timedelta(hours=2), reason="省平台升级")
    msgid = beijing_his.new_msgid()
    answer = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert answer["err_msg"].startswith("SERVICE_UNAVAILABLE") and "停机至" in answer["err_msg"]
    assert "已排队" in answer["err_msg"] and msgid in answer["err_msg"], answer["err_msg"]
    assert ops.queued(beijing.ctx) == [] and beijing.ctx.federation.deferred.pending() == 1
    assert _count(federation.nodes["41"].ctx, SettlementRow) == 0  # the window holds it back
    ops.clear_outages(beijing.ctx, "410000")
    _wait_for(lambda: _count(beijing.ctx, TreatmentSettlementRow) == 1)
    settled = ok(beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid))["setlinfo"]
    with federation.nodes["41"].ctx.unit_of_work() as session:
        assert [row.setl_id for row in session.scalars(select(SettlementRow))] == [settled["setl_id"]]
