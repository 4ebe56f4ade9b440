"""Benchmark: cross-province complete settlements through two province nodes and NATS, side by side with the same
flow on one node, in the same run (issue 17).

    .venv/bin/python -m bench.federation --db postgresql://postgres@127.0.0.1:5432/test --seconds 20 --clients 8

The flow is bench/fsi_settlement.py's (2401 → 2301 → 2303 → 2304, signed HIS requests over keep-alive HTTP), for
persons insured in 焦作 (410800) treated at 协和 (北京, H11000000001):

- **one node**: one `uvicorn` process (1 worker) on one PostgreSQL database holding both provinces;
- **federation**: `yidi hub serve`, `yidi node serve --province 41` (the persons, their filings and usage) and
  `yidi node serve --province 11` (the hospital) as separate processes, each on its own PostgreSQL database, talking
  through a NATS server (with JetStream) that this benchmark starts on a free port for itself — so that its CPU is the
  transport's for this run only (the machine's shared NATS also carries other developers' tests). 2303 and 2304 each
  cross to the 河南 node over request/reply; both nodes publish a settlement event per 2304 to JetStream (outbox) and
  the hub consumes them (durable pull consumer, ack after its commit).

Reports flows/s, p50/p99 per transaction, CPU per flow of each process (server, hub, nodes, NATS, PostgreSQL), and
how long after the load stopped the hub had every event (2 per settlement). Results go to docs/benchmarks.md
(section "federation"). Both runs use one HTTP worker process, so the ratio compares like with like. Not a test:
the machine is shared (2 cores, other developers' builds and tests run while it measures) — the ratios matter.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from bench.fsi_settlement import (SERVER_OPTIONS, TRANSACTIONS, _jiffies, _process_table, free_port, load_process,
                                  machine, pct, prepare, process_tree)

ROOT = Path(__file__).resolve().parent.parent
SECTION = "federation"


@contextmanager
def own_nats():
    """A NATS server with JetStream on a free port, its store in a temporary folder; stopped at the end."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    port = free_port()
    store = tempfile.mkdtemp(prefix="yidi-bench-nats-")
    proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        from yidi.federation.bridge import reachable

        deadline = time.monotonic() + 20
        while not reachable(f"nats://127.0.0.1:{port}"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("nats-server did not start")
            time.sleep(0.1)
        yield f"nats://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(store, ignore_errors=True)


def write_section(text: str, path: Path) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (or append it)."""
    import re

    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- {SECTION} -->.*?<!-- /{SECTION} -->\n", re.S)
    updated = pattern.sub(lambda _m: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
OUR_DATABASES: list[str] = []  # the backends serving these are "PostgreSQL" (the server is shared with others)


def _our_backends() -> dict[int, int]:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        pids = [row[0] for row in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)",
                                                (OUR_DATABASES,))]
    return {pid: _jiffies(pid) for pid in pids}


def snapshot(roles: dict[str, int]) -> dict:
    """Clock ticks so far per role (each a process tree), the backends of our databases and the machine's busy time."""
    table = _process_table()
    out = {role: sum(_jiffies(pid) for pid in process_tree(root, table)) for role, root in roles.items()}
    out["backends"] = _our_backends()
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    out["busy"] = sum(int(x) for x in cpu[:8]) - int(cpu[3]) - int(cpu[4])
    return out


def _wait_healthy(port: int, proc: subprocess.Popen, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.3)


def _hub_events(hub_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(hub_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT count(*) FROM hub_settlements")))
    finally:
        engine.dispose()


def db_bytes(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT pg_database_size(current_database())")))
    finally:
        engine.dispose()


def stream_bytes(nats_url: str, stream: str) -> tuple[int, int]:
    """(messages, bytes) the events stream holds."""
    import asyncio

    import nats

    async def ask() -> tuple[int, int]:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(stream)
            return int(info.state.messages), int(info.state.bytes)
        finally:
            await nc.close()

    return asyncio.run(ask())


def drive(port: int, seconds: float, clients: int, persons: int) -> tuple[list[dict], float]:
    queue = mp.Queue()
    per_worker = persons // clients
    seq_block = 10_000 // clients
    proc = mp.Process(target=load_process, args=(port, seconds, 0, clients, per_worker, seq_block, queue))
    started = time.perf_counter()
    proc.start()
    results = [queue.get()]
    elapsed = time.perf_counter() - started
    proc.join()
    return results, elapsed


def run_single(url: str, seconds: float, clients: int, persons: int) -> dict:
    port = free_port()
    env = dict(os.environ, YIDI_DATABASE_URL=url, YIDI_DEMO_MODE="true", YIDI_LOG_LEVEL="WARNING",
               YIDI_FSI_RATE_PER_SECOND="0", YIDI_SERVER_WORKERS="1")
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "yidi.api.app:create_app", "--factory", "--host",
                               "127.0.0.1", "--port", str(port), "--workers", "1", *SERVER_OPTIONS], env=env, cwd=ROOT,
                              start_new_session=True)
    try:
        _wait_healthy(port, server, "one node")
        before = snapshot({"server": server.pid})
        results, elapsed = drive(port, seconds, clients, persons)
        after = snapshot({"server": server.pid})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return _summary(results, elapsed, before, after, ["server", "postgres"])


def run_federated(urls: dict[str, str], nats_url: str, nats_pid: int, seconds: float, clients: int,
                  persons: int) -> dict:
    federation = f"bench{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, YIDI_DEMO_MODE="true", YIDI_LOG_LEVEL="WARNING", YIDI_FSI_RATE_PER_SECOND="0",
               YIDI_NATS_URL=nats_url)
    yidi = [sys.executable, "-m", "yidi.cli"]
    common = ["--federation", federation, "--nats-url", nats_url]
    ports = {"41": free_port(), "11": free_port()}
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["hub"] = subprocess.Popen([*yidi, "hub", "serve", "--demo", "--database-url", urls["hub"], *common],
                                        env=env, cwd=ROOT, start_new_session=True)
        procs["node 41"] = subprocess.Popen([*yidi, "node", "serve", "--province", "41", "--database-url", urls["41"],
                                             "--port", str(ports["41"]), "--timeout", "120", *common],
                                            env=env, cwd=ROOT,
                                            start_new_session=True)
        _wait_healthy(ports["41"], procs["node 41"], "node 41")  # persons indexed at the hub before any 2401
        procs["node 11"] = subprocess.Popen([*yidi, "node", "serve", "--province", "11", "--demo", "--database-url",
                                             urls["11"], "--port", str(ports["11"]), *common], env=env, cwd=ROOT,
                                            start_new_session=True)
        _wait_healthy(ports["11"], procs["node 11"], "node 11")
        sizes_before = {role: db_bytes(urls[key]) for role, key in (("node 11", "11"), ("node 41", "41"), ("hub", "hub"))}
        roles = {"node 11": procs["node 11"].pid, "node 41": procs["node 41"].pid, "hub": procs["hub"].pid,
                 "nats": nats_pid}
        before = snapshot(roles)
        results, elapsed = drive(ports["11"], seconds, clients, persons)
        after = snapshot(roles)
        done = sum(r["done"] for r in results)
        stopped = time.perf_counter()
        events, lag = 0, None
        while time.perf_counter() - stopped < 120:  # every settlement's two events at the hub
            events = _hub_events(urls["hub"])
            if events >= 2 * done:
                lag = time.perf_counter() - stopped
                break
            time.sleep(0.2)
        drained = snapshot(roles)
        from yidi.federation.events import stream_name
        from yidi.federation.subjects import Names

        stream = stream_bytes(nats_url, stream_name(Names(federation)))
        sizes = {role: db_bytes(urls[key]) - sizes_before[role]
                 for role, key in (("node 11", "11"), ("node 41", "41"), ("hub", "hub"))}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return _summary(results, elapsed, before, after, list(roles) + ["postgres"]) | {
        "events": events, "event_lag_s": lag, "stream": stream, "db_growth": sizes,
        "drain_cpu_ms": {role: (drained[role] - after[role]) / os.sysconf("SC_CLK_TCK") * 1000 for role in roles}}


def _summary(results, elapsed, before, after, roles) -> dict:
    tick = os.sysconf("SC_CLK_TCK")
    done = sum(r["done"] for r in results)
    latencies = {t: [x for r in results for x in r["latencies"][t]] for t in TRANSACTIONS}
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    after = dict(after, postgres=sum(ticks - before["backends"].get(pid, 0) for pid, ticks in after["backends"].items()))
    before = dict(before, postgres=0)
    ms = {role: (after[role] - before[role]) / tick * 1000 / done if done else float("nan") for role in roles}
    ms["load generator"] = sum(r["cpu"] for r in results) * 1000 / done if done else float("nan")
    busy = (after["busy"] - before["busy"]) / tick / (elapsed * (os.cpu_count() or 1))
    return {"done": done, "failed": sum(r["failed"] for r in results), "elapsed": elapsed,
            "rate": done / elapsed if elapsed else 0.0, "latencies": latencies, "errors": errors, "cpu_ms": ms,
            "busy": busy}


def report(args, single: dict, fed: dict) -> str:
    ratio = fed["rate"] / single["rate"] if single["rate"] else float("nan")
    single_ms = single["cpu_ms"]["server"]
    fed_app = fed["cpu_ms"]["node 11"] + fed["cpu_ms"]["node 41"] + fed["cpu_ms"]["hub"]
    lines = [f"<!-- {SECTION} -->", "## 联邦：跨省结算经两节点与 NATS / Federation: cross-province through two nodes and NATS", "",
             f"Command: `.venv/bin/python -m bench.federation --db {args.db} --seconds {args.seconds:g} "
             f"--clients {args.clients} --rounds {args.rounds}`  ",
             f"Machine: {machine()}; **shared by 8 developers' sessions while measuring** (their builds and test "
             f"suites run at the same time; load average {os.getloadavg()[0]:.1f} at the end) — absolute figures "
             "vary from run to run, the ratios between the two runs of the same command are what to read.  ",
             f"Date: {datetime.now():%Y-%m-%d %H:%M}; PostgreSQL at 127.0.0.1 (one database per role); NATS "
             "2.9 with JetStream started by the benchmark on a free port (file store); each HTTP server one uvicorn "
             f"worker; load: {args.clients} terminals (keep-alive) in one asyncio process.", "",
             "Flow: 2401 → 2301 (2 rows) → 2303 → 2304 for a 焦作 person at 协和 北京, signed HIS requests. One "
             "node: both provinces in one database and process. Federation: 北京 node (hospital, visit, fee rows, "
             "its side), 河南 node (person, filing, usage, the calculation, its side), hub (registry, person index, "
             "the events → 清分 data); 2303 and 2304 each one NATS request/reply 北京 → 河南; per 2304 one event "
             "per side through the outbox to JetStream and the hub's durable consumer.", "",
             "| run | complete flows | seconds | flows/s | failed | 2304 p50 ms | 2304 p99 ms | machine busy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, run in (("one node", single), ("federation (2 nodes + hub + NATS)", fed)):
        values = run["latencies"]["2304"]
        busy = run["busy"]
        lines.append(f"| {label} | {run['done']} | {run['elapsed']:.1f} | **{run['rate']:.1f}** | {run['failed']} | "
                     f"{pct(values, 0.5):.1f} | **{pct(values, 0.99):.1f}** | {busy:.0%} |")
    lines += ["", "Per round (alternating, each on fresh databases), flows/s: one node "
              + ", ".join(f"{x:.1f}" for x in single["rounds"]) + "; federation "
              + ", ".join(f"{x:.1f}" for x in fed["rounds"]) + ". Rows above: the rounds pooled."]
    lines += ["", f"Ratio federation / one node: **{ratio:.2f}×** flows/s; 2304 p99 "
              f"{pct(fed['latencies']['2304'], 0.99) / max(pct(single['latencies']['2304'], 0.99), 1e-9):.2f}×.", "",
              "CPU per complete flow (ms of CPU time, all cores):", "",
              "| one node: server | PostgreSQL | | federation: 北京 node | 河南 node | hub | **NATS server** | PostgreSQL (3 databases) |",
              "|---:|---:|---|---:|---:|---:|---:|---:|",
              f"| {single_ms:.1f} | {single['cpu_ms']['postgres']:.1f} | | {fed['cpu_ms']['node 11']:.1f} | "
              f"{fed['cpu_ms']['node 41']:.1f} | {fed['cpu_ms']['hub']:.1f} | **{fed['cpu_ms']['nats']:.2f}** | "
              f"{fed['cpu_ms']['postgres']:.1f} |", "",
              f"The transport itself (the NATS server: 2 request/replies, 2 JetStream publishes with their acks, the "
              f"hub's fetches and acks per settlement) costs **{fed['cpu_ms']['nats']:.2f} ms CPU per settlement**; "
              f"the application processes together {fed_app:.1f} ms against {single_ms:.1f} ms on one node "
              f"(+{fed_app - single_ms:.1f} ms: JSON, nats-py, the second transaction and the events).", "",
              (f"Events: {fed['events']} at the hub = 2 × {fed['done']} settlements, all there "
               f"{fed['event_lag_s']:.1f} s after the load stopped." if fed["event_lag_s"] is not None else
               f"Events: only {fed['events']} of {2 * fed['done']} at the hub 120 s after the load stopped."), "",
              "Storage per complete flow (PostgreSQL database growth during the run, tables and indexes; all four "
              "transactions' rows, envelopes, ledger and audit): one node "
              f"{single['db_growth'] / max(single['done'], 1) / 1024:.1f} KiB; federation: 北京 node "
              f"{fed['db_growth']['node 11'] / max(fed['done'], 1) / 1024:.1f} KiB, 河南 node "
              f"{fed['db_growth']['node 41'] / max(fed['done'], 1) / 1024:.1f} KiB, hub "
              f"{fed['db_growth']['hub'] / max(fed['done'], 1) / 1024:.2f} KiB; the events stream "
              f"{fed['stream'][1] / max(fed['stream'][0], 1):.0f} bytes per event ({fed['stream'][0]} events).", "",
              "| transaction | one node p50 / p99 ms | federation p50 / p99 ms |", "|---|---:|---:|"]
    for infno in TRANSACTIONS:
        a, b = single["latencies"][infno], fed["latencies"][infno]
        lines.append(f"| {infno} | {pct(a, 0.5):.1f} / {pct(a, 0.99):.1f} | {pct(b, 0.5):.1f} / {pct(b, 0.99):.1f} |")
    for label, run in (("one node", single), ("federation", fed)):
        if run["errors"]:
            lines += ["", f"Errors ({label}): " + ", ".join(f"{k} ×{v}" for k, v in run["errors"].items())]
    lines += ["", f"<!-- /{SECTION} -->"]
    return "\n".join(lines) + "\n"


def one_round(args) -> tuple[dict, dict]:
    import psycopg

    OUR_DATABASES.clear()
    tag = uuid.uuid4().hex[:8]
    names = {role: f"yidi_bench_fed_{tag}_{role}" for role in ("single", "hub", "11", "41")}
    OUR_DATABASES.extend(names.values())
    base, _, _ = args.db.rpartition("/")
    urls = {role: f"{base}/{name}" for role, name in names.items()}
    with psycopg.connect(args.db, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print(f"loading {args.persons} filed persons (one node; and the 河南 node) …", flush=True)
        prepare(urls["single"], args.persons)
        prepare(urls["41"], args.persons)
        print(f"one node: {args.seconds:g}s, {args.clients} clients …", flush=True)
        single_before = db_bytes(urls["single"])
        single = run_single(urls["single"], args.seconds, args.clients, args.persons)
        single["db_growth"] = db_bytes(urls["single"]) - single_before
        print(f"  {single['done']} flows, {single['rate']:.1f}/s, failed {single['failed']} {single['errors']}")
        with own_nats() as (nats_url, nats_pid):
            print(f"federation ({nats_url}): {args.seconds:g}s, {args.clients} clients …", flush=True)
            fed = run_federated(urls, nats_url, nats_pid, args.seconds, args.clients, args.persons)
        print(f"  {fed['done']} flows, {fed['rate']:.1f}/s, failed {fed['failed']} {fed['errors']}; events "
              f"{fed['events']} lag {fed['event_lag_s']}")
    finally:
        with psycopg.connect(args.db, autocommit=True) as admin:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return single, fed


def merge(runs: list[dict]) -> dict:
    """Several rounds as one: flows and seconds summed, latencies pooled, CPU and storage weighted by flows."""
    done = sum(r["done"] for r in runs)
    out = {"done": done, "failed": sum(r["failed"] for r in runs), "elapsed": sum(r["elapsed"] for r in runs),
           "latencies": {t: [x for r in runs for x in r["latencies"][t]] for t in TRANSACTIONS},
           "errors": {}, "busy": sum(r["busy"] for r in runs) / len(runs),
           "cpu_ms": {k: sum(r["cpu_ms"][k] * r["done"] for r in runs) / max(done, 1) for k in runs[0]["cpu_ms"]}}
    out["rate"] = done / out["elapsed"] if out["elapsed"] else 0.0
    for r in runs:
        for k, v in r["errors"].items():
            out["errors"][k] = out["errors"].get(k, 0) + v
    if isinstance(runs[0].get("db_growth"), dict):
        out["db_growth"] = {k: sum(r["db_growth"][k] for r in runs) for k in runs[0]["db_growth"]}
        out["events"] = sum(r["events"] for r in runs)
        out["event_lag_s"] = None if any(r["event_lag_s"] is None for r in runs) else max(r["event_lag_s"] for r in runs)
        out["stream"] = (sum(r["stream"][0] for r in runs), sum(r["stream"][1] for r in runs))
    else:
        out["db_growth"] = sum(r["db_growth"] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test", help="admin PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="one node then federation, this many times")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()

    global ADMIN_URL
    ADMIN_URL = args.db
    rounds = []
    for number in range(1, args.rounds + 1):  # alternating, each on fresh databases: the machine's load drifts
        print(f"round {number} of {args.rounds}", flush=True)
        rounds.append(one_round(args))
    single, fed = merge([r[0] for r in rounds]), merge([r[1] for r in rounds])
    single["rounds"], fed["rounds"] = [r[0]["rate"] for r in rounds], [r[1]["rate"] for r in rounds]
    text = report(args, single, fed)
    print(text)
    write_section(text, args.out)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
