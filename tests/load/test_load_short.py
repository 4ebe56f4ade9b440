"""The bounded load run (bench/load.py), short: 20 s of mixed hospital traffic on PostgreSQL at the benchmark rate
with a fixed seed — no errors but expected refusals, no memory growth, and `yidi verify` passes afterwards.
The 5-minute figures are in docs/reliability.md."""

from __future__ import annotations

import json

import pytest

from bench import load
from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_connect

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(240)]


def test_i1_short_load_run_has_no_errors_no_growth_and_verifies(capsys):
    try:
        _pg_connect(PG_ADMIN_URL).close()
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL at {PG_ADMIN_URL}: {exc}")
        pytest.skip("the load run needs PostgreSQL (YIDI_TEST_POSTGRES_URL)")
    code = load.main(["--seconds", "20", "--rate", "5", "--seed", "2024", "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["errors"] == {} and summary["warmup_errors"] == {}
    assert summary["verify_ok"], summary["verify"]
    assert summary["visits"] >= 50 and summary["calls"] >= 200  # the traffic really ran
    assert summary["rss_growth_mib"] < 30, summary  # a leak of ~1 KiB per call would show here
    assert code == 0
