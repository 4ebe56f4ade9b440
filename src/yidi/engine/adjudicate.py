"""The batch engine: ``benefit.calculate`` for a whole table of claims at once (numpy, int64 fen).

Input is one row per claim (``ClaimTable``) with the scope amounts already split (steps 1–4 of
docs/baseline-policy.md; ``engine.scope.split_items`` does that from items) and the coverage decision as a
``benefit_kind`` (``domain.kinds``). Every claim uses the insured region's policy version in force on
its discharge date. Steps 5–9 are elementwise integer arithmetic, rounding half-up exactly like
``money.apply_bp``: ``(x × bp + 5000) // 10000`` for x ≥ 0.

The annual caps (B9, B10) make claims depend on each other: ``hifp_i = min(by_ratio_i, cap − used_before_i)``
with the running total kept per person, calendar year of discharge and cap key (``benefit.cap_key_for``),
in discharge order. Because every ``by_ratio`` is ≥ 0, the running total after claim i of a group is
``min(cap, opening + cumsum(by_ratio)_i)`` (never below the opening) — one ordering (``engine.order``,
mostly a linear-time radix sort, none when the input is already ordered) and one segmented cumsum instead
of a loop; each claim's ``used_before`` goes back to input order and ``hifp_i`` follows elementwise. That
closed form needs one cap per group; a group whose cap changes within the year (a policy version or
insutype change mid-year) is replayed with the plain sequential loop, for those groups only. Ties on the
same discharge day keep the input order (every ordering pass is stable), which is the order the scalar
service would settle them in.

Every figure a claim needs comes from one row of the policy's ``ClaimGrid`` (``engine.tables``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from yidi.domain.kinds import BENEFIT_KINDS, KIND_INDEX
from yidi.domain.regions import same_province
from yidi.engine.order import discharge_order
from yidi.engine.scope import half_up_bp
from yidi.engine.tables import (  # noqa: F401 - ERRORS re-exported for callers
    ERRORS, INVALID_INPUT, MED_TYPE_NOT_SUPPORTED, MED_TYPES, OK, PolicyTables, days)



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
    of each group). ``cross_province`` (optional, bool): the claim was treated outside the insured province —
    a 门诊慢特病 the insured region settles only inside its province is then refused, as the scalar
    ``coverage.refuse_outside_remote_scope`` does (B10); a ``manual_without_filing`` claim is a manual claim
    back home and is not refused. Without the column no claim is taken to be cross-province.
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
    cross_province: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.person)

    @classmethod
    def from_columns(cls, tables: PolicyTables, *, psn_no, insuplc_admdvs, insutype, hospital_level, med_type,
                     dise_codg, endtime, benefit_kind, medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay,
                     preselfpay_amt, inscp_scp_amt, cap_used_opening_fen=None, mdtrtarea_admvs=None) -> "ClaimTable":
        """Build from plain columns (strings, dates, fen) as read from a file or a database; ``mdtrtarea_admvs``
        (the treatment regions) fills ``cross_province``."""
        person = np.unique(np.asarray(psn_no).astype(str), return_inverse=True)[1].astype(np.int64)
        as_fen = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
        return cls(person, encode(insuplc_admdvs, tables.regions), encode(insutype, tables.insutypes),
                   np.asarray(hospital_level, dtype=np.int64), encode(med_type, MED_TYPES),
                   encode(np.where(np.asarray(dise_codg, dtype=object) == None, "", dise_codg), tables.diseases),  # noqa: E711
                   days(endtime), encode(benefit_kind, BENEFIT_KINDS),
                   as_fen(medfee_sumamt), as_fen(fulamt_ownpay_amt), as_fen(overlmt_selfpay), as_fen(preselfpay_amt),
                   as_fen(inscp_scp_amt), None if cap_used_opening_fen is None else as_fen(cap_used_opening_fen),
                   None if mdtrtarea_admvs is None else cross_province(insuplc_admdvs, mdtrtarea_admvs))


def cross_province(insuplc_admdvs, mdtrtarea_admvs) -> np.ndarray:
    """Per claim: treated outside the insured province (few distinct pairs: decided once per pair)."""
    pairs = np.char.add(np.asarray(insuplc_admdvs).astype(str), np.asarray(mdtrtarea_admvs).astype(str))
    distinct, inverse = np.unique(pairs, return_inverse=True)
    return np.array([not same_province(p[:6], p[6:]) for p in distinct], dtype=bool)[inverse.reshape(-1)]


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
    ordering: tuple | None = field(default=None, repr=False)  # (cap key, order, sorted group, how): reusable

    FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
              "first_selfpay", "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "psn_part_amt")

    def fields_fen(self, i: int) -> dict[str, int]:
        return {name: int(getattr(self, name)[i]) for name in self.FIELDS}


def adjudicate(claims: ClaimTable, tables: PolicyTables, same_claims: "Adjudication | None" = None) -> Adjudication:
    """``same_claims``: an adjudication of these very claims under another policy (a simulation's baseline);
    its discharge order is reused where every claim has the same cap key under both policies."""
    n = len(claims)
    g = tables.grid.claim_grid()
    version = tables.version_of(claims.region, claims.discharge_day)
    # One flat row per claim in the ClaimGrid: codes × strides, +offset shifts every code but the level by one.
    level = claims.hospital_level
    if n and (level.min() < 0 or level.max() > 3):
        level = np.where((level >= 1) & (level <= 3), level, 0)
    sv, st, sm, sl, sd, sk = g.strides  # int64 scalars: codes may come as int8, the products are int64
    row = version * sv
    row += g.offset
    term = np.empty_like(row)
    for codes, stride in ((claims.insutype, st), (claims.med_type, sm), (level, sl), (claims.disease, sd),
                          (claims.benefit_kind, sk)):
        row += np.multiply(codes, stride, out=term)
    error = g.error.take(row)
    if claims.cross_province is not None and n:  # B10/B11: 省内-only 门诊慢特病 or 特药 treated in another province
        refusal = g.province_only.take(row)
        blocked = refusal != OK
        blocked &= claims.cross_province
        blocked &= claims.benefit_kind != KIND_INDEX["manual_without_filing"]
        error[blocked] = refusal[blocked]
    inscp = claims.inscp_scp_amt
    if n and inscp.min() < 0:  # a negative in-scope amount is bad input (unless the med_type already refuses)
        error[(inscp < 0) & (error != MED_TYPE_NOT_SUPPORTED)] = INVALID_INPUT
    refused = bool(error.any())
    ratio_bp = g.ratio_bp.take(row)  # B7, already 0 on rows the policy refuses
    if refused:
        settled = error == OK
        inscp = np.where(settled, inscp, 0)
        ratio_bp[~settled] = 0

    # Steps 5–8 in int64 with in-place ufuncs: 首先自付 (B6), deductible per admission (B1), ratio (B7).
    first_selfpay = inscp * g.first_selfpay_bp.take(row)
    _half_up_in_place(first_selfpay)
    eligible = np.subtract(inscp, first_selfpay)
    act_pay_dedc = np.minimum(eligible, g.deductible.take(row))
    by_ratio = np.subtract(eligible, act_pay_dedc)
    by_ratio *= ratio_bp
    _half_up_in_place(by_ratio)
    cap = g.cap.take(row)  # 0 for claims the policy refuses, whose by_ratio is 0 too
    cap_key = g.cap_class.take(row)
    ordering = None
    if same_claims is not None and same_claims.ordering is not None and np.array_equal(same_claims.ordering[0], cap_key):
        ordering = same_claims.ordering
    used_before, stats, ordering = _cap_used_before(claims, cap_key, cap, by_ratio, ordering)
    hifp_pay = np.subtract(cap, used_before)  # 9: min(by_ratio, what is left of the cap), as benefit.calculate
    np.maximum(hifp_pay, 0, out=hifp_pay)
    np.minimum(hifp_pay, by_ratio, out=hifp_pay)

    if refused:
        medfee = np.where(settled, claims.medfee_sumamt, 0)
        passed = [np.where(settled, a, 0) for a in (claims.fulamt_ownpay_amt, claims.overlmt_selfpay,
                                                    claims.preselfpay_amt)]
    else:  # every claim settled: the scope amounts pass through unchanged (read-only views, no copies)
        medfee, *passed = (_read_only(a) for a in (claims.medfee_sumamt, claims.fulamt_ownpay_amt,
                                                   claims.overlmt_selfpay, claims.preselfpay_amt))
        inscp = _read_only(inscp)
    pool_prop_selfpay = eligible  # reused: eligible − deductible − fund
    pool_prop_selfpay -= act_pay_dedc
    pool_prop_selfpay -= hifp_pay
    return Adjudication(
        medfee_sumamt=medfee, fulamt_ownpay_amt=passed[0], overlmt_selfpay=passed[1], preselfpay_amt=passed[2],
        inscp_scp_amt=inscp, first_selfpay=first_selfpay, act_pay_dedc=act_pay_dedc,
        ratio_bp=ratio_bp, hifp_pay=hifp_pay, pool_prop_selfpay=pool_prop_selfpay,
        fund_pay_sumamt=hifp_pay, psn_part_amt=medfee - hifp_pay,
        cap_fen=cap, cap_used_before_fen=used_before, policy_version=version, error=error, stats=stats,
        ordering=ordering)


def _half_up_in_place(product_bp: np.ndarray) -> None:
    """x (amount × basis points, ≥ 0) → half-up fen, in place: the integer form of money.apply_bp."""
    product_bp += 5000
    product_bp //= 10000


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _cap_used_before(claims: ClaimTable, cap_key: np.ndarray, cap: np.ndarray, by_ratio: np.ndarray,
                     ordering: tuple | None = None) -> tuple[np.ndarray, dict, tuple | None]:
    """Each claim's year-to-date cap use before it: running totals per (person, cap key, calendar year) in
    discharge order; see the module docstring. Only this goes back to input order (one scatter); the fund
    payment follows from it elementwise. ``ordering`` is a previous result for the same claims and cap keys."""
    n = len(claims)
    if n == 0:
        return np.zeros(0, np.int64), {"groups": 0, "sequential_groups": 0, "order": ""}, None
    if ordering is None:
        ordering = (cap_key, *discharge_order(claims.person, claims.discharge_day, cap_key))
    _, order, group, how = ordering
    ordered = (lambda a: a) if order is None else (lambda a: a.take(order))  # noqa: E731
    starts_mask = np.empty(n, bool)
    starts_mask[0] = True
    np.not_equal(group[1:], group[:-1], out=starts_mask[1:])
    starts = np.flatnonzero(starts_mask)

    r = ordered(by_ratio)
    c = ordered(cap)
    # Segmented cumsum: the running total minus the total before the group's first claim. The total
    # before each claim never decreases (r ≥ 0), so a running maximum carries each group's base forward.
    running = np.cumsum(r)
    base = running - r
    base *= starts_mask
    np.maximum.accumulate(base, out=base)
    within = running
    within -= base
    if claims.cap_used_opening_fen is None:
        opening_sorted = np.zeros(len(starts), np.int64)
        used_after = np.minimum(c, within, out=within)
    else:
        opening_sorted = ordered(claims.cap_used_opening_fen)[starts]
        opening = np.repeat(opening_sorted, np.diff(starts, append=n))
        used_after = np.maximum(opening, np.minimum(c, opening + within))
    used_before = np.empty(n, np.int64)
    used_before[1:] = used_after[:-1]
    used_before[starts] = opening_sorted

    # Groups whose cap is not one number all year: replay them claim by claim.
    cap_changes = np.flatnonzero((c[1:] != c[:-1]) & ~starts_mask[1:]) + 1
    varying = np.unique(np.searchsorted(starts, cap_changes, side="right") - 1)
    lengths = np.diff(starts, append=n) if len(varying) else None
    for g in varying:
        used = int(opening_sorted[g])
        for i in range(starts[g], starts[g] + lengths[g]):
            used_before[i] = used
            used += min(int(r[i]), max(0, int(c[i]) - used))

    stats = {"groups": int(len(starts)), "sequential_groups": int(len(varying)), "order": how}
    if order is None:
        return used_before, stats, ordering
    in_input_order = np.empty(n, np.int64)
    in_input_order[order] = used_before
    return in_input_order, stats, ordering
