"""Append-only audit log with a hash chain: each row's hash covers the previous hash (verifiable)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from yidi.adapters.orm import AuditRow

GENESIS = "0" * 64
AUDIT_CHAIN_LOCK = 0x5949_4449  # "YIDI": the advisory lock key of the chain head


def _digest(prev_hash: str, at: datetime, actor: str, action: str, target: str, details: dict) -> str:
    payload = json.dumps([prev_hash, at.isoformat(), actor, action, target, details], ensure_ascii=False,
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def record(session: Session, actor: str, action: str, target: str, details: dict | None = None) -> None:
    details = {k: str(v) for k, v in (details or {}).items()}
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appends (issue 9, found by bench/load.py): FOR UPDATE on the last row alone lets a waiting
        # writer go on with the row it first read after the holder commits, so two rows share one prev_hash and
        # the chain forks. Each statement below then sees the head the previous holder committed.
        session.execute(text("SELECT pg_advisory_xact_lock(%d)" % AUDIT_CHAIN_LOCK))
    last = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(1).with_for_update()).first()
    prev_hash = last.hash if last else GENESIS
    at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    session.add(AuditRow(at=at, actor=actor, action=action, target=target, details=details, prev_hash=prev_hash,
                         hash=_digest(prev_hash, at, actor, action, target, details)))


def verify_chain(session: Session) -> tuple[bool, int, int | None]:
    """(ok, rows checked, first broken row id)."""
    prev = GENESIS
    count = 0
    for row in session.scalars(select(AuditRow).order_by(AuditRow.id)):
        count += 1
        if row.prev_hash != prev or row.hash != _digest(row.prev_hash, row.at, row.actor, row.action, row.target,
                                                         row.details):
            return False, count, row.id
        prev = row.hash
    return True, count, None
