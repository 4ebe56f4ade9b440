"""A national year of claims re-priced in bounded memory: `yidi demo generate` then `yidi simulate`, measured.

    .venv/bin/python -m bench.national --claims 100000000            (dataset kept in bench/out/)
    .venv/bin/python -m bench.national --claims 10000000 --before-src /path/to/old/src

Runs each command as a subprocess and measures it from outside: wall time; CPU time of the whole process
tree (user + system, from wait4, which includes the worker processes); peak memory as the **sum** of the
resident sets of the command and all its workers, sampled every 50 ms from /proc (``/usr/bin/time -v``
reports only the largest single process); the load average before and after (the machine is shared).
"Claims/s per CPU" is claims / CPU seconds — what one core does when it gets the whole core.
``--check-sample K`` adds the scalar cross-check of K persons per partition to the simulate run.
``--before-src DIR`` also runs the given source tree's ``yidi simulate`` (e.g. a checkout of the commit
before the partitioned dataset) on the same claims exported as one Parquet file, for the side-by-side table.
Results: bench/out/national-<claims>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CHANGE = ROOT / "tests" / "engine" / "data" / "referral_410800_2024.yaml"


def _tree_rss_bytes(root: int) -> int:
    """Resident set of ``root`` and all its descendants, summed."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        rss[int(entry.name)] = int(statm[1]) * os.sysconf("SC_PAGE_SIZE")
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


def measured(command: list[str], env: dict | None = None) -> dict:
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_bytes(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout_chunks, stderr_chunks = [], []
    readers = [threading.Thread(target=lambda s=s, c=c: c.append(s.read()), daemon=True)
               for s, c in ((proc.stdout, stdout_chunks), (proc.stderr, stderr_chunks))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"command": " ".join(command), "returncode": proc.returncode, "wall_seconds": wall,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "user_seconds": usage.ru_utime,
            "system_seconds": usage.ru_stime, "peak_tree_rss_bytes": peak[0],
            "largest_process_rss_bytes": usage.ru_maxrss * 1024, "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(), "stderr_tail": "".join(stderr_chunks)[-1500:]}


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gib": round(int(memory) / 2**20, 1),
            "python": platform.python_version(), "shared": "other developers' work runs on the same 2 cores"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000_000)
    parser.add_argument("--dataset", type=Path, default=None, help="default: bench/out/national-<claims>")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--check-sample", type=int, default=0)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--before-src", type=Path, default=None,
                        help="source tree (…/src) of the code to compare with, run on the claims as one file")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    dataset = args.dataset or OUT / f"national-{args.claims}"
    yidi = [sys.executable, "-m", "yidi.cli"]
    report: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                    "claims": args.claims, "workers": args.workers, "dataset": str(dataset)}
    if not dataset.exists():
        report["generate"] = measured([*yidi, "demo", "generate", "--claims", str(args.claims), "--out", str(dataset),
                                       "--seed", str(args.seed), "--workers", str(args.workers)])
    report["dataset_bytes"] = sum(f.stat().st_size for f in dataset.rglob("*.parquet"))
    report["claims_files_bytes"] = sum(f.stat().st_size for f in dataset.rglob("claims.parquet"))
    simulate = [*yidi, "simulate", "--policy-change", str(CHANGE), "--claims", str(dataset), "--out-dir",
                str(OUT / f"national-sim-{args.claims}"), "--workers", str(args.workers)]
    report["simulate"] = measured(simulate)
    if args.check_sample:
        report["simulate_with_check"] = measured([*simulate, "--check-sample", str(args.check_sample)])
    if args.before_src:
        from yidi.engine.dataset import export_single_file

        single = OUT / f"national-{args.claims}.parquet"
        if not single.exists():
            export_single_file(dataset, single)
        report["before"] = measured([*yidi, "simulate", "--policy-change", str(CHANGE), "--claims", str(single),
                                     "--out-dir", str(OUT / f"national-before-{args.claims}")],
                                    env={"PYTHONPATH": str(args.before_src)})
        report["after_single_file"] = measured([*yidi, "simulate", "--policy-change", str(CHANGE), "--claims",
                                                str(single), "--out-dir", str(OUT / f"national-single-{args.claims}")])
    (OUT / f"national-{args.claims}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(table(report))


def table(report: dict) -> str:
    n = report["claims"]
    rows = ["| run | wall s | claims/s (wall) | CPU s | claims/s per CPU-second | peak RSS, all processes | load avg before → after |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for name in ("generate", "simulate", "simulate_with_check", "before", "after_single_file"):
        run = report.get(name)
        if not run:
            continue
        rows.append(f"| {name} | {run['wall_seconds']:.1f} | {n / run['wall_seconds'] / 1e6:.2f} M | "
                    f"{run['cpu_seconds']:.1f} | {n / run['cpu_seconds'] / 1e6:.2f} M | "
                    f"{run['peak_tree_rss_bytes'] / 2**30:.2f} GiB | {run['loadavg_before'][0]:.1f} → "
                    f"{run['loadavg_after'][0]:.1f} |" + ("" if run["returncode"] == 0 else " FAILED"))
    return "\n".join(rows)


if __name__ == "__main__":
    main()
