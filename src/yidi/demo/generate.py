"""A synthetic cross-region claims population (`yidi demo generate`), for tests, demos and benchmarks.

Vectorized numpy with a seed, so one command gives the same file on every machine. The mix follows
docs/engine.md: the inpatient/outpatient ratio is derived from the 2024 national figures (14.34 million
inpatient and 156 million outpatient cross-province direct settlements → 8.42 % inpatient); every other
share, amount and region weight below is illustrative and says so. Items are drawn per claim, split by
the treatment region's dated catalog with the engine's vectorized split (``engine.scope``), and stored
as the claim's scope amounts (one row per claim; see ``engine.io.CLAIM_COLUMNS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from yidi.engine.io import write_parquet
from yidi.engine.scope import catalog_rows, split_items
from yidi.policy.loader import PolicyBook, load_policy_book

# 2024 national cross-province direct settlements (国家医保局 2024 年医疗保障事业发展统计快报):
INPATIENT_2024, OUTPATIENT_2024 = 14.34e6, 156e6
INPATIENT_SHARE = INPATIENT_2024 / (INPATIENT_2024 + OUTPATIENT_2024)  # 0.0842 — derived
CHRONIC_SHARE_OF_OUTPATIENT = 0.20  # illustrative: 门诊慢特病 among outpatient settlements

INSURED = ("410800", "420100", "371400")
INSURED_WEIGHTS = (0.40, 0.35, 0.25)  # illustrative
INSUTYPES = ("310", "390")  # 职工 / 居民
# illustrative; the baseline policy has 居民 inpatient figures only for 焦作, so the others are 职工 only.
INSUTYPE_WEIGHTS = {"410800": (0.60, 0.40), "420100": (1.0, 0.0), "371400": (1.0, 0.0)}
# Where people from each insured region go for treatment (illustrative; intra-province city first).
DESTINATIONS = {"410800": (("410100", "110000", "310000"), (0.50, 0.30, 0.20)),
                "420100": (("310000", "110000"), (0.60, 0.40)),
                "371400": (("370100", "110000", "310000"), (0.50, 0.25, 0.25))}
LONG_TERM_PERSON_SHARE = 0.45  # illustrative: persons with a long-term filing (retired relocated, workers)
INPATIENT_MED_TYPES, INPATIENT_MED_WEIGHTS = ("21", "22", "23"), (0.95, 0.03, 0.02)
LEVEL_WEIGHTS = {"inpatient": (0.05, 0.25, 0.70), "outpatient": (0.20, 0.30, 0.50)}  # illustrative L1/L2/L3
DISEASES, DISEASE_WEIGHTS = ("I10", "E11", "C80", "N18", "Z94"), (0.40, 0.35, 0.10, 0.10, 0.05)
# Median claim amount in yuan and log-normal sigma (illustrative).
INPATIENT_MEDIAN, INPATIENT_SIGMA = 15_000.0, 0.8
OUTPATIENT_MEDIAN, OUTPATIENT_SIGMA = 180.0, 0.9
CHRONIC_MEDIAN = {"I10": 300.0, "E11": 400.0, "C80": 8_000.0, "N18": 6_000.0, "Z94": 3_000.0}
# Temporary visits by kind (illustrative); long-term filers mostly treat at the filed place.
TEMPORARY_KINDS, TEMPORARY_WEIGHTS = (("referral", "emergency", "other_temporary", "temporary_returning"),
                                      (0.40, 0.20, 0.35, 0.05))
LONG_TERM_KINDS, LONG_TERM_WEIGHTS = (("long_term_at_filed_place", "long_term_returning", "other_temporary"),
                                      (0.85, 0.10, 0.05))
ITEM_CODES = {  # codes drawn for the items of a claim, by class (baseline catalog codes)
    "inpatient": ("X004", "X006", "X007", "X001", "X002", "X003", "X005"),
    "outpatient": ("X001", "X006", "X002", "X005"),
}
CHRONIC_ITEMS = {"I10": "X001", "E11": "X001", "C80": "X002", "N18": "X008", "Z94": "X002"}
FIRST_DAY, LAST_DAY = date(2023, 1, 1), date(2024, 12, 31)


@dataclass(frozen=True)
class GeneratedClaims:
    columns: dict[str, np.ndarray]
    n_persons: int
    items: dict[str, np.ndarray]  # item_claim, item_code (text), item_amount_fen, item_qty_milli — not written


def _pick(rng: np.random.Generator, values: tuple, weights: tuple, size: int) -> np.ndarray:
    return rng.choice(len(values), size=size, p=np.asarray(weights) / np.sum(weights))


def generate(n_claims: int, seed: int = 2024, book: PolicyBook | None = None) -> GeneratedClaims:
    book = book or load_policy_book()
    rng = np.random.default_rng(seed)
    n_persons = max(1, n_claims // 5)

    # Persons: insured region, insutype, long-term filing and its place, a chronic disease.
    person_region = _pick(rng, INSURED, INSURED_WEIGHTS, n_persons)
    person_insutype = np.zeros(n_persons, dtype=np.int64)
    person_long_term = rng.random(n_persons) < LONG_TERM_PERSON_SHARE
    person_disease = _pick(rng, DISEASES, DISEASE_WEIGHTS, n_persons)
    destinations = np.empty(n_persons, dtype=object)
    for r, region in enumerate(INSURED):
        mask = person_region == r
        places, weights = DESTINATIONS[region]
        destinations[mask] = np.asarray(places, dtype=object)[_pick(rng, places, weights, int(mask.sum()))]
        person_insutype[mask] = _pick(rng, INSUTYPES, INSUTYPE_WEIGHTS[region], int(mask.sum()))

    # Claims: a skewed person draw so that some persons claim often and exhaust their caps.
    person = np.minimum((n_persons * rng.random(n_claims) ** 2).astype(np.int64), n_persons - 1)
    u = rng.random(n_claims)
    klass = np.where(u < INPATIENT_SHARE, 0, np.where(u < INPATIENT_SHARE + (1 - INPATIENT_SHARE)
                                                      * CHRONIC_SHARE_OF_OUTPATIENT, 2, 1))
    inpatient, chronic = klass == 0, klass == 2
    med_type = np.where(inpatient, np.asarray(INPATIENT_MED_TYPES)[_pick(rng, INPATIENT_MED_TYPES,
                                                                          INPATIENT_MED_WEIGHTS, n_claims)],
                        np.where(chronic, "14", "11"))
    disease = np.where(chronic, np.asarray(DISEASES)[person_disease[person]], "")
    level = np.where(inpatient, _pick(rng, (1, 2, 3), LEVEL_WEIGHTS["inpatient"], n_claims),
                     _pick(rng, (1, 2, 3), LEVEL_WEIGHTS["outpatient"], n_claims)) + 1

    long_term = person_long_term[person]
    kind_names = np.where(long_term, np.asarray(LONG_TERM_KINDS)[_pick(rng, LONG_TERM_KINDS, LONG_TERM_WEIGHTS, n_claims)],
                          np.asarray(TEMPORARY_KINDS)[_pick(rng, TEMPORARY_KINDS, TEMPORARY_WEIGHTS, n_claims)])
    insured = np.asarray(INSURED)[person_region[person]]
    returning = np.isin(kind_names, ("long_term_returning", "temporary_returning"))
    treatment = np.where(returning, insured, destinations[person].astype(str))
    # Temporary visits go to a destination of the region's usual ones, not the filed place.
    temporary = ~long_term & ~returning
    for r, region in enumerate(INSURED):
        mask = temporary & (insured == region)
        places, weights = DESTINATIONS[region]
        treatment[mask] = np.asarray(places)[_pick(rng, places, weights, int(mask.sum()))]
    # 德州 has a manual claim path without filing (B6): a small illustrative share of its temporary visits.
    manual = temporary & (insured == "371400") & (rng.random(n_claims) < 0.03)
    kind_names = np.where(manual, "manual_without_filing", kind_names)

    first = np.datetime64(FIRST_DAY, "D").astype(np.int64)
    last = np.datetime64(LAST_DAY, "D").astype(np.int64)
    discharge = rng.integers(first, last + 1, n_claims)
    stay = np.where(inpatient, rng.geometric(1 / 9, n_claims), 0)
    admission = discharge - stay

    # Amounts (yuan → fen), then items: k items per claim sharing the amount.
    median = np.where(inpatient, INPATIENT_MEDIAN, OUTPATIENT_MEDIAN)
    for code, value in CHRONIC_MEDIAN.items():
        median = np.where(disease == code, value, median)
    sigma = np.where(inpatient, INPATIENT_SIGMA, OUTPATIENT_SIGMA)
    total_fen = np.maximum(100, (median * np.exp(sigma * rng.standard_normal(n_claims)) * 100).astype(np.int64))
    item_count = np.where(inpatient, rng.integers(3, 7, n_claims), np.where(chronic, 1, rng.integers(1, 4, n_claims)))
    item_claim = np.repeat(np.arange(n_claims), item_count)
    weight = rng.random(len(item_claim)) + 0.05
    weight_sum = np.bincount(item_claim, weights=weight, minlength=n_claims)
    item_amount = (total_fen[item_claim] * weight / weight_sum[item_claim]).astype(np.int64)
    # The last item of each claim takes the rounding remainder so the items add up to the total.
    last_item = np.cumsum(item_count) - 1
    item_amount[last_item] += total_fen - np.bincount(item_claim, weights=item_amount, minlength=n_claims).astype(np.int64)

    in_codes, out_codes = ITEM_CODES["inpatient"], ITEM_CODES["outpatient"]
    all_codes = tuple(sorted(set(in_codes) | set(out_codes) | set(CHRONIC_ITEMS.values())))
    code_of = {c: i for i, c in enumerate(all_codes)}
    item_inpatient = inpatient[item_claim]
    in_pick = np.array([code_of[c] for c in in_codes])[rng.integers(0, len(in_codes), len(item_claim))]
    out_pick = np.array([code_of[c] for c in out_codes])[rng.integers(0, len(out_codes), len(item_claim))]
    item_code = np.where(item_inpatient, in_pick, out_pick)
    for dise, code in CHRONIC_ITEMS.items():
        item_code = np.where((disease == dise)[item_claim], code_of[code], item_code)
    item_qty_milli = np.full(len(item_claim), 1000, dtype=np.int64)

    endtime = discharge.astype("datetime64[D]")
    catalogs, rows = catalog_rows(book, treatment, endtime, list(all_codes))
    catalog_index = np.array([catalogs.codes.index(c) for c in all_codes])
    scope = split_items(catalogs, rows, item_claim, catalog_index[item_code], item_amount, item_qty_milli)

    region_codes = np.searchsorted(np.asarray(INSURED_SORTED), insured)
    columns = {
        "claim_no": np.arange(n_claims, dtype=np.int64), "person": person,
        "insured": region_codes.astype(np.int64),
        "insutype": person_insutype[person].astype(np.int64),
        "treatment": np.searchsorted(np.asarray(TREATMENT_SORTED), treatment).astype(np.int64),
        "hospital_level": level.astype(np.int64), "med_type": med_type, "dise_codg": disease,
        "begin_day": admission.astype(np.int64), "end_day": discharge.astype(np.int64),
        "benefit_kind": kind_names, "item_count": item_count.astype(np.int64),
        "medfee_sumamt": scope.medfee_sumamt, "fulamt_ownpay_amt": scope.fulamt_ownpay_amt,
        "overlmt_selfpay": scope.overlmt_selfpay, "preselfpay_amt": scope.preselfpay_amt,
        "inscp_scp_amt": scope.inscp_scp_amt,
    }
    items = {"item_claim": item_claim, "item_code": np.asarray(all_codes)[item_code], "item_amount_fen": item_amount,
             "item_qty_milli": item_qty_milli}
    return GeneratedClaims(columns, n_persons, items)


INSURED_SORTED = tuple(sorted(INSURED))
TREATMENT_SORTED = tuple(sorted({p for places, _ in DESTINATIONS.values() for p in places} | set(INSURED)))


def write_claims(generated: GeneratedClaims, path: Path) -> None:
    def text(vocabulary: tuple[str, ...], column: str) -> str:
        return f"({list(vocabulary)!r})[{column} + 1]"

    select = ", ".join([
        "claim_no", "'G' || lpad(person::VARCHAR, 9, '0') AS psn_no",
        f"{text(INSURED_SORTED, 'insured')} AS insuplc_admdvs",
        f"{text(INSUTYPES, 'insutype')} AS insutype",
        f"{text(TREATMENT_SORTED, 'treatment')} AS mdtrtarea_admvs",
        "hospital_level::TINYINT AS hospital_level", "med_type", "nullif(dise_codg, '') AS dise_codg",
        "DATE '1970-01-01' + begin_day::INTEGER AS begntime", "DATE '1970-01-01' + end_day::INTEGER AS endtime",
        "benefit_kind", "item_count::TINYINT AS item_count",
        "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    ])
    write_parquet(generated.columns, select, path)
