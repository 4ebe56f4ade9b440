"""`yidi serve` with YIDI_LOG_JSON=true writes one JSON object per line on stderr — uvicorn's server and access
logs as well as yidi's own — with certificate numbers masked (issue 19, docs/operations.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx

from tests.support.live_server import free_port, wait_until_answers


def test_serve_writes_json_lines(tmp_path):
    port = free_port()
    env = {**os.environ, "YIDI_DATABASE_URL": f"sqlite:///{tmp_path}/logs.db", "YIDI_LOG_JSON": "true"}
    env.pop("YIDI_ENV", None)
    server = subprocess.Popen([sys.executable, "-m", "yidi.cli", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/health/live", server)
        httpx.get(f"http://127.0.0.1:{port}/api/institutions?certno=410802195501011234")
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    assert all({"timestamp", "level", "event"} <= set(line) for line in lines)
    access = [line for line in lines if line["event"] == "http.access"]
    assert any(line["path"].startswith("/api/institutions") for line in access)
    assert "410802195501011234" not in stderr and "410802********1234" in stderr
    assert any(line.get("logger") == "uvicorn.error" for line in lines)
