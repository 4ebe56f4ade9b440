"""C4: agency vs finance reconciliation — 账账相符、账款相符: ledger vs settlements vs clearing transfers,
with a mismatch report naming the exact settlements that differ (seed 000 三(一), 001 七(一))."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.services._funds import cancel_on, file_all, settle_at
from yidi.adapters.orm import SettlementRow
from yidi.services import clearing, settlements
from yidi.services.finance_reconciliation import reconcile


def test_c4_a_cleared_month_reconciles_when_nothing_changed(ctx):
    file_all(ctx)
    for psn_no, day in (("P001", 3), ("P002", 4), ("P003", 5), ("P004", 6)):
        settle_at(ctx, psn_no, date(2024, 3, day))
    gone = settle_at(ctx, "P001", date(2024, 3, 7))
    cancel_on(ctx, gone, date(2024, 3, 8))
    assert reconcile(ctx, "2024-03").balanced  # before clearing: settlements vs ledger only
    clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    report = reconcile(ctx, "2024-03")
    assert report.cleared and report.balanced, report.to_dict()
    assert report.settlements_checked == 5 and report.flows_checked == 4


def test_c4_changes_after_clearing_are_reported_with_the_exact_settlements(ctx):
    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    backdated = settle_at(ctx, "P001", date(2024, 3, 4))
    untouched = settle_at(ctx, "P002", date(2024, 3, 5))
    clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    # after the run: a cancellation dated inside the cleared month, and a late settlement dated in it
    settlements.cancel(ctx, backdated, on=date(2024, 3, 31))
    late = settle_at(ctx, "P003", date(2024, 3, 20))

    report = reconcile(ctx, "2024-03")
    assert not report.balanced
    assert report.settlements_that_differ == sorted([backdated, late])
    flows = {d.flow for d in report.differences if d.setl_id is None}
    assert flows == {"410800→110000", "420100→110000"}
    assert untouched not in report.settlements_that_differ
    with ctx.unit_of_work() as session:
        late_fund = session.get(SettlementRow, late).fund_pay_sumamt
    late_line = next(d for d in report.differences if d.setl_id == late)
    assert late_line.expected_fen == late_fund and "当月" in late_line.reason
    # one insured region at a time: 德州 has nothing that changed, 武汉 only the late settlement
    assert reconcile(ctx, "2024-03", "371400").balanced
    assert reconcile(ctx, "2024-03", "420100").settlements_that_differ == [late]


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """A SQLite file that `yidi` commands use through YIDI_DATABASE_URL (settings are cached: reset them)."""
    from yidi.config import get_settings

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("YIDI_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_c4_cli_reconcile_exits_1_and_lists_the_settlement(cli_database):
    from yidi.cli import app
    from yidi.services.context import AppContext
    from yidi.services.reference import load_reference

    ctx = AppContext.from_url(cli_database)
    load_reference(ctx)
    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    changed = settle_at(ctx, "P001", date(2024, 3, 4))
    from yidi.services.accounts import NewUser, add_user

    for username in ("clerk-henan", "reviewer-henan"):
        add_user(ctx, NewUser(username, "agency", "410000"), "province-pass-1", actor="test")
    runner = CliRunner(env={"YIDI_PASSWORD": "province-pass-1"})
    asked = runner.invoke(app, ["clearing", "run", "--month", "2024-03", "--user", "clerk-henan"])
    assert asked.exit_code == 0, asked.output
    first = runner.invoke(app, ["clearing", "approve", asked.stdout.strip(), "--user", "reviewer-henan", "--json"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["clearing", "run", "--month", "2024-03", "--json"])
    assert json.loads(second.stdout)["replayed"] is True
    assert json.loads(second.stdout)["net"] == json.loads(first.stdout)["net"]
    ok = runner.invoke(app, ["clearing", "reconcile", "--month", "2024-03", "--json"])
    assert ok.exit_code == 0, ok.output
    settlements.cancel(ctx, changed, on=date(2024, 3, 30))
    bad = runner.invoke(app, ["clearing", "reconcile", "--month", "2024-03", "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["settlements_that_differ"] == [changed]
    assert runner.invoke(app, ["clearing", "verify"]).exit_code == 0
    with ctx.unit_of_work() as session:
        assert session.scalars(select(SettlementRow.status).where(SettlementRow.setl_id == changed)).one() == "cancelled"
    ctx.engine.dispose()
