"""Rate limits (per access key on /fsi, failed logins per username + address), certificate numbers masked in the
logs of a real server process, and tampering with the append-only audit log detected by its hash chain."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from sqlalchemy import text

from tests.api.test_fsi_support import client_for, serving
from tests.fault.server import ServerProcess
from yidi.config import get_settings
from yidi.services.demo import load_demo
from yidi.services.filings import FileCommand, file_filing
from yidi.services.verify import verify

CERTNO = "410802195501011234"  # P001 张三 in the demo data


@pytest.fixture
def tight_limits(monkeypatch):
    monkeypatch.setenv("YIDI_FSI_RATE_PER_SECOND", "0.001")  # practically no refill during the test
    monkeypatch.setenv("YIDI_FSI_RATE_BURST", "3")
    monkeypatch.setenv("YIDI_LOGIN_FAILURES_PER_MINUTE", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_i3_fsi_token_bucket_per_access_key(tight_limits, sqlite_ctx):
    sqlite_ctx.demo_mode = True
    with serving(sqlite_ctx) as server:
        beijing, shanghai = client_for(server), client_for(server, "H31000000001")
        answers = [beijing.sign_in() for _ in range(5)]
        assert [a["infcode"] for a in answers] == [0, 0, 0, -1, -1]
        assert answers[3]["err_msg"].startswith("RATE_LIMITED")
        assert shanghai.sign_in()["infcode"] == 0  # another institution has its own bucket
        forged = client_for(server)
        forged.secret = "wrong"
        assert forged.sign_in()["err_msg"].startswith("AUTH_FAILED")  # unsigned calls cannot spend a bucket


def test_i3_fsi_rate_limit_split_between_worker_processes(monkeypatch, sqlite_ctx):
    """With N workers (YIDI_SERVER_WORKERS, set by ``yidi serve --workers N``) each process keeps 1/N of the
    budget, so the server as a whole holds the configured limit."""
    from yidi.api import ratelimit
    from yidi.domain.errors import YidiError

    monkeypatch.setenv("YIDI_FSI_RATE_PER_SECOND", "0.001")
    monkeypatch.setenv("YIDI_FSI_RATE_BURST", "6")
    monkeypatch.setenv("YIDI_SERVER_WORKERS", "3")
    get_settings.cache_clear()
    try:
        for _ in range(2):
            ratelimit.check_fsi(sqlite_ctx, "demo-H11000000001")
        with pytest.raises(YidiError) as refused:
            ratelimit.check_fsi(sqlite_ctx, "demo-H11000000001")
        assert refused.value.code == "RATE_LIMITED"
    finally:
        get_settings.cache_clear()


def test_i3_failed_logins_per_username_and_address(tight_limits, sqlite_ctx):
    load_demo(sqlite_ctx)
    with serving(sqlite_ctx) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(3):
            assert http.post("/api/login", json={"username": "P001", "password": "guess"}).status_code == 401
        locked = http.post("/api/login", json={"username": "P001", "password": "demo-person"})
        assert locked.status_code == 429 and locked.json()["code"] == "RATE_LIMITED"  # even the right password
        assert http.post("/api/login", json={"username": "P002", "password": "demo-person"}).status_code == 200
        for _ in range(4):  # successful logins never use up the budget
            assert http.post("/api/login", json={"username": "P002", "password": "demo-person"}).status_code == 200
        page = http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        page_login = http.post("/login", data={"username": "P001", "password": "demo-person", "csrf_token": csrf})
        assert page_login.status_code == 429 and "过于频繁" in page_login.text  # the page says so too


def test_i3_certno_masked_in_the_logs_of_a_real_request(tmp_path):
    url = f"sqlite:///{tmp_path}/logs.db"
    from yidi.services.context import AppContext

    ctx = AppContext.from_url(url, demo_mode=True)
    load_demo(ctx)
    ctx.engine.dispose()
    log_file = tmp_path / "server.log"
    server = ServerProcess(url, YIDI_LOG_LEVEL="INFO").start(log_file)
    try:
        his = client_for(server)
        envelope = his.envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO}})
        envelope[CERTNO] = "a vendor's stray field"  # logged as an unknown envelope field
        assert his.send(envelope)["infcode"] == 0
        with httpx.Client(base_url=server.url, auth=("clerk-jiaozuo", "demo-clerk")) as http:
            assert http.get("/api/filings", params={"certno": CERTNO}).status_code == 200  # access log line
    finally:
        server.stop()
    logged = log_file.read_text()
    assert "fsi.extra_envelope_fields" in logged and "GET /api/filings?certno=" in logged  # the lines exist
    assert CERTNO not in logged
    assert "410802********1234" in logged


def test_i3_audit_log_tampering_is_detected(ctx):
    file_filing(ctx, FileCommand(psn_no="P005", filing_type="other_temporary", basis="proof",
                                 mdtrtarea_admvs="310000", begndate=date(2023, 5, 1), apply_date=date(2023, 5, 1),
                                 channel="window"))
    assert verify(ctx).checks["audit_chain"] == "ok"
    with ctx.engine.begin() as connection:  # an insider with database rights goes around the trigger
        if ctx.is_postgres:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_log)"))
        if ctx.is_postgres:
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    report = verify(ctx)
    assert not report.ok and report.checks["audit_chain"] != "ok"
    assert any("hash chain broken" in problem for problem in report.problems)


def test_i3_concurrent_audit_appends_keep_one_chain(ctx):
    """Writers appending at once (every hospital call writes audit rows) must not fork the hash chain."""
    import threading

    from yidi.services import audit

    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        for k in range(5):
            with ctx.unit_of_work() as session:
                audit.record(session, f"t{n}", "test.append", f"{n}-{k}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with ctx.unit_of_work() as session:  # the sealer chains what the writers appended, in id order
        assert audit.seal(session) == 40
    with ctx.unit_of_work() as session:
        ok, rows, broken = audit.verify_chain(session)
    assert (ok, rows, broken) == (True, 40, None)
