"""The roles as the ``yidi`` command starts them: ``yidi hub serve`` and two ``yidi node serve`` processes, each
with its own SQLite database and port, on the real NATS server; a 北京 hospital settles a 焦作 person over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests.support.live_server import free_port
from yidi.client import HospitalClient, fee_row
from yidi.federation.bridge import Bridge
from yidi.federation.demo import stop_all
from yidi.federation.subjects import Names


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the node ended with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s")


@pytest.fixture
def processes(nats_url, tmp_path):
    federation = f"p{uuid.uuid4().hex[:10]}"
    env = os.environ | {"YIDI_NATS_URL": nats_url, "YIDI_DEMO_MODE": "true"}
    yidi = [sys.executable, "-m", "yidi.cli"]
    started: list[subprocess.Popen] = []
    urls = {}
    try:
        started.append(subprocess.Popen([*yidi, "hub", "serve", "--demo", "--federation", federation,
                                         "--database-url", f"sqlite:///{tmp_path}/hub.db"], env=env))
        for province in ("11", "41"):
            port = free_port()
            started.append(subprocess.Popen(
                [*yidi, "node", "serve", "--province", province, "--demo", "--federation", federation,
                 "--port", str(port), "--database-url", f"sqlite:///{tmp_path}/node-{province}.db"], env=env))
            urls[province] = f"http://127.0.0.1:{port}"
        for province, process in zip(("11", "41"), started[1:]):
            _wait_healthy(urls[province], process)
        yield urls
    finally:
        stop_all(started)
        bridge = Bridge(nats_url, name="cleanup")
        try:
            bridge.delete_bucket(Names(federation).registry_bucket)
        finally:
            bridge.close()


def test_federation_hub_and_nodes_started_by_the_yidi_command(processes):
    his = HospitalClient(processes["11"], "demo-H11000000001", "demo-secret-H11000000001", "H11000000001")
    try:
        info = his.person_info("02", "410802195501011234")  # 张三, insured on the 河南 node
        assert info["infcode"] == 0, info["err_msg"]
        assert [f["mdtrtarea_admvs"] for f in info["output"]["filings"]] == ["110000"]
        mdtrt_id = his.admit("P001", "21", "2023-03-01", insutype="310")["output"]["result"]["mdtrt_id"]
        assert his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00", cnt=1,
                                                  pric="8000.00")])["infcode"] == 0
        settled = his.settle_inpatient(mdtrt_id, endtime="2023-03-10")
        assert settled["infcode"] == 0, settled["err_msg"]
        assert f'{float(settled["output"]["setlinfo"]["hifp_pay"]):.2f}' == "6035.00"
    finally:
        his.close()
    # the 河南 node's own hospital key is not valid at the 北京 node: each node holds its own hospitals' keys
    foreign = HospitalClient(processes["11"], "demo-H41010000001", "demo-secret-H41010000001", "H41010000001")
    try:
        assert foreign.person_info("02", "410802195501011234")["infcode"] == -1
    finally:
        foreign.close()
