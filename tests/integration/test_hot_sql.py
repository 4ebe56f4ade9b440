"""adapters/hot_sql.py: the hot-path statements behave like SQLAlchemy Core on both databases.

On PostgreSQL they run on the session's psycopg connection without SQLAlchemy's execution context, so these
check what that path must keep: every INSERT names all its columns, a constraint violation is still
``sqlalchemy.exc.IntegrityError``, a statement sees the transaction's own earlier writes, and a rolled-back
transaction leaves nothing behind.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError

from yidi.adapters import hot_sql
from yidi.adapters.orm import JournalEntryRow, PostingRow
from yidi.adapters.orm_interface import SeenRequestRow
from yidi.services import ledger
from yidi.services.context import AppContext


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
def test_the_one_statement_entry_is_still_checked_for_balance_at_commit(pg_context: AppContext) -> None:
    """The deferred balance trigger sees postings written by INSERT_ENTRY_WITH_POSTINGS like any other."""
    ctx = pg_context
    with pytest.raises(DBAPIError, match="借贷不平衡"):
        with ctx.unit_of_work() as session:
            hot_sql.INSERT_ENTRY_WITH_POSTINGS.run(session, {
                "entry_id": "S-HOTSQL-3", "kind": "settlement", "ref": "HOTSQL-3", "on_date": date(2026, 12, 3),
                "memo": "", "accounts": ["410800:统筹基金支出", "410800:应付医疗机构:H1"], "amounts": [500, -499]})
    with ctx.unit_of_work() as session:
        assert session.get(JournalEntryRow, "S-HOTSQL-3") is None
