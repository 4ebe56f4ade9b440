"""bench.fsi_settlement --json: the figures of the markdown table, as numbers a script can read.

The writer is tested on a result shaped like run_http's / run_in_process's (no benchmark is run here)."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

from bench.fsi_settlement import TRANSACTIONS, figures, report, write_json


def _run(done: int, elapsed: float, latencies: dict[str, list[float]], server_ms: float, postgres_ms: float) -> dict:
    return {"done": done, "failed": 1, "elapsed": elapsed, "rate": done / elapsed, "latencies": latencies,
            "errors": {"boom": 1}, "audit": {"behind": 0, "ok": True, "checked": 10},
            "cpu": {"busy": 0.9, "server": 0.6, "postgres": 0.2, "load": 0.05, "other": 0.05,
                    "server_ms_per_flow": server_ms, "postgres_ms_per_flow": postgres_ms}}


def test_json_figures_match_the_markdown_table(tmp_path: Path):
    args = Namespace(db="postgresql://x/test", seconds=2.0, workers=3, clients=4, load_procs=1, rate=0.0)
    steps = [i / 1000 for i in range(1, 101)]  # 1 … 100 ms
    http = _run(200, 2.0, {t: steps for t in TRANSACTIONS} | {"2304": [s * 2 for s in steps]}, 9.5, 3.25)
    floor = _run(2000, 2.0, {t: steps for t in TRANSACTIONS}, 0.7, 0.0)
    local = {"done": 300, "elapsed": 2.0, "rate": 150.0, "latencies": {"2304": steps}, "cpu_ms_per_flow": 6.0}
    path = tmp_path / "fsi.json"
    write_json(figures(args, http, local, floor), path)
    data = json.loads(path.read_text(encoding="utf-8"))

    assert data["flows_per_second"] == 100.0 and data["floor_flows_per_second"] == 1000.0
    assert data["flows_vs_floor"] == 0.1
    assert (data["server_cpu_ms_per_flow"], data["postgres_cpu_ms_per_flow"]) == (9.5, 3.25)
    assert set(data["latency"]) == {f"{t}_http" for t in TRANSACTIONS} | {"2304_in_process"}
    assert data["latency"]["2304_http"] == {"calls": 100, "p50_ms": 102.0, "p99_ms": 200.0}
    assert data["latency"]["2401_http"]["p99_ms"] == 100.0
    table = report(args, http, local, floor)
    # The same numbers appear in the markdown the command writes.
    assert "| 2304 (HTTP) | 100 | 102.0 | 200.0 |" in table and "server **9.5 ms**" in table


def test_json_has_null_where_a_transaction_had_no_calls(tmp_path: Path):
    args = Namespace(db="x", seconds=1.0, workers=1, clients=1, load_procs=1, rate=100.0)
    empty = _run(0, 1.0, {t: [] for t in TRANSACTIONS}, float("nan"), float("nan"))
    local = {"done": 0, "elapsed": 1.0, "rate": 0.0, "latencies": {"2304": []}, "cpu_ms_per_flow": 0.0}
    path = tmp_path / "fsi.json"
    write_json(figures(args, empty, local, empty), path)
    data = json.loads(path.read_text(encoding="utf-8"))  # strict JSON: no NaN tokens
    assert data["latency"]["2301_http"] == {"calls": 0, "p50_ms": None, "p99_ms": None}
    assert data["server_cpu_ms_per_flow"] is None and data["flows_vs_floor"] is None
    assert data["command"]["rate"] == 100.0  # a scheduled run (--rate) says so
