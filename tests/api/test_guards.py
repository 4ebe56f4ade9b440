"""Hostile bodies get coded refusals over real HTTP, never a 500 (issue 9)."""

from __future__ import annotations

import httpx
import pytest

from yidi.api.app import create_app
from tests.support.live_server import live_server


@pytest.fixture
def base_url(sqlite_ctx):
    with live_server(create_app(sqlite_ctx)) as url:
        yield url


def test_deep_json_is_refused_with_a_code(base_url):
    body = b"[" * 100_000 + b"]" * 100_000
    response = httpx.post(f"{base_url}/health", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_oversized_body_is_refused_with_a_code(base_url):
    response = httpx.post(f"{base_url}/health", content=b"x" * 2_000_000)
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_health_answers(base_url):
    response = httpx.get(f"{base_url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
