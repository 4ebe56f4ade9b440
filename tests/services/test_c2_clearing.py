"""C2: national 清分 by province pair, province → city clearing, monthly, in full; idempotent runs;
a settlement cancelled after its month was cleared is carried into the next month (seed 001 四(二))."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.services._funds import cancel_on, file_all, settle_at
from yidi.adapters import analytics
from yidi.adapters.orm import PostingRow, SettlementRow
from yidi.domain.clearing import contribution, month_bounds, province_transfers
from yidi.domain.errors import YidiError
from yidi.services import clearing, ledger


def _postings(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(PostingRow))


def _expected_by_flow(ctx, start: date, end: date) -> dict[tuple[str, str], int]:
    """The month's settled fund amounts per flow, summed in plain Python from the settlement rows."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with ctx.unit_of_work() as session:
        for row in session.scalars(select(SettlementRow)):
            if row.kind != "direct" or row.insuplc_admdvs == row.mdtrtarea_admvs:
                continue
            part = contribution(row.setl_date, row.cancelled_on, start, end)
            if part:
                totals[(row.insuplc_admdvs, row.mdtrtarea_admvs)] += ledger.cleared_amount(row) * (
                    1 if part == "current" else -1)
    return dict(totals)


def test_c2_clearing_totals_equal_settled_fund_amounts_by_flow(ctx):
    file_all(ctx)
    for day in (1, 5, 9, 30):
        settle_at(ctx, "P001", date(2024, 3, day))  # 焦作 → 北京 (cross-province)
    settle_at(ctx, "P002", date(2024, 3, 7))  # 德州 → 上海
    settle_at(ctx, "P003", date(2024, 3, 8))  # 武汉 → 北京
    settle_at(ctx, "P004", date(2024, 3, 9))  # 焦作 → 郑州 (same province)
    settle_at(ctx, "P001", date(2024, 3, 10), local=True)  # local: never cleared
    settle_at(ctx, "P001", date(2024, 4, 1))  # next month
    cancelled = settle_at(ctx, "P002", date(2024, 3, 11))
    cancel_on(ctx, cancelled, date(2024, 3, 20))  # cancelled inside the month: never reaches clearing

    statement = clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 2))

    expected = _expected_by_flow(ctx, *month_bounds("2024-03"))
    assert {(f.insuplc_admdvs, f.mdtrtarea_admvs): f.net_fen for f in statement.flows} == expected
    assert set(expected) == {("410800", "110000"), ("371400", "310000"), ("420100", "110000"), ("410800", "410100")}
    by_flow = {(f.insuplc_admdvs, f.mdtrtarea_admvs): f for f in statement.flows}
    assert by_flow[("410800", "110000")].current_count == 4
    # national 清分: province pairs are exactly the cross-province flows rolled up; 焦作→郑州 stays in 河南
    transfers = {(t.from_province, t.to_province): t.net_fen for t in statement.transfers}
    assert transfers == {("410000", "110000"): expected[("410800", "110000")],
                         ("370000", "310000"): expected[("371400", "310000")],
                         ("420000", "110000"): expected[("420100", "110000")]}
    assert sum(statement.province_positions.values()) == 0
    # city statements: what each city pays equals what the others receive from it
    assert statement.city_statement("410800")["payable_fen"] == expected[("410800", "110000")] + expected[
        ("410800", "410100")]
    assert statement.city_statement("110000")["receivable_fen"] == expected[("410800", "110000")] + expected[
        ("420100", "110000")]
    # the ledger: the month's 清算往来 is settled, and it all still balances
    with ctx.unit_of_work() as session:
        assert ledger.balance(session, "410800:异地清算应付:110000", until=date(2024, 3, 31)) == 0
        assert ledger.balance(session, "110000:异地清算应收:410800", until=date(2024, 3, 31)) == 0
        assert ledger.balance(session, "110000:财政专户存款") == expected[("410800", "110000")] + expected[
            ("420100", "110000")]
        assert ledger.verify(session) == [] and ledger.trial_balance(session) == 0


def test_c2_rerunning_a_month_returns_the_same_statement_and_posts_nothing(ctx):
    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    settle_at(ctx, "P004", date(2024, 3, 4))
    first = clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 2))
    postings = _postings(ctx)
    settle_at(ctx, "P003", date(2024, 3, 5))  # arrives after the run: it does not change the stored run
    postings_after_late = _postings(ctx)
    second = clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 3))
    assert not first.replayed and second.replayed
    assert second.flows == first.flows
    assert second.to_dict()["net"] == first.to_dict()["net"]
    assert _postings(ctx) == postings_after_late > postings
    assert [run["month"] for run in clearing.list_runs(ctx)] == ["2024-03"]


def test_c2_settlement_cancelled_after_its_month_was_cleared_is_carried_into_the_next_month(ctx):
    file_all(ctx)
    kept = settle_at(ctx, "P001", date(2024, 3, 3))
    late_cancel = settle_at(ctx, "P001", date(2024, 3, 4), amount_fen=300_000)
    march = clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    cancel_on(ctx, late_cancel, date(2024, 4, 10), reversal=True)  # 冲正 after March was cleared
    april_new = settle_at(ctx, "P001", date(2024, 4, 12), amount_fen=200_000)
    april = clearing.run_clearing(ctx, "2024-04", today=date(2024, 5, 1))

    with ctx.unit_of_work() as session:
        amount = {r.setl_id: ledger.cleared_amount(r) for r in session.scalars(select(SettlementRow))}
    assert march.flows[0].net_fen == amount[kept] + amount[late_cancel]
    flow = april.flows[0]
    assert (flow.current_count, flow.current_fen) == (1, amount[april_new])
    assert (flow.adjustment_count, flow.adjustment_fen) == (1, -amount[late_cancel])
    with ctx.unit_of_work() as session:  # over both months the insured city paid exactly what stands
        assert ledger.balance(session, "410800:财政专户存款") == -(amount[kept] + amount[april_new])
        assert ledger.balance(session, "410800:异地清算应付:110000") == 0


def test_c2_a_month_that_has_not_ended_cannot_be_cleared_and_bad_months_are_refused(ctx):
    with pytest.raises(YidiError) as caught:
        clearing.run_clearing(ctx, "2024-03", today=date(2024, 3, 31))
    assert caught.value.code == "CLEARING_MONTH_OPEN"
    for month in ("2024-13", "2024-3", "march", ""):
        with pytest.raises(YidiError) as caught:
            clearing.run_clearing(ctx, month, today=date(2030, 1, 1))
        assert caught.value.code == "INVALID_INPUT"
    assert clearing.list_runs(ctx) == [] and _postings(ctx) == 0


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 120), st.one_of(st.none(), st.integers(0, 150)),
                               st.integers(1, 10**9)), max_size=40),
       month_offset=st.integers(0, 3))
def test_c2_duckdb_clearing_rule_matches_the_rule_one_settlement_at_a_time(rows, month_offset):
    """The SQL that clears national volume and the per-settlement rule used by reconciliation agree."""
    base = date(2024, 1, 1)
    setl = [base + timedelta(days=d) for d, _, _ in rows]
    cancelled = [None if c is None else s + timedelta(days=c) for s, (_, c, _) in zip(setl, rows)]
    month = f"2024-{1 + month_offset:02d}"
    start, end = month_bounds(month)
    expected_current = sum(a for s, c, (_, _, a) in zip(setl, cancelled, rows) if contribution(s, c, start, end) == "current")
    expected_adjustment = -sum(a for s, c, (_, _, a) in zip(setl, cancelled, rows)
                               if contribution(s, c, start, end) == "adjustment")
    n = len(rows)
    frame = {  # noqa: F841 - scanned by DuckDB by name
        "kind": np.array(["direct"] * n, dtype=object), "insuplc_admdvs": np.array(["410800"] * n, dtype=object),
        "mdtrtarea_admvs": np.array(["110000"] * n, dtype=object),
        "setl_date": np.array(setl, dtype="datetime64[D]").astype("datetime64[s]"),
        "cancelled_on": np.array(cancelled, dtype="datetime64[D]").astype("datetime64[s]"),
        "fund_pay_sumamt": np.array([a for _, _, a in rows], dtype=np.int64),
        "acct_pay": np.zeros(n, dtype=np.int64)}
    duck = duckdb.connect()
    duck.execute(analytics.DDL)
    if n:
        duck.execute(f"INSERT INTO settlements ({', '.join(frame)}) SELECT * FROM frame")
    result = analytics.clearing_flows(duck, start, end)
    got_current = sum(r[3] for r in result)
    got_adjustment = sum(r[5] for r in result)
    assert (got_current, got_adjustment) == (expected_current, expected_adjustment)


def test_c2_statements_export_to_csv_and_excel_with_chinese_headers(ctx, tmp_path):
    from openpyxl import load_workbook

    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    settle_at(ctx, "P002", date(2024, 3, 4))
    statement = clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    paths = clearing.export_csv(statement, tmp_path / "csv")
    names = sorted(p.name for p in paths)
    assert "清算单-2024-03.csv" in names and "省级划拨-2024-03.csv" in names
    assert "市级清算单-2024-03-410800.csv" in names and "市级清算单-2024-03-310000.csv" in names
    with (tmp_path / "csv" / "省级划拨-2024-03.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "划出省（参保省）"
    assert {(r[0], r[2], r[7]) for r in rows[1:]} == {
        (t["from_province"], t["to_province"], t["net"]) for t in statement.to_dict()["province_transfers"]}
    workbook = load_workbook(clearing.export_xlsx(statement, tmp_path / "清算单.xlsx"))
    assert workbook.sheetnames[:2] == ["清算单", "省级划拨"]
    assert workbook["清算单"]["H1"].value == "当月金额（元）"
    from decimal import Decimal

    assert sum(Decimal(str(row[10].value)) for row in workbook["清算单"].iter_rows(min_row=2)) == Decimal(
        statement.to_dict()["net"])
    assert len(province_transfers(statement.flows)) == workbook["省级划拨"].max_row - 1


def test_c2_two_clearing_runs_of_one_month_at_the_same_time_post_once(ctx):
    import threading

    file_all(ctx)
    for psn_no, day in (("P001", 3), ("P002", 4), ("P003", 5), ("P004", 6)):
        settle_at(ctx, psn_no, date(2024, 3, day))
    before = _postings(ctx)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 2 and results[0].flows == results[1].flows
    assert sorted(r.replayed for r in results) == [False, True]  # one posted, the other found its run
    assert _postings(ctx) == before + 4 * len(results[0].flows)
    with ctx.unit_of_work() as session:
        assert ledger.verify(session) == []
