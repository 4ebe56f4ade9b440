"""Append-only audit log of every write, made tamper-evident by a hash chain built off the write path.

Writing (``record``) is one plain INSERT in the writer's own transaction: every write is recorded, or
its transaction does not commit. The rows are *not* chained there: chaining in the writer would mean
reading and locking the chain head in every write transaction, which serialised all writers of the
whole system on one row and cost a round trip each.

Sealing (``seal``) builds the chain afterwards: it takes the audit rows that have no seal yet, in id
order, and appends one row per audit row to ``audit_seals`` (adapters/orm_audit.py) with
``hash = sha256(prev_hash, at, actor, action, target, details)``, ``prev_hash`` being the previous seal's
hash. Chain order is seal order (``audit_seals.seq``): a row whose transaction committed late (a lower
id than rows already sealed) is simply sealed by the next pass, so nothing is skipped or re-ordered.
Only one sealer runs at a time (PostgreSQL: a transaction-level advisory lock, the others skip; SQLite
serialises writers anyway). Both tables are append-only (database triggers), so sealing never updates
a row, and a seal, once written, pins its audit row's content: changing it breaks the chain.

Who seals: the server after answering hospital calls (``seal_due`` / ``seal_pass``: at most once per
``SEAL_INTERVAL`` seconds per process, looking back ``LOOKBACK_IDS`` ids for late commits), and
``yidi verify`` / ``yidi audit seal`` (a full pass that finds any straggler). ``verify_chain`` checks
every sealed row; rows not yet sealed are counted (``unsealed_count``), not failed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.orm import AuditRow
from yidi.adapters.orm_audit import AuditSealRow
from yidi.logs import get_logger

if TYPE_CHECKING:
    from yidi.services.context import AppContext

log = get_logger("yidi.audit")

GENESIS = "0" * 64
SEAL_INTERVAL = 1.0  # seconds between two background sealing passes of one process
LOOKBACK_IDS = 10_000  # a background pass also looks this far below the newest seal for late commits
SEAL_BATCH = 20_000  # rows sealed per pass at most (the next pass continues)
ADVISORY_LOCK_KEY = 0x7969_6469_0001  # "yidi" + 1: one sealer at a time on PostgreSQL

_audit_log = cast(Table, AuditRow.__table__)
_seals = cast(Table, AuditSealRow.__table__)


def _digest(prev_hash: str, at: datetime, actor: str, action: str, target: str, details: dict[str, str]) -> str:
    payload = json.dumps([prev_hash, at.isoformat(), actor, action, target, details], ensure_ascii=False,
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def record(session: Session, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    """Append one audit row in the caller's transaction (one INSERT; sealed later)."""
    details = {k: str(v) for k, v in (details or {}).items()}
    at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    # prev_hash/hash columns of audit_log hold the chain of rows written before audit_0001 only
    hot_sql.INSERT_AUDIT.queue(session, {"at": at, "actor": actor, "action": action, "target": target,
                                                 "details": details, "prev_hash": "", "hash": ""})


def record_event(ctx: AppContext, actor: str, action: str, target: str,
                 details: dict[str, Any] | None = None) -> None:
    """``record`` in the context's unit of work (the caller's transaction under ``idempotency.bound_context``)."""
    with ctx.unit_of_work() as session:
        record(session, actor, action, target, details)


def seal(session: Session, *, full: bool = True, limit: int = SEAL_BATCH) -> int:
    """Chain the audit rows that have no seal yet; returns how many were sealed (0 when another
    sealer holds the lock). ``full=False`` looks only at ids near the newest seal (cheap, for the
    periodic pass); ``full=True`` looks at the whole log."""
    if session.get_bind().dialect.name == "postgresql":
        if not session.scalar(select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))):
            return 0
    head = session.execute(select(_seals.c.hash, _seals.c.audit_id).order_by(_seals.c.seq.desc()).limit(1)).first()
    prev_hash = head.hash if head else GENESIS
    unsealed = (select(_audit_log.c.id, _audit_log.c.at, _audit_log.c.actor, _audit_log.c.action,
                       _audit_log.c.target, _audit_log.c.details)
                .where(~select(_seals.c.seq).where(_seals.c.audit_id == _audit_log.c.id).exists())
                .order_by(_audit_log.c.id).limit(limit))
    if not full and head is not None:
        unsealed = unsealed.where(_audit_log.c.id > head.audit_id - LOOKBACK_IDS)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    seals = []
    for row in session.execute(unsealed):
        digest = _digest(prev_hash, row.at, row.actor, row.action, row.target, row.details)
        seals.append({"audit_id": row.id, "prev_hash": prev_hash, "hash": digest, "sealed_at": now})
        prev_hash = digest
    if seals:
        session.execute(insert(_seals), seals)
    return len(seals)


_last_pass: dict[int, float] = {}
_pass_lock = threading.Lock()


def seal_due(ctx: AppContext) -> bool:
    """True at most once per SEAL_INTERVAL per context (the caller then runs ``seal_pass``); cheap."""
    now = time.monotonic()
    with _pass_lock:
        if now - _last_pass.get(id(ctx), 0.0) < SEAL_INTERVAL:
            return False
        _last_pass[id(ctx)] = now
        return True


def seal_pass(ctx: AppContext) -> int:
    """The periodic pass, in its own transaction, run after a response has been sent (nobody waits for it).
    A failure is logged and left to the next pass: sealing is never part of a caller's answer."""
    try:
        with ctx.unit_of_work() as session:
            return seal(session, full=False)
    except Exception:  # noqa: BLE001 - e.g. the database is down; the next pass catches up
        log.warning("audit.seal_failed", exc_info=True)
        return 0


def verify_chain(session: Session) -> tuple[bool, int, int | None]:
    """(ok, sealed rows checked, first broken audit row id). Walks the seals in chain order, recomputing
    each hash from the audit row's stored content and the previous seal's hash."""
    prev = GENESIS
    count = 0
    stmt = (select(_seals.c.prev_hash, _seals.c.hash, _audit_log.c.id, _audit_log.c.at, _audit_log.c.actor,
                   _audit_log.c.action, _audit_log.c.target, _audit_log.c.details)
            .join(_audit_log, _audit_log.c.id == _seals.c.audit_id).order_by(_seals.c.seq))
    for row in session.execute(stmt):
        count += 1
        if row.prev_hash != prev or row.hash != _digest(row.prev_hash, row.at, row.actor, row.action, row.target,
                                                         row.details):
            return False, count, row.id
        prev = row.hash
    sealed = session.scalar(select(func.count()).select_from(_seals))
    if sealed != count:  # a seal whose audit row is gone (the foreign key and the triggers should prevent it)
        return False, count, None
    return True, count, None


def unsealed_count(session: Session) -> int:
    """Audit rows written but not yet chained (normal for rows of the last second or so)."""
    return int(session.execute(select(func.count()).select_from(_audit_log).where(
        ~select(_seals.c.seq).where(_seals.c.audit_id == _audit_log.c.id).exists())).scalar_one())
