"""C3: bank fees never come from the fund; prepayment interest belongs to the treatment region;
prepayments and temporary receipts are booked by accounting rules — on a double-entry ledger whose
entries always balance, through settle / cancel / 冲正 sequences (seed 001 四(三))."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.services._funds import ROUTES, file_all, settle_at
from yidi.adapters.orm import FilingRow, JournalEntryRow, PostingRow, SettlementRow
from yidi.domain.errors import YidiError
from yidi.services import ledger, prepayment, settlements

FUND_NAMES = [name for name, spec in ledger.CHART.items() if spec.group == ledger.FUND]
BUDGET_NAMES = [name for name, spec in ledger.CHART.items() if spec.group == ledger.BUDGET]


@given(fund_name=st.sampled_from(FUND_NAMES), budget_name=st.sampled_from(BUDGET_NAMES),
       region=st.sampled_from(["410800", "110000", "420000"]), amount=st.integers(1, 10**10))
def test_c3_a_bank_fee_posting_can_never_hit_a_fund_account(fund_name, budget_name, region, amount):
    fee_from_fund = [(ledger.account(region, budget_name), amount), (ledger.account(region, fund_name), -amount)]
    with pytest.raises(ledger.MixedFundEntry):
        ledger.check_lines("F-test", "bank_fee", fee_from_fund)
    with pytest.raises(ledger.MixedFundEntry):  # not even disguised as another kind of entry
        ledger.check_lines("X-test", "interest", fee_from_fund)
    fund_only = [(ledger.account(region, "财政专户存款"), amount), (ledger.account(region, fund_name), -amount)]
    if fund_name != "财政专户存款":
        with pytest.raises(ledger.MixedFundEntry):
            ledger.check_lines("F-test", "bank_fee", fund_only)


def test_c3_bank_fee_is_paid_from_the_agency_budget_and_interest_goes_to_the_treatment_region(ctx):
    file_all(ctx)
    settle_at(ctx, "P001", date(2023, 11, 5))
    prepayment.confirm(ctx, 2024, on=date(2024, 1, 10))
    with ctx.unit_of_work() as session:
        fund_before = {code: amount for code, amount in ledger.balances(session).items() if ledger.is_fund_account(code)}
    fee_entry = prepayment.record_bank_fee(ctx, "410000", 1_250, on=date(2024, 2, 1))
    interest_entry = prepayment.record_interest(ctx, "410000", "110000", 3_321, on=date(2024, 3, 21))
    with ctx.unit_of_work() as session:
        fee_accounts = set(session.scalars(select(PostingRow.account).where(PostingRow.entry_id == fee_entry)))
        assert fee_accounts == {"410000:经费支出:银行手续费", "410000:经费存款"}
        assert not any(ledger.is_fund_account(code) for code in fee_accounts)
        interest = dict(session.execute(select(PostingRow.account, PostingRow.amount_fen)
                                        .where(PostingRow.entry_id == interest_entry)).all())
        assert interest == {"110000:财政专户存款": 3_321, "110000:利息收入": -3_321}  # the treatment side's
        fund_after = {code: amount for code, amount in ledger.balances(session).items() if ledger.is_fund_account(code)}
        changed = {code for code in fund_after if fund_after[code] != fund_before.get(code, 0)}
        assert changed == {"110000:财政专户存款", "110000:利息收入"}  # the fee touched no fund account
    for bad in (0, -5):
        with pytest.raises(YidiError) as caught:
            prepayment.record_bank_fee(ctx, "410000", bad)
        assert caught.value.code == "INVALID_INPUT"
    with pytest.raises(YidiError) as caught:  # interest on a flow with no prepayment
        prepayment.record_interest(ctx, "370000", "310000", 100)
    assert caught.value.code == "NOT_FOUND"


def test_c3_an_unbalanced_or_unknown_account_entry_never_reaches_the_database(ctx):
    with ctx.unit_of_work() as session:
        with pytest.raises(ledger.UnbalancedEntry):
            ledger.post(session, "T-1", "test", "x", date(2024, 1, 1),
                        [("410800:财政专户存款", 100), ("410800:统筹基金支出", -99)])
    with pytest.raises(KeyError):
        ledger.account("410800", "小金库")
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(JournalEntryRow)) == 0


operations = st.lists(st.tuples(st.sampled_from(["settle", "settle", "cancel", "reverse"]),
                                st.sampled_from(sorted(ROUTES)), st.integers(0, 200), st.integers(1, 2_000_000),
                                st.booleans()), min_size=1, max_size=8)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_c3_ledger_stays_balanced_under_settle_cancel_and_reversal_sequences(ctx, ops):
    with ctx.unit_of_work() as session:  # the fixture lives across examples: file once
        filed = session.scalar(select(func.count()).select_from(FilingRow))
    if not filed:
        file_all(ctx)
    made: list[str] = []
    for action, psn_no, day, amount, local in ops:
        if action == "settle":
            try:
                made.append(settle_at(ctx, psn_no, date(2024, 1, 1) + timedelta(days=day), amount,
                                      local=local and psn_no == "P001"))
            except YidiError as exc:
                assert exc.code == "DUPLICATE_CLAIM"
        elif made:
            setl_id = made[day % len(made)]
            try:
                settlements.cancel(ctx, setl_id, on=date(2024, 8, 1) + timedelta(days=day), reversal=action == "reverse")
            except YidiError as exc:
                assert exc.code == "SETTLEMENT_ALREADY_CANCELLED"
    with ctx.unit_of_work() as session:
        assert ledger.trial_balance(session) == 0
        assert ledger.unbalanced_entries(session) == []
        assert ledger.verify(session) == []
        for row in session.scalars(select(SettlementRow)):
            expense = ledger.account(row.insuplc_admdvs, "统筹基金支出")
            net = session.scalar(select(func.coalesce(func.sum(PostingRow.amount_fen), 0))
                                 .where(PostingRow.entry_id.in_([f"S-{row.setl_id}", f"R-{row.setl_id}"]),
                                        PostingRow.account == expense))
            assert net == (row.fund_pay_sumamt if row.status == "settled" else 0)
