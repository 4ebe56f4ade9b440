"""`yidi hospital call` and `yidi hospital simulate` against a live server (real HTTP)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.api.test_fsi_support import demo_ctx, file_filing, server  # noqa: F401
from yidi.cli import app


def test_hospital_call_prints_the_signed_answer(demo_ctx, server, tmp_path):
    query = tmp_path / "q.json"
    query.write_text(json.dumps({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "410802195501011234"}}))
    result = CliRunner().invoke(app, ["hospital", "call", "1101", str(query), "--fixmedins", "H11000000001",
                                      "--url", server.url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output"]["baseinfo"]["psn_no"] == "P001"


def test_hospital_simulate_reports_outcomes(demo_ctx, server):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    file_filing(demo_ctx, "P003", "resident_worker", "310000", "2023-02-03", "李五")
    result = CliRunner().invoke(app, ["hospital", "simulate", "--url", server.url, "--visits", "12", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "2304" in result.stdout or "2207" in result.stdout
