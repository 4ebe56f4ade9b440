"""Adjudication throughput of the batch engine vs the scalar engine vs OpenFisca-Core, side by side.

    .venv/bin/python -m bench.engine --claims 1000000      (or: make bench-engine)

1. generates N synthetic claims (yidi.demo.generate, fixed seed) and writes/reads them as Parquet;
2. batch engine: blocks of --repeat timed runs of ``adjudicate`` on the in-memory ClaimTable (median and
   best; the Parquet read is timed separately), one block before the OpenFisca variants and one after
   each, and every variant is compared with the blocks just before and after it, so that a change in the
   shared machine's load hits both sides; also on the same claims ordered by person and discharge date
   (how exports usually come), where the engine skips most of its sort;
3. scalar engine: ``benefit.calculate`` claim by claim, with items, coverage and running totals, on the
   first --scalar-sample claims, extrapolated linearly to N; the same sample through the batch engine
   must agree to the fen (mismatches are counted);
4. OpenFisca-Core (bench/openfisca_rules.py) in its own venv, .venv-bench (created here from
   bench/requirements-openfisca.txt), on the same N claims, --of-repeat timed runs per variant:
   ``given`` (year-to-date cap use and policy version supplied from the engine, untimed), ``argsort``
   (OpenFisca computes them, ordering with a stable int64 argsort) and ``engine-order`` (OpenFisca
   computes them with the engine's ordering code). Claims where a money field differs from the engine
   by ≥ 1 fen are counted.
Every side runs numpy single-threaded (OMP/OPENBLAS/MKL/NUMEXPR_NUM_THREADS=1 and threadpoolctl; the
work is elementwise ufuncs and sorts, which numpy runs on one thread anyway). The machine (nproc, CPU
model, numpy version, thread pools, load average) is printed with the numbers; results go to
bench/out/engine.json.
"""

from __future__ import annotations

import argparse
import json
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy loads: one thread everywhere, on both sides
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
BENCH_VENV = ROOT / ".venv-bench"


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    threadpool_limits(1)
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": model,
            "python": platform.python_version(), "numpy": np.__version__,
            "threads": {"OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
                        "threadpools": [(p["internal_api"], p["num_threads"]) for p in threadpool_info()],
                        "note": "elementwise ufuncs and sorts run on one thread; no BLAS call is made"},
            "shared": "the machine is shared with other developers working at the same time",
            "loadavg_start": os.getloadavg()}


def timed(function, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        out.append(time.perf_counter() - started)
    return out


def summary(timings: list[float], n: int) -> dict:
    best, median = min(timings), float(np.median(timings))
    return {"runs": len(timings), "best_seconds": best, "median_seconds": median,
            "claims_per_second_best": n / best, "claims_per_second_median": n / median}


def ensure_bench_venv() -> Path | None:
    python = BENCH_VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench" / "requirements-openfisca.txt")],
                       check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"OpenFisca venv unavailable: {exc}", file=sys.stderr)
        return None
    return python


def scalar_sample(book, generated, n: int) -> tuple[list[dict], float]:
    """benefit.calculate claim by claim (discharge order, running totals), as the settlement service does."""
    from yidi.demo.generate import INSURED_SORTED, INSUTYPES, TREATMENT_SORTED
    from yidi.domain.catalog import FeeItem
    from yidi.engine.check import ScalarClaim, scalar_replay

    cols, items = generated.columns, generated.items
    ends = np.searchsorted(items["item_claim"], np.arange(n + 1))
    claims = [ScalarClaim(int(cols["person"][i]), INSURED_SORTED[cols["insured"][i]], INSUTYPES[cols["insutype"][i]],
                          TREATMENT_SORTED[cols["treatment"][i]], int(cols["hospital_level"][i]), str(cols["med_type"][i]),
                          str(cols["dise_codg"][i]) or None, np.datetime64(int(cols["end_day"][i]), "D").item(),
                          str(cols["benefit_kind"][i]),
                          tuple(FeeItem(str(items["item_code"][j]), int(items["item_amount_fen"][j]))
                                for j in range(ends[i], ends[i + 1])))
              for i in range(n)]
    started = time.perf_counter()
    out = scalar_replay(book, claims)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--scalar-sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed engine runs per block (one block before "
                        "the OpenFisca variants and one after each)")
    parser.add_argument("--of-repeat", type=int, default=5, help="timed OpenFisca runs per variant")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-openfisca", action="store_true")
    args = parser.parse_args()

    from yidi.demo.generate import generate, write_claims
    from yidi.engine.adjudicate import Adjudication, ClaimTable, adjudicate
    from yidi.engine.io import read_claims
    from yidi.engine.tables import PolicyTables
    from yidi.policy.loader import load_policy_book

    OUT.mkdir(parents=True, exist_ok=True)
    report: dict = {"date": date.today().isoformat(), "machine": machine(), "claims": args.claims,
                    "engine_runs_per_block": args.repeat}
    book = load_policy_book()
    tables = PolicyTables.from_book(book)
    n = args.claims
    print(f"generating {n:,} claims …", file=sys.stderr)
    generated = generate(n, seed=args.seed, book=book)
    parquet = OUT / f"claims-{n}.parquet"
    write_claims(generated, parquet)
    started = time.perf_counter()
    claims, _ = read_claims(parquet, tables)
    report["parquet_read_seconds"] = time.perf_counter() - started

    result = adjudicate(claims, tables)  # warm-up (and the result every comparison uses)
    engine_blocks = [timed(lambda: adjudicate(claims, tables), args.repeat)]
    by_person = np.lexsort((claims.discharge_day, claims.person))
    ordered = ClaimTable(**{k: (v[by_person] if isinstance(v, np.ndarray) else v) for k, v in vars(claims).items()})
    ordered_result = adjudicate(ordered, tables)
    assert all(np.array_equal(getattr(ordered_result, f)[np.argsort(by_person)], getattr(result, f))
               for f in Adjudication.FIELDS), "the engine must not depend on the input order"
    report["engine_ordered_input"] = {**summary(timed(lambda: adjudicate(ordered, tables), args.repeat), n),
                                      "order": ordered_result.stats["order"]}

    # Scalar engine on a sample, and the batch engine on the same sample for the exactness check.
    s = min(args.scalar_sample, n)
    scalar, seconds = scalar_sample(book, generated, s)
    sample_rows = claims.person < 0  # all False
    sample_rows[:s] = True
    sample = ClaimTable(**{k: (v[sample_rows] if isinstance(v, np.ndarray) else v) for k, v in vars(claims).items()})
    on_sample = adjudicate(sample, tables)
    mismatches = sum(1 for i in range(s) if scalar[i] != on_sample.fields_fen(i))
    report["scalar"] = {"sample": s, "seconds": seconds, "claims_per_second": s / seconds,
                        "extrapolated_seconds_for_all": seconds / s * n, "mismatches_vs_engine": mismatches}
    print(f"scalar: {s / seconds:,.0f} claims/s on {s:,} (extrapolated {seconds / s * n:,.0f} s for {n:,}); "
          f"{mismatches} mismatches vs engine", file=sys.stderr)

    if not args.no_openfisca:
        # Engine blocks between the OpenFisca variants: each variant is compared with the engine runs
        # just before and just after it, so a change in the shared machine's load hits both sides.
        engine_block = lambda: engine_blocks.append(timed(lambda: adjudicate(claims, tables), args.repeat))  # noqa: E731
        report["openfisca"] = run_openfisca(claims, tables, result, n, args.of_repeat, engine_block)
        for i, of in enumerate(report["openfisca"].get("variants", {}).values()):
            nearby = summary(engine_blocks[i] + engine_blocks[i + 1], n)
            of["engine_nearby"] = nearby
            of["engine_faster_median"] = of["median_seconds"] / nearby["median_seconds"]
            of["engine_faster_best"] = of["best_seconds"] / nearby["best_seconds"]
    report["engine"] = {**summary([t for block in engine_blocks for t in block], n), "stats": result.stats,
                        "settled": int((result.error == 0).sum()),
                        "capped_claims": int(((result.cap_used_before_fen + result.hifp_pay == result.cap_fen)
                                              & (result.pool_prop_selfpay > 0)).sum())}
    report["machine"]["loadavg_end"] = os.getloadavg()
    (OUT / "engine.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(json.dumps(report, indent=2, default=str))
    print(table(report), file=sys.stderr)


def table(report: dict) -> str:
    """The side-by-side table for docs/benchmarks.md."""
    n, engine = report["claims"], report["engine"]
    rate = lambda x: f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"  # noqa: E731
    rows = ["| engine | claims/s median | claims/s best | batch engine faster by (median / best) | "
            "claims off by ≥ 1 fen |", "|---|---|---|---|---|",
            f"| batch engine, {engine['runs']} runs in {engine['runs'] // report['engine_runs_per_block']} blocks | **{rate(engine['claims_per_second_median'])}** | "
            f"{rate(engine['claims_per_second_best'])} | — | 0 (int64) |"]
    ordered = report["engine_ordered_input"]
    rows.append(f"| batch engine, input ordered by person and discharge date | "
                f"{rate(ordered['claims_per_second_median'])} | {rate(ordered['claims_per_second_best'])} | — | 0 |")
    scalar = report["scalar"]
    rows.append(f"| scalar engine, {scalar['sample']:,}-claim sample, extrapolated | "
                f"{rate(scalar['claims_per_second'])} | — | {engine['claims_per_second_median'] / scalar['claims_per_second']:.0f}× | "
                f"{scalar['mismatches_vs_engine']} |")
    for variant, of in report.get("openfisca", {}).get("variants", {}).items():
        rows.append(f"| OpenFisca {report['openfisca']['version']}, {variant}, {of['runs']} runs | "
                    f"{rate(of['claims_per_second_median'])} | {rate(of['claims_per_second_best'])} | "
                    f"**{of['engine_faster_median']:.2f}×** / {of['engine_faster_best']:.2f}× | "
                    f"{of['claims_differing_by_1_fen_or_more']:,} |")
    return "\n".join(rows)


def run_openfisca(claims, tables, result, n: int, repeat: int, engine_block) -> dict:
    python = ensure_bench_venv()
    if python is None:
        return {"available": False}
    grid = tables.grid
    version_region = np.concatenate([np.full(len(tables.region_starts[r][0]), r) for r in sorted(tables.region_starts)])
    version_day = np.concatenate([tables.region_starts[r][0] for r in sorted(tables.region_starts)])
    version_index = np.concatenate([tables.region_starts[r][1] for r in sorted(tables.region_starts)])
    inputs = {
        "person": claims.person, "region": claims.region, "discharge_day": claims.discharge_day,
        "insutype": claims.insutype, "med_type": claims.med_type, "hospital_level": claims.hospital_level,
        "disease": claims.disease, "benefit_kind": claims.benefit_kind,
        "medfee_sumamt": claims.medfee_sumamt, "inscp_scp_amt": claims.inscp_scp_amt,
        # used by the "given" variant only, in place of OpenFisca's own formulas:
        "policy_version": result.policy_version, "cap_used_before": result.cap_used_before_fen,
        "grid_shape": np.array(grid.shape), "grid_kinds_shape": np.array(grid.kinds_shape),
        "grid_deductible": grid.deductible, "grid_cap": grid.cap, "grid_cap_class": grid.cap_class,
        "grid_base_ratio": grid.base_ratio, "grid_reduction_pp": grid.reduction_pp,
        "grid_first_selfpay_bp": grid.first_selfpay_bp,
        "grid_version_key": version_region * 2**32 + version_day, "grid_version_region": version_region,
        "grid_version_index": version_index,
    }
    source, target = OUT / "openfisca-in.npz", OUT / "openfisca-out.npz"
    np.savez(source, **inputs)
    version = subprocess.run([str(python), "-c", "from importlib.metadata import version; print(version('openfisca-core'))"],
                             capture_output=True, text=True).stdout.strip()
    fields = ("hifp_pay", "first_selfpay", "act_pay_dedc", "psn_part_amt")
    out: dict = {"available": True, "version": version, "variants": {}}
    for variant in ("given", "argsort", "engine-order"):
        proc = subprocess.run([str(python), str(ROOT / "bench" / "openfisca_rules.py"), str(source), str(target),
                               variant, str(repeat)], capture_output=True, text=True, check=True)
        timing = json.loads(proc.stdout.strip().splitlines()[-1])
        got = np.load(target)
        off = {name: np.abs(got[name].astype(np.float64) - getattr(result, name)) >= 1 for name in fields}
        off["cap_used_before"] = np.abs(got["cap_used_before"].astype(np.float64) - result.cap_used_before_fen) >= 1
        any_off = int(np.any([off[name] for name in fields], axis=0).sum())
        out["variants"][variant] = {**summary(timing["seconds"], n), "value_dtype": timing["dtype"],
                                    "threads": timing["threads"], "claims_differing_by_1_fen_or_more": any_off,
                                    "by_field": {name: int(mask.sum()) for name, mask in off.items()}}
        print(f"openfisca {version} {variant}: {n / np.median(timing['seconds']):,.0f} claims/s median; "
              f"{any_off:,} claims differ by ≥ 1 fen", file=sys.stderr)
        engine_block()
    return out


if __name__ == "__main__":
    main()
