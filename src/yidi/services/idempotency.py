"""Idempotency on the hospital's ``msgid`` (S3): one message, one effect, one answer.

A write transaction does the business work and then inserts the ``messages`` row (primary key msgid)
with its response, in the same database transaction. Commit makes the effect and the stored answer
durable together; a crash before commit leaves neither, so a replay after a crash re-executes from
scratch and is exact either way.

Two copies of one message in flight: both do the work, the second one's insert fails on the primary key
(after waiting for the first to commit), its whole transaction is rolled back and the caller answers from
the stored row. Only successful answers are stored: a refusal changes nothing, so resending the same
msgid after fixing the cause (e.g. after filing) runs again; a refusal caused by the first copy having
just committed (e.g. DUPLICATE_CLAIM) is answered from the stored row as well.

``bound_context`` lets an existing use case (which opens ``ctx.unit_of_work()`` itself) run inside the
caller's transaction: its unit of work becomes the caller's session.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.orm import MessageRow
from yidi.domain.errors import YidiError
from yidi.services import replay_guard
from yidi.services.context import AppContext

T = TypeVar("T")
TOMBSTONE = "reversed-before-arrival"  # body digest of a msgid taken by a 2601 that came before the original


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class Replay:
    response: dict[str, Any]


def lookup(session: Session, msgid: str, digest: str, fixmedins_code: str) -> Replay | None:
    """The stored answer for this msgid, or None when it is new. A different body (or another
    institution's message) is a conflict, never a silent second effect."""
    row = session.get(MessageRow, msgid)
    if row is None:
        return None
    if row.fixmedins_code == fixmedins_code and row.body_sha256 == TOMBSTONE:
        raise YidiError("MESSAGE_REVERSED", {"msgid": msgid})
    if row.fixmedins_code != fixmedins_code or row.body_sha256 != digest:
        raise YidiError("MSGID_CONFLICT", {"msgid": msgid})
    return Replay(row.response)


def record(session: Session, *, msgid: str, fixmedins_code: str, infno: str, digest: str,
           response: dict[str, Any]) -> None:
    """Store the answer under its msgid, in the transaction that did the work. A msgid that is already
    taken (an earlier or concurrent copy, or a 2601 tombstone) fails here on the primary key."""
    hot_sql.INSERT_MESSAGE.queue(session, {"msgid": msgid, "fixmedins_code": fixmedins_code, "infno": infno,
                                                   "body_sha256": digest, "response": response, "reversed": False})


class MsgidTaken(Exception):
    """``write_once``'s transaction was rolled back on a unique constraint: in practice the ``messages``
    primary key of a msgid an earlier or concurrent copy (or a 2601 tombstone) holds. The caller answers
    from the stored message (``stored_answer``)."""


def write_once(ctx: AppContext, *, msgid: str, fixmedins_code: str, infno: str, digest: str, seen: str | None,
               window_seconds: int, answer: Callable[[AppContext], dict[str, Any]]) -> dict[str, Any]:
    """One database transaction: the signed request's replay key ``seen`` recorded first (REQUEST_REPLAYED
    when it was), ``answer`` run with a context bound to this transaction (the business write), and its
    response stored under ``msgid``. Committed together or not at all. A unique-constraint violation (the
    msgid taken, raised inside or at commit) comes out as ``MsgidTaken``; other database errors (deadlock,
    serialisation failure) pass unchanged, for services/transactions.py to retry."""
    try:
        with ctx.unit_of_work() as session:
            if seen is not None:
                replay_guard.record_in(ctx, session, seen, window_seconds)
            response = answer(bound_context(ctx, session))
            record(session, msgid=msgid, fixmedins_code=fixmedins_code, infno=infno, digest=digest,
                   response=response)
        return response
    except IntegrityError as exc:
        if replay_guard.is_replay(exc):
            raise YidiError("REQUEST_REPLAYED", {}) from None
        raise MsgidTaken(str(exc.orig)) from exc


def stored_answer(ctx: AppContext, msgid: str, digest: str, fixmedins_code: str) -> Replay | None:
    """``lookup`` in a transaction of its own."""
    with ctx.unit_of_work() as session:
        return lookup(session, msgid, digest, fixmedins_code)


def read_recorded(ctx: AppContext, *, seen: str, window_seconds: int, answer: Callable[[AppContext], T]) -> T:
    """A call that changes nothing, answered in one database transaction with the record of its signed
    request ``seen`` (REQUEST_REPLAYED when it was recorded already): no transaction of its own for the
    replay guard."""
    try:
        with ctx.unit_of_work() as session:
            replay_guard.record_in(ctx, session, seen, window_seconds)
            return answer(bound_context(ctx, session))
    except IntegrityError as exc:
        if replay_guard.is_replay(exc):
            raise YidiError("REQUEST_REPLAYED", {}) from None
        raise


class _BoundContext(AppContext):
    """An AppContext whose unit of work is the caller's already open transaction.

    No savepoint: any error inside aborts the caller's whole transaction, which is what every caller
    here wants (a refused step changes nothing), and it saves two round trips per nested use case.
    Concurrent settlements of one person are serialised by the person-row lock before the duplicate
    check, so the unique-index race that would need a savepoint to recover from cannot arise there;
    the msgid primary-key race aborts the transaction and the caller answers from the stored message.
    """

    _session: Session

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        yield self._session


def bound_context(ctx: AppContext, session: Session) -> AppContext:
    bound = _BoundContext(engine=ctx.engine, sessions=ctx.sessions, policy=ctx.policy, demo_mode=ctx.demo_mode,
                          hooks=ctx.hooks, federation=ctx.federation)
    bound._session = session
    return bound
