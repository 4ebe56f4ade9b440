"""Retrying a whole use-case transaction when the database chose it as the loser of a conflict.

PostgreSQL ends one of two transactions that wait for each other (deadlock, SQLSTATE 40P01) or that cannot be
serialised (40001); SQLite answers "database is locked" when its busy timeout runs out. Nothing of the loser
was written (its transaction was rolled back), so running the same use case again from the start is safe and
almost always succeeds: the winner has committed meanwhile. ``retrying`` does that a bounded number of times,
with a short jittered pause, and then answers CONCURRENT_CONFLICT (a precise code, nothing written) instead of
a generic fault. Lock order is still the first defence (settle and cancel both lock visit → person →
settlement, services/visits.py and services/settlements.py); this catches what remains (e.g. a unique index
waiting on a concurrent update of the same visit's claim).
"""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError

from yidi.domain.errors import YidiError
from yidi.logs import get_logger

CONFLICT_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
ATTEMPTS = 4
log = get_logger("yidi.transactions")
T = TypeVar("T")


def is_conflict(exc: BaseException) -> bool:
    """True for the database's "try again" answers (deadlock, serialisation failure, SQLite busy)."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    if getattr(original, "sqlstate", None) in CONFLICT_SQLSTATES:
        return True
    return "database is locked" in str(original)


def retrying(use_case: Callable[[], T], *, attempts: int = ATTEMPTS, what: str = "") -> T:
    """``use_case()`` (one whole transaction); run again when the database ended it as a conflict's loser."""
    for attempt in range(1, attempts + 1):
        try:
            return use_case()
        except DBAPIError as exc:
            if not is_conflict(exc):
                raise
            log.info("transaction.conflict_retry", what=what, attempt=attempt,
                     sqlstate=getattr(exc.orig, "sqlstate", None) or "sqlite_busy")
            if attempt < attempts:
                time.sleep(random.uniform(0.005, 0.03) * attempt)
    raise YidiError("CONCURRENT_CONFLICT", {"attempts": attempts})
