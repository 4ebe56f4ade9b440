"""Support for the hospital-interface tests (no tests here): the real app served by uvicorn in a thread on
127.0.0.1 and a free port, and signed demo clients. Test modules import the fixtures from here."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace
from typing import Iterator

import pytest

from tests.support.live_server import live_server
from yidi.api.app import create_app
from yidi.client import HospitalClient
from yidi.services.context import AppContext


@contextmanager
def serving(ctx: AppContext) -> Iterator[SimpleNamespace]:
    """The app for ``ctx`` served on a free port (tests/support/live_server.py); ``.url`` while entered."""
    with live_server(create_app(ctx)) as url:
        yield SimpleNamespace(url=url)


BEIJING = "H11000000001"


@pytest.fixture
def demo_ctx(ctx):
    ctx.demo_mode = True
    return ctx


@pytest.fixture
def server(demo_ctx):
    with serving(demo_ctx) as live:
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


def claim_papers() -> dict:
    """The refund account and the invoice + fee list that every 零星报销 submission carries (minimal PDFs)."""
    import base64

    pdf = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
    return {"bank_name": "中国银行", "bank_account": "6217852000012345678", "account_name": "参保人",
            "attachments": [{"kind": "invoice", "filename": "invoice.pdf", "content_type": "application/pdf",
                             "content_base64": pdf},
                            {"kind": "fee_list", "filename": "fee_list.pdf", "content_type": "application/pdf",
                             "content_base64": pdf}]}
