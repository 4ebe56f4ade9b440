"""A synthetic cross-region claims population (`yidi demo generate`), for tests, demos and benchmarks.

Vectorized numpy with a seed, so one command gives the same file on every machine. The mix follows
docs/engine.md: the inpatient/outpatient ratio is derived from the 2024 national figures (14.34 million
inpatient and 156 million outpatient cross-province direct settlements → 8.42 % inpatient); every other
share, amount and region weight below is illustrative and says so. Items are drawn per claim, split by
the treatment region's dated catalog with the engine's vectorized split (``engine.scope``), and stored
as the claim's scope amounts (one row per claim; see ``engine.io.CLAIM_COLUMNS``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import duckdb
import numpy as np

from yidi.domain.errors import invalid
from yidi.engine.dataset import SCOPE_COLUMNS, Manifest, Partition, fen_column, write_table
from yidi.engine.io import write_parquet
from yidi.domain.kinds import BENEFIT_KINDS
from yidi.engine.tables import MED_TYPES
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
ALL_ITEM_CODES = tuple(sorted({c for codes in ITEM_CODES.values() for c in codes} | set(CHRONIC_ITEMS.values())))
FIRST_DAY, LAST_DAY = date(2023, 1, 1), date(2024, 12, 31)


@dataclass(frozen=True)
class GeneratedClaims:
    columns: dict[str, np.ndarray]
    n_persons: int
    items: dict[str, np.ndarray]  # item_claim, item_code (text), item_amount_fen, item_qty_milli — not written


@dataclass(frozen=True)
class Persons:
    """The insured persons claims are drawn for (one row per person)."""

    number: np.ndarray  # person numbers (psn_no = "G" + 9 digits)
    region: np.ndarray  # index into INSURED
    insutype: np.ndarray  # index into INSUTYPES
    long_term: np.ndarray  # has a long-term filing
    disease: np.ndarray  # index into DISEASES (their chronic disease, if they have chronic claims)
    destination: np.ndarray  # admdvs text: the filed place / usual destination


def _pick(rng: np.random.Generator, values: tuple, weights: tuple, size: int) -> np.ndarray:
    return rng.choice(len(values), size=size, p=np.asarray(weights) / np.sum(weights))


def _draw_persons(rng: np.random.Generator, number: np.ndarray, region: np.ndarray) -> Persons:
    n = len(number)
    insutype = np.zeros(n, dtype=np.int64)
    long_term = rng.random(n) < LONG_TERM_PERSON_SHARE
    disease = _pick(rng, DISEASES, DISEASE_WEIGHTS, n)
    destination = np.empty(n, dtype="<U6")
    for r, code in enumerate(INSURED):
        mask = region == r
        places, weights = DESTINATIONS[code]
        destination[mask] = np.asarray(places)[_pick(rng, places, weights, int(mask.sum()))]
        insutype[mask] = _pick(rng, INSUTYPES, INSUTYPE_WEIGHTS[code], int(mask.sum()))
    return Persons(number, region, insutype, long_term, disease, destination)


def generate(n_claims: int, seed: int = 2024, book: PolicyBook | None = None) -> GeneratedClaims:
    """N claims in memory, in random order (for tests and ``bench.engine``; large sets: ``write_dataset``)."""
    book = book or load_policy_book()
    rng = np.random.default_rng(seed)
    n_persons = max(1, n_claims // 5)
    region = _pick(rng, INSURED, INSURED_WEIGHTS, n_persons)
    return _draw_claims(rng, book, _draw_persons(rng, np.arange(n_persons), region), n_claims)


def _draw_claims(rng: np.random.Generator, book: PolicyBook, persons: Persons, n_claims: int) -> GeneratedClaims:
    n_persons = len(persons.number)
    # Claims: a skewed person draw so that some persons claim often and exhaust their caps.
    person = np.minimum((n_persons * rng.random(n_claims) ** 2).astype(np.int64), n_persons - 1)
    u = rng.random(n_claims)
    klass = np.where(u < INPATIENT_SHARE, 0, np.where(u < INPATIENT_SHARE + (1 - INPATIENT_SHARE)
                                                      * CHRONIC_SHARE_OF_OUTPATIENT, 2, 1))
    inpatient, chronic = klass == 0, klass == 2
    med_type = np.where(inpatient, np.asarray(INPATIENT_MED_TYPES)[_pick(rng, INPATIENT_MED_TYPES,
                                                                          INPATIENT_MED_WEIGHTS, n_claims)],
                        np.where(chronic, "14", "11"))
    disease_code = np.where(chronic, persons.disease[person], -1)
    disease = np.where(chronic, np.asarray(DISEASES)[persons.disease[person]], "")
    level = np.where(inpatient, _pick(rng, (1, 2, 3), LEVEL_WEIGHTS["inpatient"], n_claims),
                     _pick(rng, (1, 2, 3), LEVEL_WEIGHTS["outpatient"], n_claims)) + 1

    long_term = persons.long_term[person]
    kind_names = np.where(long_term, np.asarray(LONG_TERM_KINDS)[_pick(rng, LONG_TERM_KINDS, LONG_TERM_WEIGHTS, n_claims)],
                          np.asarray(TEMPORARY_KINDS)[_pick(rng, TEMPORARY_KINDS, TEMPORARY_WEIGHTS, n_claims)])
    insured = np.asarray(INSURED)[persons.region[person]]
    returning = np.isin(kind_names, ("long_term_returning", "temporary_returning"))
    treatment = np.where(returning, insured, persons.destination[person])
    # Temporary visits go to a destination of the region's usual ones, not the filed place.
    temporary = ~long_term & ~returning
    for code in INSURED:
        mask = temporary & (insured == code)
        places, weights = DESTINATIONS[code]
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
        median = np.where(disease_code == DISEASES.index(code), value, median)
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
    code_of = {c: i for i, c in enumerate(ALL_ITEM_CODES)}
    item_inpatient = inpatient[item_claim]
    in_pick = np.array([code_of[c] for c in in_codes])[rng.integers(0, len(in_codes), len(item_claim))]
    out_pick = np.array([code_of[c] for c in out_codes])[rng.integers(0, len(out_codes), len(item_claim))]
    item_code = np.where(item_inpatient, in_pick, out_pick)
    for dise, code in CHRONIC_ITEMS.items():
        item_code = np.where((disease_code == DISEASES.index(dise))[item_claim], code_of[code], item_code)
    item_qty_milli = np.full(len(item_claim), 1000, dtype=np.int64)

    endtime = discharge.astype("datetime64[D]")
    catalogs, rows = catalog_rows(book, treatment, endtime, list(ALL_ITEM_CODES))
    catalog_index = np.array([catalogs.codes.index(c) for c in ALL_ITEM_CODES])
    scope = split_items(catalogs, rows, item_claim, catalog_index[item_code], item_amount, item_qty_milli)

    region_codes = np.searchsorted(np.asarray(INSURED_SORTED), insured)
    columns = {
        "claim_no": np.arange(n_claims, dtype=np.int64), "person": persons.number[person],
        "insured": region_codes.astype(np.int64),
        "insutype": persons.insutype[person].astype(np.int64),
        "treatment": np.searchsorted(np.asarray(TREATMENT_SORTED), treatment).astype(np.int64),
        "hospital_level": level.astype(np.int64), "med_type": med_type, "dise_codg": disease,
        "begin_day": admission.astype(np.int64), "end_day": discharge.astype(np.int64),
        "benefit_kind": kind_names, "item_count": item_count.astype(np.int64),
        "medfee_sumamt": scope.medfee_sumamt, "fulamt_ownpay_amt": scope.fulamt_ownpay_amt,
        "overlmt_selfpay": scope.overlmt_selfpay, "preselfpay_amt": scope.preselfpay_amt,
        "inscp_scp_amt": scope.inscp_scp_amt,
    }
    items = {"item_claim": item_claim, "item_code": np.asarray(ALL_ITEM_CODES)[item_code], "item_amount_fen": item_amount,
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


# ------------------------------------------------------------------ partitioned dataset --
# `yidi demo generate --out DIR`: the same population, written partition by partition (engine.dataset), so
# that 100 M claims never sit in memory at once. Persons of an insured region are numbered in one range;
# a person's bucket is their number modulo the region's bucket count (a hash that spreads dense numbers
# evenly), so each partition holds every claim of its persons and nothing else. Each partition draws from
# its own random stream (seed, region, bucket): the same seed gives the same dataset in any worker order.

DEFAULT_PARTITION_CLAIMS = 250_000  # ~30 MB of columns per partition: arrays small enough for malloc to reuse


def _apportion(total: int, weights) -> list[int]:
    """``total`` split by ``weights`` into integers that add up to it (largest remainder)."""
    shares = np.asarray(weights, dtype=float) / np.sum(weights) * total
    out = np.floor(shares).astype(np.int64)
    out[np.argsort(-(shares - out), kind="stable")[:total - int(out.sum())]] += 1
    return [int(x) for x in out]


def plan_partitions(n_claims: int, partition_claims: int = DEFAULT_PARTITION_CLAIMS) -> list[Partition]:
    weights = dict(zip(INSURED, INSURED_WEIGHTS))
    ordered = [weights[code] for code in INSURED_SORTED]
    region_claims = _apportion(n_claims, ordered)
    region_persons = [max(p, 1) if c else 0 for p, c in zip(_apportion(max(1, n_claims // 5), ordered), region_claims)]
    partitions, first_person, first_claim = [], 0, 0
    for region, claims, persons in zip(INSURED_SORTED, region_claims, region_persons):
        buckets = max(1, min(persons, -(-claims // partition_claims)))
        members = [len(range(first_person + (b - first_person) % buckets, first_person + persons, buckets))
                   for b in range(buckets)]
        for bucket, (count, bucket_claims) in enumerate(zip(members, _apportion(claims, members))):
            if bucket_claims:
                partitions.append(Partition(region, bucket, buckets, bucket_claims, count, first_claim,
                                            first_person, first_person + persons))
                first_claim += bucket_claims
        first_person += persons
    return partitions


def cap_group(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The claim's annual cap (``benefit.cap_key_for``) as a number: inpatient 0, outpatient 1, chronic 2 + the
    rank of its disease code — the order of the engine's cap key, so that partitions written in (cap group,
    person, discharge day) order need no sort at all when re-priced (``engine.order``, "already ordered")."""
    med_class = np.where(np.isin(columns["med_type"], INPATIENT_MED_TYPES), 0,
                         np.where(columns["med_type"] == "14", 2, 1))
    disease_rank = np.searchsorted(np.asarray(sorted(DISEASES)), columns["dise_codg"])
    return np.where(med_class == 2, 2 + disease_rank, med_class)


def generate_partition(partition: Partition, seed: int, book: PolicyBook) -> GeneratedClaims:
    """One partition's claims in (cap group, person, discharge day) order (ties in draw order), numbered from
    its first claim number."""
    rng = np.random.default_rng([seed, INSURED_SORTED.index(partition.region), partition.bucket])
    first, stop, buckets = partition.first_person, partition.stop_person, partition.buckets
    number = np.arange(first + (partition.bucket - first) % buckets, stop, buckets, dtype=np.int64)
    region = np.full(len(number), INSURED.index(partition.region))
    drawn = _draw_claims(rng, book, _draw_persons(rng, number, region), partition.claims)
    order = np.lexsort((drawn.columns["end_day"], drawn.columns["person"], cap_group(drawn.columns)))
    columns = {name: values[order] for name, values in drawn.columns.items()}
    columns["claim_no"] = partition.first_claim_no + np.arange(partition.claims, dtype=np.int64)
    new_index = np.empty(partition.claims, np.int64)
    new_index[order] = np.arange(partition.claims)
    item_claim = new_index[drawn.items["item_claim"]]
    item_order = np.argsort(item_claim, kind="stable")
    items = {name: values[item_order] for name, values in drawn.items.items()}
    items["item_claim"] = item_claim[item_order]
    return GeneratedClaims(columns, len(number), items)


def dataset_vocabularies() -> dict[str, list[str]]:
    return {"insuplc_admdvs": list(INSURED_SORTED), "insutype": list(INSUTYPES), "treatment": list(TREATMENT_SORTED),
            "med_type": list(MED_TYPES), "disease": list(DISEASES), "benefit_kind": list(BENEFIT_KINDS),
            "item_code": list(ALL_ITEM_CODES)}


def _codes(values: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Text → int8 index into a (short) vocabulary."""
    out = np.full(len(values), -1, np.int8)
    for i, value in enumerate(vocabulary):
        out[values == value] = i
    return out


# claims.parquet: days become DATE columns; everything else keeps the numpy dtype it was given.
_CLAIMS_SELECT = ("* EXCLUDE (begin_day, end_day), DATE '1970-01-01' + begin_day AS begntime, "
                  "DATE '1970-01-01' + end_day AS endtime")


def write_partition(generated: GeneratedClaims, partition: Partition, folder: Path) -> None:
    """claims.parquet and items.parquet of one partition (engine.dataset's layout and types)."""
    cols, items = generated.columns, generated.items
    disease = np.where(cols["dise_codg"] == "", -1, _codes(cols["dise_codg"], DISEASES))
    claims = {"claim_no": cols["claim_no"], "person": cols["person"].astype(np.int32),
              "insutype": cols["insutype"].astype(np.int8), "treatment": cols["treatment"].astype(np.int8),
              "hospital_level": cols["hospital_level"].astype(np.int8), "med_type": _codes(cols["med_type"], MED_TYPES),
              "disease": disease.astype(np.int8), "begin_day": cols["begin_day"].astype(np.int32),
              "end_day": cols["end_day"].astype(np.int32), "benefit_kind": _codes(cols["benefit_kind"], BENEFIT_KINDS),
              "item_count": cols["item_count"].astype(np.int8),
              **{name: fen_column(cols[name]) for name in SCOPE_COLUMNS}}
    starts = np.searchsorted(items["item_claim"], np.arange(len(cols["claim_no"])))
    fee_items = {"claim_no": cols["claim_no"][items["item_claim"]],
                 "item_no": (np.arange(len(items["item_claim"])) - starts[items["item_claim"]]).astype(np.int8),
                 "item_code": _codes(items["item_code"], ALL_ITEM_CODES),
                 "amount_fen": fen_column(items["item_amount_fen"]), "qty_milli": items["item_qty_milli"].astype(np.int32)}
    target = folder / partition.folder
    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 1})
    try:
        write_table(con, claims, target / "claims.parquet", _CLAIMS_SELECT, compression="lz4")
        write_table(con, fee_items, target / "items.parquet")
    finally:
        con.close()


def _generate_and_write(job: tuple[Partition, int, Path]) -> int:
    partition, seed, folder = job
    write_partition(generate_partition(partition, seed, _worker_book()), partition, folder)
    return partition.claims


_BOOK: PolicyBook | None = None


def _worker_book() -> PolicyBook:
    global _BOOK
    if _BOOK is None:
        _BOOK = load_policy_book()
    return _BOOK


def write_dataset(n_claims: int, folder: Path, seed: int = 2024, partition_claims: int = DEFAULT_PARTITION_CLAIMS,
                  workers: int = 1, progress: Callable[[int], None] = lambda claims: None) -> Manifest:
    """Generate and write the dataset partition by partition; ``workers`` processes, each holding one
    partition at a time (memory is bounded by the partition size, not N). ``progress`` gets each
    finished partition's claim count."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise invalid("--out", f"输出目录 {folder} 不为空；请换一个目录或先清空")
    partitions = plan_partitions(n_claims, partition_claims)
    jobs = [(p, seed, folder) for p in partitions]
    global _BOOK
    _BOOK = load_policy_book()  # loaded once here; forked workers inherit it
    if workers <= 1:
        for job in jobs:
            progress(_generate_and_write(job))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            for done in pool.map(_generate_and_write, jobs):
                progress(done)
    manifest = Manifest(n_claims, sum(p.persons for p in partitions), seed, dataset_vocabularies(),
                        tuple(partitions))
    manifest.write(folder)
    return manifest
