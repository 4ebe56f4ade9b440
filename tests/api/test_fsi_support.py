"""Support for the hospital-interface tests (no tests here): the real app served by uvicorn in a thread on
127.0.0.1 and a free port, and signed demo clients. Test modules import the fixtures from here."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from yidi.api.app import create_app
from yidi.client import HospitalClient
from yidi.services.context import AppContext


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, ctx: AppContext):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(ctx), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
BEIJING = "H11000000001"


@pytest.fixture
def demo_ctx(ctx):
    ctx.demo_mode = True
    return ctx


@pytest.fixture
def server(demo_ctx):
    with LiveServer(demo_ctx) as live:
        yield live


def client_for(server, code: str = BEIJING, **kw) -> HospitalClient:
    return HospitalClient(server.url, f"demo-{code}", f"demo-secret-{code}", code, **kw)


@pytest.fixture
def his(server):
    client = client_for(server)
    yield client
    client.close()


def file_filing(ctx: AppContext, psn_no: str, filing_type: str, mdtrtarea_admvs: str, begndate: str,
                signature: str) -> str:
    """An approved cross-region filing, made through the filing service as a clerk would."""
    from datetime import date

    from yidi.services import filings

    day = date.fromisoformat(begndate)
    filing = filings.file_filing(ctx, filings.FileCommand(
        psn_no=psn_no, filing_type=filing_type, basis="commitment", mdtrtarea_admvs=mdtrtarea_admvs, begndate=day,
        apply_date=day, channel="app", commitment_signature=signature, actor="test"))
    if filing.status.value == "pending":
        filing = filings.decide_filing(ctx, filing.filing_id, approve=True, actor="test-clerk", on=day)
    return filing.filing_id


def row_counts(ctx: AppContext) -> dict[str, int]:
    """Rows in every table that a hospital call could write (bad input must leave these unchanged)."""
    from sqlalchemy import func, select

    from yidi.adapters import orm

    tables = [orm.VisitRow, orm.FeeDetailRow, orm.SettlementRow, orm.UsageRow, orm.MessageRow, orm.AuditRow,
              orm.JournalEntryRow, orm.PostingRow]
    with ctx.unit_of_work() as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in tables}


def ok(response: dict) -> dict:
    assert response["infcode"] == 0, response["err_msg"]
    return response["output"]
