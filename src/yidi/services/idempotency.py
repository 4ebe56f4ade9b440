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
from typing import Any, Iterator

from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.orm import MessageRow
from yidi.domain.errors import YidiError
from yidi.services.context import AppContext

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
    hot_sql.INSERT_MESSAGE.run(session, {"msgid": msgid, "fixmedins_code": fixmedins_code, "infno": infno,
                                                   "body_sha256": digest, "response": response, "reversed": False})


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
