"""Benefit kinds: the coverage decision of one claim, reduced to what the arithmetic needs.

``coverage.resolve_coverage`` decides from the person's filings how a visit is treated (a
``Coverage``). The batch engine takes that decision as an input column, ``benefit_kind``, and
derives the two numbers the money depends on — the ratio reduction and whether 首先自付 applies —
from the policy version in force for each claim, exactly as ``coverage.py`` does. Keeping the kind
(not the numbers) as input is what lets ``yidi simulate`` re-price a population under a changed
policy: a new referral reduction changes every referral claim without re-resolving filings.
"""

from __future__ import annotations

from yidi.domain.coverage import Context, Coverage, MedClass
from yidi.policy.loader import InsuredPolicy

# Order matters: the engine stores the index of the kind (int8).
BENEFIT_KINDS: tuple[str, ...] = (
    "local",  # B1: treated in the insured region, no filing involved
    "long_term_at_filed_place",  # B2
    "long_term_returning",  # B3
    "temporary_returning",  # B3
    "referral",  # B5 temporary type
    "emergency",  # B5/B13 temporary type
    "other_temporary",  # B5/B6 temporary type (also B3 commitment-within-lock, B4, F9, B7)
    "manual_without_filing",  # B6 德州: manual claim with no filing
)
KIND_INDEX = {name: index for index, name in enumerate(BENEFIT_KINDS)}
TEMPORARY_KINDS = ("referral", "emergency", "other_temporary")

MED_CLASSES: tuple[MedClass, ...] = (MedClass.INPATIENT, MedClass.OUTPATIENT, MedClass.CHRONIC, MedClass.SPECIAL_DRUG)


def coverage_kind(coverage: Coverage) -> str:
    """The benefit kind of a scalar ``Coverage`` (the bridge from the scalar resolver to the engine)."""
    if coverage.context is Context.TEMPORARY:
        assert coverage.temporary_type is not None
        return coverage.temporary_type.value
    return coverage.context.value


def reduction_pp(policy: InsuredPolicy, kind: str, med_class: MedClass) -> int:
    """Percentage points off the ratio for this kind — mirrors coverage._temporary/_long_term/_returning."""
    reductions = policy.params.remote.reductions
    if kind == "local":
        return 0
    if kind == "long_term_at_filed_place":
        return reductions.long_term_at_filed_place.value
    if kind == "long_term_returning":
        return reductions.long_term_returning.value.get(med_class.value, 0)
    if kind == "temporary_returning":
        return reductions.temporary_returning.value
    temporary_type = "other_temporary" if kind == "manual_without_filing" else kind
    if med_class is MedClass.SPECIAL_DRUG:  # B11: as coverage.resolve_coverage, 特药 follow reductions_apply
        special = policy.params.special_drugs
        if special is not None and not special.reductions_apply.value:
            return 0
    return 0 if med_class is MedClass.CHRONIC else getattr(reductions, temporary_type).value


def first_selfpay_applies(policy: InsuredPolicy, kind: str) -> bool:
    """首先自付 (B6) for this kind — mirrors coverage._temporary."""
    first = policy.params.remote.first_selfpay
    if first.share.value <= 0:
        return False
    if kind == "manual_without_filing":
        return "manual_without_filing" in first.applies_to.value
    if kind in TEMPORARY_KINDS:
        return "temporary" in first.applies_to.value
    return False
