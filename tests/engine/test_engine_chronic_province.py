"""B10 in the batch engine: a 门诊慢特病 the insured region settles only inside its province (``remote: province``,
seed 002 三(四); 武汉's I25 is the illustrative member) is refused CHRONIC_NOT_CROSS_PROVINCE when the claim was
treated in another province — whatever benefit kind the claim carries — exactly as the scalar engine
(``coverage.refuse_outside_remote_scope``, replayed by ``engine.check.scalar_replay``) refuses it; the national five
and manual claims back home are not refused."""

from __future__ import annotations

from datetime import date

from yidi.domain.catalog import FeeItem
from yidi.engine.check import ScalarClaim, scalar_replay
from yidi.policy.loader import load_policy_book

from tests.engine.reference import Claim, engine_results

DAY = date(2023, 6, 1)


def _claims() -> list[Claim]:
    item = [FeeItem("X001", 100_000)]

    def claim(psn: str, treatment: str, disease: str, kind: str) -> Claim:
        return Claim(psn, "420100", "310", treatment, 3, "14", disease, DAY, DAY, item, benefit_kind=kind)

    return [claim("A", "310000", "I25", "long_term_at_filed_place"),  # province-only disease in 上海: refused
            claim("A", "420100", "I25", "local"),  # at home: settled
            claim("B", "310000", "E11", "long_term_at_filed_place"),  # one of the national five: settled
            claim("C", "310000", "I25", "manual_without_filing"),  # a manual claim back home: settled
            claim("D", "110000", "I25", "other_temporary")]  # 北京: refused


def test_b10_engine_refuses_a_province_only_chronic_disease_across_provinces_as_the_scalar_engine_does():
    book = load_policy_book()
    claims = _claims()
    _, engine = engine_results(book, claims)
    scalar = scalar_replay(book, [ScalarClaim(c.psn_no, c.insuplc_admdvs, c.insutype, c.treatment_admdvs,
                                              c.hospital_level, c.med_type, c.dise_codg, c.endtime, c.benefit_kind,
                                              tuple(c.items)) for c in claims])
    assert [r.get("error") for r in engine] == ["CHRONIC_NOT_CROSS_PROVINCE", None, None, None,
                                                "CHRONIC_NOT_CROSS_PROVINCE"]
    for got, expected in zip(engine, scalar):
        assert {k: v for k, v in got.items() if k in expected} == expected
    # I25 冠心病 70% (illustrative): 1000.00 × 70% = 700.00 at home
    assert engine[1]["hifp_pay"] == 70_000


def test_b10_without_treatment_regions_the_engine_cannot_tell_and_refuses_nothing():
    """A claims table without the treatment column (``cross_province`` None) keeps today's behaviour."""
    from yidi.engine.adjudicate import ClaimTable, adjudicate
    from yidi.engine.tables import PolicyTables

    book = load_policy_book()
    tables = PolicyTables.from_book(book)
    table = ClaimTable.from_columns(
        tables, psn_no=["A"], insuplc_admdvs=["420100"], insutype=["310"], hospital_level=[3], med_type=["14"],
        dise_codg=["I25"], endtime=[DAY], benefit_kind=["long_term_at_filed_place"], medfee_sumamt=[100_000],
        fulamt_ownpay_amt=[0], overlmt_selfpay=[0], preselfpay_amt=[0], inscp_scp_amt=[100_000])
    assert table.cross_province is None and int(adjudicate(table, tables).error[0]) == 0
    across = ClaimTable.from_columns(
        tables, psn_no=["A"], insuplc_admdvs=["420100"], insutype=["310"], hospital_level=[3], med_type=["14"],
        dise_codg=["I25"], endtime=[DAY], benefit_kind=["long_term_at_filed_place"], medfee_sumamt=[100_000],
        fulamt_ownpay_amt=[0], overlmt_selfpay=[0], preselfpay_amt=[0], inscp_scp_amt=[100_000],
        mdtrtarea_admvs=["310000"])
    assert adjudicate(across, tables).hifp_pay.tolist() == [0]


def test_b11_engine_settles_special_drugs_inside_the_province_and_refuses_them_elsewhere_as_the_scalar_engine_does():
    book = load_policy_book()
    drug = [FeeItem("X002", 1_000_000)]
    claims = [Claim("A", "410800", "390", "410100", 1, "15", None, DAY, DAY, drug, benefit_kind="referral"),
              Claim("A", "410800", "390", "110000", 1, "15", None, DAY, DAY, drug, benefit_kind="long_term_at_filed_place"),
              Claim("B", "420100", "310", "420100", 1, "15", None, DAY, DAY, drug, benefit_kind="local")]
    _, engine = engine_results(book, claims)
    scalar = scalar_replay(book, [ScalarClaim(c.psn_no, c.insuplc_admdvs, c.insutype, c.treatment_admdvs,
                                              c.hospital_level, c.med_type, c.dise_codg, c.endtime, c.benefit_kind,
                                              tuple(c.items)) for c in claims])
    # 郑州 X002 乙 10%: inscp 9000.00 × (60% − 10 pp referral) = 4500.00 (焦作 居民 特药, illustrative figures)
    assert engine[0]["hifp_pay"] == 450_000 and engine[0]["cap_fen"] == 15_000_000
    assert [r.get("error") for r in engine] == [None, "SPECIAL_DRUG_NOT_CROSS_PROVINCE", "SPECIAL_DRUG_NOT_COVERED"]
    for got, expected in zip(engine, scalar):
        assert {k: v for k, v in got.items() if k in expected} == expected
