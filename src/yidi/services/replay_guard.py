"""Refusing a signed request seen before (issue 13): the nonce (TIF gateway headers) or the signature
(``_api_*`` headers, whose signed string holds the timestamp and the body's hash) is recorded the first
time; a second arrival within the clock window is a replay.

The record is a database row (primary key = the nonce or signature), so every worker process and every
node sharing the database agrees on "seen". Rows older than twice the window can no longer match a
request the clock check accepts, and are deleted at most once a minute per process.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from yidi.adapters.orm_interface import SeenRequestRow
from yidi.services.context import AppContext

_INSERT = insert(SeenRequestRow.__table__)
_PURGE_EVERY = 60.0


def first_sight(ctx: AppContext, key: str, window_seconds: int, now: float | None = None) -> bool:
    """Record ``key``; False when it had been recorded already (a replay)."""
    now = time.time() if now is None else now
    try:
        with ctx.unit_of_work() as session:
            session.connection().execute(_INSERT, {"key": key[:160], "seen_at": int(now)})
    except IntegrityError:
        return False
    _purge_if_due(ctx, window_seconds, now)
    return True


def _purge_if_due(ctx: AppContext, window_seconds: int, now: float) -> None:
    state = ctx.__dict__.setdefault("_replay_guard", {"purged": 0.0})
    if now - state["purged"] < _PURGE_EVERY:
        return
    state["purged"] = now
    with ctx.unit_of_work() as session:
        session.execute(delete(SeenRequestRow).where(SeenRequestRow.seen_at < int(now) - 2 * window_seconds))
