"""B11 特药 (seed 004), pure: the insured region's list and benefit, 省内 only, and who may dispense to whom
(双通道 pharmacy, 特药待遇认定, the responsible hospital or doctor). Readings B-R27…B-R31."""

from __future__ import annotations

from datetime import date as D

import pytest

from tests.unit.benefit_helpers import BOOK, cover, filing, items, settle
from yidi.domain.errors import YidiError
from yidi.domain.money import yuan_to_fen as Y
from yidi.domain.special_drugs import (HOSPITAL, PHARMACY, Dispensing, DualChannel, Prescription, Recognition,
                                       check_dispensing)
from yidi.policy.loader import check_insured_version, load_policy_book

REFERRAL = [filing("410800", "referral", "410100", D(2023, 8, 1))]
SPECIAL = BOOK.insured_policy("410800", D(2023, 8, 5)).params.special_drugs
RECOGNISED = (Recognition("TY1", "X002", "H41010000001", "D001", D(2023, 8, 1), D(2024, 7, 31)),)
DUAL = (DualChannel("X002", D(2023, 1, 1), None),)


def _refusal(call) -> YidiError:
    with pytest.raises(YidiError) as refused:
        call()
    return refused.value


def test_b11_special_drug_benefit_is_the_insured_regions_list_ratio_and_limit():
    r = settle("410800", "390", "410100", 1, "15", items(("X002", "10000")), D(2023, 8, 5), D(2023, 8, 5), REFERRAL)
    # 郑州 X002 乙 10% → inscp 9000; 焦作 居民 60% − 10 pp referral (reading B-R30) = 50%; no deductible
    assert (r.inscp_scp_amt, r.act_pay_dedc, r.ratio_bp, r.hifp_pay) == (Y("9000"), 0, 5000, Y("4500"))
    assert str(r.cap_key) == "special_drug" and r.cap_fen == Y("150000")
    assert "B11" in r.trace[0].rule
    capped = settle("410800", "390", "410100", 1, "15", items(("X002", "10000")), D(2023, 8, 5), D(2023, 8, 5),
                    REFERRAL, used_fen=Y("149000"))
    assert capped.hifp_pay == Y("1000")  # the annual limit of all 特药 together (B-R31)


def test_b11_only_drugs_of_the_list_settle_as_special_drugs():
    refused = _refusal(lambda: settle("410800", "390", "410100", 1, "15", items(("X001", "30")), D(2023, 8, 5),
                                      D(2023, 8, 5), REFERRAL))
    assert refused.code == "INVALID_INPUT" and "items[0].code" in refused.message and "X002 伊马替尼片" in refused.message


def test_b11_special_drugs_settle_directly_inside_the_province_only():
    # 焦作 person, long-term filed in 北京: 特药 there are not settled directly (seed 004: 省内异地就医特药直接结算)
    beijing = [filing("410800", "retired_relocated", "110000", D(2023, 1, 10))]
    refused = _refusal(lambda: cover("410800", "110000", "15", D(2023, 3, 1), D(2023, 3, 1), beijing))
    assert refused.code == "SPECIAL_DRUG_NOT_CROSS_PROVINCE" and "110000" in refused.message
    # a manual claim back home is not direct settlement (as for chronic diseases, B-R23)
    assert cover("410800", "110000", "15", D(2023, 3, 1), D(2023, 3, 1), beijing, manual=True).filing is not None
    # inside the province the filing rules still decide (F10)
    assert _refusal(lambda: cover("410800", "410100", "15", D(2023, 3, 1), D(2023, 3, 1))).code == "NOT_FILED"


def test_b11_a_region_whose_document_sets_no_special_drugs_settles_none():
    for region, area in (("420100", "420100"), ("371400", "371400")):
        assert BOOK.insured_policy(region, D(2023, 5, 1)).params.special_drugs is None
        assert _refusal(lambda: cover(region, area, "15", D(2023, 5, 1), D(2023, 5, 1))).code == "SPECIAL_DRUG_NOT_COVERED"


def test_b11_a_pharmacy_dispenses_only_as_dual_channel_to_a_recognised_person_on_the_responsible_doctors_prescription():
    drug = items(("X002", "100"))
    at = lambda **kw: Dispensing(**({"institution_kind": PHARMACY, "fixmedins_code": "P41010000001",  # noqa: E731
                                     "on": D(2023, 8, 5), "recognitions": RECOGNISED, "dual_channel": DUAL,
                                     "prescriptions": (Prescription("RX1", "D001"),)} | kw))
    assert check_dispensing(SPECIAL, drug, at()) == ("双通道定点药店", "特药待遇认定", "责任医师处方")
    assert _refusal(lambda: check_dispensing(SPECIAL, drug, at(dual_channel=()))).code == "PHARMACY_NOT_DUAL_CHANNEL"
    later = (DualChannel("X002", D(2023, 9, 1), None),)
    assert _refusal(lambda: check_dispensing(SPECIAL, drug, at(dual_channel=later))).code == "PHARMACY_NOT_DUAL_CHANNEL"
    assert _refusal(lambda: check_dispensing(SPECIAL, drug, at(recognitions=()))).code == "SPECIAL_DRUG_NOT_RECOGNIZED"
    expired = (Recognition("TY1", "X002", "H41010000001", "D001", D(2022, 8, 1), D(2023, 7, 31)),)
    assert _refusal(lambda: check_dispensing(SPECIAL, drug, at(recognitions=expired))).code == "SPECIAL_DRUG_NOT_RECOGNIZED"
    other = at(prescriptions=(Prescription("RX1", "D999"),))
    assert _refusal(lambda: check_dispensing(SPECIAL, drug, other)).code == "SPECIAL_DRUG_PRESCRIBER"
    missing = _refusal(lambda: check_dispensing(SPECIAL, drug, at(prescriptions=(Prescription(None, "D001"),))))
    assert missing.code == "INVALID_INPUT" and "rxno" in missing.message


def test_b11_at_a_hospital_the_special_drug_is_dispensed_by_the_responsible_hospital():
    drug = items(("X002", "100"))
    hospital = lambda code: Dispensing(HOSPITAL, code, D(2023, 8, 5), RECOGNISED)  # noqa: E731
    assert check_dispensing(SPECIAL, drug, hospital("H41010000001")) == ("特药待遇认定", "责任医院")
    refused = _refusal(lambda: check_dispensing(SPECIAL, drug, hospital("H41080000001")))
    assert refused.code == "SPECIAL_DRUG_WRONG_HOSPITAL" and "H41010000001" in refused.message


def test_b11_the_rules_are_parameters_a_region_may_set_otherwise():
    relaxed = SPECIAL.model_copy(update={"recognition_required": SPECIAL.recognition_required.model_copy(update={"value": False})})
    anywhere = Dispensing(HOSPITAL, "H41080000001", D(2023, 8, 5), ())
    assert check_dispensing(relaxed, items(("X002", "100")), anywhere) == ()
    no_pharmacies = SPECIAL.model_copy(update={"dual_channel_pharmacy": SPECIAL.dual_channel_pharmacy.model_copy(update={"value": False})})
    shop = Dispensing(PHARMACY, "P41010000001", D(2023, 8, 5), RECOGNISED, DUAL, (Prescription("RX1", "D001"),))
    assert _refusal(lambda: check_dispensing(no_pharmacies, items(("X002", "100")), shop)).code == "PHARMACY_NOT_DUAL_CHANNEL"


def test_b11_special_drug_figures_cite_the_regions_own_documents_and_ratios_are_checked():
    special = load_policy_book().insured_policy("410800", D(2023, 8, 5)).params.special_drugs  # loads: citations ok
    assert "seed 004" in special.drugs.source and "seed 004" in special.remote.source
    assert "illustrative" in special.ratio.source and "illustrative" in special.annual_limit.source
    version = BOOK.insured_policy("410800", D(2023, 8, 5)).params
    bad = version.model_copy(update={"special_drugs": special.model_copy(update={
        "ratio": special.ratio.model_copy(update={"value": {"310": 12_000, "390": 6000}})})})
    problems = check_insured_version("410800.yaml", "versions[0]", bad, BOOK.national, None)
    assert [p.path for p in problems] == ["versions[0].special_drugs.ratio.310"]
