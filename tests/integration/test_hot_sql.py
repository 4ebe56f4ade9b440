"""adapters/hot_sql.py: the hot-path statements behave like SQLAlchemy Core on both databases.

On PostgreSQL they run on the session's psycopg connection without SQLAlchemy's execution context, so these
check what that path must keep: every INSERT names all its columns, a constraint violation is still
``sqlalchemy.exc.IntegrityError``, a statement sees the transaction's own earlier writes, and a rolled-back
transaction leaves nothing behind.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError

from yidi.adapters import hot_sql
from yidi.adapters.orm import AuditRow, FeeDetailRow, JournalEntryRow, PersonRow, PostingRow
from yidi.adapters.orm_interface import SeenRequestRow
from yidi.services import ledger
from yidi.services.context import AppContext
from yidi.services.reference import load_reference


def test_every_hot_statement_compiles_for_postgresql_without_python_side_defaults() -> None:
    dialect = psycopg_dialect()
    dialect.server_version_info = (16, 0)
    for statement in hot_sql.ALL:
        compiled = statement.compiled_for(dialect)  # raises when an INSERT leaves a Python-side default unset
        assert "POSTCOMPILE" not in compiled.sql  # no expanding IN: the SQL text is the same on every call


def test_records_follow_the_columns_they_are_read_from() -> None:
    stay = hot_sql.SELECT_STAY[False].statement
    names = [column.key for column in stay.selected_columns]  # type: ignore[attr-defined]
    assert tuple(names[hot_sql.VISIT_SLICE]) == hot_sql.VisitRecord._fields
    assert tuple(names[hot_sql.PERSON_SLICE]) == hot_sql.PersonRecord._fields
    assert tuple(names[hot_sql.PERSON_SLICE.stop:]) == hot_sql.FeeRecord._fields
    facts = hot_sql.SELECT_PERSON_FACTS[True].statement
    names = [column.key for column in facts.selected_columns]  # type: ignore[attr-defined]
    assert tuple(names[hot_sql.FILING_SLICE]) == hot_sql.FilingRecord._fields
    assert names[0] == "used_fen" and names[-1] == "paid_setl_id"


def test_a_duplicate_key_is_an_integrity_error_and_the_transaction_rolls_back(ctx: AppContext) -> None:
    with ctx.unit_of_work() as session:
        hot_sql.INSERT_SEEN_REQUEST.run(session, {"key": "hot-sql-1", "seen_at": 1})
    with pytest.raises(IntegrityError):
        with ctx.unit_of_work() as session:
            hot_sql.INSERT_SEEN_REQUEST.run(session, {"key": "hot-sql-2", "seen_at": 2})
            hot_sql.INSERT_SEEN_REQUEST.run(session, {"key": "hot-sql-1", "seen_at": 3})
    with ctx.unit_of_work() as session:
        keys = set(session.scalars(select(SeenRequestRow.key).where(SeenRequestRow.key.like("hot-sql-%"))))
    assert keys == {"hot-sql-1"}  # the second transaction left nothing


def test_hot_and_core_statements_share_one_transaction(ctx: AppContext) -> None:
    with ctx.unit_of_work() as session:
        hot_sql.INSERT_SEEN_REQUEST.run(session, {"key": "hot-sql-shared", "seen_at": 5})
        assert session.scalar(select(SeenRequestRow.seen_at).where(SeenRequestRow.key == "hot-sql-shared")) == 5
        session.add(SeenRequestRow(key="hot-sql-orm", seen_at=6))
        session.flush()
        assert hot_sql.SELECT_PERSON[False].first(session, {"psn_no": "no-such-person"}) is None
    with ctx.unit_of_work() as session:
        assert session.get(SeenRequestRow, "hot-sql-orm") is not None


def test_a_settlement_entry_is_written_with_its_postings_in_line_order(ctx: AppContext) -> None:
    """ledger.post_many of one entry: on PostgreSQL one statement (INSERT_ENTRY_WITH_POSTINGS), on SQLite the
    two INSERTs — the same rows either way, postings in the order of the lines."""
    lines = [("410800:统筹基金支出", 700), ("410800:个人账户支出", 300), ("410800:应付医疗机构:H1", -1000)]
    with ctx.unit_of_work() as session:
        ledger.post_many(session, [ledger.Entry("S-HOTSQL-1", "settlement", "HOTSQL-1", date(2026, 12, 3), lines,
                                                "memo")])
    with ctx.unit_of_work() as session:
        entry = session.get(JournalEntryRow, "S-HOTSQL-1")
        assert entry is not None and (entry.kind, entry.ref, entry.on_date, entry.memo) == (
            "settlement", "HOTSQL-1", date(2026, 12, 3), "memo")
        rows = session.execute(select(PostingRow.account, PostingRow.amount_fen)
                               .where(PostingRow.entry_id == "S-HOTSQL-1").order_by(PostingRow.id)).all()
    assert [tuple(row) for row in rows] == lines


def test_an_entry_id_taken_already_leaves_no_posting_behind(ctx: AppContext) -> None:
    lines = [("410800:统筹基金支出", 500), ("410800:应付医疗机构:H1", -500)]
    with ctx.unit_of_work() as session:
        ledger.post_many(session, [ledger.Entry("S-HOTSQL-2", "settlement", "HOTSQL-2", date(2026, 12, 3), lines)])
    with pytest.raises(IntegrityError):
        with ctx.unit_of_work() as session:
            ledger.post_many(session, [ledger.Entry("S-HOTSQL-2", "settlement", "X", date(2026, 12, 3), lines)])
    with ctx.unit_of_work() as session:
        count = session.scalar(select(func.count()).select_from(PostingRow).where(PostingRow.entry_id == "S-HOTSQL-2"))
    assert count == 2


@pytest.mark.postgres
def test_queued_entry_and_postings_are_still_checked_for_balance_at_commit(pg_context: AppContext) -> None:
    """The deferred balance trigger sees postings written by the queued INSERT_POSTING_LINES like any other."""
    ctx = pg_context
    with pytest.raises(DBAPIError, match="借贷不平衡"):
        with ctx.unit_of_work() as session:
            hot_sql.INSERT_JOURNAL_ENTRY.queue(session, {"entry_id": "S-HOTSQL-3", "kind": "settlement",
                                                         "ref": "HOTSQL-3", "on_date": date(2026, 12, 3), "memo": ""})
            hot_sql.INSERT_POSTING_LINES.queue(session, {
                "entry_id": "S-HOTSQL-3", "account": ["410800:统筹基金支出", "410800:应付医疗机构:H1"],
                "amount_fen": [500, -499]})
    with ctx.unit_of_work() as session:
        assert session.get(JournalEntryRow, "S-HOTSQL-3") is None


def _seen(session, key: str) -> int | None:
    return session.scalar(select(SeenRequestRow.seen_at).where(SeenRequestRow.key == key))


def test_queued_writes_are_sent_before_the_next_statement_of_any_kind(ctx: AppContext) -> None:
    """A queued write is never overtaken: a later hot read, ORM query, ``session.get`` or flush sees it."""
    with ctx.unit_of_work() as session:
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-1", "seen_at": 11})
        assert hot_sql.SELECT_PERSON[False].first(session, {"psn_no": "no-such-person"}) is None
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-2", "seen_at": 12})
        assert _seen(session, "queued-2") == 12  # an ORM/Core query through the session
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-3", "seen_at": 13})
        assert session.get(SeenRequestRow, "queued-3") is not None
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-4", "seen_at": 14})
        session.add(SeenRequestRow(key="queued-orm", seen_at=15))
        session.flush()
        assert _seen(session, "queued-4") == 14 and _seen(session, "queued-1") == 11
    with ctx.unit_of_work() as session:
        assert {_seen(session, f"queued-{n}") for n in (1, 2, 3, 4, "orm")} == {11, 12, 13, 14, 15}


def test_queued_writes_of_a_rolled_back_transaction_are_never_sent(ctx: AppContext) -> None:
    with pytest.raises(RuntimeError):
        with ctx.unit_of_work() as session:
            hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-lost", "seen_at": 1})
            raise RuntimeError("refused before commit")
    for _ in range(3):  # the next transactions (on the same pooled connection) carry nothing over
        with ctx.unit_of_work() as session:
            hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": f"queued-next-{_}", "seen_at": 2})
    with ctx.unit_of_work() as session:
        assert _seen(session, "queued-lost") is None and _seen(session, "queued-next-2") == 2


def test_a_queued_write_that_violates_a_key_fails_its_commit_and_leaves_nothing(ctx: AppContext) -> None:
    with ctx.unit_of_work() as session:
        hot_sql.INSERT_SEEN_REQUEST.run(session, {"key": "queued-taken", "seen_at": 1})
    with pytest.raises(IntegrityError):
        with ctx.unit_of_work() as session:
            hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-other", "seen_at": 2})
            hot_sql.INSERT_AUDIT.queue(session, {"at": datetime(2026, 12, 3, 8), "actor": "t", "action": "queued",
                                                 "target": "queued-taken", "details": {}, "prev_hash": "", "hash": ""})
            hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-taken", "seen_at": 3})
    with ctx.unit_of_work() as session:
        assert _seen(session, "queued-other") is None and _seen(session, "queued-taken") == 1
        assert session.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "queued")) == 0


@pytest.mark.postgres
def test_queued_writes_go_as_one_statement_with_numbered_placeholders(pg_context: AppContext) -> None:
    """On PostgreSQL the queue is one WITH statement (its text built once per sequence, so psycopg prepares it),
    fee lines of any number go in one unnest INSERT, in order, NULL columns included."""
    ctx = pg_context
    load_reference(ctx)
    statements: list[str] = []
    with ctx.unit_of_work() as session:
        psn_no = session.scalar(select(PersonRow.psn_no).limit(1))
        hot_sql.INSERT_VISIT_OF_PERSON[False, False].run(session, {
            "psn_no": psn_no, "mdtrt_id": "HOTSQL-V1", "fixmedins_code": "H11000000001", "med_type": "11",
            "begntime": date(2026, 12, 3), "endtime": None, "dise_codg": None, "emergency": False,
            "trauma_no_third_party": None, "state": "registered", "mdtrt_cert_type": "02"})
        cursor = hot_sql._link(session).cursor
        execute = cursor.execute
        cursor.execute = lambda sql, params=None: (statements.append(sql), execute(sql, params))[1]
        lines = {"feedetl_sn": ["1", "2", "3"], "init_feedetl_sn": [None, None, None],
                 "med_list_codg": ["X007", "X004", "X007"], "name": ["a", "b", "c"], "cnt": ["1", "2", "1"],
                 "pric_fen": [None, None, None], "det_item_fee_sumamt_fen": [300, 200, 100],
                 "fee_ocur_time": [None, date(2026, 12, 3), None], "active": [True, True, True]}
        hot_sql.INSERT_FEE_LINES.queue(session, {"mdtrt_id": "HOTSQL-V1", **lines})
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-pg", "seen_at": 1})
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-pg-2", "seen_at": 2})
    assert len(statements) == 1 and statements[0].startswith("WITH q0 AS (INSERT INTO fee_details")
    assert "%(" not in statements[0] and "$1" in statements[0]
    again = hot_sql._combined((hot_sql.INSERT_FEE_LINES, hot_sql.INSERT_SEEN_REQUEST, hot_sql.INSERT_SEEN_REQUEST),
                              ctx.engine.dialect)
    assert again is hot_sql._combined((hot_sql.INSERT_FEE_LINES, hot_sql.INSERT_SEEN_REQUEST,
                                       hot_sql.INSERT_SEEN_REQUEST), ctx.engine.dialect)
    with ctx.unit_of_work() as session:
        rows = session.execute(select(FeeDetailRow.feedetl_sn, FeeDetailRow.det_item_fee_sumamt_fen,
                                      FeeDetailRow.pric_fen, FeeDetailRow.fee_ocur_time)
                               .where(FeeDetailRow.mdtrt_id == "HOTSQL-V1").order_by(FeeDetailRow.id)).all()
        assert [tuple(row) for row in rows] == [("1", 300, None, None), ("2", 200, None, date(2026, 12, 3)),
                                                ("3", 100, None, None)]
        assert _seen(session, "queued-pg") == 1 and _seen(session, "queued-pg-2") == 2


@pytest.mark.postgres
def test_a_rolled_back_savepoint_drops_its_own_queued_writes_only(pg_context: AppContext) -> None:
    """PostgreSQL, where writes are queued (SQLite runs them at once)."""
    ctx = pg_context
    with ctx.unit_of_work() as session:
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-before-savepoint", "seen_at": 1})
        savepoint = session.begin_nested()
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-in-savepoint", "seen_at": 2})
        savepoint.rollback()
        hot_sql.INSERT_SEEN_REQUEST.queue(session, {"key": "queued-after-savepoint", "seen_at": 3})
    with ctx.unit_of_work() as session:
        assert _seen(session, "queued-before-savepoint") == 1 and _seen(session, "queued-after-savepoint") == 3
        assert _seen(session, "queued-in-savepoint") is None
