"""The batch engine: ``benefit.calculate`` for a whole table of claims at once (numpy, int64 fen).

Input is one row per claim (``ClaimTable``) with the scope amounts already split (steps 1–4 of
baseline-policy.md; ``engine.scope.split_items`` does that from items) and the coverage decision as a
``benefit_kind`` (``engine.kinds``). Every claim uses the insured region's policy version in force on
its discharge date. Steps 5–9 are elementwise integer arithmetic, rounding half-up exactly like
``money.apply_bp``: ``(x × bp + 5000) // 10000`` for x ≥ 0.

The annual caps (B9, B10) make claims depend on each other: ``hifp_i = min(by_ratio_i, cap − used_before_i)``
with the running total kept per person, calendar year of discharge and cap key (``benefit.cap_key_for``),
in discharge order. Because every ``by_ratio`` is ≥ 0, the running total after claim i of a group is
``min(cap, opening + cumsum(by_ratio)_i)`` (never below the opening), and ``hifp_i`` is the difference of
consecutive totals — one sort and one segmented cumsum instead of a loop. That closed form needs one cap
per group; a group whose cap changes within the year (a policy version or insutype change mid-year) is
replayed with the plain sequential loop, for those groups only. Ties on the same discharge day keep the
input order (stable sort), which is the order the scalar service would settle them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from yidi.engine.kinds import BENEFIT_KINDS
from yidi.engine.scope import half_up_bp
from yidi.engine.tables import (  # noqa: F401 - ERRORS re-exported for callers
    ERRORS, INVALID_INPUT, MED_TYPE_NOT_SUPPORTED, MED_TYPES, OK, PolicyTables, calendar_year, days)



def encode(values: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Strings → index into ``vocabulary`` (−1 where absent). Fast for few distinct values."""
    distinct, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    lookup = {v: i for i, v in enumerate(vocabulary)}
    return np.array([lookup.get(str(v), -1) for v in distinct], dtype=np.int64)[inverse]


@dataclass
class ClaimTable:
    """One row per claim, every column a numpy array of the same length; categories as integer codes.

    ``person`` is any non-negative int64 id; the other codes index the vocabularies of the
    ``PolicyTables`` they were encoded with (``region``, ``insutype``, ``disease``), ``MED_TYPES`` and
    ``BENEFIT_KINDS``; −1 means "not known to the policy". ``cap_used_opening_fen`` (optional) is what
    the fund already paid this year against the claim's cap before this batch (read at the first claim
    of each group).
    """

    person: np.ndarray
    region: np.ndarray  # insured region (insuplc_admdvs)
    insutype: np.ndarray
    hospital_level: np.ndarray
    med_type: np.ndarray
    disease: np.ndarray  # chronic dise_codg; −1 for none
    discharge_day: np.ndarray  # int64 days since 1970-01-01 (endtime = settlement date)
    benefit_kind: np.ndarray
    medfee_sumamt: np.ndarray
    fulamt_ownpay_amt: np.ndarray
    overlmt_selfpay: np.ndarray
    preselfpay_amt: np.ndarray
    inscp_scp_amt: np.ndarray
    cap_used_opening_fen: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.person)

    @classmethod
    def from_columns(cls, tables: PolicyTables, *, psn_no, insuplc_admdvs, insutype, hospital_level, med_type,
                     dise_codg, endtime, benefit_kind, medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay,
                     preselfpay_amt, inscp_scp_amt, cap_used_opening_fen=None) -> "ClaimTable":
        """Build from plain columns (strings, dates, fen) as read from a file or a database."""
        person = np.unique(np.asarray(psn_no).astype(str), return_inverse=True)[1].astype(np.int64)
        as_fen = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
        return cls(person, encode(insuplc_admdvs, tables.regions), encode(insutype, tables.insutypes),
                   np.asarray(hospital_level, dtype=np.int64), encode(med_type, MED_TYPES),
                   encode(np.where(np.asarray(dise_codg, dtype=object) == None, "", dise_codg), tables.diseases),  # noqa: E711
                   days(endtime), encode(benefit_kind, BENEFIT_KINDS),
                   as_fen(medfee_sumamt), as_fen(fulamt_ownpay_amt), as_fen(overlmt_selfpay), as_fen(preselfpay_amt),
                   as_fen(inscp_scp_amt), None if cap_used_opening_fen is None else as_fen(cap_used_opening_fen))


@dataclass
class Adjudication:
    """Per claim, integer fen (the ``BenefitResult`` fields), plus the cap bookkeeping and the version used."""

    medfee_sumamt: np.ndarray
    fulamt_ownpay_amt: np.ndarray
    overlmt_selfpay: np.ndarray
    preselfpay_amt: np.ndarray
    inscp_scp_amt: np.ndarray
    first_selfpay: np.ndarray
    act_pay_dedc: np.ndarray
    ratio_bp: np.ndarray
    hifp_pay: np.ndarray
    pool_prop_selfpay: np.ndarray
    fund_pay_sumamt: np.ndarray
    psn_part_amt: np.ndarray
    cap_fen: np.ndarray
    cap_used_before_fen: np.ndarray
    policy_version: np.ndarray  # index into PolicyTables.versions; −1 where none
    error: np.ndarray  # index into ERRORS; 0 = settled
    stats: dict = field(default_factory=dict)

    FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
              "first_selfpay", "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "psn_part_amt")

    def fields_fen(self, i: int) -> dict[str, int]:
        return {name: int(getattr(self, name)[i]) for name in self.FIELDS}


def adjudicate(claims: ClaimTable, tables: PolicyTables) -> Adjudication:
    grid = tables.grid
    _, nt, nm, nl, nd = grid.shape
    version = tables.version_of(claims.region, claims.discharge_day)
    # Codes shifted by one: slot 0 is "unknown", so one flat index finds every figure (ParameterGrid).
    level = np.where((claims.hospital_level >= 1) & (claims.hospital_level <= 3), claims.hospital_level, 0)
    med_type = claims.med_type + 1
    row = (((version + 1) * nt + claims.insutype + 1) * nm + med_type) * nl + level
    row = row * nd + claims.disease + 1
    error = grid.error[row]
    error[(claims.benefit_kind < 0) | (claims.inscp_scp_amt < 0)] = INVALID_INPUT
    error[claims.med_type < 0] = MED_TYPE_NOT_SUPPORTED
    settled = error == OK

    # Parameters for this kind of visit (B1, B9, B10) and the coverage numbers (B3–B6), per claim.
    kind_row = ((version + 1) * len(BENEFIT_KINDS) + np.maximum(claims.benefit_kind, 0)) * nm + med_type
    inscp = np.where(settled, claims.inscp_scp_amt, 0)
    first_selfpay = half_up_bp(inscp, grid.first_selfpay_bp[kind_row])  # 5: 首先自付 (B6) before the deductible
    eligible = inscp - first_selfpay
    act_pay_dedc = np.minimum(eligible, grid.deductible[row])  # 6: per admission (0 for outpatient)
    ratio_bp = np.maximum(0, grid.base_ratio[row] - grid.reduction_pp[kind_row] * 100)  # 7
    by_ratio = half_up_bp(eligible - act_pay_dedc, ratio_bp)  # 8, before the cap
    cap = grid.cap[row]  # 0 for refused claims, whose by_ratio is 0 too
    hifp_pay, used_before, stats = _apply_caps(claims, grid.cap_class[row], cap, by_ratio)

    medfee = np.where(settled, claims.medfee_sumamt, 0)
    zero_if_refused = lambda a: np.where(settled, a, 0)  # noqa: E731
    return Adjudication(
        medfee_sumamt=medfee, fulamt_ownpay_amt=zero_if_refused(claims.fulamt_ownpay_amt),
        overlmt_selfpay=zero_if_refused(claims.overlmt_selfpay), preselfpay_amt=zero_if_refused(claims.preselfpay_amt),
        inscp_scp_amt=inscp, first_selfpay=first_selfpay, act_pay_dedc=act_pay_dedc,
        ratio_bp=np.where(settled, ratio_bp, 0), hifp_pay=hifp_pay,
        pool_prop_selfpay=eligible - act_pay_dedc - hifp_pay, fund_pay_sumamt=hifp_pay, psn_part_amt=medfee - hifp_pay,
        cap_fen=cap, cap_used_before_fen=used_before, policy_version=version, error=error, stats=stats)


def _apply_caps(claims: ClaimTable, cap_key: np.ndarray, cap: np.ndarray,
                by_ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Running totals per (person, cap key, calendar year) in discharge order; see the module docstring."""
    n = len(claims)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), {"groups": 0, "sequential_groups": 0}
    person = claims.person
    if person.min(initial=0) < 0 or person.max(initial=0) >= 2**31 or cap_key.max() >= 2**10:
        person = np.unique(person, return_inverse=True)[1].astype(np.int64)
    # One int64 sort key: person (31 bits) | cap key (10 bits) | discharge day (22 bits, days since 1970 + 2**21).
    key = (person << 32) | (cap_key << 22) | (claims.discharge_day + 2**21)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    holder = sorted_key >> 22  # person and cap key
    year = calendar_year((sorted_key & (2**22 - 1)) - 2**21)
    starts_mask = np.empty(n, bool)
    starts_mask[0] = True
    starts_mask[1:] = (holder[1:] != holder[:-1]) | (year[1:] != year[:-1])
    starts = np.flatnonzero(starts_mask)
    lengths = np.diff(starts, append=n)

    r = by_ratio[order]
    c = cap[order]
    running = np.cumsum(r)
    within = running - np.repeat(running[starts] - r[starts], lengths)  # segmented cumsum
    if claims.cap_used_opening_fen is None:
        opening_sorted = np.zeros(len(starts), np.int64)
        used_after = np.minimum(c, within)
    else:
        opening_sorted = claims.cap_used_opening_fen[order][starts]
        opening = np.repeat(opening_sorted, lengths)
        used_after = np.maximum(opening, np.minimum(c, opening + within))
    used_before = np.empty(n, np.int64)
    used_before[1:] = used_after[:-1]
    used_before[starts] = opening_sorted
    hifp = used_after - used_before

    # Groups whose cap is not one number all year: replay them claim by claim.
    cap_changes = np.flatnonzero((c[1:] != c[:-1]) & ~starts_mask[1:]) + 1
    varying = np.unique(np.searchsorted(starts, cap_changes, side="right") - 1)
    for g in varying:
        used = int(opening_sorted[g])
        for i in range(starts[g], starts[g] + lengths[g]):
            used_before[i] = used
            hifp[i] = min(int(r[i]), max(0, int(c[i]) - used))
            used += int(hifp[i])

    out_hifp = np.empty(n, np.int64)
    out_before = np.empty(n, np.int64)
    out_hifp[order] = hifp
    out_before[order] = used_before
    return out_hifp, out_before, {"groups": int(len(starts)), "sequential_groups": int(len(varying))}
