"""Scenario files are the acceptance tests: every tests/scenarios/*.yaml must play with no mismatch,
both through the service layer and through the real `yidi scenario run` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from yidi.services.scenario import run_scenario_file

SCENARIOS = sorted(Path(__file__).parent.glob("*.yaml"))
E01 = Path(__file__).parent / "e01_jiaozuo_retired_beijing.yaml"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_file(path: Path):
    report = run_scenario_file(path)
    assert report.mismatches == []


def test_scenario_cli_prints_one_json_document(tmp_path: Path):
    path = E01
    proc = subprocess.run([sys.executable, "-m", "yidi.cli", "scenario", "run", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["scenario"] and document["steps"][0]["ok"] is True


def test_scenario_cli_exit_codes(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - {id: a, do: settle, psn_no: P1, colour: red}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "yidi.cli", "scenario", "run", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(E01.read_text(encoding="utf-8").replace('hifp_pay: "9435.00"', 'hifp_pay: "1.00"'),
                     encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "yidi.cli", "scenario", "run", str(wrong)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "s1.hifp_pay" in proc.stderr
