"""Benefit kinds: how a visit is treated, reduced to what the money depends on (B2–B7, B13).

``coverage.resolve_coverage`` decides from the person's filings which kind a visit is; the two numbers the
arithmetic needs follow from the kind and the insured region's policy version: the ratio reduction in
percentage points and whether 首先自付 applies. Both engines read them from here — the scalar resolver when it
builds a ``Coverage``, the batch engine when it fills its tables (``engine.tables``) — so a rule changed here
changes both. Keeping the kind (not the numbers) as the batch engine's input is what lets ``yidi simulate``
re-price a population under a changed policy: a new referral reduction changes every referral claim without
re-resolving filings.
"""

from __future__ import annotations

from yidi.domain.codes import MedClass
from yidi.domain.policy import InsuredPolicy, MedClassName

# Order matters: the batch engine stores the index of the kind (int8).
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
TEMPORARY_KINDS = ("referral", "emergency", "other_temporary")  # the temporary filing types' values

MED_CLASSES: tuple[MedClass, ...] = (MedClass.INPATIENT, MedClass.OUTPATIENT, MedClass.CHRONIC, MedClass.SPECIAL_DRUG)
# The same classes as the policy files spell them (keys of ``long_term_returning``).
_POLICY_NAME: dict[MedClass, MedClassName] = {MedClass.INPATIENT: "inpatient", MedClass.OUTPATIENT: "outpatient",
                                              MedClass.CHRONIC: "chronic"}


def reduction_pp(policy: InsuredPolicy, kind: str, med_class: MedClass) -> int:
    """Percentage points taken off the fund ratio for this kind of visit (B2–B5). Never for 门诊慢特病 (14):
    the baseline and seed 000 二(二) reduce no chronic-disease benefit, whatever the kind."""
    if med_class is MedClass.CHRONIC:
        return 0
    reductions = policy.params.remote.reductions
    if kind == "local":
        return 0
    if kind == "long_term_at_filed_place":
        return reductions.long_term_at_filed_place.value
    if med_class is MedClass.SPECIAL_DRUG:  # B11: 特药 follow their policy's reductions_apply
        special = policy.params.special_drugs
        if special is not None and not special.reductions_apply.value:
            return 0
    if kind == "long_term_returning":
        name = _POLICY_NAME.get(med_class)
        return reductions.long_term_returning.value.get(name, 0) if name else 0
    if kind == "temporary_returning":
        return reductions.temporary_returning.value
    # A manual claim without any filing is priced as other temporary (B6 德州).
    temporary_type = "other_temporary" if kind == "manual_without_filing" else kind
    value: int = getattr(reductions, temporary_type).value
    return value


def first_selfpay_applies(policy: InsuredPolicy, kind: str) -> bool:
    """首先自付 (B6): for the temporary kinds, or a manual claim without filing, as the region's policy lists them,
    and only where its share is above zero."""
    first = policy.params.remote.first_selfpay
    if first.share.value <= 0:
        return False
    if kind == "manual_without_filing":
        return "manual_without_filing" in first.applies_to.value
    if kind in TEMPORARY_KINDS:
        return "temporary" in first.applies_to.value
    return False
