"""Property tests of the calculation (B12): money adds up, caps hold, more money never pays less, order is irrelevant,
every trace step cites a rule and a policy version."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.benefit_helpers import BOOK
from yidi.domain.benefit import calculate
from yidi.domain.catalog import FeeItem
from yidi.domain.coverage import Context, Coverage
from yidi.domain.filing import FilingType

ON = date(2023, 6, 1)
CODES = ["X001", "X002", "X003", "X004", "X005", "X006", "X007", "X008", "Z999"]
REGIONS = [("410800", "310"), ("410800", "390"), ("420100", "310"), ("371400", "310")]
TREATMENT = ["110000", "310000", "410100", "370100", "410800"]

fee_items = st.lists(st.builds(FeeItem, code=st.sampled_from(CODES), amount_fen=st.integers(0, 50_000_000)),
                     min_size=1, max_size=8)


@st.composite
def cases(draw):
    insured, insutype = draw(st.sampled_from(REGIONS))
    med_type = draw(st.sampled_from(["11", "14", "21", "22"]))
    coverage = Coverage(
        context=draw(st.sampled_from(list(Context))), reduction_pp=draw(st.sampled_from([0, 10, 20])),
        first_selfpay=draw(st.booleans()), filing=None,
        temporary_type=draw(st.sampled_from([None, *FilingType])), rules=("B5",), explanation="property test")
    return {
        "policy": BOOK.insured_policy(insured, ON), "catalog": BOOK.catalog(draw(st.sampled_from(TREATMENT)), ON),
        "insutype": insutype, "hospital_level": draw(st.sampled_from([1, 2, 3])), "med_type": med_type,
        "dise_codg": draw(st.sampled_from(["I10", "E11", "C80", "N18", "Z94"])) if med_type == "14" else None,
        "coverage": coverage, "cap_used_before_fen": draw(st.integers(0, 45_000_000)),
    }


@settings(max_examples=300, deadline=None)
@given(case=cases(), bill=fee_items)
def test_b12_fund_plus_person_is_total_and_cap_holds(case, bill):
    r = calculate(items=bill, **case)
    assert r.fund_pay_sumamt + r.psn_part_amt == r.medfee_sumamt == sum(i.amount_fen for i in bill)
    assert 0 <= r.hifp_pay <= max(0, r.cap_fen - case["cap_used_before_fen"])
    assert r.first_selfpay + r.act_pay_dedc + r.hifp_pay + r.pool_prop_selfpay == r.inscp_scp_amt
    assert min(r.fields_fen().values()) >= 0


@settings(max_examples=300, deadline=None)
@given(case=cases(), bill=fee_items, extra=st.integers(1, 10_000_000), index=st.integers(0, 7))
def test_b12_more_in_scope_money_never_pays_less(case, bill, extra, index):
    before = calculate(items=bill, **case)
    i = index % len(bill)
    more = list(bill)
    more[i] = replace(more[i], amount_fen=more[i].amount_fen + extra)
    after = calculate(items=more, **case)
    assert after.hifp_pay >= before.hifp_pay
    assert after.psn_part_amt >= before.psn_part_amt
    assert after.inscp_scp_amt >= before.inscp_scp_amt


@settings(max_examples=200, deadline=None)
@given(case=cases(), bill=fee_items, data=st.data())
def test_b12_item_order_does_not_matter(case, bill, data):
    shuffled = data.draw(st.permutations(bill))
    assert calculate(items=bill, **case).fields_fen() == calculate(items=list(shuffled), **case).fields_fen()


@settings(max_examples=200, deadline=None)
@given(case=cases(), bill=fee_items)
def test_b12_every_trace_step_cites_a_rule_and_a_version(case, bill):
    r = calculate(items=bill, **case)
    assert len(r.trace) >= 7
    for step in r.trace:
        assert re.fullmatch(r"[BFS]\d+(\+[BFS]\d+)*", step.rule), step.rule
        assert step.policy_version in (r.policy_version, r.catalog_version)
        assert step.explanation
