"""Adjudication throughput of the batch engine vs the scalar engine vs OpenFisca-Core, side by side.

    .venv/bin/python -m bench.engine --claims 1000000      (or: make bench-engine)

1. generates N synthetic claims (yidi.demo.generate, fixed seed) and writes/reads them as Parquet;
2. batch engine: best of --repeat runs of ``adjudicate`` on the in-memory ClaimTable (the Parquet read
   is timed separately);
3. scalar engine: ``benefit.calculate`` claim by claim, with items, coverage and running totals, on the
   first --scalar-sample claims, extrapolated linearly to N; the same sample through the batch engine
   must agree to the fen (mismatches are counted);
4. OpenFisca-Core (bench/openfisca_rules.py) in its own venv, .venv-bench (created here from
   bench/requirements-openfisca.txt), on the same N claims; claims whose fund payment or personal
   share differs from the engine by ≥ 1 fen are counted.
The machine (nproc, CPU model, load) is printed with the numbers; results go to bench/out/engine.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
BENCH_VENV = ROOT / ".venv-bench"


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": model,
            "python": platform.python_version(), "numpy": np.__version__,
            "numpy_threads": "elementwise ufuncs and sorts are single-threaded (no BLAS used); OMP_NUM_THREADS="
                             + os.environ.get("OMP_NUM_THREADS", "unset"),
            "loadavg_start": os.getloadavg()}


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
    from yidi.domain.benefit import calculate, cap_key_for
    from yidi.domain.catalog import FeeItem
    from yidi.domain.coverage import MED_CLASS_OF, Context, Coverage
    from yidi.domain.filing import FilingType
    from yidi.engine.kinds import TEMPORARY_KINDS, first_selfpay_applies, reduction_pp

    cols, items = generated.columns, generated.items
    from yidi.demo.generate import INSURED_SORTED, INSUTYPES, TREATMENT_SORTED

    ends = np.searchsorted(items["item_claim"], np.arange(n + 1))
    claims = []
    for i in range(n):
        fee_items = [FeeItem(str(items["item_code"][j]), int(items["item_amount_fen"][j]))
                     for j in range(ends[i], ends[i + 1])]
        claims.append((i, INSURED_SORTED[cols["insured"][i]], INSUTYPES[cols["insutype"][i]],
                       TREATMENT_SORTED[cols["treatment"][i]], int(cols["hospital_level"][i]), str(cols["med_type"][i]),
                       str(cols["dise_codg"][i]) or None, np.datetime64(int(cols["end_day"][i]), "D").item(),
                       str(cols["benefit_kind"][i]), fee_items, int(cols["person"][i])))
    contexts = {"local": Context.LOCAL, "long_term_at_filed_place": Context.LONG_TERM_AT_FILED_PLACE,
                "long_term_returning": Context.LONG_TERM_RETURNING, "temporary_returning": Context.TEMPORARY_RETURNING,
                "manual_without_filing": Context.MANUAL_WITHOUT_FILING}
    out: list[dict] = [{} for _ in range(n)]
    used: dict = {}
    started = time.perf_counter()
    for i, insured, insutype, treatment, level, med_type, dise, end, kind, fee_items, person in sorted(
            claims, key=lambda c: (c[7], c[0])):
        policy = book.insured_policy(insured, end)
        med_class = MED_CLASS_OF[med_type]
        coverage = Coverage(Context.TEMPORARY if kind in TEMPORARY_KINDS else contexts[kind],
                            reduction_pp(policy, kind, med_class), first_selfpay_applies(policy, kind), None,
                            FilingType(kind) if kind in TEMPORARY_KINDS else None, (), "")
        key = (person, end.year, str(cap_key_for(med_type, dise)))
        result = calculate(policy=policy, catalog=book.catalog(treatment, end), insutype=insutype,
                           hospital_level=level, med_type=med_type, dise_codg=dise, items=fee_items,
                           coverage=coverage, cap_used_before_fen=used.get(key, 0))
        used[key] = used.get(key, 0) + result.hifp_pay
        out[i] = result.fields_fen()
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--scalar-sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-openfisca", action="store_true")
    args = parser.parse_args()

    from yidi.demo.generate import generate, write_claims
    from yidi.engine.adjudicate import ClaimTable, adjudicate
    from yidi.engine.io import read_claims
    from yidi.engine.tables import PolicyTables
    from yidi.policy.loader import load_policy_book

    OUT.mkdir(parents=True, exist_ok=True)
    report: dict = {"date": date.today().isoformat(), "machine": machine(), "claims": args.claims}
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

    adjudicate(claims, tables)  # warm-up
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = adjudicate(claims, tables)
        timings.append(time.perf_counter() - started)
    best, median = min(timings), float(np.median(timings))
    report["engine"] = {"best_seconds": best, "median_seconds": median, "claims_per_second_best": n / best,
                        "claims_per_second_median": n / median, "runs": args.repeat, "stats": result.stats,
                        "settled": int((result.error == 0).sum()),
                        "capped_claims": int(((result.cap_used_before_fen + result.hifp_pay == result.cap_fen)
                                              & (result.pool_prop_selfpay > 0)).sum())}
    print(f"engine: {n / best:,.0f} claims/s best, {n / median:,.0f} median", file=sys.stderr)

    # Scalar engine on a sample, and the batch engine on the same sample for the exactness check.
    s = min(args.scalar_sample, n)
    scalar, seconds = scalar_sample(book, generated, s)
    sample_rows = claims.person < 0  # all False
    sample_rows[:s] = True
    sample = ClaimTable(**{k: (v[sample_rows] if isinstance(v, np.ndarray) else v) for k, v in vars(claims).items()})
    on_sample = adjudicate(sample, tables)
    mismatches = sum(1 for i in range(s) if scalar[i] != on_sample.fields_fen(i))
    report["scalar"] = {"sample": s, "seconds": seconds, "claims_per_second": s / seconds,
                        "extrapolated_seconds_for_all": seconds / s * n, "engine_speedup_vs_scalar": (n / best) / (s / seconds),
                        "mismatches_vs_engine": mismatches}
    print(f"scalar: {s / seconds:,.0f} claims/s on {s:,} (extrapolated {seconds / s * n:,.0f} s for {n:,}); "
          f"{mismatches} mismatches vs engine", file=sys.stderr)

    if not args.no_openfisca:
        report["openfisca"] = run_openfisca(claims, tables, result, n, best)
    report["machine"]["loadavg_end"] = os.getloadavg()
    (OUT / "engine.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(json.dumps(report, indent=2, default=str))


def run_openfisca(claims, tables, result, n: int, engine_best: float) -> dict:
    python = ensure_bench_venv()
    if python is None:
        return {"available": False}
    grid = tables.grid
    inputs = {
        "policy_version": result.policy_version, "insutype": claims.insutype, "med_type": claims.med_type,
        "hospital_level": claims.hospital_level, "disease": claims.disease, "benefit_kind": claims.benefit_kind,
        "medfee_sumamt": claims.medfee_sumamt, "inscp_scp_amt": claims.inscp_scp_amt,
        "cap_used_before": result.cap_used_before_fen,
        "grid_shape": np.array(grid.shape), "grid_kinds_shape": np.array(grid.kinds_shape),
        "grid_deductible": grid.deductible, "grid_cap": grid.cap, "grid_base_ratio": grid.base_ratio,
        "grid_reduction_pp": grid.reduction_pp, "grid_first_selfpay_bp": grid.first_selfpay_bp,
    }
    source, target = OUT / "openfisca-in.npz", OUT / "openfisca-out.npz"
    np.savez(source, **inputs)
    proc = subprocess.run([str(python), str(ROOT / "bench" / "openfisca_rules.py"), str(source), str(target)],
                          capture_output=True, text=True, check=True)
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    got = np.load(target)
    version = subprocess.run([str(python), "-c", "from importlib.metadata import version; print(version('openfisca-core'))"],
                             capture_output=True, text=True).stdout.strip()
    differs = {name: int((np.abs(got[name].astype(np.float64) - getattr(result, name)) >= 1).sum())
               for name in ("hifp_pay", "first_selfpay", "act_pay_dedc", "psn_part_amt")}
    any_differs = int(np.any([np.abs(got[name].astype(np.float64) - getattr(result, name)) >= 1
                              for name in ("hifp_pay", "first_selfpay", "act_pay_dedc", "psn_part_amt")], axis=0).sum())
    seconds = timing["seconds"]
    print(f"openfisca {version}: {n / seconds:,.0f} claims/s; {any_differs:,} claims differ by ≥ 1 fen", file=sys.stderr)
    return {"available": True, "version": version, "seconds": seconds, "claims_per_second": n / seconds,
            "engine_speedup_vs_openfisca": seconds / engine_best, "value_dtype": timing["dtype"],
            "claims_differing_by_1_fen_or_more": any_differs, "by_field": differs}


if __name__ == "__main__":
    main()
