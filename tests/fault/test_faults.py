"""Fault tests (issue 9) on PostgreSQL with the server as a real subprocess:

- SIGKILL in the middle of a stream of settlements, then a restart: every acknowledged settlement is there exactly
  once, nothing is half-written, the in-flight message resent with its msgid settles at most once, `yidi verify` ok;
- the database drops every server connection mid-run (pg_terminate_backend): the pool recovers (a dropped connection is replaced at checkout, adapters/database.py);
- a client timeout shorter than a deliberately slowed settlement: resending the msgid returns the stored answer;
- 冲正 (2601) of a settlement whose response was lost: the settlement is undone exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.conftest import _pg_connect
from tests.fault.server import BEIJING, ServerProcess, demo_context, fresh_pg_database, uploaded_stays
from yidi.adapters.orm import SettlementRow
from yidi.client import HospitalClient
from yidi.services.verify import verify

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(300)]


def hospital(server: ServerProcess, timeout: float = 30.0) -> HospitalClient:
    return HospitalClient(server.url, f"demo-{BEIJING}", f"demo-secret-{BEIJING}", BEIJING, timeout=timeout)


def settled_ids(ctx) -> list[str]:
    with ctx.unit_of_work() as session:
        return list(session.scalars(select(SettlementRow.setl_id).where(SettlementRow.status == "settled")))


def yidi_verify(url: str) -> subprocess.CompletedProcess:
    """The operator's command, as a separate process against the same database."""
    yidi = os.path.join(os.path.dirname(sys.executable), "yidi")
    return subprocess.run([yidi, "verify"], env={**os.environ, "YIDI_DATABASE_URL": url}, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def database():
    with fresh_pg_database() as url:
        ctx = demo_context(url)
        yield url, ctx
        ctx.engine.dispose()


def test_i1_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(database):
    url, ctx = database
    stays = uploaded_stays(ctx, 30)
    server = ServerProcess(url).start()
    acknowledged: dict[str, str] = {}  # msgid -> setl_id the hospital was told
    unanswered: list[tuple[str, str, str]] = []  # (msgid, mdtrt_id, endtime) sent without an answer
    client = hospital(server, timeout=10)
    killer = threading.Timer(0, lambda: None)
    try:
        for n, (mdtrt_id, endtime) in enumerate(stays):
            if n == 12:  # kill while the next settlements are in flight
                killer = threading.Timer(0.05, server.kill)
                killer.start()
            msgid = client.new_msgid()
            try:
                response = client.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
            except httpx.HTTPError:
                unanswered.append((msgid, mdtrt_id, endtime))
                continue
            assert response["infcode"] == 0, response["err_msg"]
            acknowledged[msgid] = response["output"]["setlinfo"]["setl_id"]
        killer.join()
        assert unanswered, "the server was killed mid-stream"
        assert len(acknowledged) >= 12
        in_db = settled_ids(ctx)
        assert set(acknowledged.values()) <= set(in_db)  # acknowledged = durable
        assert len(in_db) <= len(acknowledged) + 1  # at most the one in flight at the kill committed unanswered
        assert verify(ctx).ok, verify(ctx).problems  # no half-written settlement

        server = ServerProcess(url).start()
        client = hospital(server)
        for msgid, mdtrt_id, endtime in unanswered:  # the HIS resends what got no answer, same msgid
            response = client.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
            assert response["infcode"] == 0, response["err_msg"]
            acknowledged[msgid] = response["output"]["setlinfo"]["setl_id"]
        for msgid, setl_id in list(acknowledged.items())[:3]:  # and a resend of an answered one changes nothing
            mdtrt_id, endtime = stays[list(acknowledged).index(msgid)]
            again = client.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
            assert again["output"]["setlinfo"]["setl_id"] == setl_id
    finally:
        server.stop()
    in_db = settled_ids(ctx)
    assert sorted(in_db) == sorted(acknowledged.values())  # every settlement exactly once
    assert len(in_db) == len(stays)
    result = yidi_verify(url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_i1_database_connections_dropped_mid_run_pool_recovers(database):
    url, ctx = database
    stays = uploaded_stays(ctx, 12)
    server = ServerProcess(url).start()
    client = hospital(server)
    database_name = url.rpartition("/")[2]
    answers = {}
    try:
        for n, (mdtrt_id, endtime) in enumerate(stays):
            if n in (4, 8):
                with _pg_connect(url.rpartition("/")[0] + "/postgres") as admin:
                    killed = admin.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (database_name,)).fetchone()[0]
                assert killed >= 1  # the server's pooled connections (and ours) are gone
            msgid = client.new_msgid()
            response = client.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
            if response["infcode"] != 0:  # at most a coded refusal; the same msgid then goes through
                assert response["err_msg"].startswith("SERVICE_UNAVAILABLE"), response["err_msg"]
                response = client.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
            assert response["infcode"] == 0, response["err_msg"]
            answers[msgid] = response["output"]["setlinfo"]["setl_id"]
    finally:
        server.stop()
    ctx.engine.dispose()  # our own pool lost its connections too
    assert sorted(settled_ids(ctx)) == sorted(answers.values())
    assert verify(ctx).ok


@pytest.fixture
def slow_server(database):
    url, ctx = database
    server = ServerProcess(url, YIDI_TEST_HOOKS="1", YIDI_TEST_SLOW_SETTLE_SECONDS="1.5").start()
    yield server, ctx
    server.stop()


def test_s3_same_msgid_after_a_client_timeout_returns_the_stored_answer(slow_server):
    server, ctx = slow_server
    (mdtrt_id, endtime), = uploaded_stays(ctx, 1)
    impatient = hospital(server, timeout=0.5)
    msgid = impatient.new_msgid()
    with pytest.raises(httpx.TimeoutException):
        impatient.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
    patient = hospital(server)
    first = patient.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)  # while the first may still run
    assert first["infcode"] == 0, first["err_msg"]
    again = patient.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
    assert again["output"]["setlinfo"] == first["output"]["setlinfo"]
    assert settled_ids(ctx) == [first["output"]["setlinfo"]["setl_id"]]
    assert verify(ctx).ok


def test_s3_reversal_2601_of_a_settlement_whose_answer_was_lost(slow_server):
    server, ctx = slow_server
    (mdtrt_id, endtime), = uploaded_stays(ctx, 1)
    impatient = hospital(server, timeout=0.5)
    msgid = impatient.new_msgid()
    with pytest.raises(httpx.TimeoutException):
        impatient.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
    time.sleep(2.0)  # the settlement commits on the server; the hospital never learnt its outcome
    patient = hospital(server)
    reversal = patient.reverse(msgid, "2304")
    assert reversal["infcode"] == 0, reversal["err_msg"]
    assert reversal["output"]["result"]["rslt"] == "reversed"
    assert patient.reverse(msgid, "2304")["output"]["result"]["rslt"] == "already_reversed"
    # A late resend of the original: answered from the stored message (idempotency.lookup), never settled again.
    late = patient.settle_inpatient(mdtrt_id, endtime=endtime, msgid=msgid)
    assert late["infcode"] == 0 and late["output"]["setlinfo"]["setl_id"]
    assert settled_ids(ctx) == []
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)
                              .where(SettlementRow.status == "reversed")) == 1
        assert session.execute(text("SELECT count(*) FROM usage WHERE used_fen <> 0")).scalar() == 0
    assert verify(ctx).ok
