"""One test (or more) per benefit rule B1–B13, pure domain, numbers worked by hand from baseline-policy.md."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from tests.unit.benefit_helpers import BOOK, cover, filing, items, settle
from yidi.domain.catalog import FeeItem
from yidi.domain.coverage import Context
from yidi.domain.errors import YidiError
from yidi.domain.money import yuan_to_fen

D = date
Y = yuan_to_fen


def test_b1_scope_from_treatment_region_parameters_from_insured_region():
    lt = [filing("420100", "resident_worker", "310000", D(2023, 2, 3), basis="commitment")]
    # 上海: X005 乙 10% → pre 100, in scope 900. 武汉 310 L3: deductible 800, 88%: (900 − 800) × 0.88 = 88.00
    r = settle("420100", "310", "310000", 3, "21", items(("X005", "1000.00")), D(2023, 3, 1), D(2023, 3, 2), lt)
    assert (r.preselfpay_amt, r.inscp_scp_amt, r.act_pay_dedc, r.hifp_pay) == (Y("100"), Y("900"), Y("800"), Y("88"))
    # 北京: X005 丙 → all self-paid; nothing in scope
    lt_bj = [filing("420100", "resident_worker", "110000", D(2023, 2, 3), basis="commitment")]
    r = settle("420100", "310", "110000", 3, "21", items(("X005", "1000.00")), D(2023, 3, 1), D(2023, 3, 2), lt_bj)
    assert (r.fulamt_ownpay_amt, r.inscp_scp_amt, r.hifp_pay, r.psn_part_amt) == (Y("1000"), 0, 0, Y("1000"))


def test_b1_class_b_share_rounds_half_up_and_price_limit_uses_quantity():
    lt = [filing("410800", "retired_relocated", "110000", D(2023, 1, 10), basis="commitment")]
    # X002 0.05 yuan at 10%: 0.5 fen → 1 fen
    r = settle("410800", "310", "110000", 3, "11", items(("X002", "0.05")), D(2023, 3, 1), D(2023, 3, 1), lt)
    assert r.preselfpay_amt == 1 and r.inscp_scp_amt == 4
    # X003 qty 2 at 3500: limit 6000 → over 1000; 20% of 6000 = 1200; in scope 4800
    x003 = [FeeItem(code="X003", amount_fen=Y("7000"), qty=Decimal(2), price_fen=Y("3500"))]
    r = settle("410800", "310", "110000", 3, "21", x003, D(2023, 3, 1), D(2023, 3, 2), lt)
    assert (r.overlmt_selfpay, r.preselfpay_amt, r.inscp_scp_amt) == (Y("1000"), Y("1200"), Y("4800"))


def test_b2_long_term_at_filed_place_gets_local_standard():
    lt = [filing("371400", "long_term_resident", "110000", D(2023, 1, 10), basis="commitment")]
    c = cover("371400", "110000", "21", D(2023, 3, 1), D(2023, 3, 5), lt)
    assert c.context is Context.LONG_TERM_AT_FILED_PLACE and c.reduction_pp == 0 and not c.first_selfpay
    # 德州 310 L3: (20000 − 800) × 0.85 = 16320.00
    r = settle("371400", "310", "110000", 3, "21", items(("X007", "20000")), D(2023, 3, 1), D(2023, 3, 5), lt)
    assert r.hifp_pay == Y("16320") and r.first_selfpay == 0


def test_b3_jiaozuo_long_term_returning_inpatient_minus_10_chronic_not_reduced():
    # proof-based (a 跨省 commitment filer gets two-way benefits only after supplying the materials, 001 二(五))
    lt = [filing("410800", "retired_relocated", "110000", D(2023, 1, 10), basis="proof")]
    r = settle("410800", "310", "410800", 3, "21", items(("X007", "2900")), D(2023, 4, 1), D(2023, 4, 3), lt)
    assert r.ratio_bp == 7500 and r.hifp_pay == Y("1500")  # (2900 − 900) × 75%
    r = settle("410800", "310", "410800", 3, "14", items(("X001", "100")), D(2023, 4, 1), D(2023, 4, 1), lt,
               dise_codg="I10")
    assert r.ratio_bp == 7000 and r.hifp_pay == Y("70")


def test_b3_jiaozuo_temporary_and_wuhan_returning_are_local():
    tmp = [filing("410800", "other_temporary", "110000", D(2023, 3, 1))]
    assert cover("410800", "410800", "21", D(2023, 4, 1), D(2023, 4, 3), tmp).reduction_pp == 0
    lt = [filing("420100", "resident_worker", "310000", D(2023, 2, 3), basis="proof")]
    c = cover("420100", "420100", "21", D(2023, 3, 1), D(2023, 3, 3), lt)
    assert c.context is Context.LONG_TERM_RETURNING and c.reduction_pp == 0 and not c.first_selfpay


@pytest.mark.parametrize("basis, admission, first_selfpay, area", [
    ("commitment", D(2023, 7, 9), True, "370100"),   # one day before 6 months → temporary (首先自付)
    ("commitment", D(2023, 7, 10), False, "370100"),  # 满6个月 on begndate + 6 months → local
    ("proof", D(2023, 2, 1), False, "370100"),        # proof: local at once
    ("proof", D(2023, 2, 1), False, "110000"),
    # 跨省 by commitment: temporary until the materials are supplied, 6 months or not (001 二(五))
    ("commitment", D(2023, 7, 10), True, "110000"),
])
def test_b3_dezhou_commitment_returning_within_six_months_is_temporary(basis, admission, first_selfpay, area):
    lt = [filing("371400", "long_term_resident", area, D(2023, 1, 10), basis=basis)]
    c = cover("371400", "371400", "21", admission, admission, lt)
    assert c.first_selfpay is first_selfpay
    assert c.context is (Context.TEMPORARY if first_selfpay else Context.LONG_TERM_RETURNING)


def test_b4_long_term_elsewhere():
    dz = [filing("371400", "long_term_resident", "110000", D(2023, 1, 10), basis="commitment")]
    c = cover("371400", "310000", "21", D(2023, 9, 1), D(2023, 9, 2), dz)
    assert c.context is Context.TEMPORARY and c.first_selfpay and "B4" in c.rules
    jz = [filing("410800", "retired_relocated", "110000", D(2023, 1, 10), basis="commitment")]
    with pytest.raises(YidiError) as refused:
        cover("410800", "310000", "21", D(2023, 9, 1), D(2023, 9, 2), jz)
    assert refused.value.code == "NOT_FILED"
    jz.append(filing("410800", "referral", "310000", D(2023, 8, 1), filing_id="BA2"))
    assert cover("410800", "310000", "21", D(2023, 9, 1), D(2023, 9, 2), jz).reduction_pp == 10


@pytest.mark.parametrize("insured, ftype, reduction", [
    ("410800", "referral", 10), ("410800", "emergency", 0), ("410800", "other_temporary", 20),
    ("420100", "referral", 10), ("420100", "emergency", 0), ("420100", "other_temporary", 20),
    ("371400", "referral", 0), ("371400", "emergency", 0), ("371400", "other_temporary", 0),
])
def test_b5_temporary_reductions_by_type(insured, ftype, reduction):
    tmp = [filing(insured, ftype, "110000", D(2023, 3, 1))]
    assert cover(insured, "110000", "21", D(2023, 3, 2), D(2023, 3, 5), tmp).reduction_pp == reduction
    assert cover(insured, "110000", "11", D(2023, 3, 2), D(2023, 3, 2), tmp).reduction_pp == reduction
    assert cover(insured, "110000", "14", D(2023, 3, 2), D(2023, 3, 2), tmp).reduction_pp == 0


def test_b5_reduced_ratio_in_money():
    tmp = [filing("410800", "other_temporary", "110000", D(2023, 3, 1))]
    # 焦作 390 L3: deductible 1000, 65% − 20 = 45%: (3000 − 1000) × 0.45 = 900.00
    r = settle("410800", "390", "110000", 3, "21", items(("X007", "3000")), D(2023, 3, 2), D(2023, 3, 5), tmp)
    assert r.ratio_bp == 4500 and r.hifp_pay == Y("900")


def test_b6_dezhou_first_selfpay_temporary_manual_and_intra_province():
    tmp = [filing("371400", "referral", "310000", D(2023, 3, 1), basis="commitment")]
    # 上海 L3 inpatient 5000: 首先自付 500; eligible 4500; (4500 − 800) × 85% = 3145.00
    r = settle("371400", "310", "310000", 3, "21", items(("X007", "5000")), D(2023, 3, 2), D(2023, 3, 5), tmp)
    assert (r.first_selfpay, r.hifp_pay, r.psn_part_amt) == (Y("500"), Y("3145"), Y("1855"))
    # 济南 with no filing (F9): same
    r = settle("371400", "310", "370100", 3, "21", items(("X007", "5000")), D(2023, 3, 2), D(2023, 3, 5))
    assert (r.first_selfpay, r.hifp_pay) == (Y("500"), Y("3145"))
    # manual claim without any filing, 北京: same 10%
    c = cover("371400", "110000", "21", D(2023, 3, 2), D(2023, 3, 5), manual=True)
    assert c.context is Context.MANUAL_WITHOUT_FILING and c.first_selfpay
    for insured in ("410800", "420100"):  # no 首先自付 there, and no manual claim without a filing
        with pytest.raises(YidiError) as refused:
            cover(insured, "110000", "21", D(2023, 3, 2), D(2023, 3, 5), manual=True)
        assert refused.value.code == "NOT_FILED"


def test_b7_retro_filing_before_and_after_discharge():
    admission, discharge = D(2023, 5, 1), D(2023, 5, 10)
    before = [filing("410800", "retired_relocated", "110000", D(2023, 5, 5), basis="commitment")]
    assert cover("410800", "110000", "21", admission, discharge, before).context is Context.LONG_TERM_AT_FILED_PLACE
    after_proof = [filing("410800", "retired_relocated", "110000", admission, apply_date=D(2023, 5, 20))]
    with pytest.raises(YidiError):  # never direct after discharge (F8)
        cover("410800", "110000", "21", admission, discharge, after_proof)
    c = cover("410800", "110000", "21", admission, discharge, after_proof, manual=True)
    assert c.context is Context.LONG_TERM_AT_FILED_PLACE and c.reduction_pp == 0
    after_commitment = [filing("410800", "retired_relocated", "110000", D(2023, 5, 20), basis="commitment")]
    c = cover("410800", "110000", "21", admission, discharge, after_commitment, manual=True)
    assert c.context is Context.TEMPORARY and c.reduction_pp == 20
    # … and long-term benefits from the application date on
    assert cover("410800", "110000", "21", D(2023, 6, 1), D(2023, 6, 3), after_commitment).reduction_pp == 0
    after_referral = [filing("410800", "referral", "110000", admission, apply_date=D(2023, 5, 20))]
    assert cover("410800", "110000", "21", admission, discharge, after_referral, manual=True).reduction_pp == 10


def test_b8_trauma_settles_under_usual_coverage():
    lt = [filing("410800", "retired_relocated", "110000", D(2023, 1, 10), basis="commitment")]
    r = settle("410800", "310", "110000", 3, "22", items(("X007", "1900")), D(2023, 3, 1), D(2023, 3, 2), lt)
    assert r.hifp_pay == Y("850") and r.cap_key.med_class == "inpatient"  # (1900 − 900) × 85%, shares the inpatient cap


def test_b9_outpatient_limit_shared_and_level_free():
    lt = [filing("420100", "resident_worker", "310000", D(2023, 2, 3), basis="proof")]
    # 武汉 310: 60%, limit 2000; 1500 used already → 500 left; 1000 × 0.6 = 600 → 500.00
    r = settle("420100", "310", "310000", 3, "11", items(("X001", "1000")), D(2023, 3, 1), D(2023, 3, 1), lt,
               used_fen=Y("1500"))
    assert r.hifp_pay == Y("500") and str(r.cap_key) == "outpatient"
    local = settle("420100", "310", "420100", 3, "11", items(("X001", "1000")), D(2023, 3, 1), D(2023, 3, 1), lt)
    level1 = settle("410800", "390", "410800", 1, "11", items(("X001", "1000")), D(2023, 3, 1), D(2023, 3, 1))
    assert str(local.cap_key) == str(r.cap_key) and local.hifp_pay == Y("600")
    assert level1.ratio_bp == 5000 and level1.hifp_pay == Y("400")  # 居民 50% at level 1 too; limit 400


def test_b10_chronic_limit_per_disease_per_year():
    lt = [filing("420100", "resident_worker", "310000", D(2023, 2, 3), basis="commitment")]
    r = settle("420100", "310", "310000", 3, "14", items(("X001", "3000")), D(2023, 3, 1), D(2023, 3, 1), lt,
               dise_codg="E11", used_fen=Y("1000"))
    assert str(r.cap_key) == "chronic:E11" and r.hifp_pay == Y("1500")  # 3000 × 70% = 2100 > 2500 − 1000 = 1500
    with pytest.raises(YidiError) as refused:
        settle("420100", "310", "310000", 3, "14", items(("X001", "10")), D(2023, 3, 1), D(2023, 3, 1), lt,
               dise_codg="J45")
    assert refused.value.code == "INVALID_INPUT" and "dise_codg" in refused.value.message


def test_b11_special_drug_is_traced():
    tmp = [filing("410800", "referral", "410100", D(2023, 8, 1))]
    r = settle("410800", "390", "410100", 3, "14", items(("X002", "1000")), D(2023, 8, 2), D(2023, 8, 2), tmp,
               dise_codg="C80")
    assert r.hifp_pay == Y("765")  # (1000 − 100) × 85%
    assert any(step.rule == "B11" for step in r.trace)


def test_b12_integer_fen_and_trace_with_rules_and_versions():
    r = settle("371400", "310", "370100", 3, "11", items(("X001", "0.15")), D(2023, 3, 1), D(2023, 3, 1))
    # 15 fen: 首先自付 1.5 → 2 fen; eligible 13; × 60% = 7.8 → 8 fen
    assert (r.first_selfpay, r.hifp_pay, r.psn_part_amt) == (2, 8, 7)
    assert all(isinstance(v, int) for v in r.fields_fen().values())
    assert [step.step for step in r.trace][:6] == ["coverage", "scope", "first_selfpay", "deductible", "ratio", "fund"]
    for step in r.trace:
        assert re.fullmatch(r"[BFS]\d+(\+[BFS]\d+)*", step.rule) and step.policy_version
    assert r.policy_version == "371400@2022-01-01"


def test_b13_emergency_needs_a_filing_and_outside_fees_share_one_deductible():
    with pytest.raises(YidiError) as refused:  # B-R3: no rule waives filing for an emergency
        cover("410800", "310000", "21", D(2023, 6, 1), D(2023, 6, 5), emergency=True)
    assert refused.value.code == "NOT_FILED"
    filed_in_the_stay = filing("420100", "emergency", "110000", D(2023, 6, 1), apply_date=D(2023, 6, 2))
    one_stay = settle("420100", "310", "110000", 2, "21", items(("X007", "500"), ("X006", "300"), ("X001", "100")),
                      D(2023, 6, 1), D(2023, 6, 5), [filed_in_the_stay], emergency=True)
    assert one_stay.act_pay_dedc == Y("400") and one_stay.hifp_pay == Y("450")  # (900 − 400) × 90%


def test_policy_book_has_all_three_insured_regions():
    assert {"410800", "420100", "371400"} <= set(BOOK.insured)


def test_b9_personal_account_pays_the_person_share_up_to_the_balance_where_the_region_allows_it():
    """Seed 002 三(三) (湖北): 职工 use the personal account at remote institutions; 居民 have no account; 焦作's and
    德州's documents say nothing of it (parameter ``remote.personal_account``)."""
    from tests.unit.benefit_helpers import BOOK, filing, items, settle
    from yidi.domain.account import pay_from_account

    day = date(2023, 3, 1)
    wuhan = BOOK.insured_policy("420100", day)
    result = settle("420100", "310", "310000", 3, "11", items(("X001", "3000")), day, day,
                    [filing("420100", "resident_worker", "310000", date(2023, 1, 10))])
    assert result.psn_part_amt == 120000
    assert pay_from_account(result, wuhan, "310", 50000).acct_pay == 50000  # the balance
    paid = pay_from_account(result, wuhan, "310", 999999)
    assert paid.acct_pay == 120000 and paid.trace[-1].step == "personal_account" and paid.trace[-1].rule == "B9"
    assert pay_from_account(result, wuhan, "390", 999999).acct_pay == 0  # 居民: no account
    for region in ("410800", "371400"):
        assert pay_from_account(result, BOOK.insured_policy(region, day), "310", 999999).acct_pay == 0


def test_b10_chronic_across_provinces_only_the_national_five_inside_the_province_the_whole_list():
    """Seed 002 三(四): the five settle 跨省; the rest of the region's list (武汉: I25, illustrative) 省内 only."""
    from tests.unit.benefit_helpers import BOOK, filing
    from yidi.domain.coverage import Visit, resolve_coverage
    from yidi.domain.errors import YidiError

    day = date(2023, 3, 1)
    policy = BOOK.insured_policy("420100", day)
    filings = [filing("420100", "other_temporary", "310000", date(2023, 1, 10), filing_id="BA1"),
               filing("420100", "other_temporary", "420000", date(2023, 1, 10), filing_id="BA2")]

    def visit(treatment, disease, manual=False):
        return Visit("P", treatment, "14", day, day, manual=manual, dise_codg=disease)
    assert resolve_coverage("420100", filings, visit("310000", "N18"), policy).reduction_pp == 0
    with pytest.raises(YidiError) as refused:
        resolve_coverage("420100", filings, visit("310000", "I25"), policy)
    assert refused.value.code == "CHRONIC_NOT_CROSS_PROVINCE" and "I25 冠心病" in refused.value.message
    assert "N18 尿毒症透析" in refused.value.message and "I25" not in refused.value.message.split("病种为")[1]
    resolve_coverage("420100", filings, visit("420500", "I25"), policy)  # 省内 (宜昌): the whole list
    resolve_coverage("420100", filings, visit("420100", "I25"), policy)  # at home
    resolve_coverage("420100", filings, visit("310000", "I25", manual=True), policy)  # 手工报销 back home


def test_b3_cross_province_commitment_filer_gets_two_way_benefits_only_after_the_materials():
    """Seed 001 二(五): 以个人承诺方式办理跨省异地长期居住人员备案…可在补齐相关备案材料后在备案地和参保地双向享受医保待遇.
    Before: at the filed place as a long-term filer, back home as other temporary; 省内 commitment filings two-way."""
    across = [filing("410800", "retired_relocated", "110000", D(2023, 1, 10), basis="commitment")]
    assert cover("410800", "110000", "21", D(2023, 3, 1), D(2023, 3, 3), across).context is Context.LONG_TERM_AT_FILED_PLACE
    home = cover("410800", "410800", "21", D(2023, 3, 1), D(2023, 3, 3), across)
    assert home.context is Context.TEMPORARY and home.reduction_pp == 20 and "双向待遇" in home.explanation
    wuhan = cover("420100", "420100", "21", D(2023, 3, 1), D(2023, 3, 3),
                  [filing("420100", "resident_worker", "310000", D(2023, 1, 10), basis="commitment")])
    assert wuhan.context is Context.TEMPORARY and wuhan.reduction_pp == 20
    within = [filing("410800", "retired_relocated", "410100", D(2023, 1, 10), basis="commitment")]
    c = cover("410800", "410800", "21", D(2023, 3, 1), D(2023, 3, 3), within)
    assert c.context is Context.LONG_TERM_RETURNING and c.reduction_pp == 10
