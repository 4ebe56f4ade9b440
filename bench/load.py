"""Bounded load run (issue 9): mixed hospital traffic against a real server on loopback, then the invariants.

    .venv/bin/python -m bench.load --seconds 300 --rate 5 --seed 2024          # the 5-minute run (docs/reliability.md)
    .venv/bin/python -m bench.load --seconds 20                                 # a short one (tests/load runs this)

Creates a uniquely named PostgreSQL database (YIDI_TEST_POSTGRES_URL's server; dropped afterwards; ``--sqlite``
for a file instead), loads the demo data, starts ``uvicorn yidi.api.app:create_app`` as a subprocess on
127.0.0.1, and drives the day of ``yidi hospital simulate`` — stays (2401→2301→2303→2304, some 2305), outpatient
visits (2201→2203→2204→2206→2207, some 2208), dialysis, and a person without a filing who is refused — from
``--terminals`` threads, paced to ``--rate`` visits per second with a fixed ``--seed``. Every request is bounded
(client timeout) and the run stops by itself after ``--seconds``.

Reported: visits, calls, outcome counts; *errors* = anything but a success or an expected business refusal
(transport failures, SERVICE_UNAVAILABLE/SYSTEM_ERROR faults, RATE_LIMITED, MSGID_CONFLICT); server RSS sampled
after warm-up and at the end; `yidi verify` on the database afterwards (ledger, postings, year-to-date usage,
one paid claim per visit, audit chain). Exit 0 only when errors == 0 and verify passes.
The "benchmark rate" default (5 visits/s ≈ 25 calls/s) is a sixth of what bench/fsi_settlement measured as the
2-core maximum (~30 complete settlements/s), leaving room for the machine's other work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Iterator

import httpx
import psutil

from yidi.cli_hospital import DAY_PLAN, _outpatient, _stay
from yidi.client import HospitalClient

FAULT_CODES = {"SERVICE_UNAVAILABLE", "SYSTEM_ERROR", "RATE_LIMITED", "MSGID_CONFLICT", "ERROR", "TRANSPORT"}
PG_ADMIN_URL = os.environ.get("YIDI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
FIRST_DAY = date(2023, 1, 10)  # the demo filings begin here
DAYS = 1400


@contextmanager
def database(use_sqlite: bool) -> Iterator[str]:
    if use_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/load.db"
        return
    import psycopg

    name = f"yidi_load_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "YIDI_DATABASE_URL": url, "YIDI_DEMO_MODE": "true", "YIDI_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "yidi.api.app:create_app", "--factory", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


class CountingClient(HospitalClient):
    """Counts calls and turns transport failures into a coded outcome instead of ending the run."""

    calls = 0
    _count_lock = threading.Lock()

    def send_raw(self, infno, body, headers=None):
        with CountingClient._count_lock:
            CountingClient.calls += 1
        try:
            return super().send_raw(infno, body, headers)
        except (httpx.HTTPError, ValueError) as exc:
            return {"infcode": -1, "err_msg": f"TRANSPORT：{type(exc).__name__}"}


def run_load(base_url: str, *, seconds: float, rate: float, seed: int, terminals: int) -> dict:
    counter: Counter = Counter()
    lock = threading.Lock()
    start = time.monotonic()
    next_visit = iter(range(10**9))
    stop_at = start + seconds

    def terminal(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        size = 10_000 // terminals
        clients = {code: CountingClient(base_url, f"demo-{code}", f"demo-secret-{code}", code, timeout=30,
                                        seq_range=(k * size, (k + 1) * size)) for code, _, _ in DAY_PLAN}
        local: Counter = Counter()
        while True:
            with lock:
                n = next(next_visit)
            due = start + n / rate
            if due >= stop_at:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            code, psn_no, kind = DAY_PLAN[random.Random(seed + n).randrange(len(DAY_PLAN))]
            day = FIRST_DAY + timedelta(days=(n * 7) % DAYS)
            if kind == "stay":
                _stay(clients[code], psn_no, day, local, rng)
            elif kind == "dialysis":
                _outpatient(clients[code], psn_no, day, local, rng, "14", "N18", ("X008",))
            else:
                _outpatient(clients[code], psn_no, day, local, rng)
            local[("visits", "")] += 1
        for client in clients.values():
            client.close()
        with lock:
            counter.update(local)

    threads = [threading.Thread(target=terminal, args=(k,), daemon=True) for k in range(terminals)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    visits = counter.pop(("visits", ""), 0)
    errors = {f"{label} {code}": count for (label, code), count in counter.items() if code in FAULT_CODES}
    return {"visits": visits, "outcomes": {f"{label} {code}": count for (label, code), count in sorted(counter.items())},
            "errors": errors, "elapsed_s": round(time.monotonic() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rate", type=float, default=5.0, help="visits per second (each visit is 4–6 calls)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--terminals", type=int, default=4)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of a PostgreSQL database")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)

    from yidi.services.context import AppContext
    from yidi.services.demo import load_demo
    from yidi.services.verify import verify

    with database(args.sqlite) as url:
        ctx = AppContext.from_url(url, demo_mode=True)
        load_demo(ctx)
        port = free_port()
        server = start_server(url, port)
        try:
            process = psutil.Process(server.pid)
            base = f"http://127.0.0.1:{port}"
            warmup = run_load(base, seconds=min(10.0, args.seconds / 4), rate=args.rate, seed=args.seed + 1,
                              terminals=args.terminals)  # imports, pools and caches settle before the first sample
            calls_before = CountingClient.calls
            rss_start = process.memory_info().rss
            result = run_load(base, seconds=args.seconds, rate=args.rate, seed=args.seed, terminals=args.terminals)
            rss_end = process.memory_info().rss
        finally:
            server.terminate()
            server.wait(timeout=30)
        report = verify(ctx)
        ctx.engine.dispose()
    summary = {
        "database": "sqlite" if args.sqlite else "postgresql", "seconds": args.seconds, "rate_visits_per_s": args.rate,
        "seed": args.seed, "terminals": args.terminals, **result,
        "calls": CountingClient.calls - calls_before, "warmup_errors": warmup["errors"],
        "calls_per_s": round((CountingClient.calls - calls_before) / max(result["elapsed_s"], 0.001), 1),
        "rss_start_mib": round(rss_start / 2**20, 1), "rss_end_mib": round(rss_end / 2**20, 1),
        "rss_growth_mib": round((rss_end - rss_start) / 2**20, 1),
        "verify": report.checks, "verify_ok": report.ok,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if report.ok and not result["errors"] and not warmup["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
