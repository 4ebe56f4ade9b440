"""The dated policy book as dense numpy lookup tables, so that every claim finds its figures by indexing.

Every insured-region policy version gets a row index ``v``; a claim's version is the one in force on
its discharge date (``PolicyBook.insured_policy(region, date)``), found with ``np.searchsorted`` per
region. Figures are integer fen and basis points, copied from the validated policy objects, so the
engine and the scalar engine read the very same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from yidi.domain.codes import MED_CLASS_OF, MED_TYPES  # noqa: F401 - MED_TYPES re-exported for callers
from yidi.domain.kinds import BENEFIT_KINDS, MED_CLASSES, first_selfpay_applies, reduction_pp
from yidi.domain.policy import InsuredPolicy, PolicyBook

# The batch engine adjudicates every med type of domain.codes, "15" 特药 (B11) included: for 特药 it does the
# arithmetic (ratio, annual limit, reductions, 省内 only); who may have them dispensed (双通道, 认定, 处方) and whether
# every line is on the list were decided when the claim was settled, as the coverage decision was (benefit_kind).
MED_CLASS_OF_TYPE = np.array([MED_CLASSES.index(MED_CLASS_OF[t]) for t in MED_TYPES], dtype=np.int8)
INPATIENT, OUTPATIENT, CHRONIC, SPECIAL_DRUG = 0, 1, 2, 3
LEVELS = 4  # index 0 unused; hospital levels 1–3


def days(dates: np.ndarray) -> np.ndarray:
    """datetime64[D] (or anything numpy turns into one) → int64 days since 1970-01-01."""
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64)


@dataclass
class PolicyTables:
    regions: tuple[str, ...]  # insured regions with a policy
    insutypes: tuple[str, ...]
    diseases: tuple[str, ...]  # chronic dise_codg
    versions: tuple[InsuredPolicy, ...]  # index v
    region_starts: dict[int, tuple[np.ndarray, np.ndarray]]  # region -> (effective days, version indexes)
    # [v, insutype, level] / [v, insutype] / [v, disease]; has_* marks figures that exist
    inpatient_deductible: np.ndarray
    inpatient_ratio: np.ndarray
    inpatient_cap: np.ndarray
    has_inpatient: np.ndarray
    outpatient_ratio: np.ndarray
    outpatient_limit: np.ndarray
    has_outpatient: np.ndarray
    chronic_ratio: np.ndarray
    chronic_limit: np.ndarray
    has_chronic: np.ndarray
    chronic_province_only: np.ndarray  # [v, disease]: settles directly only inside the insured province (B10)
    special_ratio: np.ndarray  # [v, insutype] (B11 特药)
    special_limit: np.ndarray
    has_special: np.ndarray
    special_province_only: np.ndarray  # [v]
    reduction_pp: np.ndarray  # [v, kind, med class]
    first_selfpay_bp: np.ndarray  # [v, kind]: the 首先自付 share where it applies, else 0
    grid: "ParameterGrid | None" = field(default=None, repr=False)

    @classmethod
    def from_book(cls, book: PolicyBook) -> "PolicyTables":
        regions = tuple(sorted(book.insured))
        versions: list[InsuredPolicy] = []
        region_starts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for r, region in enumerate(regions):
            dated = book.versions(region)
            first = len(versions)
            versions += dated
            region_starts[r] = (days(np.array([p.effective_from for p in dated], dtype="datetime64[D]")),
                                np.arange(first, len(versions), dtype=np.int64))
        insutypes = sorted({t for p in versions for t in (*p.params.benefits.inpatient, *p.params.benefits.outpatient)})
        diseases = sorted({d for p in versions for d in p.params.benefits.chronic})
        nv, nt, nd, nk = len(versions), len(insutypes), len(diseases), len(BENEFIT_KINDS)
        t = cls(tuple(regions), tuple(insutypes), tuple(diseases), tuple(versions), region_starts,
                np.zeros((nv, nt, LEVELS), np.int64), np.zeros((nv, nt, LEVELS), np.int64),
                np.zeros((nv, nt), np.int64), np.zeros((nv, nt), bool),
                np.zeros((nv, nt), np.int64), np.zeros((nv, nt), np.int64), np.zeros((nv, nt), bool),
                np.zeros((nv, nd), np.int64), np.zeros((nv, nd), np.int64), np.zeros((nv, nd), bool),
                np.zeros((nv, nd), bool),
                np.zeros((nv, nt), np.int64), np.zeros((nv, nt), np.int64), np.zeros((nv, nt), bool), np.zeros(nv, bool),
                np.zeros((nv, nk, len(MED_CLASSES)), np.int64), np.zeros((nv, nk), np.int64))
        for v, policy in enumerate(versions):
            benefits = policy.params.benefits
            for i, insutype in enumerate(insutypes):
                inpatient = benefits.inpatient.get(insutype)
                if (inpatient is not None and {1, 2, 3} <= set(inpatient.deductible.value)
                        and {1, 2, 3} <= set(inpatient.ratio.value)):
                    t.has_inpatient[v, i] = True
                    for level in (1, 2, 3):
                        t.inpatient_deductible[v, i, level] = inpatient.deductible.value[level]
                        t.inpatient_ratio[v, i, level] = inpatient.ratio.value[level]
                    t.inpatient_cap[v, i] = inpatient.annual_cap.value
                outpatient = benefits.outpatient.get(insutype)
                if outpatient is not None:
                    t.has_outpatient[v, i] = True
                    t.outpatient_ratio[v, i] = outpatient.ratio.value
                    t.outpatient_limit[v, i] = outpatient.annual_limit.value
            for d, disease in enumerate(diseases):
                chronic = benefits.chronic.get(disease)
                if chronic is not None:
                    t.has_chronic[v, d] = True
                    t.chronic_ratio[v, d] = chronic.ratio.value
                    t.chronic_limit[v, d] = chronic.annual_limit.value
                    t.chronic_province_only[v, d] = chronic.remote.value == "province"
            special = policy.params.special_drugs
            if special is not None:
                t.special_province_only[v] = special.remote.value == "province"
                for i, insutype in enumerate(insutypes):
                    if insutype in special.ratio.value and insutype in special.annual_limit.value:
                        t.has_special[v, i] = True
                        t.special_ratio[v, i] = special.ratio.value[insutype]
                        t.special_limit[v, i] = special.annual_limit.value[insutype]
            share = policy.params.remote.first_selfpay.share.value
            for k, kind in enumerate(BENEFIT_KINDS):
                for c, med_class in enumerate(MED_CLASSES):
                    t.reduction_pp[v, k, c] = reduction_pp(policy, kind, med_class)
                t.first_selfpay_bp[v, k] = share if first_selfpay_applies(policy, kind) else 0
        t.grid = ParameterGrid.from_tables(t)
        return t

    def version_of(self, region: np.ndarray, discharge_day: np.ndarray) -> np.ndarray:
        """Index of the policy version in force on each claim's discharge date; −1 where none is.

        Claims span a few years at most, so a small [region, day] table of versions is built for the
        days present and each claim reads its cell (one gather instead of a search per claim).
        """
        if len(region) == 0:
            return np.zeros(0, np.int64)
        first, last = int(discharge_day.min()), int(discharge_day.max())
        calendar = np.arange(first, last + 1)
        lookup = np.full((len(self.regions) + 1, len(calendar)), -1, dtype=np.int64)  # row 0: unknown region
        for r, (starts, indexes) in self.region_starts.items():
            position = np.searchsorted(starts, calendar, side="right") - 1
            lookup[r + 1] = np.where(position >= 0, indexes[np.maximum(position, 0)], -1)
        flat = region * len(calendar)  # lookup[region + 1, day − first] as one flat gather
        flat += discharge_day
        flat += len(calendar) - first
        return lookup.ravel().take(flat)


# Per-claim outcome codes (0 = settled); the names are yidi.domain.errors CATALOG codes.
# Codes as the scalar engine reports them: a disease outside the insured region's list is INVALID_INPUT (dise_codg).
ERRORS: tuple[str, ...] = ("", "NO_POLICY", "MED_TYPE_NOT_SUPPORTED", "INVALID_INPUT", "INVALID_INPUT",
                           "CHRONIC_NOT_CROSS_PROVINCE", "SPECIAL_DRUG_NOT_COVERED", "SPECIAL_DRUG_NOT_CROSS_PROVINCE")
(OK, NO_POLICY, MED_TYPE_NOT_SUPPORTED, CHRONIC_NOT_COVERED, INVALID_INPUT, CHRONIC_NOT_CROSS_PROVINCE,
 SPECIAL_DRUG_NOT_COVERED, SPECIAL_DRUG_NOT_CROSS_PROVINCE) = range(len(ERRORS))


@dataclass
class ParameterGrid:
    """Every figure a claim needs, precomputed for every combination of the claim's codes.

    Axes: policy version, insutype, med_type, hospital level (0–3) and disease, each shifted by one so
    that slot 0 means "unknown / none". A claim finds its row with one flat index and a few gathers,
    which is what makes the engine fast; the grid has a few thousand rows at most.
    """

    shape: tuple[int, int, int, int, int]
    deductible: np.ndarray
    base_ratio: np.ndarray
    cap: np.ndarray
    cap_class: np.ndarray  # 0 inpatient, 1 outpatient, 2 + disease: the cap key (benefit.cap_key_for)
    error: np.ndarray
    # the refusal (an ERRORS index, 0 = none) when the claim was treated outside the insured province: a 门诊慢特病
    # (B10) or 特药 (B11) the insured region settles directly only inside its province
    province_only: np.ndarray
    kinds_shape: tuple[int, int, int]  # version, kind, med_type (shifted by one)
    reduction_pp: np.ndarray
    first_selfpay_bp: np.ndarray

    @classmethod
    def from_tables(cls, t: PolicyTables) -> "ParameterGrid":
        nv, nt, nm, nd = len(t.versions) + 1, len(t.insutypes) + 1, len(MED_TYPES) + 1, len(t.diseases) + 1
        shape = (nv, nt, nm, LEVELS, nd)
        size = int(np.prod(shape))
        deductible, base_ratio, cap = (np.zeros(size, np.int64) for _ in range(3))
        cap_class, error = np.zeros(size, np.int64), np.zeros(size, np.int8)
        province_only = np.zeros(size, np.int8)
        for flat, (v1, t1, m1, level, d1) in enumerate(np.ndindex(*shape)):
            v, ti, d = v1 - 1, t1 - 1, d1 - 1
            med_class = MED_CLASS_OF_TYPE[m1 - 1] if m1 else -1
            # cap keys: 0 inpatient, 1 outpatient, 2 + disease (one per chronic disease), then 特药 (one for all)
            cap_class[flat] = (2 + max(d, 0) if med_class == CHRONIC else 2 + len(t.diseases) if med_class == SPECIAL_DRUG
                               else max(med_class, 0))
            if m1 == 0:
                error[flat] = MED_TYPE_NOT_SUPPORTED
            elif v < 0:
                error[flat] = NO_POLICY
            elif med_class == INPATIENT:
                if ti < 0 or not t.has_inpatient[v, ti]:
                    error[flat] = NO_POLICY
                elif level == 0:
                    error[flat] = INVALID_INPUT
                else:
                    deductible[flat] = t.inpatient_deductible[v, ti, level]
                    base_ratio[flat] = t.inpatient_ratio[v, ti, level]
                    cap[flat] = t.inpatient_cap[v, ti]
            elif med_class == OUTPATIENT:
                if ti < 0 or not t.has_outpatient[v, ti]:
                    error[flat] = NO_POLICY
                else:
                    base_ratio[flat], cap[flat] = t.outpatient_ratio[v, ti], t.outpatient_limit[v, ti]
            elif med_class == SPECIAL_DRUG:
                if not t.has_special[v].any():
                    error[flat] = SPECIAL_DRUG_NOT_COVERED
                elif ti < 0 or not t.has_special[v, ti]:
                    error[flat] = NO_POLICY
                else:
                    base_ratio[flat], cap[flat] = t.special_ratio[v, ti], t.special_limit[v, ti]
                    province_only[flat] = SPECIAL_DRUG_NOT_CROSS_PROVINCE if t.special_province_only[v] else OK
            elif d < 0 or not t.has_chronic[v, d]:
                error[flat] = CHRONIC_NOT_COVERED
            else:
                base_ratio[flat], cap[flat] = t.chronic_ratio[v, d], t.chronic_limit[v, d]
                province_only[flat] = CHRONIC_NOT_CROSS_PROVINCE if t.chronic_province_only[v, d] else OK
        nk = len(BENEFIT_KINDS)
        reduction = np.zeros((nv, nk, nm), np.int64)
        first = np.zeros((nv, nk, nm), np.int64)
        for m1 in range(1, nm):
            reduction[1:, :, m1] = t.reduction_pp[:, :, MED_CLASS_OF_TYPE[m1 - 1]]
            first[1:, :, m1] = t.first_selfpay_bp
        return cls(shape, deductible, base_ratio, cap, cap_class, error, province_only, (nv, nk, nm),
                   reduction.ravel(), first.ravel())

    def claim_grid(self) -> "ClaimGrid":
        """The grid with the benefit kind as a sixth axis, cached: one row index per claim finds everything."""
        if self._claim_grid is None:
            self._claim_grid = ClaimGrid.from_grid(self)
        return self._claim_grid

    _claim_grid: "ClaimGrid | None" = field(default=None, repr=False, compare=False)


@dataclass
class ClaimGrid:
    """``ParameterGrid`` × benefit kind (slot 0 = unknown kind), with the kind's figures already combined.

    A claim's row is ``Σ code × stride + offset`` over (version, insutype, med_type, level, disease, kind),
    each code shifted by one (the offset). Per row: the refusal code (MED_TYPE_NOT_SUPPORTED for an
    unknown med_type, then INVALID_INPUT for an unknown kind, then the policy's own), the reduced ratio
    (B7; 0 on refused rows, so refused claims need no masking), 首先自付 share (B6), deductible, cap and cap
    key. Small dtypes where the figure is small (ratios in basis points), so gathers move fewer bytes.
    A few tens of thousands of rows at most; built once per PolicyTables.
    """

    strides: np.ndarray  # int64, per axis: version, insutype, med_type, level, disease, kind
    offset: int  # Σ strides except level (every code but the level is shifted by one)
    error: np.ndarray  # int8
    ratio_bp: np.ndarray  # int16: max(0, base ratio − reduction × 100); 0 where refused
    first_selfpay_bp: np.ndarray  # int16
    deductible: np.ndarray  # int64
    cap: np.ndarray  # int64
    cap_class: np.ndarray  # int16
    province_only: np.ndarray  # int8 ERRORS index (B10/B11: the refusal when treated in another province)

    @classmethod
    def from_grid(cls, grid: ParameterGrid) -> "ClaimGrid":
        nv, nt, nm, nl, nd = grid.shape
        _, nk, _ = grid.kinds_shape
        shape = (nv, nt, nm, nl, nd, nk + 1)
        strides = np.array([int(np.prod(shape[i + 1:])) for i in range(len(shape))], dtype=np.int64)
        base = lambda a: np.broadcast_to(a.reshape(grid.shape)[..., None], shape)  # noqa: E731
        # kind figures, indexed [version, kind, med_type]; slot 0 of the kind axis repeats kind 0 (masked below)
        kinds = lambda a: np.concatenate([a.reshape(grid.kinds_shape)[:, :1], a.reshape(grid.kinds_shape)],  # noqa: E731
                                         axis=1).transpose(0, 2, 1)[:, None, :, None, None, :]
        m1 = np.arange(nm)[None, None, :, None, None, None]
        k1 = np.arange(nk + 1)[None, None, None, None, None, :]
        error = np.where(m1 == 0, MED_TYPE_NOT_SUPPORTED, np.where(k1 == 0, INVALID_INPUT, base(grid.error)))
        ratio = np.maximum(0, base(grid.base_ratio) - np.broadcast_to(kinds(grid.reduction_pp), shape) * 100)
        ratio = np.where(error == OK, ratio, 0)
        return cls(strides, int(strides.sum() - strides[3]), error.astype(np.int8).ravel(),
                   ratio.astype(np.int16).ravel(),
                   np.broadcast_to(kinds(grid.first_selfpay_bp), shape).astype(np.int16).ravel(),
                   np.ascontiguousarray(base(grid.deductible)).ravel(), np.ascontiguousarray(base(grid.cap)).ravel(),
                   base(grid.cap_class).astype(np.int16).ravel(),
                   np.where(error == OK, base(grid.province_only), OK).astype(np.int8).ravel())
