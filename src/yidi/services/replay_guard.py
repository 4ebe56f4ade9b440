"""Refusing a signed request seen before (issue 13): the nonce (TIF gateway headers) or the signature
(``_api_*`` headers, whose signed string holds the timestamp and the body's hash) is recorded the first
time; a second arrival within the clock window is a replay.

The record is a database row (primary key = the nonce or signature), so every worker process and every
node sharing the database agrees on "seen". Rows older than twice the window can no longer match a
request the clock check accepts, and are deleted at most once a minute per process. A write call records
its key in its own transaction (``record_in``: no extra commit on the hot path); a read, or a write that was
refused (its transaction rolled back), records it on its own (``first_sight``).
"""

from __future__ import annotations

import time

from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.orm_interface import SeenRequestRow
from yidi.domain.errors import YidiError
from yidi.services.context import AppContext

_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")
_PURGE_EVERY = 60.0


def first_sight(ctx: AppContext, key: str, window_seconds: int, now: float | None = None) -> bool:
    """Record ``key``; False when it had been recorded already (a replay)."""
    now = time.time() if now is None else now
    try:
        with ctx.unit_of_work() as session:
            connection = session.connection()
            if ctx.is_postgres:  # no fsync wait for this row: a crash forgets at most the last few nonces
                connection.execute(_ASYNC_COMMIT)
            hot_sql.INSERT_SEEN_REQUEST.run(session, {"key": key[:160], "seen_at": int(now)})
    except IntegrityError:
        return False
    _purge_if_due(ctx, window_seconds, now)
    return True


def record_in(ctx: AppContext, session: Session, key: str, window_seconds: int, now: float | None = None) -> None:
    """Record ``key`` inside the caller's transaction (no transaction of its own). On PostgreSQL the INSERT rides
    along with the transaction's next statement (adapters/hot_sql.py: one round trip fewer), so a key recorded
    already fails that statement, before any business work — the caller turns it into REQUEST_REPLAYED
    (``is_replay``) and its transaction is rolled back. On SQLite it runs here and raises REQUEST_REPLAYED."""
    now = time.time() if now is None else now
    try:
        hot_sql.INSERT_SEEN_REQUEST.ride_along(session, {"key": key[:160], "seen_at": int(now)})
    except IntegrityError:
        raise YidiError("REQUEST_REPLAYED", {}) from None
    _purge_if_due(ctx, window_seconds, now, session)


def is_replay(exc: IntegrityError) -> bool:
    """The violated key is a replay record's (its table's primary key), e.g. raised by the statement a
    ``record_in`` rode along with."""
    table = SeenRequestRow.__tablename__
    diag = getattr(exc.orig, "diag", None)  # psycopg: the table PostgreSQL names
    if diag is not None:
        return getattr(diag, "table_name", None) == table
    return f"{table}.key" in str(exc.orig)  # SQLite: "UNIQUE constraint failed: <table>.key"


def _purge_if_due(ctx: AppContext, window_seconds: int, now: float, session: Session | None = None) -> None:
    """Delete what can no longer match, at most once a minute per process — in the caller's transaction when
    there is one (a second transaction would wait for the caller's own write lock on SQLite)."""
    state = ctx.__dict__.setdefault("_replay_guard", {"purged": 0.0})
    if now - state["purged"] < _PURGE_EVERY:
        return
    state["purged"] = now
    purge = delete(SeenRequestRow).where(SeenRequestRow.seen_at < int(now) - 2 * window_seconds)
    if session is not None:
        session.execute(purge)
        return
    with ctx.unit_of_work() as own:
        own.execute(purge)
