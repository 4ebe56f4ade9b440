"""Benchmark: complete inpatient settlements through the hospital interface (2401→2301→2303→2304).

    .venv/bin/python -m bench.fsi_settlement --db postgresql://postgres@127.0.0.1:5432/test --seconds 20 --workers 2

Creates its own uniquely named PostgreSQL database (dropped afterwards), loads the reference data plus
many filed persons (so that caps and the per-person lock do not dominate), starts the server as a
subprocess (uvicorn with N workers), drives the full flow over HTTP from concurrent client processes
with signed requests, and reports settlements/s and p50/p99 latency per transaction. Then a baseline:
the same flow as in-process service calls (no HTTP, no signing, no envelope) on the same database,
to show the HTTP overhead. Results are written into docs/benchmarks.md (section "fsi-settlement").
``--profile FILE`` runs the server under py-spy (``pip install py-spy``; not a project dependency) and writes
folded stacks of every worker to FILE. Not a test: numbers depend on the machine, which is shared.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOSPITAL = "H11000000001"
TRANSACTIONS = ("2401", "2301", "2303", "2304")
SECTION = "fsi-settlement"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def certno(n: int) -> str:
    return f"410802{1940 + n % 50}0101{n % 10000:04d}"[:18].ljust(18, "0")


def prepare(url: str, persons: int) -> None:
    """Reference data and ``persons`` filed people (焦作职工, long-term filing for 北京)."""
    from yidi.adapters.orm import FilingRow, PersonRow
    from yidi.services import filings
    from yidi.services.context import AppContext
    from yidi.services.reference import load_reference

    ctx = AppContext.from_url(url)
    load_reference(ctx, persons=False)
    with ctx.unit_of_work() as session:
        for n in range(persons):
            session.add(PersonRow(psn_no=f"B{n:06d}", name=f"测试{n}", certno=f"4108021950{n:08d}"[:18],
                                  insuplc_admdvs="410800", insutype="310"))
    template = filings.file_filing(ctx, filings.FileCommand(
        psn_no="B000000", filing_type="retired_relocated", basis="commitment", mdtrtarea_admvs="110000",
        begndate=date(2023, 1, 1), apply_date=date(2023, 1, 1), channel="app", commitment_signature="测试0"))
    if template.status.value == "pending":
        template = filings.decide_filing(ctx, template.filing_id, approve=True, actor="bench", on=date(2023, 1, 1))
    with ctx.unit_of_work() as session:
        row = session.get(FilingRow, template.filing_id)
        columns = {c.key: getattr(row, c.key) for c in FilingRow.__table__.columns if c.key != "created_at"}
        for n in range(1, persons):
            session.add(FilingRow(**(columns | {"filing_id": f"BF{n:016d}", "psn_no": f"B{n:06d}"})))
    ctx.engine.dispose()


def _stay_dates(worker: int, n: int) -> tuple[str, str]:
    begin = date(2023, 1, 1) + timedelta(days=(worker * 7919 + n) % 360)
    return begin.isoformat(), (begin + timedelta(days=2)).isoformat()


def http_client_process(base_url: str, seconds: float, worker: int, persons_per_worker: int, queue) -> None:
    from yidi.client import HospitalClient, fee_row

    block = 10_000 // 64
    client = HospitalClient(base_url, f"demo-{HOSPITAL}", f"demo-secret-{HOSPITAL}", HOSPITAL,
                            seq_range=(worker * block, (worker + 1) * block))
    latencies: dict[str, list[float]] = {t: [] for t in TRANSACTIONS}
    done = failed = 0
    n = 0
    deadline = time.perf_counter() + seconds
    errors: dict[str, int] = {}
    while time.perf_counter() < deadline:
        psn_no = f"B{worker * persons_per_worker + n % persons_per_worker:06d}"
        begin, end = _stay_dates(worker, n // persons_per_worker)
        n += 1
        try:
            t0 = time.perf_counter()
            response = client.admit(psn_no, "21", begin)
            latencies["2401"].append(time.perf_counter() - t0)
            if response["infcode"] != 0:
                raise RuntimeError(response["err_msg"][:40])
            mdtrt_id = response["output"]["result"]["mdtrt_id"]
            rows = [fee_row(mdtrt_id, "1", "X007", "8000.00"), fee_row(mdtrt_id, "2", "X004", "4000.00")]
            for infno, call in (("2301", lambda: client.upload_inpatient_fees(rows)),
                                ("2303", lambda: client.presettle_inpatient(mdtrt_id, psn_no, "12000.00", end)),
                                ("2304", lambda: client.settle_inpatient(mdtrt_id, psn_no, "12000.00", end))):
                t0 = time.perf_counter()
                response = call()
                latencies[infno].append(time.perf_counter() - t0)
                if response["infcode"] != 0:
                    raise RuntimeError(response["err_msg"][:40])
            done += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            failed += 1
            errors[str(exc)[:40]] = errors.get(str(exc)[:40], 0) + 1
    queue.put({"done": done, "failed": failed, "latencies": latencies, "errors": errors})


def run_http(url: str, seconds: float, workers: int, clients: int, persons: int, profile: Path | None = None) -> dict:
    port = free_port()
    env = dict(os.environ, YIDI_DATABASE_URL=url, YIDI_DEMO_MODE="true", YIDI_LOG_LEVEL="WARNING")
    # --profile: the server runs under py-spy (sampling, all worker processes), folded stacks written to the file
    spy = ["py-spy", "record", "--subprocesses", "--nonblocking", "-f", "raw", "-o", str(profile), "--"] if profile else []
    server = subprocess.Popen([*spy, sys.executable, "-m", "uvicorn", "yidi.api.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                               "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        queue = mp.Queue()
        per_worker = persons // clients
        procs = [mp.Process(target=http_client_process, args=(base, seconds, w, per_worker, queue))
                 for w in range(clients)]
        started = time.perf_counter()
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        elapsed = time.perf_counter() - started
        for proc in procs:
            proc.join()
    finally:
        os.killpg(server.pid, signal.SIGINT if profile else signal.SIGTERM)
        server.wait(timeout=60)
    latencies = {t: [x for r in results for x in r["latencies"][t]] for t in TRANSACTIONS}
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    done = sum(r["done"] for r in results)
    return {"done": done, "failed": sum(r["failed"] for r in results), "elapsed": elapsed,
            "rate": done / elapsed, "latencies": latencies, "errors": errors}


def run_in_process(url: str, seconds: float, threads: int, persons: int, salt: int = 1000) -> dict:
    """The same flow through the service functions directly (no HTTP, signing or envelope)."""
    from yidi.services import visits
    from yidi.services.context import AppContext

    ctx = AppContext.from_url(url, migrate=False)
    done = [0]
    lock = threading.Lock()
    per_thread = persons // threads
    latencies: list[float] = []

    def loop(worker: int) -> None:
        n = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            psn_no = f"B{worker * per_thread + n % per_thread:06d}"
            begin, end = _stay_dates(worker + salt, n // per_thread)
            n += 1
            visit = visits.register(ctx, fixmedins_code=HOSPITAL, psn_no=psn_no, med_type="21",
                                    begntime=date.fromisoformat(begin))
            visits.upload_fees(ctx, fixmedins_code=HOSPITAL, mdtrt_id=visit.mdtrt_id, lines=[
                visits.FeeLine("1", "X007", 800000, Decimal(1)), visits.FeeLine("2", "X004", 400000, Decimal(1))])
            visits.presettle(ctx, fixmedins_code=HOSPITAL, mdtrt_id=visit.mdtrt_id, endtime=date.fromisoformat(end))
            t0 = time.perf_counter()
            visits.settle(ctx, fixmedins_code=HOSPITAL, mdtrt_id=visit.mdtrt_id, endtime=date.fromisoformat(end))
            with lock:
                latencies.append(time.perf_counter() - t0)
                done[0] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=loop, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    ctx.engine.dispose()
    return {"done": done[0], "elapsed": elapsed, "rate": done[0] / elapsed, "latencies": {"2304": latencies}}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def report(args, http: dict, local: dict) -> str:
    lines = [f"<!-- {SECTION} -->", "## 医院接口结算 / Hospital-interface settlement (fsi)", "",
             f"Command: `.venv/bin/python -m bench.fsi_settlement --db {args.db} --seconds {args.seconds:g} "
             f"--workers {args.workers} --clients {args.clients}`  ",
             f"Machine: {machine()}; shared with other developers while measuring (numbers vary run to run).  ",
             f"Date: {datetime.now():%Y-%m-%d %H:%M}; PostgreSQL at 127.0.0.1; server: uvicorn, "
             f"**{args.workers} worker process(es)**; load: {args.clients} client processes on the same machine "
             "(they compete with the server for the 2 cores).", "",
             "Flow per settlement: 2401 入院 → 2301 费用上传 (2 rows) → 2303 预结算 → 2304 结算, each a signed "
             "HMAC-SM3 request with its own msgid.", "",
             "| run | complete settlements | seconds | settlements/s | failed |", "|---|---:|---:|---:|---:|",
             f"| HTTP (signed envelope) | {http['done']} | {http['elapsed']:.1f} | **{http['rate']:.1f}** | {http['failed']} |",
             f"| in-process services (baseline, {args.clients} threads) | {local['done']} | {local['elapsed']:.1f} | "
             f"**{local['rate']:.1f}** | 0 |", "",
             f"HTTP overhead ratio (baseline rate / HTTP rate): **{local['rate'] / http['rate']:.2f}×**" if http['rate']
             else "HTTP run completed no settlement.", "",
             "| transaction | calls | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    for infno in TRANSACTIONS:
        values = http["latencies"][infno]
        lines.append(f"| {infno} (HTTP) | {len(values)} | {pct(values, 0.5):.1f} | {pct(values, 0.99):.1f} |")
    values = local["latencies"]["2304"]
    lines.append(f"| 2304 settle (in-process) | {len(values)} | {pct(values, 0.5):.1f} | {pct(values, 0.99):.1f} |")
    if http["errors"]:
        lines += ["", "Errors: " + ", ".join(f"{k} ×{v}" for k, v in http["errors"].items())]
    lines += ["", f"<!-- /{SECTION} -->"]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- {SECTION} -->.*?<!-- /{SECTION} -->\n", re.S)
    updated = pattern.sub(lambda _m: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test", help="admin PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--persons", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--profile", type=Path, default=None, help="run the server under py-spy; folded stacks here")
    args = parser.parse_args()

    import psycopg

    name = f"yidi_bench_{uuid.uuid4().hex[:10]}"
    base, _, _ = args.db.rpartition("/")
    url = f"{base}/{name}"
    with psycopg.connect(args.db, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print(f"database {name}: loading {args.persons} filed persons …", flush=True)
        prepare(url, args.persons)
        print(f"HTTP run: {args.seconds:g}s, {args.workers} server workers, {args.clients} clients …", flush=True)
        http = run_http(url, args.seconds, args.workers, args.clients, args.persons // 2, args.profile)
        print(f"  {http['done']} settlements, {http['rate']:.1f}/s, failed {http['failed']} {http['errors']}")
        print(f"in-process baseline: {args.seconds:g}s, {args.clients} threads …", flush=True)
        local = run_in_process(url, args.seconds, args.clients, args.persons // 2)
        print(f"  {local['done']} settlements, {local['rate']:.1f}/s")
    finally:
        with psycopg.connect(args.db, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    text = report(args, http, local)
    print(text)
    write_section(text, args.out)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
