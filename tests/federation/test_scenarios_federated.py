"""Every scenario file in the repository gives the same report federated (one node per province + the hub, through
the real NATS server) as on one node. Generated ids (filings, settlements, claims) differ between any two runs, so both
reports name them by order of first appearance before they are compared."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yidi.cli import app
from yidi.federation.scenario import run_federated_file
from yidi.services.scenario import run_scenario_file

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FILES = sorted(path for path in ROOT.glob("**/*.yaml")
                        if "scenarios" in path.parts and ".venv" not in path.parts and "var" not in path.parts
                        and path.read_text(encoding="utf-8").lstrip().startswith(("name:", "persons:", "steps:", "#")))
GENERATED_ID = re.compile(r"\b(?:BA[0-9A-F]{16}|SL[0-9A-F]{18}|LX[0-9A-F]{18}|LB[0-9A-F]{18}|TY[0-9A-F]{18})\b")


def _named_by_order(document: dict) -> str:
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
    seen: dict[str, str] = {}
    return GENERATED_ID.sub(lambda m: seen.setdefault(m.group(0), f"<id{len(seen) + 1}>"), text)


def test_the_repository_has_scenario_files():
    assert len(SCENARIO_FILES) >= 60


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_scenario_file_federated_equals_single_node(path, nats_url):
    single = run_scenario_file(path).to_dict()
    federated = run_federated_file(path, nats_url).to_dict()
    assert _named_by_order(federated) == _named_by_order(single)
    assert GENERATED_ID.search(json.dumps(single))  # the ids were there to be named (the comparison is not empty)


def test_cli_federated_runs_a_file_and_exits_like_single_node(nats_url, monkeypatch):
    monkeypatch.setenv("YIDI_NATS_URL", nats_url)
    path = ROOT / "tests" / "scenarios" / "e01_jiaozuo_retired_beijing.yaml"
    result = CliRunner().invoke(app, ["scenario", "run", "--federated", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"][1]["result"]["hifp_pay"] == "9435.00"


def test_cli_federated_without_nats_exits_2_and_says_how_to_start_it(monkeypatch):
    monkeypatch.setenv("YIDI_NATS_URL", "nats://127.0.0.1:1")
    path = ROOT / "tests" / "scenarios" / "e01_jiaozuo_retired_beijing.yaml"
    result = CliRunner().invoke(app, ["scenario", "run", "--federated", str(path)])
    assert result.exit_code == 2
    assert "无法连接 NATS" in result.output and "nats-server -js" in result.output
