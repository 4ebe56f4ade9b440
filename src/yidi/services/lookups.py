"""Per-process caches of reference rows the hospital interface reads on every call.

An institution (code, region, level, networked) changes a few times a year; reading it on every call
costs a statement. ``institution`` keeps a found row for ``TTL`` seconds per database engine (two
databases never share entries); a code that is not found is never cached, so a newly loaded
institution is usable at once, and a change (e.g. ``networked`` switched off) takes effect within TTL.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.orm import Session

from yidi.adapters.orm import InstitutionRow
from yidi.domain.errors import YidiError

TTL = 30.0  # seconds

_institutions = InstitutionRow.__table__
_SELECT_INSTITUTION = select(_institutions.c.fixmedins_code, _institutions.c.name, _institutions.c.admdvs,
                             _institutions.c.level, _institutions.c.networked, _institutions.c.kind).where(
    _institutions.c.fixmedins_code == bindparam("code"))


@dataclass(frozen=True)
class Institution:
    """What the settlement needs of an institution (same attribute names as InstitutionRow)."""

    fixmedins_code: str
    name: str
    admdvs: str
    level: int
    networked: bool
    kind: str


_cache: "weakref.WeakKeyDictionary[Engine | Connection, dict[str, tuple[float, Institution]]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def institution(session: Session, code: str) -> Institution:
    """A networked institution by code (UNKNOWN_INSTITUTION otherwise), cached for TTL seconds."""
    engine = session.get_bind()
    now = time.monotonic()
    found: Institution | None
    with _lock:
        entries = _cache.setdefault(engine, {})
        cached = entries.get(code)
    if cached is not None and now - cached[0] < TTL:
        found = cached[1]
    else:
        row = session.connection().execute(_SELECT_INSTITUTION, {"code": code}).first() if code else None
        found = Institution(*row) if row is not None else None
        if found is not None:
            with _lock:
                if len(entries) > 10_000:
                    entries.clear()
                entries[code] = (now, found)
    if found is None or not found.networked:
        raise YidiError("UNKNOWN_INSTITUTION", {"key": code})
    return found
