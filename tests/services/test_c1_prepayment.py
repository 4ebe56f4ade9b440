"""C1: by end of January, prepayment = 2 × the monthly average of last year's Q4 settled fund amounts,
per insured → treatment flow (province level across provinces); the adjustment is confirmed (seed 001 四(一))."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.services._funds import cancel_on, file_all, settle_at
from yidi.adapters.orm import PostingRow, SettlementRow
from yidi.domain.clearing import allocate, prepayment_amount, prepayment_flow
from yidi.services import ledger, prepayment


def test_c1_prepayment_worked_by_hand():
    # Q4 2023 of one flow: October 1000.00 + November 1200.50 + December 800.01 = 3000.51 yuan = 300051 fen.
    # Monthly average = 300051 / 3 = 100017 fen; × 2 = 200034 fen = 2000.34 yuan.
    assert prepayment_amount(100_000 + 120_050 + 80_001) == 200_034
    # 100.00 yuan: average 33.333…, × 2 = 66.666… → half-up to the fen = 66.67 yuan.
    assert prepayment_amount(10_000) == 6_667
    # 0.01 yuan: 2 × 0.01 / 3 = 0.00666… → 0.01 yuan (half-up);  0.00 stays 0.
    assert prepayment_amount(1) == 1 and prepayment_amount(0) == 0
    # flows: across provinces the provinces prepay each other; inside a province the cities do
    assert prepayment_flow("410800", "110000") == ("410000", "110000")
    assert prepayment_flow("410800", "410100") == ("410800", "410100")


@given(total=st.integers(0, 10**12), weights=st.dictionaries(st.sampled_from(["410800", "410100", "411000"]),
                                                              st.integers(0, 10**9), min_size=1))
def test_c1_province_prepayment_shared_among_cities_adds_up_exactly(total, weights):
    shares = allocate(total, weights)
    assert set(shares) == set(weights)
    if any(weight > 0 for weight in weights.values()):
        assert sum(shares.values()) == total
        weight_sum = sum(weights.values())
        for city, weight in weights.items():  # each share is within one fen of its exact proportion
            assert abs(shares[city] * weight_sum - total * weight) <= weight_sum


def _fund(ctx, setl_id: str) -> int:
    with ctx.unit_of_work() as session:
        return ledger.cleared_amount(session.get(SettlementRow, setl_id))


def test_c1_prepay_plan_shows_the_adjustment_and_confirm_posts_it_once(ctx):
    file_all(ctx)
    jz_bj = [settle_at(ctx, "P001", day) for day in (date(2023, 10, 8), date(2023, 11, 9), date(2023, 12, 31))]
    wh_bj = settle_at(ctx, "P003", date(2023, 12, 1))
    jz_zz = settle_at(ctx, "P004", date(2023, 11, 20))
    settle_at(ctx, "P001", date(2023, 9, 30))  # Q3: not counted
    gone = settle_at(ctx, "P002", date(2023, 10, 15))
    cancel_on(ctx, gone, date(2023, 10, 16))  # cancelled: not a settled amount

    plan = {(line.payer_admdvs, line.payee_admdvs): line for line in prepayment.plan(ctx, 2024)}
    assert set(plan) == {("410000", "110000"), ("420000", "110000"), ("410800", "410100")}
    henan_beijing = sum(_fund(ctx, s) for s in jz_bj)
    assert plan[("410000", "110000")].q4_total_fen == henan_beijing
    assert plan[("410000", "110000")].amount_fen == prepayment_amount(henan_beijing)
    assert plan[("420000", "110000")].amount_fen == prepayment_amount(_fund(ctx, wh_bj))
    assert plan[("410800", "410100")].amount_fen == prepayment_amount(_fund(ctx, jz_zz))
    assert all(line.previous_fen == 0 and not line.confirmed for line in plan.values())
    assert prepayment.list_prepayments(ctx) == []  # plan writes nothing

    prepayment.confirm(ctx, 2024, actor="tester", on=date(2024, 1, 20))
    amount = plan[("410000", "110000")].amount_fen
    with ctx.unit_of_work() as session:
        assert ledger.balance(session, "410000:预付金:110000") == amount
        assert ledger.balance(session, "110000:暂收预付金:410000") == -amount
        postings = session.scalar(select(func.count()).select_from(PostingRow))
    again = prepayment.confirm(ctx, 2024, actor="tester", on=date(2024, 1, 21))
    assert all(line.confirmed for line in again)
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(PostingRow)) == postings

    # next year: Q4 2024 is smaller for 河南→北京, so the adjustment is negative (money goes back)
    small = settle_at(ctx, "P001", date(2024, 11, 11), amount_fen=200_000)
    plan_2025 = {(line.payer_admdvs, line.payee_admdvs): line for line in prepayment.plan(ctx, 2025)}
    line = plan_2025[("410000", "110000")]
    assert line.previous_fen == amount
    assert line.amount_fen == prepayment_amount(_fund(ctx, small))
    assert line.adjustment_fen == line.amount_fen - amount < 0
    assert plan_2025[("420000", "110000")].amount_fen == 0  # no Q4 settlements: the prepayment goes back
    prepayment.confirm(ctx, 2025, on=date(2025, 1, 15))
    with ctx.unit_of_work() as session:
        assert ledger.balance(session, "410000:预付金:110000") == line.amount_fen
        assert ledger.balance(session, "420000:预付金:110000") == 0
        assert ledger.verify(session) == []
