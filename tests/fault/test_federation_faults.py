"""Exactly once under faults, on real processes (issue 17, docs/federation.md "Exactly once"): ``yidi hub serve`` and
``yidi node serve`` for 北京 (11, the treatment node: 协和's HIS talks to it over HTTP) and 河南 (41, the insured node
of 张三), each with its own SQLite database, through real NATS. A stream of cross-province 2304s meets:

(a) kill -9 of the insured node; (b) kill -9 of the treatment node between the insured node's commit and its own;
(c) NATS itself killed and restarted (a private nats-server: the machine's shared one is never stopped);
(d) the hub killed and restarted.

Afterwards every success the HIS saw exists exactly once on both sides, nothing else exists on either side, and the
HIS's resends with the same msgid (or its 2601) have closed every doubt.
"""

from __future__ import annotations

import threading

import pytest

from yidi.client import HospitalClient

from tests.federation.conftest import nats_url  # noqa: F401 - the shared NATS, a fixture
from tests.fault.federation import (DOUBT_CODES, Federation, Ledger, NatsServer, _wait, assert_exactly_once,
                                    prepare_stays)

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(900)]

ZHANG_CERT = "410802195501011234"


@pytest.fixture
def processes(tmp_path):
    """``processes(nats_url, env)``: a federation of processes on that NATS (``env``: extra environment per role).
    On teardown the processes stop and what the federation created on NATS is deleted; the tails of their logs
    are printed (pytest shows them when the test failed)."""
    started: list[Federation] = []

    def make(nats_url: str, env: dict | None = None) -> Federation:
        fed = Federation(nats_url, tmp_path)
        started.append(fed)
        return fed.start_all(env)

    yield make
    for fed in started:
        fed.stop()
        print(fed.log_tails())
        fed.cleanup_nats()


@pytest.fixture
def shared_nats(nats_url):
    """The machine's NATS (127.0.0.1:4222 or YIDI_NATS_URL): a failure in CI when it is absent."""
    return nats_url


def test_federation_kill_9_of_the_insured_node_mid_stream(processes, shared_nats):
    fed = processes(shared_nats)
    his = fed.his(timeout=30)
    book = Ledger()
    try:
        stays = prepare_stays(his, 16)
        killer = threading.Timer(0, lambda: None)
        for n, (mdtrt_id, endtime) in enumerate(stays):
            if n == 6:  # while the next settlements are on their way to the 河南 node
                killer = threading.Timer(0.05, fed.kill, args=("41",))
                killer.start()
            if n == 9:  # however slow the machine, the last ones are sent after the kill
                killer.join()
            book.settle(his, mdtrt_id, endtime)
        killer.join()
        assert book.doubts, "the insured node was killed mid-stream"
        assert len(book.seen) >= 6
        # the coded answers: queued in the work queue, with the msgid to resend
        assert any("已排队" in answer for answer in book.answers), book.answers
        fed.start("41")  # back: the deferred queue drains by itself; the HIS resends what it doubts
        book.resend_doubts(his)
    finally:
        his.close()
        fed.stop()
    assert len(book.seen) == 16
    assert_exactly_once(fed, book)


def test_federation_kill_9_of_the_treatment_node_between_the_two_commits(processes, shared_nats):
    """The 北京 node dies (fault hook, SIGKILL) after the 河南 node committed and before its own commit — twice.
    The first doubt is closed by resending the msgid, the second by 2601: forwarded to the 河南 node, which reverses
    the settlement, and the 北京 node records its side of it."""
    die_at = {"YIDI_TEST_HOOKS": "1", "YIDI_TEST_DIE_AFTER_INSURED_COMMIT": "3"}
    fed = processes(shared_nats, {"11": die_at})
    his = fed.his(timeout=30)
    book = Ledger()
    try:
        stays = prepare_stays(his, 8)
        for mdtrt_id, endtime in stays[:3]:  # the third one kills the 北京 node
            book.settle(his, mdtrt_id, endtime)
        fed.wait_dead("11")
        (first_doubt,) = book.doubts
        assert len(book.seen) == 2
        fed.start("11", **(die_at | {"YIDI_TEST_DIE_AFTER_INSURED_COMMIT": "2"}))
        book.resend_doubts(his)  # the 河南 node answers from its record: the same settlement, not a second one
        assert first_doubt in book.seen
        book.settle(his, *stays[3])  # the second cross-province settlement of this run kills it again
        fed.wait_dead("11")
        (second_doubt,) = book.doubts
        fed.start("11")
        assert book.reverse(his, second_doubt) == "reversed"  # 2601 instead of a resend
        resend = his.settle_inpatient(stays[3][0], endtime=stays[3][1], msgid=second_doubt)
        assert resend["err_msg"].startswith("MESSAGE_REVERSED")
        for mdtrt_id, endtime in stays[4:]:
            book.settle(his, mdtrt_id, endtime)
        assert not book.doubts
    finally:
        his.close()
        fed.stop()
    assert len(book.seen) == 7 and book.reversed == {second_doubt: "reversed"}
    assert_exactly_once(fed, book)


def test_federation_nats_killed_and_restarted(processes, tmp_path):
    nats = NatsServer(tmp_path).start()  # private: the machine's shared NATS is never stopped
    try:
        fed = processes(nats.url)
        his = fed.his(timeout=30)
        zhengzhou = HospitalClient(fed.roles["41"].url, "demo-H41010000001", "demo-secret-H41010000001",
                                   "H41010000001", timeout=30)  # a 河南 hospital at the 河南 node
        book = Ledger()
        try:
            stays = prepare_stays(his, 12)
            killer = threading.Timer(0, lambda: None)
            for n, (mdtrt_id, endtime) in enumerate(stays):
                if n == 4:
                    killer = threading.Timer(0.05, nats.kill)
                    killer.start()
                if n == 7:  # however slow the machine, the last ones are sent after the kill
                    killer.join()
                book.settle(his, mdtrt_id, endtime)
            killer.join()
            assert book.doubts and all(answer.startswith(DOUBT_CODES) for answer in book.answers)
            assert any(answer.startswith("NATS_UNAVAILABLE") for answer in book.answers), book.answers
            assert not fed.ready("11")  # the readiness probe tells the load balancer
            # intra-province business goes on without NATS: the 河南 node answers 1101 for its own person
            assert zhengzhou.person_info("02", ZHANG_CERT)["infcode"] == 0
            nats.start()  # same port, same store: the stream and the KV bucket are still there
            _wait(lambda: fed.ready("11") and fed.ready("41"), "nodes reconnected", 120)
            book.resend_doubts(his)
        finally:
            his.close()
            zhengzhou.close()
            fed.stop()
        assert len(book.seen) == 12
        assert_exactly_once(fed, book)
    finally:
        nats.kill()


def test_federation_hub_killed_and_restarted(processes, shared_nats):
    fed = processes(shared_nats)
    his = fed.his(timeout=30)
    book = Ledger()
    try:
        stays = prepare_stays(his, 10)
        for mdtrt_id, endtime in stays[:3]:
            book.settle(his, mdtrt_id, endtime)
        fed.kill("hub")
        # settlements of admitted visits do not need the hub: they go on
        for mdtrt_id, endtime in stays[3:7]:
            book.settle(his, mdtrt_id, endtime)
        # what needs the national person index gets a coded answer while the hub is away
        info = his.person_info("02", ZHANG_CERT)
        assert info["infcode"] == -1 and info["err_msg"].startswith("SERVICE_UNAVAILABLE"), info
        assert "中心节点" in info["err_msg"]
        fed.start("hub")  # the registry is rewritten, the person index is in the hub's own database
        assert his.person_info("02", ZHANG_CERT)["infcode"] == 0
        for mdtrt_id, endtime in stays[7:]:
            book.settle(his, mdtrt_id, endtime)
        book.resend_doubts(his)
    finally:
        his.close()
        fed.stop()
    assert len(book.seen) == 10
    assert_exactly_once(fed, book)
