"""What monitoring reads from the database (api/metrics.py turns it into Prometheus gauges and probes):
today's settlements by kind and status, the degraded-mode queue, the audit sealer's backlog and lag, whether
the database answers at all. Cheap, indexed queries; the same whichever worker answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, text

from yidi.adapters.orm import AuditRow, SettlementRow
from yidi.adapters.orm_audit import AuditSealRow
from yidi.adapters.orm_ops import DeferredSettlementRow
from yidi.services.context import AppContext


@dataclass(frozen=True)
class SettlementsToday:
    kind: str
    status: str
    count: int
    fund_fen: int
    medfee_fen: int


@dataclass(frozen=True)
class DatabaseFigures:
    settlements_today: tuple[SettlementsToday, ...]
    deferred: tuple[tuple[str, int], ...]  # (state, count) of the degraded-mode queue
    audit_unsealed_rows: int  # audit rows written after the newest sealed one
    audit_seal_lag_seconds: float  # age of the newest audit row minus age of the newest sealed one


def database_figures(ctx: AppContext, *, on: date | None = None) -> DatabaseFigures:
    """The figures of one scrape; raises whatever the database raises (the caller reports it as down)."""
    on = on or date.today()
    with ctx.unit_of_work() as session:
        settled = tuple(SettlementsToday(kind, status, int(count), int(fund_fen), int(medfee_fen))
                        for kind, status, count, fund_fen, medfee_fen in session.execute(
                            select(SettlementRow.kind, SettlementRow.status, func.count(),
                                   func.coalesce(func.sum(SettlementRow.fund_pay_sumamt), 0),
                                   func.coalesce(func.sum(SettlementRow.medfee_sumamt), 0))
                            .where(SettlementRow.setl_date == on)
                            .group_by(SettlementRow.kind, SettlementRow.status)))
        deferred = tuple((state, int(count)) for state, count in session.execute(
            select(DeferredSettlementRow.state, func.count()).group_by(DeferredSettlementRow.state)))
        newest = session.execute(select(AuditRow.id, AuditRow.at).order_by(AuditRow.id.desc()).limit(1)).first()
        sealed_id = session.scalar(select(func.max(AuditSealRow.audit_id)))
        sealed_at = session.scalar(select(AuditRow.at).where(AuditRow.id == sealed_id)) if sealed_id else None
    backlog = max(0, (newest.id if newest else 0) - (sealed_id or 0))
    seconds = 0.0
    if newest and backlog:
        seconds = max(0.0, (newest.at - sealed_at).total_seconds()) if sealed_at else \
            max(0.0, time.time() - newest.at.timestamp())
    return DatabaseFigures(settled, deferred, backlog, seconds)


def database_ready(ctx: AppContext) -> str | None:
    """None when the database answers a query; else the reason (for the readiness probe)."""
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return type(exc).__name__


def pool_figures(ctx: AppContext) -> dict[str, int]:
    """This process's database connection pool: checked out, idle, overflow, size (those the pool reports)."""
    pool = ctx.engine.pool
    figures: dict[str, int] = {}
    for state, reader in (("checked_out", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow"),
                          ("size", "size")):
        method = getattr(pool, reader, None)
        if method is not None:
            figures[state] = max(0, int(method()))
    return figures
