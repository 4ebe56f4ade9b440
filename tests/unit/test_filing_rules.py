"""Filing rules F1–F10 on the pure domain (domain/filing.py, domain/coverage.py) with the real policy files.

F11 (identity at the hospital) needs the database: tests/services/test_filings_identity.py.
Date readings under test (docs/policy-readings.md, "Filing (F)"): Civil Code corresponding-day months,
"满6个月" on begndate + 6 months, a change/cancel on D ends the filing on D − 1.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yidi.domain.coverage import Context, Visit, resolve_coverage
from yidi.domain.errors import YidiError
from yidi.domain.filing import (
    LONG_TERM_TYPES,
    ONLINE_CHANNELS,
    TYPE_NAMES,
    Basis,
    Channel,
    Filing,
    FilingCategory,
    FilingStatus,
    FilingType,
    add_working_days,
    category_of,
    check_change_or_cancel,
    check_new_filing,
    commitment_free_from,
    end_on,
    initial_status,
    temporary_enddate,
)
from yidi.domain.regions import area_covers

JIAOZUO, WUHAN, DEZHOU = "410800", "420100", "371400"
ON = date(2023, 6, 1)


@pytest.fixture
def rules(policy):
    return lambda region, on=ON: policy.insured_policy(region, on).params.filing


def make_filing(filing_type=FilingType.RETIRED_RELOCATED, basis=Basis.COMMITMENT, *, begndate=date(2023, 1, 10),
                enddate=None, area="110000", insured=JIAOZUO, status=FilingStatus.ACTIVE, apply_date=None) -> Filing:
    return Filing(filing_id="BA1", psn_no="P001", insuplc_admdvs=insured, filing_type=filing_type, basis=basis,
                  mdtrtarea_admvs=area, begndate=begndate, enddate=enddate, apply_date=apply_date or begndate,
                  channel=Channel.WINDOW, status=status)


# ---------------------------------------------------------------- F1 types and categories ----
def test_f1_six_types_fold_into_two_categories():
    assert {category_of(t) for t in FilingType} == set(FilingCategory)
    assert {t for t in FilingType if category_of(t) is FilingCategory.LONG_TERM} == {
        FilingType.RETIRED_RELOCATED, FilingType.LONG_TERM_RESIDENT, FilingType.RESIDENT_WORKER}
    assert {t for t in FilingType if category_of(t) is FilingCategory.TEMPORARY} == {
        FilingType.REFERRAL, FilingType.EMERGENCY, FilingType.OTHER_TEMPORARY}
    assert LONG_TERM_TYPES == {t for t in FilingType if make_filing(t).is_long_term}


def test_f1_every_type_has_its_chinese_name():
    assert TYPE_NAMES[FilingType.RETIRED_RELOCATED] == "异地安置退休"
    assert TYPE_NAMES[FilingType.OTHER_TEMPORARY] == "其他临时外出就医"
    assert set(TYPE_NAMES) == set(FilingType)


# ---------------------------------------------------------------- F2 filing to a region ----
def test_f2_a_province_filing_covers_every_city_of_the_province_a_city_filing_only_itself():
    assert area_covers("410000", "410100") and area_covers("410000", "410800")
    assert area_covers("410100", "410100")
    assert not area_covers("410100", "410800")
    assert not area_covers("410000", "420100")


def test_f2_covers_any_networked_institution_in_the_filed_city(policy):
    filing = make_filing(area="110000")
    visit = Visit(psn_no="P001", treatment_admdvs="110000", med_type="21", admission=date(2023, 3, 1),
                  discharge=date(2023, 3, 10))
    coverage = resolve_coverage(JIAOZUO, [filing], visit, policy.insured_policy(JIAOZUO, visit.discharge))
    assert coverage.context is Context.LONG_TERM_AT_FILED_PLACE and "F2" in coverage.rules


# ---------------------------------------------------------------- F3 basis ----
@pytest.mark.parametrize("filing_type", sorted(LONG_TERM_TYPES))
def test_f3_commitment_is_offered_for_every_long_term_type(rules, filing_type):
    for region in (JIAOZUO, WUHAN, DEZHOU):
        assert check_new_filing(filing_type, Basis.COMMITMENT, ON, None, rules(region)) is None


def test_f3_commitment_restriction_is_a_parameter_dezhou_needs_no_proof(rules):
    assert check_new_filing(FilingType.REFERRAL, Basis.COMMITMENT, ON, None, rules(JIAOZUO)) == date(2023, 11, 30)
    long_term_only = rules(JIAOZUO).commitment_allowed_for.model_copy(
        update={"value": ["retired_relocated", "long_term_resident", "resident_worker"]})
    restricted = rules(JIAOZUO).model_copy(update={"commitment_allowed_for": long_term_only})
    with pytest.raises(YidiError) as refused:
        check_new_filing(FilingType.REFERRAL, Basis.COMMITMENT, ON, None, restricted)
    assert refused.value.code == "COMMITMENT_NOT_ALLOWED"
    assert "证明材料" in refused.value.full_message()
    assert check_new_filing(FilingType.REFERRAL, Basis.COMMITMENT, ON, None, rules(DEZHOU)) == date(2023, 11, 30)
    assert rules(DEZHOU).proof_ever_required.value is False


# ---------------------------------------------------------------- F4 channels and approval ----
def test_f4_jiaozuo_online_filing_waits_two_working_days_window_is_immediate(rules):
    thursday = date(2023, 6, 1)
    for channel in ONLINE_CHANNELS:
        assert initial_status(channel, rules(JIAOZUO), thursday) == (FilingStatus.PENDING, date(2023, 6, 5))
    for channel in set(Channel) - ONLINE_CHANNELS:
        assert initial_status(channel, rules(JIAOZUO), thursday) == (FilingStatus.ACTIVE, None)


@pytest.mark.parametrize("region", [WUHAN, DEZHOU])
def test_f4_wuhan_and_dezhou_online_filings_take_effect_at_once(rules, region):
    for channel in Channel:
        assert initial_status(channel, rules(region), ON) == (FilingStatus.ACTIVE, None)


@pytest.mark.parametrize("applied, due", [
    (date(2023, 6, 5), date(2023, 6, 7)),  # Monday → Wednesday
    (date(2023, 6, 8), date(2023, 6, 12)),  # Thursday → Monday (weekend skipped)
    (date(2023, 6, 9), date(2023, 6, 13)),  # Friday → Tuesday
    (date(2023, 6, 10), date(2023, 6, 13)),  # Saturday → Tuesday (Monday is the first working day)
    (date(2023, 6, 11), date(2023, 6, 13)),  # Sunday → Tuesday
    (date(2024, 2, 28), date(2024, 3, 1)),  # across a leap day (Thursday 29th counts)
    (date(2023, 12, 29), date(2024, 1, 2)),  # Friday at year end → Tuesday (no holiday calendar)
])
def test_f4_due_date_counts_working_days(rules, applied, due):
    assert initial_status(Channel.APP, rules(JIAOZUO), applied) == (FilingStatus.PENDING, due)


def test_f4_listed_holidays_are_not_working_days():
    assert add_working_days(date(2023, 9, 28), 2, frozenset({date(2023, 9, 29)})) == date(2023, 10, 3)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.integers(min_value=1, max_value=20))
def test_f4_working_days_agree_with_numpy_business_days(start, days):
    # numpy's busday_offset with roll="backward" counts the same way: from a weekend day, the next
    # working day is the first one counted.
    expected = np.busday_offset(np.datetime64(start), days, roll="backward").astype(object)
    assert add_working_days(start, days) == expected


# ---------------------------------------------------------------- F5 validity ----
@pytest.mark.parametrize("begndate, enddate", [
    (date(2023, 6, 1), date(2023, 11, 30)),  # counted inclusively: the day before the corresponding day
    (date(2023, 8, 31), date(2024, 2, 28)),  # no 31 February: month-end clamp (29th), then the day before
    (date(2022, 8, 31), date(2023, 2, 27)),  # … and in a common year
    (date(2023, 8, 29), date(2024, 2, 28)),
    (date(2023, 8, 30), date(2024, 2, 28)),
    (date(2023, 12, 31), date(2024, 6, 29)),  # across the year end, month end
    (date(2024, 2, 29), date(2024, 8, 28)),  # from a leap day
    (date(2023, 1, 1), date(2023, 6, 30)),
    (date(2023, 3, 1), date(2023, 8, 31)),
])
def test_f5_temporary_filing_is_valid_six_months_counted_inclusively(rules, begndate, enddate):
    assert temporary_enddate(begndate, rules(JIAOZUO)) == enddate
    assert check_new_filing(FilingType.OTHER_TEMPORARY, Basis.PROOF, begndate, None, rules(JIAOZUO)) == enddate


def test_f5_the_counting_rule_is_a_parameter(rules):
    by_corresponding_day = rules(JIAOZUO).model_copy(update={"temporary_validity_end": rules(
        JIAOZUO).temporary_validity_end.model_copy(update={"value": "corresponding_day"})})
    assert temporary_enddate(date(2023, 6, 1), by_corresponding_day) == date(2023, 12, 1)
    assert temporary_enddate(date(2023, 8, 31), by_corresponding_day) == date(2024, 2, 29)


def test_f5_the_last_valid_day_is_covered_the_next_day_is_not():
    filing = make_filing(FilingType.OTHER_TEMPORARY, Basis.PROOF, begndate=date(2023, 8, 31),
                         enddate=date(2024, 2, 29))
    assert filing.valid_for_stay(date(2024, 2, 29), date(2024, 2, 29))
    assert not filing.valid_for_stay(date(2024, 3, 1), date(2024, 3, 1))
    assert not filing.valid_for_stay(date(2023, 8, 30), date(2023, 8, 30))


def test_f5_long_term_filing_is_indefinite_and_takes_no_enddate(rules):
    assert check_new_filing(FilingType.LONG_TERM_RESIDENT, Basis.PROOF, ON, None, rules(JIAOZUO)) is None
    assert make_filing().valid_for_stay(date(2040, 1, 1), date(2040, 1, 9))
    with pytest.raises(YidiError) as refused:
        check_new_filing(FilingType.LONG_TERM_RESIDENT, Basis.PROOF, ON, date(2024, 6, 1), rules(JIAOZUO))
    assert refused.value.code == "INVALID_INPUT" and "enddate" in refused.value.message


@pytest.mark.parametrize("enddate, allowed", [
    (date(2024, 6, 1), True),  # exactly 12 months
    (date(2025, 6, 1), True),  # exactly 24 months
    (date(2024, 12, 15), True),
    (date(2024, 5, 31), True),  # "12 months" written with the last day before the corresponding day (F-R11)
    (date(2023, 11, 30), True),  # the standard 6 months written the same way
    (date(2024, 5, 30), False),  # two days short of 12 months
    (date(2025, 6, 2), False),  # a day past 24 months
    (date(2023, 9, 1), False),  # neither the standard 6 months nor an extension
])
def test_f5_extension_to_12_to_24_months(rules, enddate, allowed):
    if allowed:
        assert check_new_filing(FilingType.REFERRAL, Basis.PROOF, ON, enddate, rules(JIAOZUO)) == enddate
    else:
        with pytest.raises(YidiError) as refused:
            check_new_filing(FilingType.REFERRAL, Basis.PROOF, ON, enddate, rules(JIAOZUO))
        # scenarios.md: a field out of range is INVALID_INPUT and the message names the field
        assert refused.value.code == "INVALID_INPUT"
        assert "enddate" in refused.value.full_message()


# ---------------------------------------------------------------- F6 change and cancel ----
@pytest.mark.parametrize("begndate, free_from", [
    (date(2023, 1, 10), date(2023, 7, 10)),
    (date(2023, 8, 31), date(2024, 2, 29)),  # month end, leap year
    (date(2022, 8, 31), date(2023, 2, 28)),  # month end, common year
    (date(2024, 2, 29), date(2024, 8, 29)),
])
def test_f6_commitment_filing_changes_without_proof_from_six_months_on(rules, begndate, free_from):
    filing = make_filing(begndate=begndate)
    assert commitment_free_from(filing, rules(JIAOZUO)) == free_from
    check_change_or_cancel(filing, free_from, False, rules(JIAOZUO))  # the day 满6个月 is reached
    with pytest.raises(YidiError) as refused:
        check_change_or_cancel(filing, free_from - timedelta(days=1), False, rules(JIAOZUO))  # the day before
    assert refused.value.code == "FILING_CHANGE_NEEDS_PROOF"
    assert free_from.isoformat() in refused.value.full_message()
    check_change_or_cancel(filing, free_from - timedelta(days=1), True, rules(JIAOZUO))  # with proof: any time


def test_f6_proof_based_long_term_and_temporary_filings_change_any_time(rules):
    check_change_or_cancel(make_filing(basis=Basis.PROOF), date(2023, 1, 11), False, rules(JIAOZUO))
    temporary = make_filing(FilingType.REFERRAL, Basis.PROOF, enddate=date(2023, 7, 10))
    check_change_or_cancel(temporary, date(2023, 1, 11), False, rules(JIAOZUO))


def test_f6_a_change_on_day_d_ends_the_filing_on_d_minus_one():
    ended = end_on(make_filing(), date(2023, 7, 10), FilingStatus.CHANGED, replaced_by="BA2")
    assert (ended.enddate, ended.status, ended.replaced_by) == (date(2023, 7, 9), FilingStatus.CHANGED, "BA2")
    assert ended.valid_for_stay(date(2023, 7, 9), date(2023, 7, 20))  # admitted the last day: still covered (F7)
    assert not ended.valid_for_stay(date(2023, 7, 10), date(2023, 7, 20))
    temporary = make_filing(FilingType.REFERRAL, Basis.PROOF, enddate=date(2023, 7, 10))
    assert end_on(temporary, date(2023, 9, 1), FilingStatus.CANCELLED).enddate == date(2023, 7, 10)  # never later


def test_f6_dezhou_terminates_and_refiles_jiaozuo_amends(rules):
    assert rules(DEZHOU).change_mode.value == "terminate_and_refile"
    assert rules(JIAOZUO).change_mode.value == "amend"


def test_f6_ended_filings_cannot_change_again(rules):
    for status in (FilingStatus.CHANGED, FilingStatus.CANCELLED, FilingStatus.REJECTED):
        with pytest.raises(YidiError) as refused:
            check_change_or_cancel(make_filing(status=status), date(2024, 1, 1), True, rules(JIAOZUO))
        assert refused.value.code == "FILING_NOT_ACTIVE"


# ---------------------------------------------------------------- F7 admission inside validity ----
def test_f7_admitted_on_the_last_valid_day_settles_after_expiry(policy):
    filing = make_filing(FilingType.REFERRAL, Basis.PROOF, begndate=date(2023, 6, 1), enddate=date(2023, 12, 1),
                         area="410100", insured=JIAOZUO)
    stay = Visit(psn_no="P001", treatment_admdvs="410100", med_type="21", admission=date(2023, 12, 1),
                 discharge=date(2023, 12, 20))
    coverage = resolve_coverage(JIAOZUO, [filing], stay, policy.insured_policy(JIAOZUO, stay.discharge))
    assert coverage.filing == filing and "F7" in coverage.rules
    late = Visit(psn_no="P001", treatment_admdvs="410100", med_type="21", admission=date(2023, 12, 2),
                 discharge=date(2023, 12, 20))
    with pytest.raises(YidiError) as refused:
        resolve_coverage(JIAOZUO, [filing], late, policy.insured_policy(JIAOZUO, late.discharge))
    assert refused.value.code == "NOT_FILED"


# ---------------------------------------------------------------- F8 retro filing ----
def test_f8_filing_that_starts_during_the_stay_covers_it(policy):
    stay = Visit(psn_no="P001", treatment_admdvs="410100", med_type="21", admission=date(2023, 8, 1),
                 discharge=date(2023, 8, 10))
    for start in (date(2023, 8, 5), date(2023, 8, 10)):  # after admission, up to the discharge day
        filing = make_filing(FilingType.REFERRAL, Basis.PROOF, begndate=start, enddate=start + timedelta(days=180),
                             area="410100")
        assert filing.valid_for_stay(stay.admission, stay.discharge)
        coverage = resolve_coverage(JIAOZUO, [filing], stay, policy.insured_policy(JIAOZUO, stay.discharge))
        assert coverage.filing == filing and "F8" in coverage.rules
    after = make_filing(FilingType.REFERRAL, Basis.PROOF, begndate=date(2023, 8, 11), enddate=date(2024, 2, 11),
                        area="410100")
    assert not after.valid_for_stay(stay.admission, stay.discharge)


def test_f8_filing_applied_after_discharge_does_not_settle_directly(policy):
    stay = Visit(psn_no="P001", treatment_admdvs="410100", med_type="21", admission=date(2023, 8, 1),
                 discharge=date(2023, 8, 10))
    late = make_filing(FilingType.REFERRAL, Basis.PROOF, begndate=date(2023, 8, 1), enddate=date(2024, 2, 1),
                       area="410100", apply_date=date(2023, 8, 11))
    with pytest.raises(YidiError) as refused:
        resolve_coverage(JIAOZUO, [late], stay, policy.insured_policy(JIAOZUO, stay.discharge))
    assert refused.value.code == "NOT_FILED"


# ---------------------------------------------------------------- F9 德州 intra-province ----
def test_f9_dezhou_intra_province_cross_city_temporary_visit_needs_no_filing(policy):
    visit = Visit(psn_no="P002", treatment_admdvs="370100", med_type="21", admission=date(2023, 6, 1),
                  discharge=date(2023, 6, 5))
    coverage = resolve_coverage(DEZHOU, [], visit, policy.insured_policy(DEZHOU, visit.discharge))
    assert coverage.context is Context.TEMPORARY and "F9" in coverage.rules and coverage.filing is None


def test_f9_does_not_apply_to_jiaozuo_or_across_provinces(policy):
    jiaozuo_in_zhengzhou = Visit(psn_no="P004", treatment_admdvs="410100", med_type="21", admission=ON,
                                 discharge=ON + timedelta(days=4))
    dezhou_in_beijing = Visit(psn_no="P002", treatment_admdvs="110000", med_type="21", admission=ON,
                              discharge=ON + timedelta(days=4))
    for insured, visit in ((JIAOZUO, jiaozuo_in_zhengzhou), (DEZHOU, dezhou_in_beijing)):
        with pytest.raises(YidiError) as refused:
            resolve_coverage(insured, [], visit, policy.insured_policy(insured, visit.discharge))
        assert refused.value.code == "NOT_FILED"


# ---------------------------------------------------------------- F10 one filing, three kinds of care ----
@pytest.mark.parametrize("med_type", ["21", "11", "14"])
def test_f10_one_filing_covers_inpatient_outpatient_and_chronic(policy, med_type):
    filing = make_filing(area="110000")
    visit = Visit(psn_no="P001", treatment_admdvs="110000", med_type=med_type, admission=date(2023, 3, 1),
                  discharge=date(2023, 3, 1))
    coverage = resolve_coverage(JIAOZUO, [filing], visit, policy.insured_policy(JIAOZUO, visit.discharge))
    assert coverage.filing == filing and "F10" in coverage.rules


# ---------------------------------------------------------------- F11 (pure part) ----
def test_f11_not_filed_message_names_the_filing_channels():
    message = YidiError("NOT_FILED", {"mdtrtarea": "110000", "date": "2023-03-01"}).full_message()
    for channel in ("国家医保服务平台APP", "小程序", "窗口", "电话"):
        assert channel in message
    assert "补办" in message


# ---------------------------------------------------------------- F5/F6 each region's own document ----
@pytest.mark.parametrize("region", [WUHAN, DEZHOU])
def test_f5_the_12_to_24_month_extension_is_jiaozuos_alone(rules, region):
    """Seed 000 一(二) lets 焦作 extend to 12–24 months; seed 002 二(一) (湖北) gives 6 months and no extension,
    seed 003 (德州) sets none."""
    assert check_new_filing(FilingType.REFERRAL, Basis.PROOF, ON, date(2024, 6, 1), rules(JIAOZUO)) == date(2024, 6, 1)
    with pytest.raises(YidiError) as refused:
        check_new_filing(FilingType.REFERRAL, Basis.PROOF, ON, date(2024, 6, 1), rules(region))
    assert refused.value.code == "INVALID_INPUT" and "enddate" in refused.value.full_message()
    assert "未规定延长" in refused.value.full_message()
    # the standard 6 months stay accepted
    assert check_new_filing(FilingType.REFERRAL, Basis.PROOF, ON, None, rules(region)) == date(2023, 11, 30)


def test_f6_hubei_sets_no_commitment_lock_jiaozuo_and_dezhou_do(rules):
    """Seed 002 sets no time limit on change/cancel; seed 000 一(二) and seed 003 三(一) set 6 months."""
    filing = make_filing(begndate=date(2023, 1, 10), insured=WUHAN)
    check_change_or_cancel(filing, date(2023, 1, 11), False, rules(WUHAN))  # the day after filing, no proof
    for region in (JIAOZUO, DEZHOU):
        with pytest.raises(YidiError) as refused:
            check_change_or_cancel(make_filing(insured=region), date(2023, 1, 11), False, rules(region))
        assert refused.value.code == "FILING_CHANGE_NEEDS_PROOF" and "未满6个月" in refused.value.message


# ---------------------------------------------------------------- before a region's first policy version ----
def test_f5_a_filing_made_before_the_first_policy_version_is_checked_by_that_version(policy):
    """Seed 000: 本通知自 2023年 1月 1日起执行，之前有关规定与本通知不一致的，均按本通知规定执行; a long-term filing made
    in 2022 stays valid (长期有效) — its rules are the first loaded version's, not a refusal."""
    rules = policy.filing_policy(JIAOZUO, date(2022, 6, 1))
    assert rules.version_id == "410800@2023-01-01"
    assert check_new_filing(FilingType.RETIRED_RELOCATED, Basis.PROOF, date(2022, 6, 1), None, rules.params.filing) is None
    assert policy.filing_policy(JIAOZUO, date(2023, 6, 1)).version_id == "410800@2023-01-01"


def test_b12_a_stay_discharged_in_a_year_without_a_loaded_policy_names_the_year(policy):
    with pytest.raises(YidiError) as refused:
        policy.insured_policy(JIAOZUO, date(2022, 12, 28))
    assert refused.value.code == "NO_POLICY"
    assert "2022 年" in refused.value.message and "2023-01-01" in refused.value.message
    # a stay spanning the change is settled at discharge under the version then in force (B-R13)
    assert policy.insured_policy(JIAOZUO, date(2023, 1, 5)).version_id == "410800@2023-01-01"
