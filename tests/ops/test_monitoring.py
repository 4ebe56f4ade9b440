"""Monitoring and the server's front matter over real HTTP: /metrics, the probes, the offline API reference,
coded answers for unknown addresses, production refusals, a busy port (issue 19)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_fsi_support import client_for, demo_ctx, file_filing, his, ok, serving, server  # noqa: F401
from tests.support.live_server import live_server
from yidi.api.app import create_app
from yidi.client import fee_row
from yidi.config import Settings, get_settings, production_problems
from yidi.domain.errors import YidiError
from yidi.services.context import AppContext


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one /metrics answer, parsed by prometheus-client's parser."""
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_calls_settlements_and_fund_amounts(demo_ctx, his, server):
    today = date.today().isoformat()
    before = scrape(server.url)
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", today, insutype="310"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00", cnt=1, pric="8000.00",
                                          fee_ocur_time=f"{today} 10:00:00")]))
    setl = ok(his.settle_inpatient(mdtrt_id, "P001", medfee_sumamt="8000.00", endtime=today))["setlinfo"]
    refused = his.call("2304", {"mdtrtinfo": {"mdtrt_id": "NOPE", "psn_no": "P001", "medfee_sumamt": "1.00"}})
    assert refused["infcode"] == -1
    code = refused["err_msg"].split("：")[0]
    after = scrape(server.url)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("yidi_fsi_calls_total", infno="2401", outcome="ok") == 1
    assert grew("yidi_fsi_calls_total", infno="2304", outcome="ok") == 1
    assert grew("yidi_fsi_calls_total", infno="2304", outcome=code) == 1
    assert grew("yidi_fsi_call_seconds_count", infno="2304") == 2
    assert grew("yidi_fsi_call_seconds_bucket", infno="2304", le="+Inf") == 2
    fund_fen = round(float(setl["fund_pay_sumamt"]) * 100)
    assert fund_fen > 0
    assert grew("yidi_fsi_settlement_fund_pay_fen_total", infno="2304") == fund_fen
    assert grew("yidi_fsi_settlement_medfee_fen_total", infno="2304") == 800000
    # read from the database: today's settlements, the queue, the sealer, the pool
    assert value(after, "yidi_database_up") == 1
    assert value(after, "yidi_settlements_today", kind="direct", status="settled") == 1
    assert value(after, "yidi_settlement_fund_pay_fen_today", kind="direct", status="settled") == fund_fen
    assert value(after, "yidi_audit_unsealed_rows") >= 0
    assert ("yidi_db_pool_connections", (("pid", str(os.getpid())), ("state", "checked_out"))) in after


def test_metrics_show_the_degraded_mode_queue(demo_ctx, server):
    from datetime import datetime

    from yidi.adapters.orm_ops import DeferredSettlementRow

    with demo_ctx.unit_of_work() as session:
        session.add(DeferredSettlementRow(msgid="M-QUEUED-1", fixmedins_code="H11000000001", infno="2304",
                                          insuplc_admdvs="410800", mdtrt_id="V1", request={}, reason="test",
                                          queued_at=datetime.now(), state="queued"))
    assert value(scrape(server.url), "yidi_deferred_settlements", state="queued") == 1


def test_probes_check_the_database(tmp_path):
    with live_server(create_app(AppContext.from_url(f"sqlite:///{tmp_path}/probe.db"))) as url:
        assert httpx.get(f"{url}/health/live").json()["status"] == "ok"
        assert httpx.get(f"{url}/health/ready").json()["status"] == "ok"
    # a database that does not answer: readiness says so with a code, liveness still answers, /metrics too
    app = create_app(AppContext.from_url("postgresql://postgres@127.0.0.1:1/none", migrate=False))
    with live_server(app) as url:
        answer = httpx.get(f"{url}/health/ready")
        assert answer.status_code == 503 and answer.json()["code"] == "DATABASE_UNAVAILABLE"
        assert httpx.get(f"{url}/health/live").status_code == 200
        assert value(scrape(url), "yidi_database_up") == 0


def test_api_reference_works_without_internet(demo_ctx, server):
    page = httpx.get(f"{server.url}/docs").text
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert asset in page
        response = httpx.get(f"{server.url}{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000
    assert httpx.get(f"{server.url}/openapi.json").json()["info"]["title"].startswith("yidi")
    assert httpx.get(f"{server.url}/redoc").headers["location"] == "/docs"


def test_unknown_address_gets_a_chinese_page_or_a_coded_error(demo_ctx, server):
    api = httpx.get(f"{server.url}/api/no-such-thing")
    assert api.status_code == 404 and api.json()["code"] == "NOT_FOUND" and "/api/no-such-thing" in api.json()["message"]
    browser = httpx.get(f"{server.url}/no-such-page", headers={"accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 404 and "text/html" in browser.headers["content-type"]
    assert "未找到页面或接口" in browser.text and "Not Found" not in browser.text
    wrong_method = httpx.delete(f"{server.url}/health")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_production_mode_refuses_to_start_without_its_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("YIDI_ENV", "production")
    monkeypatch.delenv("YIDI_SECRET_KEY", raising=False)
    monkeypatch.delenv("YIDI_CREDENTIAL_KEY", raising=False)
    monkeypatch.delenv("YIDI_DATABASE_URL", raising=False)
    missing = production_problems(Settings(_env_file=None))
    assert [item.split("（")[0] for item in missing] == ["YIDI_SECRET_KEY", "YIDI_CREDENTIAL_KEY", "YIDI_DATABASE_URL"]
    get_settings.cache_clear()
    try:
        with pytest.raises(YidiError) as refused:
            create_app(AppContext.from_url(f"sqlite:///{tmp_path}/p.db"))
        assert refused.value.code == "PRODUCTION_CONFIG_MISSING"
        env = {**os.environ, "YIDI_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
        result = subprocess.run([sys.executable, "-m", "yidi.cli", "serve", "--port", "1"], env=env,
                                capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 2 and "YIDI_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
        monkeypatch.setenv("YIDI_SECRET_KEY", "k" * 40)
        monkeypatch.setenv("YIDI_CREDENTIAL_KEY", "Y2xlYXJseS1ub3QtYS1yZWFsLWtleS1idXQtMzJieXQ=")
        monkeypatch.setenv("YIDI_DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
        assert production_problems(Settings(_env_file=None)) == []
    finally:
        get_settings.cache_clear()


def test_serve_on_a_busy_port_names_the_option(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "YIDI_DATABASE_URL": f"sqlite:///{tmp_path}/busy.db"}
        result = subprocess.run([sys.executable, "-m", "yidi.cli", "serve", "--port", str(port)], env=env,
                                capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert "已被占用" in result.stderr and "--port" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_metrics_add_up_across_worker_processes(tmp_path):
    """`yidi serve --workers 2`: whichever worker answers /metrics, the counts are those of all workers."""
    import signal

    from tests.support.live_server import free_port, wait_until_answers
    from yidi.client import HospitalClient

    port = free_port()
    env = {**os.environ, "YIDI_DATABASE_URL": f"sqlite:///{tmp_path}/workers.db"}
    for name in ("YIDI_ENV", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    server = subprocess.Popen([sys.executable, "-m", "yidi.cli", "serve", "--demo", "--workers", "2", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/health/ready", server)
        calls = 12
        for _ in range(calls):  # a new connection each time: the calls spread over the workers
            client = HospitalClient(url, "demo-H11000000001", "demo-secret-H11000000001", "H11000000001")
            assert client.person_info("02", "410802195501011234")["infcode"] == 0
            client.close()
        seen, pids = set(), set()
        for _ in range(60):  # until both workers have answered a scrape
            samples = scrape(url)
            seen.add(value(samples, "yidi_fsi_calls_total", infno="1101", outcome="ok"))
            pids |= {dict(labels)["pid"] for name, labels in samples if name == "yidi_db_pool_connections"}
            if len(pids) == 2:
                break
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    # Two different workers answered and both counted every call: per-process counters would differ
    # (one worker's share of the 12 calls each), so the sum over processes is what /metrics shows.
    assert len(pids) == 2 and seen == {calls}
