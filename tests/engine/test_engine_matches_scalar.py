"""B1–B12 batch engine = scalar engine, to the fen, on hypothesis-generated populations.

Each generated claim is resolved by the real ``coverage.resolve_coverage`` (from generated filings)
and calculated by the real ``benefit.calculate`` with running cap totals in discharge order; the same
claims go through ``yidi.engine`` (vectorized scope split + adjudication). Any drift between the two
engines — in the arithmetic, the coverage reductions or the cap bookkeeping — fails here.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yidi.domain.catalog import FeeItem
from yidi.domain.filing import Basis, Channel, Filing, FilingStatus, FilingType, LONG_TERM_TYPES
from yidi.engine.overlay import book_with_overlay
from yidi.policy.loader import load_policy_book

from tests.engine.reference import Claim, engine_results, scalar_results

DATA = Path(__file__).parent / "data"
INSURED = ["410800", "420100", "371400"]
TREATMENT = ["110000", "310000", "410100", "370100", "410800", "420100", "371400"]
FILED_AREAS = ["110000", "310000", "410100", "410000", "370100", "370000", "420100"]
CODES = ["X001", "X002", "X003", "X004", "X005", "X006", "X007", "X008", "X999"]
DISEASES = ["I10", "E11", "C80", "N18", "Z94", None, "J45"]
START = date(2022, 10, 1)

# Amounts: mostly ordinary, sometimes huge so that annual caps run out.
amounts = st.one_of(st.integers(0, 200_000), st.integers(0, 3_000_000), st.integers(10_000_000, 120_000_000))
quantities = st.sampled_from([Decimal(1), Decimal(2), Decimal(3), Decimal("0.5"), Decimal("1.25"), Decimal("0.001")])
items = st.lists(st.builds(FeeItem, code=st.sampled_from(CODES), amount_fen=amounts, qty=quantities),
                 min_size=1, max_size=4)


@st.composite
def filings(draw, psn_no: str, insured: str) -> list[Filing]:
    out = []
    for n in range(draw(st.integers(0, 2))):
        filing_type = draw(st.sampled_from(list(FilingType)))
        begndate = START + timedelta(days=draw(st.integers(0, 900)))
        long_term = filing_type in LONG_TERM_TYPES
        out.append(Filing(
            filing_id=f"{psn_no}-F{n}", psn_no=psn_no, insuplc_admdvs=insured, filing_type=filing_type,
            basis=draw(st.sampled_from(list(Basis))), mdtrtarea_admvs=draw(st.sampled_from(FILED_AREAS)),
            begndate=begndate, enddate=None if long_term else begndate + timedelta(days=draw(st.integers(30, 365))),
            apply_date=begndate - timedelta(days=draw(st.integers(0, 3))), channel=Channel.APP,
            status=draw(st.sampled_from([FilingStatus.ACTIVE, FilingStatus.ACTIVE, FilingStatus.CANCELLED]))))
    return out


@st.composite
def populations(draw) -> list[Claim]:
    persons = []
    for p in range(draw(st.integers(1, 5))):
        psn_no = f"P{p}"
        insured = draw(st.sampled_from(INSURED))
        persons.append((psn_no, insured, draw(st.sampled_from(["310", "390"])), draw(filings(psn_no, insured))))
    claims = []
    for _ in range(draw(st.integers(1, 40))):
        psn_no, insured, insutype, person_filings = draw(st.sampled_from(persons))
        med_type = draw(st.sampled_from(["21", "21", "22", "23", "11", "11", "14", "14"]))
        # Few distinct dates per person so that same-day ties and year boundaries both occur.
        discharge = START + timedelta(days=draw(st.sampled_from([0, 80, 91, 92, 300, 455, 456, 640, 700, 821, 822])))
        stay = draw(st.integers(0, 20)) if med_type in ("21", "22", "23") else 0
        claims.append(Claim(
            psn_no=psn_no, insuplc_admdvs=insured, insutype=insutype,
            treatment_admdvs=draw(st.sampled_from(TREATMENT + [insured])), hospital_level=draw(st.integers(1, 3)),
            med_type=med_type, dise_codg=draw(st.sampled_from(DISEASES)) if med_type == "14" else None,
            begntime=discharge - timedelta(days=stay), endtime=discharge, items=draw(items),
            filings=person_filings, emergency=draw(st.sampled_from([False, False, False, True])), manual=draw(st.booleans())))
    return claims


def _compare(book, claims: list[Claim]) -> None:
    expected = scalar_results(book, claims)
    kept = [i for i, c in enumerate(claims) if c.benefit_kind]  # the resolver refused the others
    if not kept:
        return
    _, got = engine_results(book, [claims[i] for i in kept])
    for row, i in enumerate(kept):
        assert got[row] == expected[i], f"claim {i}: {claims[i]}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations())
def test_b12_engine_equals_scalar_on_generated_populations(claims):
    _compare(load_policy_book(), claims)


MIDYEAR = book_with_overlay(DATA / "midyear_410800_2024.yaml")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations())
def test_b9_b10_engine_equals_scalar_when_policy_changes_mid_year(claims):
    """A 2024-07-01 version changes caps: the engine replays those cap groups sequentially."""
    _compare(MIDYEAR, claims)


def test_b9_cap_exhaustion_in_discharge_order_not_input_order():
    """Three big stays given out of order: the cap runs out on the last discharged one, as the scalar says."""
    book = load_policy_book()
    stays = [date(2024, 9, 1), date(2024, 2, 1), date(2024, 5, 1)]
    claims = [Claim("P1", "410800", "390", "410800", 3, "21", None, d - timedelta(days=10), d,
                    [FeeItem("X007", 12_000_000)]) for d in stays]
    expected = scalar_results(book, claims)
    result, got = engine_results(book, claims)
    assert got == expected
    # 居民 level 3: (120000 − 1000) × 65% = 77350.00 each; the 200000.00 cap leaves 45300.00 for September.
    assert [g["hifp_pay"] for g in got] == [4_530_000, 7_735_000, 7_735_000]
    assert result.stats["sequential_groups"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations())
def test_b12_engine_equals_scalar_when_claims_come_by_person_and_discharge_date(claims):
    """Exports usually come ordered by person and discharge date: the engine's no-full-sort path."""
    claims.sort(key=lambda c: (c.psn_no, c.endtime))
    _compare(MIDYEAR, claims)
