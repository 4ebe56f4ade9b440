"""Where the server's CPU goes in a complete flow: ``fsi.handle_call`` in-process, one call at a time.

    .venv/bin/python -m bench.fsi_profile --flows 400 [--sqlite] [--cprofile FILE] [--outpatient]

Creates its own PostgreSQL database (or a SQLite file with ``--sqlite``), loads the reference data and
filed persons as bench/fsi_settlement.py does, then runs complete flows (2401 → 2301 → 2303 → 2304, or
2201 → 2204 → 2206 → 2207 with ``--outpatient``) through ``fsi.handle_call`` with signed bodies — the
server's whole per-call work except HTTP parsing and the socket. Prints CPU ms per flow (process time,
so it is less affected by other load on the machine than wall time) and per transaction, and statements per
flow (each queued-write statement counted once; commits and the driver's implicit BEGIN not counted);
``--cprofile FILE`` writes a cProfile of the measured flows (``python -m pstats FILE``). Not a test.

Instructions instead of seconds (the same count on every run, whatever else the machine does):

    YIDI_BENCH_CALLGRIND=1 valgrind --tool=callgrind --callgrind-out-file=cg.%p \
        .venv/bin/python -m bench.fsi_profile --flows 60 --warmup 20

zeroes the counters when the measured flows start and dumps them when they end (``cg.<pid>.1``: its ``summary:``
line is the instructions of the measured flows).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.fsi_settlement import HOSPITAL, _stay_dates, prepare


def _flows(url: str, flows: int, warmup: int, outpatient: bool, profile: Path | None) -> dict:
    from sqlalchemy import event

    from yidi.interface import calls
    from yidi.interface.signing import signed_headers
    from yidi.client import HospitalClient, _settle_input, fee_row
    from yidi.services.context import AppContext

    ctx = AppContext.from_url(url, migrate=False, demo_mode=True)
    statements = [0]
    event.listen(ctx.engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__(0, statements[0] + 1))
    try:  # the hot-path statements run on the driver's cursor on PostgreSQL (adapters/hot_sql.py): count those too
        from yidi.adapters import hot_sql

        def counted(method):
            def run(self, session, params, *rest):
                if session.get_bind().dialect.name == "postgresql":
                    statements[0] += 1
                return method(self, session, params, *rest)
            return run
        hot_sql.HotStatement._execute = counted(hot_sql.HotStatement._execute)
        hot_sql.HotStatement.run_many = counted(hot_sql.HotStatement.run_many)
        if hasattr(hot_sql, "_send_queued"):  # queued writes: one statement per send
            send_queued = hot_sql._send_queued

            def counted_send(session, link):
                statements[0] += 1
                return send_queued(session, link)
            hot_sql._send_queued = counted_send
    except ImportError:  # code before hot_sql
        pass
    client = HospitalClient("http://unused", f"demo-{HOSPITAL}", f"demo-secret-{HOSPITAL}", HOSPITAL,
                            seq_range=(0, 10_000))
    cpu_by_infno: dict[str, float] = {}
    codes = ("2201", "2204", "2206", "2207") if outpatient else ("2401", "2301", "2303", "2304")

    def call(infno: str, input_data: dict) -> dict:
        body = json.dumps(client.envelope(infno, input_data), ensure_ascii=False).encode()
        headers = signed_headers(infno=infno, body=body, access_key=client.access_key, secret=client.secret)
        t0 = time.process_time()
        status, answer = calls.handle_call(ctx, headers, body, infno)
        cpu_by_infno[infno] = cpu_by_infno.get(infno, 0.0) + time.process_time() - t0
        if status != 200 or answer["infcode"] != 0:
            raise RuntimeError(f"{infno}: {answer['err_msg']}")
        return answer["output"]

    def flow(n: int) -> None:
        psn_no = f"B{n % 2000:06d}"
        begin, end = _stay_dates(7, n // 2000 + (500 if outpatient else 0))
        if outpatient:
            begin = end
        admit = call(codes[0], {"mdtrtinfo": {"psn_no": psn_no, "insutype": "", "med_type": "11" if outpatient else "21",
                                              "begntime": begin, "mdtrt_cert_type": "02", "mdtrt_cert_no": "",
                                              "dise_codg": ""}, "diseinfo": []})
        mdtrt_id = admit["data" if outpatient else "result"]["mdtrt_id"]
        rows = [fee_row(mdtrt_id, "1", "X007", "800.00"), fee_row(mdtrt_id, "2", "X004", "400.00")]
        call(codes[1], {"feedetail": rows})
        call(codes[2], {"mdtrtinfo": _settle_input(mdtrt_id, psn_no, "1200.00", end)})
        call(codes[3], {"mdtrtinfo": _settle_input(mdtrt_id, psn_no, "1200.00", end)})

    for n in range(warmup):
        flow(n)
    cpu_by_infno.clear()
    statements[0] = 0
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits
    if os.environ.get("YIDI_BENCH_CALLGRIND"):  # under valgrind --tool=callgrind: count the measured flows only
        subprocess.run(["callgrind_control", "--zero", str(os.getpid())], check=True, capture_output=True)
    cpu0 = time.process_time()
    if profiler:
        profiler.enable()
    for n in range(warmup, warmup + flows):
        flow(n)
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    cpu = time.process_time() - cpu0
    if os.environ.get("YIDI_BENCH_CALLGRIND"):
        subprocess.run(["callgrind_control", "--dump=measured", str(os.getpid())], check=True, capture_output=True)
    ctx.engine.dispose()
    return {"cpu_ms_per_flow": cpu * 1000 / flows, "statements_per_flow": statements[0] / flows,
            "cpu_ms_per_call": {k: v * 1000 / flows for k, v in cpu_by_infno.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test", help="admin PostgreSQL URL")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--flows", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--outpatient", action="store_true", help="2201 → 2204 → 2206 → 2207 instead")
    parser.add_argument("--cprofile", type=Path, default=None)
    args = parser.parse_args()
    # Before anything reads the settings (they are cached): one demo hospital stands for every call here, so its
    # per-access-key rate limit is off — on a quiet machine the flows exceed 200 calls/s.
    os.environ.setdefault("YIDI_DEMO_MODE", "true")
    os.environ["YIDI_FSI_RATE_PER_SECOND"] = "0"

    import psycopg

    if args.sqlite:
        folder = tempfile.mkdtemp(prefix="yidi_profile_")
        url = f"sqlite:///{folder}/bench.db"
    else:
        name = f"yidi_profile_{uuid.uuid4().hex[:10]}"
        base, _, _ = args.db.rpartition("/")
        url = f"{base}/{name}"
        with psycopg.connect(args.db, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        prepare(url, 2000)
        result = _flows(url, args.flows, args.warmup, args.outpatient, args.cprofile)
    finally:
        if not args.sqlite:
            with psycopg.connect(args.db, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
