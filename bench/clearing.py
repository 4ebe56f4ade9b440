"""Monthly clearing benchmark (C2): how long one month of national volume takes to clear.

    .venv/bin/python bench/clearing.py                 # 1M, 5M, 20M settlements + baselines
    .venv/bin/python bench/clearing.py --sizes 1000000 --db-rows 200000

For each size, settlements for 2024-03 (plus a slice of February settlements cancelled in March, the
adjustments) are generated with NumPy and written straight to Parquet through DuckDB (chunks of 2M
rows, so generation never holds the whole month). Then, in a fresh child process so that its peak
memory is its own, the month is cleared with the production SQL (adapters/analytics.CLEARING_SQL over
``read_parquet``) and rolled up into province transfers (domain/clearing.province_transfers).

Baselines, side by side:
- SQLite GROUP BY: the same 1M rows in an SQLite table, the same rule written in SQLite SQL;
- the database path of ``yidi clearing run``: N rows in a real yidi SQLite database, streamed through
  SQLAlchemy into DuckDB (services/clearing.compute_flows) — the part that dominates on a real database.
Every run checks that DuckDB, SQLite and the database path give identical per-flow totals.

Reports: wall time, peak RSS of the child (resource.getrusage: DuckDB's native memory included) and the
Python heap peak (tracemalloc). Results go to docs/benchmarks.md by hand (section "Funds: clearing").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import duckdb
import numpy as np

MONTH = "2024-03"
START, END = date(2024, 3, 1), date(2024, 3, 31)
CHUNK = 2_000_000
PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
             "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"]
MUNICIPALITIES = {"11", "12", "31", "50"}


def cities() -> list[str]:
    """~340 prefecture-level codes: municipalities are one code, other provinces 8–16 cities each."""
    rng = np.random.default_rng(7)
    codes = []
    for province in PROVINCES:
        if province in MUNICIPALITIES:
            codes.append(province + "0000")
        else:
            codes += [f"{province}{index:02d}00" for index in range(1, int(rng.integers(8, 17)) + 1)]
    return codes


def generate(n: int, folder: Path, seed: int = 2024) -> list[Path]:
    """n settlements of March 2024 (3% of them February settlements cancelled in March) into Parquet."""
    rng = np.random.default_rng(seed)
    codes = cities()
    province_of = np.array([int(code[:2]) for code in codes])
    weights = rng.pareto(1.5, len(codes)) + 1  # big cities treat (and insure) far more people
    weights /= weights.sum()
    duck = duckdb.connect()
    paths = []
    for index, offset in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - offset)
        insured = rng.choice(len(codes), size, p=weights)
        treatment = rng.choice(len(codes), size, p=weights)
        same_province = rng.random(size) < 0.35  # a third of the remote visits stay in the province
        candidates = rng.choice(len(codes), size, p=weights)
        in_province = province_of[candidates] == province_of[insured]
        treatment = np.where(same_province & in_province, candidates, treatment)
        day = rng.integers(0, 31, size)
        previous_month = rng.random(size) < 0.03
        setl_day = np.where(previous_month, -rng.integers(1, 30, size), day)  # days from 2024-03-01
        cancelled = previous_month | (rng.random(size) < 0.02)
        cancel_day = np.where(previous_month, rng.integers(0, 31, size), setl_day + rng.integers(0, 45, size))
        chunk = {  # noqa: F841 - DuckDB scans this dict by name
            "setl_no": np.arange(offset, offset + size, dtype=np.int64),
            "manual": rng.random(size) < 0.02,
            "insured": insured.astype(np.int32), "treatment": treatment.astype(np.int32),
            "setl_day": setl_day.astype(np.int32),
            "cancel_day": np.where(cancelled, cancel_day, np.iinfo(np.int32).min).astype(np.int32),
            "fund": np.rint(rng.lognormal(10.0, 1.3, size)).astype(np.int64),
            "acct": np.where(rng.random(size) < 0.3, rng.integers(0, 20_000, size), 0).astype(np.int64),
        }
        path = folder / f"settlements-{n}-{index:03d}.parquet"
        duck.execute(f"""
            COPY (SELECT 'SL' || lpad(setl_no::VARCHAR, 18, '0') AS setl_id,
                         CASE WHEN manual THEN 'manual' ELSE 'direct' END AS kind,
                         CASE WHEN cancel_day = {np.iinfo(np.int32).min} THEN 'settled' ELSE 'cancelled' END AS status,
                         $codes[insured + 1] AS insuplc_admdvs, $codes[treatment + 1] AS mdtrtarea_admvs,
                         DATE '2024-03-01' + setl_day AS setl_date,
                         CASE WHEN cancel_day = {np.iinfo(np.int32).min} THEN NULL
                              ELSE DATE '2024-03-01' + cancel_day END AS cancelled_on,
                         fund AS fund_pay_sumamt, acct AS acct_pay
                  FROM chunk) TO '{path}' (FORMAT parquet, COMPRESSION zstd)""", {"codes": codes})
        paths.append(path)
    duck.close()
    return paths


def _clear_parquet(paths: list[str], queue) -> None:
    from yidi.adapters import analytics
    from yidi.domain.clearing import FlowAmount, province_transfers

    def clear() -> tuple[list, list]:
        duck = analytics.connect()
        flows = [FlowAmount(*row) for row in analytics.clearing_flows(duck, START, END, analytics.parquet_source(paths))]
        duck.close()
        return flows, province_transfers(flows)

    started = time.perf_counter()
    flows, transfers = clear()
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second pass for the Python heap: tracing slows allocation, so it is not timed
    clear()
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": seconds, "rss_mib": rss_peak_kib / 1024, "heap_mib": heap_peak / 2**20,
               "flows": len(flows), "transfers": len(transfers),
               "totals": {(f.insuplc_admdvs, f.mdtrtarea_admvs): f.net_fen for f in flows}})


def _guarded(target, args, queue) -> None:
    try:
        target(*args, queue)
    except BaseException:  # noqa: BLE001 - hand any failure back to the parent instead of hanging it
        import traceback

        queue.put({"error": traceback.format_exc()})


def in_child(target, *args) -> dict:
    """Run one measurement in a fresh process, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_guarded, args=(target, args, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


SQLITE_SQL = """
SELECT insuplc_admdvs, mdtrtarea_admvs,
  SUM(CASE WHEN setl_date BETWEEN :start AND :end AND (cancelled_on IS NULL OR cancelled_on > :end)
           THEN amount ELSE 0 END)
  - SUM(CASE WHEN setl_date < :start AND cancelled_on BETWEEN :start AND :end
              AND cancelled_on > date(setl_date, 'start of month', '+1 month', '-1 day') THEN amount ELSE 0 END)
FROM (SELECT insuplc_admdvs, mdtrtarea_admvs, setl_date, cancelled_on, fund_pay_sumamt + acct_pay AS amount
      FROM settlements WHERE kind = 'direct' AND insuplc_admdvs <> mdtrtarea_admvs)
GROUP BY insuplc_admdvs, mdtrtarea_admvs
"""


def _clear_sqlite(paths: list[str], queue) -> None:
    duck = duckdb.connect()
    rows = duck.execute(f"SELECT kind, insuplc_admdvs, mdtrtarea_admvs, setl_date::VARCHAR, cancelled_on::VARCHAR, "
                        f"fund_pay_sumamt, acct_pay FROM read_parquet({[str(p) for p in paths]})").fetchall()
    duck.close()
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE settlements (kind TEXT, insuplc_admdvs TEXT, mdtrtarea_admvs TEXT, "
                     "setl_date TEXT, cancelled_on TEXT, fund_pay_sumamt INTEGER, acct_pay INTEGER)")
    database.executemany("INSERT INTO settlements VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    del rows
    started = time.perf_counter()
    result = database.execute(SQLITE_SQL, {"start": START.isoformat(), "end": END.isoformat()}).fetchall()
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "totals": {(a, b): int(t) for a, b, t in result if t}})


def _clear_database(paths: list[str], rows: int, folder: str, queue) -> None:
    """The `yidi clearing run` read path: a real yidi SQLite database → SQLAlchemy stream → DuckDB."""
    from sqlalchemy import insert

    from yidi.adapters.orm import SettlementRow
    from yidi.services import clearing
    from yidi.services.context import AppContext
    from yidi.services.reference import load_reference

    ctx = AppContext.from_url(f"sqlite:///{folder}/bench.db")
    load_reference(ctx)  # persons: settlements reference P001
    duck = duckdb.connect()
    duck.execute("SET enable_progress_bar = false")
    source = duck.execute(f"SELECT setl_id, kind, status, insuplc_admdvs, mdtrtarea_admvs, setl_date, cancelled_on, "
                          f"fund_pay_sumamt, acct_pay FROM read_parquet({[str(p) for p in paths]}) LIMIT {rows}")
    constant = dict(visit_key="", psn_no="P001", fixmedins_code="H", insutype="310", med_type="21",
                    begntime=START, endtime=START, hospital_level=3, coverage_context="bench", medfee_sumamt=0,
                    fulamt_ownpay_amt=0, overlmt_selfpay=0, preselfpay_amt=0, inscp_scp_amt=0, first_selfpay=0,
                    act_pay_dedc=0, hifp_pay=0, pool_prop_selfpay=0, psn_part_amt=0, ratio_bp=0, cap_key="",
                    cap_year=2024, policy_version="", catalog_version="", review_flag="", trace=[], splits=[])
    with ctx.engine.begin() as connection:
        while batch := source.fetchmany(100_000):
            connection.execute(insert(SettlementRow), [
                dict(constant, setl_id=r[0], kind=r[1], status=r[2], insuplc_admdvs=r[3], mdtrtarea_admvs=r[4],
                     setl_date=r[5], cancelled_on=r[6], fund_pay_sumamt=r[7], acct_pay=r[8],
                     visit_key=r[0]) for r in batch])
    started = time.perf_counter()
    flows, _ = clearing.compute_flows(ctx, MONTH)
    seconds = time.perf_counter() - started
    tracemalloc.start()  # second pass for the Python heap peak (tracing slows allocation: not timed)
    clearing.compute_flows(ctx, MONTH)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()  # the whole command: read, aggregate, store the run, post every flow
    statement = clearing.run_clearing(ctx, MONTH, today=date(2024, 4, 1))
    run_seconds = time.perf_counter() - started
    assert not statement.replayed
    queue.put({"seconds": seconds, "run_seconds": run_seconds, "heap_mib": heap_peak / 2**20,
               "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "totals": {(f.insuplc_admdvs, f.mdtrtarea_admvs): f.net_fen for f in flows}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--db-rows", type=int, default=1_000_000, help="rows for the database-path baseline (0 = skip)")
    parser.add_argument("--folder", default=None, help="where the Parquet files go (default: a temp folder)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    folder = Path(args.folder or tempfile.mkdtemp(prefix="yidi-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
          f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, NumPy {np.__version__}; "
          f"date {date.today()}", flush=True)
    print("| settlements | generate (s) | Parquet (MiB) | clear (s) | peak RSS (MiB) | Python heap peak (MiB) | flows | province pairs |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    first_paths, first_totals = None, None
    for n in sizes:
        started = time.perf_counter()
        paths = generate(n, folder)
        generated = time.perf_counter() - started
        size_mib = sum(p.stat().st_size for p in paths) / 2**20
        result = in_child(_clear_parquet, [str(p) for p in paths])
        print(f"| {n:,} | {generated:.1f} | {size_mib:.0f} | {result['seconds']:.2f} | {result['rss_mib']:.0f} | "
              f"{result['heap_mib']:.1f} | {result['flows']:,} | {result['transfers']:,} |", flush=True)
        if first_paths is None:
            first_paths, first_totals, first_n, first_seconds = paths, result["totals"], n, result["seconds"]
        else:
            for path in paths:
                path.unlink()
    sqlite_result = in_child(_clear_sqlite, [str(p) for p in first_paths])
    assert sqlite_result["totals"] == first_totals, "SQLite and DuckDB disagree"
    print(f"\nbaseline, {first_n:,} settlements: SQLite GROUP BY {sqlite_result['seconds']:.2f} s vs DuckDB "
          f"{first_seconds:.2f} s → DuckDB is {sqlite_result['seconds'] / first_seconds:.1f}× faster (same totals)")
    if args.db_rows:
        db_result = in_child(_clear_database, [str(p) for p in first_paths], args.db_rows, str(folder))
        print(f"database path (`yidi clearing run` read: SQLite file → SQLAlchemy stream → DuckDB), "
              f"{args.db_rows:,} rows: {db_result['seconds']:.1f} s, peak RSS {db_result['rss_mib']:.0f} MiB, "
              f"Python heap peak {db_result['heap_mib']:.0f} MiB; whole `run_clearing` (read + aggregate + "
              f"store + post {len(db_result['totals']):,} flow entries): {db_result['run_seconds']:.1f} s")
        if args.db_rows >= first_n:
            assert db_result["totals"] == first_totals, "database path and Parquet path disagree"


if __name__ == "__main__":
    sys.exit(main())
