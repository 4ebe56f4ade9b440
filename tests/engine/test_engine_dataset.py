"""The partitioned claims dataset: person-complete, deterministic, and re-priced partition by partition
exactly as one file is, and as the scalar engine settles the same claims one by one."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

from yidi.demo.generate import cap_group, plan_partitions, write_dataset
from yidi.engine.dataset import Manifest, export_single_file
from yidi.engine.io import read_claims
from yidi.engine.overlay import book_with_overlay
from yidi.engine.repricing import reprice_dataset
from yidi.engine.simulate import simulate
from yidi.engine.tables import PolicyTables
from yidi.policy.loader import load_policy_book

DATA = Path(__file__).parent / "data"
CHANGE = DATA / "referral_410800_2024.yaml"
N, PARTITION = 24_000, 3_000


@pytest.fixture(scope="module")
def books():
    book, changed = load_policy_book(), book_with_overlay(CHANGE)
    return (book, PolicyTables.from_book(book)), (changed, PolicyTables.from_book(changed))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dataset") / "claims"
    write_dataset(N, folder, seed=11, partition_claims=PARTITION, workers=1)
    return folder


def _claims(folder: Path) -> list[tuple]:
    path = str(folder).replace("'", "''")
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}/*/*/claims.parquet', hive_partitioning = true) "
                      f"ORDER BY claim_no").fetchall()


def test_partitions_are_person_complete_and_follow_the_bucket_rule(dataset: Path):
    manifest = Manifest.read(dataset)
    assert manifest.claims == N and sum(p.claims for p in manifest.partitions) == N
    assert len(manifest.partitions) >= 8 and {p.region for p in manifest.partitions} == {"410800", "420100", "371400"}
    path = str(dataset)
    rows = duckdb.sql(f"""
        SELECT person, count(DISTINCT filename) AS files, min(claim_no) AS first, max(claim_no) AS last, count(*) AS n,
               any_value(filename) AS filename
        FROM read_parquet('{path}/*/*/claims.parquet', filename = true) GROUP BY person""").fetchall()
    assert all(files == 1 for _, files, *_ in rows)  # every person's claims in one partition
    folders = {str(dataset / p.folder / "claims.parquet"): p for p in manifest.partitions}
    for person, _, _, _, _, filename in rows:
        partition = folders[filename]
        assert person % partition.buckets == partition.bucket
        assert partition.first_person <= person < partition.stop_person
    numbers = duckdb.sql(f"SELECT claim_no FROM read_parquet('{path}/*/*/claims.parquet') ORDER BY 1").fetchnumpy()
    assert np.array_equal(numbers["claim_no"], np.arange(N))
    items = duckdb.sql(f"SELECT count(DISTINCT claim_no) AS claims FROM read_parquet('{path}/*/*/items.parquet')").fetchall()[0]
    assert items[0] == N


def test_each_partition_is_in_cap_group_person_day_order(dataset: Path):
    manifest = Manifest.read(dataset)
    vocab = manifest.vocabularies
    for partition in manifest.partitions[:3]:
        path = str(dataset / partition.folder / "claims.parquet")
        cols = duckdb.sql(f"SELECT person, med_type, disease, endtime FROM read_parquet('{path}')").fetchnumpy()
        med_type = np.asarray(vocab["med_type"])[cols["med_type"]]
        disease = np.where(cols["disease"] >= 0, np.asarray(vocab["disease"])[cols["disease"]], "")
        key = np.lexsort((cols["endtime"], cols["person"], cap_group({"med_type": med_type, "dise_codg": disease})))
        assert np.array_equal(key, np.arange(len(key)))


def test_generation_is_deterministic_for_a_seed_whatever_the_workers(dataset: Path, tmp_path: Path):
    again = tmp_path / "again"
    write_dataset(N, again, seed=11, partition_claims=PARTITION, workers=2)
    first, second = _claims(dataset), _claims(again)
    assert first == second and len(first) == N
    other = tmp_path / "other"
    write_dataset(N, other, seed=12, partition_claims=PARTITION, workers=1)
    assert _claims(other) != first


def test_generation_refuses_a_non_empty_folder(dataset: Path):
    from yidi.domain.errors import YidiError

    with pytest.raises(YidiError) as caught:
        write_dataset(100, dataset, seed=1)
    assert caught.value.code == "INVALID_INPUT"


def test_plan_splits_claims_and_persons_exactly():
    partitions = plan_partitions(1_000_003, 100_000)
    assert sum(p.claims for p in partitions) == 1_000_003
    assert sum(p.persons for p in partitions) == 1_000_003 // 5
    assert [p.first_claim_no for p in partitions] == list(np.cumsum([0] + [p.claims for p in partitions[:-1]]))
    assert all(p.claims <= 100_000 + 1 for p in partitions)


def test_b9_b10_simulate_over_partitions_equals_one_file_to_the_fen(dataset: Path, books, tmp_path: Path):
    (book, baseline), (changed_book, changed) = books
    single = tmp_path / "one.parquet"
    export_single_file(dataset, single)
    claims, labels = read_claims(single, baseline)
    assert len(claims) == N
    whole = simulate(claims, labels, baseline, changed)  # one table, one global ordering
    by_partition = reprice_dataset(dataset, (book, baseline), (changed_book, changed), workers=2)
    assert by_partition.partitions == len(Manifest.read(dataset).partitions)
    assert by_partition.totals.rows() == whole.rows()
    before, after = whole.fund()
    assert after > before  # the change moves money, so equal totals are not two zeros
    # Caps bind in this population, so the running totals matter (B9, B10).
    from yidi.engine.adjudicate import adjudicate

    result = adjudicate(claims, baseline)
    capped = (result.cap_used_before_fen + result.hifp_pay == result.cap_fen) & (result.pool_prop_selfpay > 0)
    assert capped.sum() > 0


def test_check_sample_agrees_with_the_scalar_engine(dataset: Path, books):
    (book, baseline), (changed_book, changed) = books
    result = reprice_dataset(dataset, (book, baseline), (changed_book, changed), workers=1, check_sample=15, seed=3)
    partitions = len(Manifest.read(dataset).partitions)
    assert result.checked_persons == 15 * partitions and result.checked_claims > 15 * partitions
    assert result.mismatched == 0, result.mismatches


def test_check_sample_catches_a_claim_the_engine_would_price_differently(dataset: Path, books, tmp_path: Path):
    """The referee can fail: one partition's stored in-scope amount no longer matches its items."""
    import shutil

    (book, baseline), (changed_book, changed) = books
    copy = tmp_path / "tampered"
    shutil.copytree(dataset, copy)
    partition = Manifest.read(copy).partitions[0]
    path = copy / partition.folder / "claims.parquet"
    quoted = str(path).replace("'", "''")
    duckdb.sql(f"COPY (SELECT * REPLACE (inscp_scp_amt + 100 AS inscp_scp_amt, medfee_sumamt + 100 AS medfee_sumamt) "
               f"FROM read_parquet('{quoted}')) TO '{quoted}.new' (FORMAT parquet)")
    os.replace(f"{path}.new", path)
    result = reprice_dataset(copy, (book, baseline), (changed_book, changed), workers=1, check_sample=5)
    assert result.mismatched > 0 and partition.folder in result.mismatches[0]


def _yidi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yidi.cli", *args], capture_output=True, text=True, timeout=600)


def test_cli_generates_a_dataset_and_simulates_it_with_a_check(tmp_path: Path):
    folder = tmp_path / "claims"
    proc = _yidi("demo", "generate", "--claims", "6000", "--out", str(folder), "--partition-claims", "1500",
                 "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    assert len(Manifest.read(folder).partitions) >= 4
    single = tmp_path / "one.parquet"
    export_single_file(folder, single)
    outputs, messages = [], []
    for claims, extra in ((folder, ["--check-sample", "5"]), (single, [])):
        out = tmp_path / f"sim-{claims.name}"
        proc = _yidi("simulate", "--policy-change", str(CHANGE), "--claims", str(claims), "--out-dir", str(out), *extra)
        assert proc.returncode == 0, proc.stderr
        outputs.append(list(csv.DictReader((out / "simulation.csv").open(encoding="utf-8"))))
        messages.append(" ".join(proc.stderr.split()))
    assert "标量引擎复核" in messages[0] and "一致 / exact" in messages[0]
    assert outputs[0] == outputs[1] and sum(int(r["claims"]) for r in outputs[0]) == 6000


def test_cli_check_sample_needs_a_dataset(tmp_path: Path):
    single = tmp_path / "one.parquet"
    assert _yidi("demo", "generate", "--claims", "200", "--out", str(single)).returncode == 0
    proc = _yidi("simulate", "--policy-change", str(CHANGE), "--claims", str(single), "--check-sample", "3",
                 "--out-dir", str(tmp_path / "sim"))
    assert proc.returncode == 2 and "INVALID_INPUT" in proc.stderr


def test_b9_the_changed_run_reusing_the_baseline_order_equals_a_fresh_run(books, tmp_path: Path):
    """adjudicate(..., same_claims=baseline) skips the ordering only; every result is as if computed afresh."""
    from yidi.demo.generate import generate, write_claims
    from yidi.engine.adjudicate import Adjudication, adjudicate

    (_, baseline), (_, changed) = books
    path = tmp_path / "random-order.parquet"
    write_claims(generate(20_000, seed=4), path)
    claims, _ = read_claims(path, baseline)
    before = adjudicate(claims, baseline)
    assert before.stats["order"].startswith("radix")  # random input order: the ordering is real work
    reused, fresh = adjudicate(claims, changed, same_claims=before), adjudicate(claims, changed)
    assert reused.ordering is before.ordering and fresh.ordering is not before.ordering
    for name in (*Adjudication.FIELDS, "cap_used_before_fen", "cap_fen", "error"):
        assert np.array_equal(getattr(reused, name), getattr(fresh, name)), name
    assert not np.array_equal(fresh.fund_pay_sumamt, before.fund_pay_sumamt)  # the change does move money
