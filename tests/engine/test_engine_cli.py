"""`yidi demo generate` and `yidi simulate` through the real command line (subprocesses)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from yidi.engine.io import read_claims
from yidi.engine.tables import PolicyTables
from yidi.policy.loader import load_policy_book

DATA = Path(__file__).parent / "data"


def _yidi(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yidi.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_b5_simulate_referral_change_moves_only_jiaozuo_referral_claims(tmp_path: Path):
    claims = tmp_path / "claims.parquet"
    proc = _yidi("demo", "generate", "--claims", "20000", "--out", str(claims), "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    table, labels = read_claims(claims, PolicyTables.from_book(load_policy_book()))
    assert len(table) == 20000 and set(labels["insuplc_admdvs"]) == {"410800", "420100", "371400"}

    out = tmp_path / "sim"
    proc = _yidi("simulate", "--policy-change", str(DATA / "referral_410800_2024.yaml"), "--claims", str(claims),
                 "--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "simulation.csv").open(encoding="utf-8")))
    assert sum(int(r["claims"]) for r in rows) == 20000
    changed = {(r["insuplc_admdvs"], r["med_type"]) for r in rows if r["fund_change_yuan"] != "0.00"}
    # Referral reductions apply to inpatient and ordinary outpatient, never to chronic (B5); only 焦作 changed.
    assert changed and all(region == "410800" and med_type != "14" for region, med_type in changed)
    jiaozuo = sum(float(r["fund_change_yuan"]) for r in rows if r["insuplc_admdvs"] == "410800")
    assert jiaozuo > 0  # a smaller reduction pays more in total (caps only limit how much more)
    svg = (out / "simulation.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "焦作市" in svg and "</svg>" in svg


def test_simulate_refuses_an_overlay_beyond_the_national_cap(tmp_path: Path):
    overlay = tmp_path / "too_much.yaml"
    overlay.write_text((DATA / "referral_410800_2024.yaml").read_text(encoding="utf-8").replace("{value: 5,", "{value: 15,"),
                       encoding="utf-8")
    claims = tmp_path / "claims.parquet"
    assert _yidi("demo", "generate", "--claims", "100", "--out", str(claims)).returncode == 0
    proc = _yidi("simulate", "--policy-change", str(overlay), "--claims", str(claims), "--out-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "POLICY_INVALID" in proc.stderr and "B5" in proc.stderr


def test_demo_without_subcommand_still_loads_the_demo_data(tmp_path: Path):
    proc = _yidi("demo", env={"YIDI_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"})
    assert proc.returncode == 0, proc.stderr
    assert "demo data" in proc.stderr


def test_generator_is_reproducible_and_realistic():
    from yidi.demo.generate import INPATIENT_SHARE, generate

    first, again = generate(5000, seed=3), generate(5000, seed=3)
    assert all((first.columns[k] == again.columns[k]).all() for k in first.columns)
    inpatient = float(sum((first.columns["med_type"] == t).mean() for t in ("21", "22", "23")))
    assert abs(inpatient - INPATIENT_SHARE) < 0.02
    scope = first.columns
    assert (scope["medfee_sumamt"] == scope["fulamt_ownpay_amt"] + scope["overlmt_selfpay"]
            + scope["preselfpay_amt"] + scope["inscp_scp_amt"]).all()
    years = set((first.columns["end_day"].astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970).tolist())
    assert years == {2023, 2024}
