"""I3: every write leaves an audit row; the sealer chains them; a changed row breaks the chain (real databases)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from yidi.adapters import hot_sql
from yidi.adapters.orm import AuditRow
from yidi.services import audit
from yidi.services.filings import FileCommand, file_filing
from yidi.services.verify import seal_audit_log, verify


def _file(ctx, psn_no="P005", area="310000"):
    return file_filing(ctx, FileCommand(psn_no=psn_no, filing_type="other_temporary", basis="proof",
                                        mdtrtarea_admvs=area, begndate=date(2023, 5, 1), apply_date=date(2023, 5, 1),
                                        channel="window"))


def test_i3_writes_are_recorded_unsealed_then_sealed_in_order(ctx):
    _file(ctx)
    with ctx.unit_of_work() as session:
        assert audit.unsealed_count(session) == 1
        assert audit.verify_chain(session) == (True, 0, None)
    assert seal_audit_log(ctx) == 1
    _file(ctx, "P001", "110000")
    with ctx.unit_of_work() as session:
        assert audit.unsealed_count(session) == 1
        assert audit.seal(session) == 1
        assert audit.seal(session) == 0  # nothing left: a second pass seals nothing twice
    with ctx.unit_of_work() as session:
        assert audit.verify_chain(session) == (True, 2, None)
        assert audit.unsealed_count(session) == 0
        seals = session.execute(text("SELECT audit_id, prev_hash, hash FROM audit_seals ORDER BY seq")).all()
    assert [s.audit_id for s in seals] == [1, 2]
    assert seals[0].prev_hash == audit.GENESIS and seals[1].prev_hash == seals[0].hash


def test_i3_seals_are_append_only(ctx):
    _file(ctx)
    seal_audit_log(ctx)
    for statement in ("UPDATE audit_seals SET hash = 'x'", "DELETE FROM audit_seals"):
        with pytest.raises(DBAPIError):
            with ctx.engine.begin() as connection:
                connection.execute(text(statement))


def _without_append_only_trigger(ctx, statement: str) -> None:
    """What an attacker with DDL rights could do: drop the guard, change a row (the chain must notice)."""
    with ctx.engine.begin() as connection:
        if ctx.is_postgres:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            connection.execute(text(statement))
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text(statement))


def test_i3_a_changed_sealed_row_breaks_the_chain_and_verify_fails(ctx):
    _file(ctx)
    _file(ctx, "P001", "110000")
    assert verify(ctx).ok
    _without_append_only_trigger(ctx, "UPDATE audit_log SET actor = 'someone-else' WHERE id = 1")
    with ctx.unit_of_work() as session:
        assert audit.verify_chain(session) == (False, 1, 1)
    report = verify(ctx)
    assert not report.ok and report.checks["audit_chain"] != "ok"


@pytest.mark.postgres
def test_i3_a_late_commit_below_the_sealed_head_is_sealed_by_the_next_pass(pg_context):
    """Transaction A takes audit id 1 but commits after B (id 2) was sealed: the next pass seals id 1."""
    ctx = pg_context
    with ctx.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_seals, audit_log RESTART IDENTITY CASCADE"))
    slow = ctx.sessions()
    slow.begin()
    audit.record(slow, "a", "late", "t1")
    hot_sql.flush_queued(slow)  # the queued INSERT sent now: id 1 taken, not committed yet
    with ctx.unit_of_work() as session:
        audit.record(session, "b", "early", "t2")  # id 2
    with ctx.unit_of_work() as session:
        assert audit.seal(session, full=False) == 1
    slow.commit()
    slow.close()
    with ctx.unit_of_work() as session:
        assert audit.seal(session, full=False) == 1
        order = session.execute(text("SELECT audit_id FROM audit_seals ORDER BY seq")).scalars().all()
    assert order == [2, 1]
    with ctx.unit_of_work() as session:
        assert audit.verify_chain(session) == (True, 2, None)


@pytest.mark.postgres
def test_i3_one_sealer_at_a_time(pg_context):
    """Two sealers at once: the second finds the advisory lock taken and seals nothing (no double seals)."""
    ctx = pg_context
    with ctx.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_seals, audit_log RESTART IDENTITY CASCADE"))
    with ctx.unit_of_work() as session:
        for n in range(5):
            audit.record(session, "x", "a", f"t{n}")
    first = ctx.sessions()
    first.begin()
    assert audit.seal(first) == 5  # holds the lock until commit
    results = []
    thread = threading.Thread(target=lambda: results.append(seal_audit_log(ctx)))
    thread.start()
    thread.join(timeout=30)
    first.commit()
    first.close()
    assert results == [0]
    with ctx.unit_of_work() as session:
        assert audit.verify_chain(session) == (True, 5, None)
        assert session.scalar(select(AuditRow.id).order_by(AuditRow.id.desc()).limit(1)) == 5


def test_i3_migration_continues_the_legacy_chain(tmp_path):
    """Rows chained by writers before audit_0001 keep verifying; new rows continue their chain."""
    from datetime import datetime

    from sqlalchemy import insert

    from yidi.adapters.database import make_engine, upgrade
    from yidi.services.context import AppContext

    engine = make_engine(f"sqlite:///{tmp_path}/legacy.db")
    upgrade(engine, "reliability_0001")  # the schema as it was, without audit_seals
    prev = audit.GENESIS
    with engine.begin() as connection:
        for n in range(3):
            at = datetime(2023, 5, 1, 8, n)
            digest = audit._digest(prev, at, "clerk", "filing.apply", f"F{n}", {"n": str(n)})
            connection.execute(insert(AuditRow.__table__).values(at=at, actor="clerk", action="filing.apply",
                                                                 target=f"F{n}", details={"n": str(n)},
                                                                 prev_hash=prev, hash=digest))
            prev = digest
    upgrade(engine, "heads")
    ctx = AppContext.from_url(f"sqlite:///{tmp_path}/legacy.db", migrate=False)
    with ctx.unit_of_work() as session:
        assert audit.verify_chain(session) == (True, 3, None) and audit.unsealed_count(session) == 0
        audit.record(session, "clerk", "filing.cancel", "F0")
    assert seal_audit_log(ctx) == 1
    with ctx.unit_of_work() as session:
        assert audit.verify_chain(session) == (True, 4, None)
        assert session.execute(text("SELECT prev_hash FROM audit_seals WHERE audit_id = 4")).scalar() == prev
    ctx.engine.dispose()
    engine.dispose()
