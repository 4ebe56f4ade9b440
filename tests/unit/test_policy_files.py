"""Policy files: broken ones are rejected with file, path and reason (B5, B12); dated versions apply by discharge
date and history stays. The CLI tests run the real `yidi policy check --data-dir` on a copied data folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from tests.unit.benefit_helpers import filing, items, settle
from yidi.policy.loader import DATA_DIR, collect_policy


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(path: Path, edit) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _check(data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yidi.cli", "policy", "check", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""})


def test_policy_check_accepts_the_bundled_data(data_dir: Path):
    proc = _check(data_dir)
    assert proc.returncode == 0, proc.stderr
    assert "policy OK" in proc.stdout


def test_b5_referral_reduction_above_national_cap_is_rejected(data_dir: Path):
    _edit(data_dir / "insured" / "410800.yaml",
          lambda d: d["versions"][0]["remote"]["reductions"]["referral"].update(value=15))
    proc = _check(data_dir)
    assert proc.returncode == 1
    assert "410800.yaml" in proc.stderr and "versions[0].remote.reductions.referral" in proc.stderr
    assert "超过国家/省规定上限 10 个百分点" in proc.stderr


def test_b5_hubei_province_cap_applies_to_wuhan(data_dir: Path):
    _edit(data_dir / "insured" / "420100.yaml",
          lambda d: d["versions"][0]["remote"]["reductions"]["other_temporary"].update(value=25))
    _, problems = collect_policy(data_dir)
    assert [(p.file, p.path) for p in problems] == [("420100.yaml", "versions[0].remote.reductions.other_temporary")]


def test_missing_source_is_rejected(data_dir: Path):
    _edit(data_dir / "insured" / "371400.yaml",
          lambda d: d["versions"][0]["benefits"]["inpatient"]["310"]["annual_cap"].pop("source"))
    proc = _check(data_dir)
    assert proc.returncode == 1
    assert "371400.yaml" in proc.stderr and "benefits.inpatient.310.annual_cap.source" in proc.stderr


def test_ratio_above_100_percent_is_rejected(data_dir: Path):
    _edit(data_dir / "insured" / "420100.yaml",
          lambda d: d["versions"][0]["benefits"]["inpatient"]["310"]["ratio"]["value"].update({1: "120%"}))
    proc = _check(data_dir)
    assert proc.returncode == 1
    assert "benefits.inpatient.310.ratio.1" in proc.stderr and "0%–100%" in proc.stderr


def test_catalog_item_without_source_and_bad_yaml_are_rejected(data_dir: Path):
    _edit(data_dir / "catalogs" / "110000.yaml", lambda d: d["versions"][0]["items"]["X001"].pop("source"))
    (data_dir / "insured" / "999999.yaml").write_text("region: [unclosed\n", encoding="utf-8")
    _, problems = collect_policy(data_dir)
    assert ("110000.yaml", "versions[0].items.X001.source") in [(p.file, p.path) for p in problems]
    assert any(p.file == "999999.yaml" and "YAML" in p.reason for p in problems)


def test_b3_returning_reduction_below_referral_level_is_rejected(data_dir: Path):
    _edit(data_dir / "insured" / "410800.yaml",
          lambda d: d["versions"][0]["remote"]["reductions"]["long_term_returning"]["value"].update(inpatient=15))
    _, problems = collect_policy(data_dir)
    assert any(p.path.endswith("long_term_returning.inpatient") for p in problems)


def test_later_version_applies_by_discharge_date_and_history_stays(data_dir: Path):
    # A new 焦作 version from 2024-01-01: 310 level-3 ratio 85% → 88%, other temporary −20 → −15.
    def add_version(d):
        d["versions"].append({
            "effective_from": date(2024, 1, 1), "source": "test: a parameter change on a date",
            "benefits": {"inpatient": {"310": {**d["versions"][0]["benefits"]["inpatient"]["310"],
                                               "ratio": {"value": {1: "95%", 2: "90%", 3: "88%"}, "source": "test"}}}},
            "remote": {"reductions": {"other_temporary": {"value": 15, "source": "test"}}},
        })
    _edit(data_dir / "insured" / "410800.yaml", add_version)
    book, problems = collect_policy(data_dir)
    assert problems == []
    assert [p.version_id for p in book.versions("410800")] == ["410800@2023-01-01", "410800@2024-01-01"]
    tmp = [filing("410800", "other_temporary", "110000", date(2023, 12, 1))]
    bill = items(("X007", "10000"))
    # admitted 2023-12-20 in both; discharged 2023-12-31 → old version: (10000 − 900) × 65% = 5915.00
    old = settle("410800", "310", "110000", 3, "21", bill, date(2023, 12, 20), date(2023, 12, 31), tmp, book=book)
    assert old.policy_version == "410800@2023-01-01" and old.hifp_pay == 591500
    # discharged 2024-01-02 → new version: 88 − 15 = 73%: 9100 × 0.73 = 6643.00
    new = settle("410800", "310", "110000", 3, "21", bill, date(2023, 12, 20), date(2024, 1, 2), tmp, book=book)
    assert new.policy_version == "410800@2024-01-01" and new.hifp_pay == 664300
    # what the new version did not name is inherited (deductible 900, 390 rules)
    assert new.act_pay_dedc == 90000
    assert book.insured_policy("410800", date(2024, 6, 1)).params.benefits.inpatient["390"].annual_cap.value == 20_000_000


def test_versions_must_increase(data_dir: Path):
    _edit(data_dir / "insured" / "420100.yaml",
          lambda d: d["versions"].append({"effective_from": date(2022, 1, 1), "source": "test"}))
    _, problems = collect_policy(data_dir)
    assert any(p.path == "versions[1].effective_from" for p in problems)


def test_f5_a_source_citing_another_regions_document_is_rejected(data_dir: Path):
    """Every parameter's source is a sentence of the region's own document, its province's or the national one:
    putting 焦作's extension (seed 000) into 武汉's file fails `yidi policy check`."""
    _edit(data_dir / "insured" / "420100.yaml", lambda d: d["versions"][0]["filing"].update(
        temporary_extension_months={"value": [12, 24], "source": "seed 000 一(二): 恶性肿瘤放化疗等可延长至12-24个月 (F5)"}))
    proc = _check(data_dir)
    assert proc.returncode == 1
    assert "420100.yaml" in proc.stderr and "versions[0].filing.temporary_extension_months.source" in proc.stderr
    assert "seed 000" in proc.stderr
    # 焦作's own file may cite its province's seed 004 (河南) and the national seed 001: only 420100 is flagged
    assert "410800.yaml" not in proc.stderr


def test_f5_a_second_document_in_one_citation_is_checked_too(data_dir: Path):
    _edit(data_dir / "insured" / "371400.yaml", lambda d: d["versions"][0]["filing"]["temporary_validity_months"].update(
        source="seed 003 二(一), 002 二(一): 有效期6个月"))
    _, problems = collect_policy(data_dir)
    assert [(p.file, p.path) for p in problems] == [("371400.yaml", "versions[0].filing.temporary_validity_months.source")]
    assert "seed 002" in problems[0].reason

