"""The interface gateway (interface/gateway.py) answers POST /fsi/api/* before the router; everything else
passes through to the application unchanged — over real HTTP."""

from __future__ import annotations

import json

import httpx

import pytest

from tests.api.test_fsi_support import (client_for, demo_ctx, file_filing, his, ok, row_counts,  # noqa: F401
                                        server)
from yidi.interface import signing
from yidi.interface.gateway import calls_run_inline, path_infno, served_here
from yidi.client import fee_row
from yidi.config import get_settings


def _scope(method: str, path: str) -> dict:
    return {"type": "http", "method": method, "path": path}


def test_i1_gateway_serves_exactly_the_interface_paths():
    assert served_here(_scope("POST", "/fsi/api/2304"))
    assert served_here(_scope("POST", "/fsi/api/call"))
    assert served_here(_scope("POST", "/fsi/api/rsfComIfsService/callService"))
    assert not served_here(_scope("GET", "/fsi/api/2304"))
    assert not served_here(_scope("POST", "/fsi/api/"))
    assert not served_here(_scope("POST", "/fsi/api/a/b"))
    assert not served_here(_scope("POST", "/api/login"))
    assert not served_here({"type": "websocket", "path": "/fsi/api/2304"})
    assert path_infno("/fsi/api/2304") == "2304" and path_infno("/fsi/api/call") is None


def test_i1_gateway_answers_calls_and_passes_the_rest_through(demo_ctx, his, server):
    answer = his.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "410802195501011234"}})
    ok(answer)
    response = httpx.get(f"{server.url}/fsi/api/2304")
    assert response.status_code == 405  # FastAPI's own answer: the gateway only takes POST
    response = httpx.post(f"{server.url}/fsi/api/a/b", content=b"{}")
    assert response.status_code == 404
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"


def test_v1_gateway_refuses_oversized_and_deep_bodies_with_the_envelope(demo_ctx, his, server):
    before = row_counts(demo_ctx)
    deep = b"[" * 5000 + b"]" * 5000
    headers = signing.signed_headers(infno="1101", body=deep, access_key=his.access_key, secret=his.secret)
    response = httpx.post(f"{server.url}/fsi/api/1101", content=deep, headers=headers)
    assert response.status_code == 413
    assert response.json()["infcode"] == -1 and response.json()["err_msg"].startswith("PAYLOAD_TOO_LARGE")
    big = json.dumps({"padding": "x" * 1_100_000}).encode()
    response = httpx.post(f"{server.url}/fsi/api/call", content=big)
    assert response.status_code == 413 and response.json()["err_msg"].startswith("PAYLOAD_TOO_LARGE")
    assert "set-cookie" not in response.headers  # the pages' session middleware is not on this path
    assert row_counts(demo_ctx) == before


@pytest.fixture
def several_workers(monkeypatch):
    """As `yidi serve --workers 3` sets it: calls run on the worker's event loop, not in a thread."""
    monkeypatch.setenv("YIDI_SERVER_WORKERS", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_s2_flow_with_calls_on_the_event_loop(several_workers, demo_ctx, his):
    assert calls_run_inline()
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"), fee_row(mdtrt_id, "2", "X004", "4000.00")]))
    assert ok(his.presettle_inpatient(mdtrt_id, "P001", endtime="2023-03-10"))["setlinfo"]["hifp_pay"] == 9435.0
    msgid = his.new_msgid()
    settled = ok(his.settle_inpatient(mdtrt_id, "P001", endtime="2023-03-10", msgid=msgid))["setlinfo"]
    assert settled["hifp_pay"] == 9435.0 and settled["setl_id"]
    again = ok(his.settle_inpatient(mdtrt_id, "P001", endtime="2023-03-10", msgid=msgid))["setlinfo"]
    assert again["setl_id"] == settled["setl_id"]  # the stored answer, not a second settlement
    refused = his.settle_inpatient(mdtrt_id, "P001", endtime="2023-03-10")
    assert refused["infcode"] == -1 and refused["err_msg"].startswith("DUPLICATE_CLAIM")
