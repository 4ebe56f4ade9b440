"""A real server for the fault tests: uvicorn as a subprocess on 127.0.0.1 and a free port, on its own PostgreSQL
database (uniquely named, dropped afterwards), so that it can be killed with SIGKILL and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_connect
from tests.support.live_server import free_port
from yidi.services import visits
from yidi.services.context import AppContext
from yidi.services.demo import load_demo

BEIJING = "H11000000001"


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    try:
        admin = _pg_connect(PG_ADMIN_URL)
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL at {PG_ADMIN_URL}: {exc}")
        pytest.skip("fault tests need PostgreSQL (YIDI_TEST_POSTGRES_URL)")
    name = f"yidi_fault_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def demo_context(url: str) -> AppContext:
    """Migrated, with the demo data (users, credentials, P001's filing for 北京)."""
    ctx = AppContext.from_url(url, demo_mode=True)
    load_demo(ctx)
    return ctx


def uploaded_stays(ctx: AppContext, count: int, first_day: date = date(2023, 2, 1)) -> list[tuple[str, str]]:
    """``count`` inpatient stays of P001 at 协和, fees uploaded, ready for 2304: [(mdtrt_id, endtime)]."""
    stays = []
    for n in range(count):
        begin = date.fromordinal(first_day.toordinal() + 2 * n)
        visit = visits.register(ctx, fixmedins_code=BEIJING, psn_no="P001", med_type="21", begntime=begin)
        # discharged at once: one person has one open stay at a time (ALREADY_ADMITTED)
        visits.discharge(ctx, fixmedins_code=BEIJING, mdtrt_id=visit.mdtrt_id, endtime=begin)
        visits.upload_fees(ctx, fixmedins_code=BEIJING, mdtrt_id=visit.mdtrt_id,
                           lines=[visits.FeeLine("1", "X004", 300_000, cnt=Decimal(1))])
        stays.append((visit.mdtrt_id, begin.isoformat()))
    return stays


class ServerProcess:
    def __init__(self, database_url: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "YIDI_DATABASE_URL": database_url, "YIDI_DEMO_MODE": "true",
                    "YIDI_LOG_LEVEL": "WARNING", **env}
        self.process: subprocess.Popen | None = None

    def start(self, log_file: Path | None = None) -> "ServerProcess":
        """Start and wait for /health; with ``log_file`` everything the server writes goes there (log level info)."""
        sink = open(log_file, "w") if log_file is not None else subprocess.DEVNULL  # noqa: SIM115 - closed in stop
        self._sink = sink
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "yidi.api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "info" if log_file is not None else "warning"],
            env=self.env, stdout=sink, stderr=sink)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush — what a power cut or the OOM killer does."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_sink", None) not in (None, subprocess.DEVNULL):
            self._sink.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid
