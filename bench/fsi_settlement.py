"""Benchmark: complete inpatient settlements through the hospital interface (2401→2301→2303→2304).

    .venv/bin/python -m bench.fsi_settlement --db postgresql://postgres@127.0.0.1:5432/test --seconds 20 --workers 3

Creates its own uniquely named PostgreSQL database (dropped afterwards), loads the reference data plus
many filed persons (so that caps and the per-person lock do not dominate), starts the server as a
subprocess (uvicorn with N workers), drives the full flow over HTTP from ``--clients`` concurrent
terminals (one keep-alive connection each, raw asyncio streams in ``--load-procs`` processes, so that
the load generator takes little of the 2 shared cores) with signed requests, and reports settlements/s,
p50/p99 latency per transaction and where the CPU went (server, PostgreSQL, load generator, other,
from /proc). Then a baseline: the same flow as in-process service calls (no HTTP, no signing, no
envelope) on the same database, with its CPU per flow, to show the HTTP overhead; and the floor: the same
HTTP load against bench/fsi_floor.py (signature, envelope, no database), what the machine allows before any
settlement work. Results are written
into docs/benchmarks.md (section "fsi-settlement"); ``--json FILE`` also writes the same figures as JSON
(``figures``: flows/s, floor flows/s, server and PostgreSQL CPU ms per flow, p50/p99 per infno).
``--profile FILE`` runs the server under py-spy (``pip install py-spy``; not a project dependency) and writes
folded stacks of every worker to FILE. Not a test: numbers depend on the machine, which is shared.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import re
import shutil
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
SERVER_OPTIONS = ["--log-level", "warning", "--no-access-log"]  # uvicorn picks uvloop + httptools when installed


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
    """The ``n``-th stay of a worker's persons: two nights, three days apart, so that one person's successive stays
    never share a night (overlapping stays at one hospital are one visit: DUPLICATE_CLAIM)."""
    begin = date(2023, 1, 1) + timedelta(days=(worker * 7919 + 3 * n) % 360)
    return begin.isoformat(), (begin + timedelta(days=2)).isoformat()


class Terminal:
    """One HIS terminal on one keep-alive HTTP/1.1 connection: the load generator's unit.

    Raw asyncio streams instead of an HTTP library, so that the load generator, which shares the 2 cores
    with the server and PostgreSQL, costs as little CPU as possible: per call it builds the envelope,
    signs it (HMAC-SM3, as a HIS does), writes one request and reads one response."""

    def __init__(self, port: int, client, path: str = "/fsi/api/{infno}"):
        self.port, self.client, self.path = port, client, path
        self.reader = self.writer = None

    async def connect(self) -> None:
        import asyncio

        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def call(self, infno: str, input_data: dict) -> dict:
        import json

        from yidi.interface.signing import signed_headers

        body = json.dumps(self.client.envelope(infno, input_data), ensure_ascii=False).encode()
        headers = signed_headers(infno=infno, body=body, access_key=self.client.access_key, secret=self.client.secret)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write((f"POST {self.path.format(infno=infno)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{head}\r\n").encode()
                          + body)
        status = await self.reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", status).group(1))
        return json.loads(await self.reader.readexactly(length))


async def _terminal_loop(port: int, seconds: float, worker: int, persons_per_worker: int, seq_range, out: dict,
                         pace: float = 0.0) -> None:
    """One terminal's flows, back to back — or, with ``pace`` (seconds), one flow started every ``pace`` seconds
    on a fixed schedule (a flow that ends late starts the next at once; latency is measured from each send)."""
    import asyncio

    from yidi.client import HospitalClient, _settle_input, fee_row

    client = HospitalClient("http://unused", f"demo-{HOSPITAL}", f"demo-secret-{HOSPITAL}", HOSPITAL,
                            seq_range=seq_range)
    terminal = Terminal(port, client)
    await terminal.connect()
    latencies = out["latencies"]
    n = 0
    deadline = time.perf_counter() + seconds
    next_start = time.perf_counter() + (worker * 0.618034 % 1.0) * pace  # the terminals' starts spread over a pace
    while time.perf_counter() < deadline:
        if pace:
            await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
            next_start += pace
            if time.perf_counter() >= deadline:
                break
        psn_no = f"B{worker * persons_per_worker + n % persons_per_worker:06d}"
        begin, end = _stay_dates(worker, n // persons_per_worker)
        n += 1
        try:
            t0 = time.perf_counter()
            response = await terminal.call("2401", {"mdtrtinfo": {
                "psn_no": psn_no, "insutype": "", "med_type": "21", "begntime": begin, "mdtrt_cert_type": "02",
                "mdtrt_cert_no": "", "dise_codg": ""}, "diseinfo": []})
            latencies["2401"].append(time.perf_counter() - t0)
            if response["infcode"] != 0:
                raise RuntimeError(response["err_msg"].split("：")[0][:40])
            mdtrt_id = response["output"]["result"]["mdtrt_id"]
            rows = [fee_row(mdtrt_id, "1", "X007", "8000.00"), fee_row(mdtrt_id, "2", "X004", "4000.00")]
            for infno, input_data in (
                    ("2301", {"feedetail": rows}),
                    ("2303", {"mdtrtinfo": _settle_input(mdtrt_id, psn_no, "12000.00", end)}),
                    ("2304", {"mdtrtinfo": _settle_input(mdtrt_id, psn_no, "12000.00", end)})):
                t0 = time.perf_counter()
                response = await terminal.call(infno, input_data)
                latencies[infno].append(time.perf_counter() - t0)
                if response["infcode"] != 0:
                    raise RuntimeError(response["err_msg"].split("：")[0][:40])
            out["done"] += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            out["failed"] += 1
            out["errors"][str(exc)[:40]] = out["errors"].get(str(exc)[:40], 0) + 1
            if terminal.writer is not None and terminal.writer.is_closing():
                await terminal.connect()
    terminal.writer.close()


def load_process(port: int, seconds: float, first_worker: int, terminals: int, persons_per_worker: int,
                 seq_block: int, queue, pace: float = 0.0) -> None:
    """``terminals`` concurrent terminals in one asyncio process (uvloop when installed)."""
    import asyncio

    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    out = {"done": 0, "failed": 0, "errors": {}, "latencies": {t: [] for t in TRANSACTIONS}}

    async def main() -> None:
        await asyncio.gather(*(
            _terminal_loop(port, seconds, w, persons_per_worker, (w * seq_block, (w + 1) * seq_block), out, pace)
            for w in range(first_worker, first_worker + terminals)))

    cpu0 = time.process_time()
    asyncio.run(main())
    out["cpu"] = time.process_time() - cpu0
    queue.put(out)


# ------------------------------------------------------------------ CPU accounting --
def _jiffies(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            name = raw[raw.index("(") + 1:raw.rindex(")")]
            table[int(entry.name)] = (int(raw.rsplit(")", 1)[1].split()[1]), name)
    return table


def process_tree(root: int, table: dict[int, tuple[int, str]]) -> set[int]:
    """``root`` and all its descendants in a ``_process_table``."""
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _name) in table.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return tree


def cpu_snapshot(server_pid: int) -> dict[str, int]:
    """Clock ticks so far: the whole machine (busy), the server's process tree, PostgreSQL's processes."""
    table = _process_table()
    tree = process_tree(server_pid, table)
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    idle = int(cpu[3]) + int(cpu[4])
    return {"busy": sum(int(x) for x in cpu[:8]) - idle,
            "server": sum(_jiffies(pid) for pid in tree),
            "postgres": sum(_jiffies(pid) for pid, (_p, name) in table.items() if name.startswith("postgres"))}


def run_http(url: str, seconds: float, workers: int, clients: int, persons: int, profile: Path | None = None,
             load_procs: int = 1, server_options: list[str] | None = None,
             app: tuple[str, ...] = ("yidi.api.app:create_app", "--factory"), rate: float = 0.0) -> dict:
    """Closed loop (each terminal starts its next flow when the last ends), or with ``rate`` flows/s an open
    schedule: each of the ``clients`` terminals starts one flow every ``clients / rate`` seconds."""
    port = free_port()
    # One demo hospital stands for every terminal here, so its per-access-key rate limit (200 calls/s per
    # worker process by default, api/ratelimit.py) is switched off: the benchmark measures settlement, not the limiter.
    # YIDI_SERVER_WORKERS as `yidi serve --workers N` sets it (calls then run on each worker's event loop).
    env = dict(os.environ, YIDI_DATABASE_URL=url, YIDI_DEMO_MODE="true", YIDI_LOG_LEVEL="WARNING",
               YIDI_FSI_RATE_PER_SECOND="0", YIDI_SERVER_WORKERS=str(workers))
    # --profile: the server runs under py-spy (sampling, all worker processes), folded stacks written to the file
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spy = [py_spy, "record", "--subprocesses", "--nonblocking", "--gil", "-f", "raw", "-o", str(profile), "--"] if profile else []
    server = subprocess.Popen([*spy, sys.executable, "-m", "uvicorn", *app,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                               *SERVER_OPTIONS, *(server_options or [])], env=env, cwd=ROOT, start_new_session=True)
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
        seq_block = 10_000 // clients  # msgid sequence numbers: disjoint per terminal
        shares = [clients // load_procs + (1 if k < clients % load_procs else 0) for k in range(load_procs)]
        firsts = [sum(shares[:k]) for k in range(load_procs)]
        pace = clients / rate if rate else 0.0
        procs = [mp.Process(target=load_process, args=(port, seconds, firsts[k], shares[k], per_worker, seq_block,
                                                        queue, pace)) for k in range(load_procs) if shares[k]]
        before = cpu_snapshot(server.pid)
        started = time.perf_counter()
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        elapsed = time.perf_counter() - started
        after = cpu_snapshot(server.pid)
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
    tick = os.sysconf("SC_CLK_TCK")
    capacity = elapsed * (os.cpu_count() or 1)  # CPU-seconds the machine had
    cpu = {name: (after[name] - before[name]) / tick / capacity for name in ("busy", "server", "postgres")}
    cpu["load"] = sum(r["cpu"] for r in results) / capacity
    cpu["other"] = max(0.0, cpu["busy"] - cpu["server"] - cpu["postgres"] - cpu["load"])
    cpu["server_ms_per_flow"] = (after["server"] - before["server"]) / tick * 1000 / done if done else float("nan")
    cpu["postgres_ms_per_flow"] = (after["postgres"] - before["postgres"]) / tick * 1000 / done if done else float("nan")
    return {"done": done, "failed": sum(r["failed"] for r in results), "elapsed": elapsed,
            "rate": done / elapsed, "latencies": latencies, "errors": errors, "cpu": cpu}


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
    cpu0 = time.process_time()
    pool = [threading.Thread(target=loop, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(done[0], 1)
    ctx.engine.dispose()
    return {"done": done[0], "elapsed": elapsed, "rate": done[0] / elapsed, "latencies": {"2304": latencies},
            "cpu_ms_per_flow": cpu_ms}


def audit_check(url: str) -> dict:
    """After the HTTP run: how far behind the background sealer was, then a full seal and a chain check."""
    from yidi.services import audit
    from yidi.services.context import AppContext

    try:
        from yidi.services.verify import seal_audit_log
    except ImportError:  # code before the sealer (audit_0001): the chain was built by every writer
        return {"behind": 0, "ok": True, "checked": -1}
    ctx = AppContext.from_url(url, migrate=False)
    with ctx.unit_of_work() as session:
        behind = audit.unsealed_count(session)
    seal_audit_log(ctx)
    with ctx.unit_of_work() as session:
        ok, checked, _broken = audit.verify_chain(session)
    ctx.engine.dispose()
    return {"behind": behind, "ok": ok, "checked": checked}


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


def server_stack(workers: int) -> str:
    import importlib.util

    have = [name for name in ("uvloop", "httptools") if importlib.util.find_spec(name)]
    where = "calls on each worker's event loop" if workers >= 2 else "calls in the thread pool"
    return "uvicorn (" + (", ".join(have) if have else "asyncio, h11") + f"), access log off, {where}"


def report(args, http: dict, local: dict, floor: dict) -> str:
    cpu = http["cpu"]
    lines = [f"<!-- {SECTION} -->", "## 医院接口结算 / Hospital-interface settlement (fsi)", "",
             f"Command: `.venv/bin/python -m bench.fsi_settlement --db {args.db} --seconds {args.seconds:g} "
             f"--workers {args.workers} --clients {args.clients} --load-procs {args.load_procs}"
             f"{f' --rate {args.rate:g}' if args.rate else ''}`  ",
             f"Machine: {machine()}; shared with other developers while measuring (numbers vary run to run).  ",
             f"Date: {datetime.now():%Y-%m-%d %H:%M}; PostgreSQL at 127.0.0.1; server: {server_stack(args.workers)}, "
             f"**{args.workers} worker process(es)**; load: {args.clients} terminals (one keep-alive connection "
             f"each) in {args.load_procs} asyncio process(es) on the same machine (they compete with the server "
             "for the 2 cores).", "",
             "Flow per settlement: 2401 入院 → 2301 费用上传 (2 rows) → 2303 预结算 → 2304 结算, each a signed "
             "HMAC-SM3 request with its own msgid.", "",
             "| run | complete settlements | seconds | settlements/s | failed |", "|---|---:|---:|---:|---:|",
             f"| HTTP (signed envelope) | {http['done']} | {http['elapsed']:.1f} | **{http['rate']:.1f}** | {http['failed']} |",
             f"| in-process services (baseline, {args.clients} threads) | {local['done']} | {local['elapsed']:.1f} | "
             f"**{local['rate']:.1f}** | 0 |",
             f"| floor: HTTP + signature + envelope, no database (bench/fsi_floor.py) | {floor['done']} | "
             f"{floor['elapsed']:.1f} | **{floor['rate']:.1f}** | {floor['failed']} |", "",
             f"The floor run's CPU per flow: server {floor['cpu']['server_ms_per_flow']:.2f} ms, load generator "
             f"{floor['cpu']['load'] * floor['elapsed'] * (os.cpu_count() or 1) * 1000 / max(floor['done'], 1):.2f} ms "
             "— what every flow costs before any settlement work.", "",
             f"Ratio in-process / HTTP: **{local['rate'] / http['rate']:.2f}×**" if http['rate']
             else "HTTP run completed no settlement.", "",
             "Where the 2 cores went during the HTTP run (share of the machine's CPU time):", "",
             "| server (all workers) | PostgreSQL (all backends) | load generator | everything else | machine busy |",
             "|---:|---:|---:|---:|---:|",
             f"| {cpu['server']:.0%} | {cpu['postgres']:.0%} | {cpu['load']:.0%} | {cpu['other']:.0%} | {cpu['busy']:.0%} |",
             "",
             f"CPU per complete flow: server **{cpu['server_ms_per_flow']:.1f} ms**, PostgreSQL "
             f"{cpu['postgres_ms_per_flow']:.1f} ms; in-process services {local['cpu_ms_per_flow']:.1f} ms "
             "(baseline run, same 4 use cases without HTTP, signing or envelope).", "",
             f"Audit chain after the run: {http['audit']['behind']} row(s) were awaiting the background sealer "
             f"when the load stopped; after a full pass {http['audit']['checked']} sealed rows verify "
             f"({'ok' if http['audit']['ok'] else 'BROKEN'}).", "",
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


def figures(args, http: dict, local: dict, floor: dict) -> dict:
    """The figures of the markdown table as plain numbers, for scripts (``--json FILE``)."""
    floor_load_ms = (floor["cpu"]["load"] * floor["elapsed"] * (os.cpu_count() or 1) * 1000 / max(floor["done"], 1))
    latency = {f"{infno}_http": {"calls": len(http["latencies"][infno]), "p50_ms": pct(http["latencies"][infno], 0.5),
                                 "p99_ms": pct(http["latencies"][infno], 0.99)} for infno in TRANSACTIONS}
    settle = local["latencies"]["2304"]
    latency["2304_in_process"] = {"calls": len(settle), "p50_ms": pct(settle, 0.5), "p99_ms": pct(settle, 0.99)}
    cpu = http["cpu"]
    return {
        "date": datetime.now().isoformat(timespec="seconds"), "machine": machine(), "nproc": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "command": {"seconds": args.seconds, "workers": args.workers, "clients": args.clients,
                    "load_procs": args.load_procs, "rate": args.rate or None},
        "flows_per_second": http["rate"], "flows": http["done"], "failed": http["failed"],
        "floor_flows_per_second": floor["rate"],
        "flows_vs_floor": http["rate"] / floor["rate"] if floor["rate"] else None,
        "in_process_flows_per_second": local["rate"],
        "server_cpu_ms_per_flow": cpu["server_ms_per_flow"], "postgres_cpu_ms_per_flow": cpu["postgres_ms_per_flow"],
        "in_process_cpu_ms_per_flow": local["cpu_ms_per_flow"],
        "floor_server_cpu_ms_per_flow": floor["cpu"]["server_ms_per_flow"], "floor_load_cpu_ms_per_flow": floor_load_ms,
        "machine_share": {name: cpu[name] for name in ("server", "postgres", "load", "other", "busy")},
        "latency": latency, "audit": http.get("audit"), "errors": http["errors"],
    }


def write_json(data: dict, path: Path) -> None:
    """NaN (no calls of a kind) becomes null, so that any JSON reader takes the file."""
    import json
    import math

    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    path.write_text(json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_section(text: str, path: Path) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- {SECTION} -->.*?<!-- /{SECTION} -->\n", re.S)
    updated = pattern.sub(lambda _m: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test", help="admin PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=3, help="uvicorn worker processes (cores + 1: calls run on "
                        "each worker's event loop, so one more process than cores covers the database waits)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent terminals (keep-alive connections)")
    parser.add_argument("--load-procs", type=int, default=1, help="processes the terminals are spread over")
    parser.add_argument("--persons", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="HTTP run on a fixed schedule of this many flows/s (0: each terminal back to back)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=None, dest="json_out",
                        help="also write the table's figures (flows/s, floor, CPU ms per flow, p50/p99) to this JSON file")
    parser.add_argument("--profile", type=Path, default=None, help="run the server under py-spy; folded stacks here")
    parser.add_argument("--server-option", action="append", default=[], dest="server_options",
                        help="extra uvicorn option (repeat), e.g. --server-option=--loop=asyncio")
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
        http = run_http(url, args.seconds, args.workers, args.clients, args.persons // 2, args.profile,
                        args.load_procs, args.server_options, rate=args.rate)
        print(f"  {http['done']} settlements, {http['rate']:.1f}/s, failed {http['failed']} {http['errors']}")
        print("  cpu " + ", ".join(f"{k} {v:.2f}" for k, v in http["cpu"].items()))
        http["audit"] = audit_check(url)
        print(f"  audit: {http['audit']}")
        print(f"floor (no database, bench/fsi_floor.py): {args.seconds:g}s …", flush=True)
        floor = run_http(url, args.seconds, args.workers, args.clients, args.persons // 2, None, args.load_procs,
                         args.server_options, app=("bench.fsi_floor:app",))
        print(f"  {floor['done']} flows, {floor['rate']:.1f}/s, failed {floor['failed']} {floor['errors']}")
        print(f"in-process baseline: {args.seconds:g}s, {args.clients} threads …", flush=True)
        local = run_in_process(url, args.seconds, args.clients, args.persons // 2)
        print(f"  {local['done']} settlements, {local['rate']:.1f}/s, {local['cpu_ms_per_flow']:.1f} ms CPU per flow")
    finally:
        with psycopg.connect(args.db, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    text = report(args, http, local, floor)
    print(text)
    write_section(text, args.out)
    print(f"written to {args.out}")
    if args.json_out:
        write_json(figures(args, http, local, floor), args.json_out)
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    main()
