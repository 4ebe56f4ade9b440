"""The database itself guards the ledger (C3): on real PostgreSQL a deferred constraint trigger refuses
an unbalanced entry at commit, and triggers refuse UPDATE/DELETE of postings and journal entries; on
SQLite the append-only triggers are the same."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import exc, func, select, text

from yidi.adapters.orm import JournalEntryRow, PostingRow
from yidi.services import ledger


def _entry(session, entry_id: str, lines: list[tuple[str, int]]) -> None:
    """Write around services/ledger.post on purpose: only the database stands in the way here."""
    session.add(JournalEntryRow(entry_id=entry_id, kind="test", ref="x", on_date=date(2024, 1, 1), memo=""))
    session.flush()
    session.add_all([PostingRow(entry_id=entry_id, account=code, amount_fen=amount) for code, amount in lines])
    session.flush()


@pytest.mark.postgres
def test_c3_postgres_refuses_an_unbalanced_entry_at_commit(pg_context):
    ctx = pg_context
    with pytest.raises(exc.DBAPIError) as caught:
        with ctx.unit_of_work() as session:
            _entry(session, "T-UNBALANCED", [("410800:财政专户存款", 100), ("410800:统筹基金支出", -99)])
    assert "借贷不平衡" in str(caught.value)
    with ctx.unit_of_work() as session:
        assert session.get(JournalEntryRow, "T-UNBALANCED") is None
        # postings of one entry written in several statements balance at commit: the check is deferred
        _entry(session, "T-SPLIT", [("410800:财政专户存款", 100)])
        session.add(PostingRow(entry_id="T-SPLIT", account="410800:统筹基金支出", amount_fen=-100))
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.sum(PostingRow.amount_fen)).where(PostingRow.entry_id == "T-SPLIT")) == 0


@pytest.mark.postgres
def test_c3_postgres_ledger_is_append_only(pg_context):
    ctx = pg_context
    with ctx.unit_of_work() as session:
        ledger.post(session, "T-KEEP", "test", "x", date(2024, 1, 1),
                    [("410800:财政专户存款", 500), ("410800:统筹基金支出", -500)])
    for statement in ("UPDATE postings SET amount_fen = 0 WHERE entry_id = 'T-KEEP'",
                      "DELETE FROM postings WHERE entry_id = 'T-KEEP'",
                      "UPDATE journal_entries SET memo = 'changed' WHERE entry_id = 'T-KEEP'",
                      "DELETE FROM journal_entries WHERE entry_id = 'T-KEEP'"):
        with pytest.raises(exc.DBAPIError) as caught:
            with ctx.engine.begin() as connection:
                connection.execute(text(statement))
        assert "只能追加" in str(caught.value)
    with ctx.unit_of_work() as session:
        amounts = sorted(session.scalars(select(PostingRow.amount_fen).where(PostingRow.entry_id == "T-KEEP")))
        assert amounts == [-500, 500]
        assert session.get(JournalEntryRow, "T-KEEP").memo == ""


def test_c3_sqlite_ledger_is_append_only(sqlite_ctx):
    with sqlite_ctx.unit_of_work() as session:
        ledger.post(session, "T-KEEP", "test", "x", date(2024, 1, 1),
                    [("410800:财政专户存款", 500), ("410800:统筹基金支出", -500)])
    for statement in ("UPDATE postings SET amount_fen = 0", "DELETE FROM postings",
                      "UPDATE journal_entries SET memo = 'changed'", "DELETE FROM journal_entries"):
        with pytest.raises(exc.DBAPIError) as caught:
            with sqlite_ctx.engine.begin() as connection:
                connection.execute(text(statement))
        assert "只能追加" in str(caught.value)
    with sqlite_ctx.unit_of_work() as session:
        assert ledger.verify(session) == [] and ledger.trial_balance(session) == 0
        # SQLite cannot defer a check to commit: an unbalanced entry written around the service is
        # caught by verify (`yidi clearing verify`)
        _entry(session, "T-BAD", [("410800:财政专户存款", 7)])
        assert ledger.verify(session) == ["分录 T-BAD 借贷不平衡"]
