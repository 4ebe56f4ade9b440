"""Which filing covers this visit, and what benefit context follows (F7–F10, B2–B8, B13).

One pure function, ``resolve_coverage``, used by direct settlement, manual claims and the estimate
calculator. It returns a ``Coverage``: how the visit is treated (``context``), the ratio reduction in
percentage points, whether 首先自付 applies, the filing used, and the rule IDs that decided it.
Regional differences come from the insured region's policy parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum

from yidi.domain.codes import MED_CLASS_OF as MED_CLASS_OF  # re-exported for callers
from yidi.domain.codes import FilingStatus
from yidi.domain.codes import MedClass as MedClass  # re-exported for callers
from yidi.domain.errors import YidiError
from yidi.domain.filing import Basis, Filing, FilingType, commitment_free_from
from yidi.domain.kinds import KIND_INDEX, TEMPORARY_KINDS, first_selfpay_applies, reduction_pp
from yidi.domain.policy import InsuredPolicy
from yidi.domain.regions import area_covers, same_pooling_area, same_province


class Context(StrEnum):
    LOCAL = "local"  # treated in the insured region, no filing involved
    LONG_TERM_AT_FILED_PLACE = "long_term_at_filed_place"  # B2
    LONG_TERM_RETURNING = "long_term_returning"  # B3
    TEMPORARY_RETURNING = "temporary_returning"  # B3
    TEMPORARY = "temporary"  # B5/B6 by temporary type
    MANUAL_WITHOUT_FILING = "manual_without_filing"  # B6 德州: 10% on manual claims without filing


CONTEXT_NAMES = {
    Context.LOCAL: "参保地本地就医",
    Context.LONG_TERM_AT_FILED_PLACE: "异地长期居住人员在备案地就医",
    Context.LONG_TERM_RETURNING: "异地长期居住人员回参保地就医",
    Context.TEMPORARY_RETURNING: "临时外出就医人员回参保地就医",
    Context.TEMPORARY: "临时外出就医",
    Context.MANUAL_WITHOUT_FILING: "未备案回参保地手工报销",
}


@dataclass(frozen=True)
class Visit:
    psn_no: str
    treatment_admdvs: str  # the institution's region
    med_type: str
    admission: date  # begntime
    discharge: date  # endtime = settlement date
    emergency: bool = False
    manual: bool = False  # 零星报销 after a self-paid discharge (S4)
    dise_codg: str | None = None  # 门诊慢特病 (14): decides whether it settles across provinces (B10)


@dataclass(frozen=True)
class Coverage:
    context: Context
    reduction_pp: int
    first_selfpay: bool
    filing: Filing | None
    temporary_type: FilingType | None
    rules: tuple[str, ...]
    explanation: str  # plain Chinese, shown in the trace
    notes: tuple[str, ...] = field(default_factory=tuple)


def _reduction_of(policy: InsuredPolicy, filing_type: FilingType) -> int:
    """The region's reduction for a temporary filing type, to pick the most favourable of several filings."""
    value: int = getattr(policy.params.remote.reductions, filing_type.value).value
    return value


def _temporary(policy: InsuredPolicy, ttype: FilingType, filing: Filing | None, rules: tuple[str, ...],
               why: str, med_class: MedClass, manual_without_filing: bool = False) -> Coverage:
    kind = "manual_without_filing" if manual_without_filing else ttype.value
    context = Context.MANUAL_WITHOUT_FILING if manual_without_filing else Context.TEMPORARY
    return Coverage(context, reduction_pp(policy, kind, med_class), first_selfpay_applies(policy, kind), filing,
                    ttype, rules, why)


def _long_term(policy: InsuredPolicy, filing: Filing | None, why: str, rules: tuple[str, ...],
               med_class: MedClass) -> Coverage:
    kind = Context.LONG_TERM_AT_FILED_PLACE.value
    return Coverage(Context.LONG_TERM_AT_FILED_PLACE, reduction_pp(policy, kind, med_class),
                    first_selfpay_applies(policy, kind), filing, None, rules, why)


def coverage_kind(coverage: Coverage) -> str:
    """The benefit kind (domain/kinds.py) of a ``Coverage``: the context, or the temporary filing type."""
    if coverage.context is Context.TEMPORARY:
        assert coverage.temporary_type is not None
        return coverage.temporary_type.value
    return coverage.context.value


def coverage_of_kind(policy: InsuredPolicy, kind: str, med_class: MedClass) -> Coverage:
    """The ``Coverage`` a resolver decision of this benefit kind carries under ``policy`` (no filing, no rule
    IDs): how the batch engine's scalar referee (engine/check.py) replays a claim recorded by its kind.
    KeyError for a kind that is none of ``BENEFIT_KINDS``."""
    if kind not in KIND_INDEX:
        raise KeyError(kind)
    temporary = kind in TEMPORARY_KINDS
    return Coverage(Context.TEMPORARY if temporary else Context(kind), reduction_pp(policy, kind, med_class),
                    first_selfpay_applies(policy, kind), None, FilingType(kind) if temporary else None, (), "")


def resolve_coverage(
    insuplc_admdvs: str, filings: list[Filing], visit: Visit, policy: InsuredPolicy
) -> Coverage:
    """Decide how the insured region treats this visit. Raises NOT_FILED / FILING_PENDING / FILING_ENDED /
    CHRONIC_NOT_CROSS_PROVINCE / SPECIAL_DRUG_NOT_COVERED / SPECIAL_DRUG_NOT_CROSS_PROVINCE."""
    refuse_outside_remote_scope(insuplc_admdvs, visit, policy)
    # B3/B10 + baseline: ratio reductions never apply to 门诊慢特病 (14), whatever the context; 特药 (B11) follow
    # their policy's reductions_apply (both in kinds.reduction_pp).
    coverage = _resolve(insuplc_admdvs, filings, visit, policy)
    if MED_CLASS_OF[visit.med_type] is MedClass.SPECIAL_DRUG:
        coverage = replace(coverage, rules=(*coverage.rules, "B11"))
    return coverage


def refuse_outside_remote_scope(insuplc_admdvs: str, visit: Visit, policy: InsuredPolicy) -> None:
    """The refusals that depend only on where the visit is, not on filings: a ``province`` 门诊慢特病 (B10) or a 特药
    (B11) treated outside the insured province. The batch engine's referee (engine/check.py) applies them too."""
    _refuse_chronic_outside_its_scope(insuplc_admdvs, visit, policy)
    _refuse_special_drug_outside_its_scope(insuplc_admdvs, visit, policy)


def _refuse_special_drug_outside_its_scope(insuplc_admdvs: str, visit: Visit, policy: InsuredPolicy) -> None:
    """B11, seed 004: 特药 settle directly only where the insured region's document says so — 河南's 114 特药
    inside the province (``special_drugs.remote: province``). A region without a 特药 list settles none."""
    if MED_CLASS_OF.get(visit.med_type) is not MedClass.SPECIAL_DRUG:
        return
    special = policy.params.special_drugs
    if special is None:
        raise YidiError("SPECIAL_DRUG_NOT_COVERED", {"region": policy.region, "name": policy.name})
    if (not visit.manual and special.remote.value == "province"
            and not same_province(insuplc_admdvs, visit.treatment_admdvs)):
        raise YidiError("SPECIAL_DRUG_NOT_CROSS_PROVINCE", {"mdtrtarea": visit.treatment_admdvs,
                                                            "insuplc": insuplc_admdvs})


def _refuse_chronic_outside_its_scope(insuplc_admdvs: str, visit: Visit, policy: InsuredPolicy) -> None:
    """B10, seed 002 三(四): the national five 门诊慢特病 settle directly across provinces; the rest of the region's
    list (``remote: province``) only inside the insured province. A manual claim back home is not direct
    settlement and is not limited here."""
    if visit.manual or MED_CLASS_OF.get(visit.med_type) is not MedClass.CHRONIC or same_province(
            insuplc_admdvs, visit.treatment_admdvs):
        return
    chronic = policy.params.benefits.chronic
    disease = chronic.get(visit.dise_codg or "")
    if disease is not None and disease.remote.value == "province":
        across = "、".join(f"{code} {entry.name}" for code, entry in chronic.items()
                          if entry.remote.value == "cross_province")
        raise YidiError("CHRONIC_NOT_CROSS_PROVINCE", {"dise_codg": visit.dise_codg, "name": disease.name,
                                                       "cross_province": across})


def _resolve(insuplc_admdvs: str, filings: list[Filing], visit: Visit, policy: InsuredPolicy) -> Coverage:
    med_class = MED_CLASS_OF[visit.med_type]
    remote = policy.params.remote
    usable = sorted((f for f in filings if f.ever_effective()), key=lambda f: (f.begndate, f.filing_id))
    # Direct settlement happens at discharge: only filings applied for by then count (F8).
    in_time = [f for f in usable if f.apply_date <= visit.discharge and f.valid_for_stay(visit.admission, visit.discharge)]

    if same_pooling_area(insuplc_admdvs, visit.treatment_admdvs):
        return _returning(insuplc_admdvs, in_time, visit, policy, med_class)

    covering = [f for f in in_time if area_covers(f.mdtrtarea_admvs, visit.treatment_admdvs)]
    long_term = next((f for f in covering if f.is_long_term), None)
    if long_term is not None:
        return _long_term(policy, long_term, "备案地就医，执行参保地本地就医待遇标准", ("F2", "F7", "F8", "F10", "B2"),
                          med_class)
    # Several temporary filings may cover the place (e.g. a referral added to an 'other' trip):
    # the most favourable one applies (smallest reduction), the latest on a tie.
    temporary = min((f for f in covering if not f.is_long_term),
                    key=lambda f: (_reduction_of(policy, f.filing_type), -f.begndate.toordinal()), default=None)
    if visit.emergency and (temporary is not None or remote.emergency_waives_filing.value):
        # An emergency is never "非急诊且未转诊": a temporary filer in an emergency gets the emergency
        # level (B5, B13). Without any filing only a region that waives filing for emergencies settles it.
        why = ("急诊抢救，按急诊抢救人员待遇" if temporary is not None
               else "急诊抢救，视同已备案，按急诊抢救人员待遇")
        return _temporary(policy, FilingType.EMERGENCY, temporary, ("B13", "B5"), why, med_class)
    if temporary is not None:
        return _temporary(policy, temporary.filing_type, temporary, ("F2", "F7", "F8", "F10", "B5", "B6"),
                          f"临时外出就医（{temporary.filing_type.value}），按临时外出就医人员待遇", med_class)
    if same_province(insuplc_admdvs, visit.treatment_admdvs) and not policy.params.filing.intra_province_temporary_needs_filing.value:
        return _temporary(policy, FilingType.OTHER_TEMPORARY, None, ("F9", "B6"),
                          "省内跨市临时外出就医免备案，按临时外出就医人员待遇", med_class)
    elsewhere = next((f for f in in_time if f.is_long_term), None)
    if elsewhere is not None and remote.long_term_elsewhere.value == "other_temporary":
        return _temporary(policy, FilingType.OTHER_TEMPORARY, elsewhere, ("B4",),
                          "长期居住人员在备案地和参保地以外就医，按临时外出就医政策执行", med_class)

    if visit.manual:
        return _manual_after_discharge(usable, visit, policy, med_class)
    pending = [f for f in filings if f.status is FilingStatus.PENDING
               and area_covers(f.mdtrtarea_admvs, visit.treatment_admdvs)]
    if pending:
        raise YidiError("FILING_PENDING", {"apply_date": pending[0].apply_date.isoformat(),
                                           "due_date": (pending[0].approve_due_date or pending[0].apply_date).isoformat()})
    _refuse_if_ended_by_insurance_change(filings, visit)
    raise YidiError("NOT_FILED", {"mdtrtarea": visit.treatment_admdvs, "date": visit.admission.isoformat()})


def _refuse_if_ended_by_insurance_change(filings: list[Filing], visit: Visit) -> None:
    """Seed 000 一(二): a filing is valid while 参保状态未发生变更. A visit its filing would have covered, admitted
    after the status changed, is refused with the cause (FILING_ENDED) rather than a bare NOT_FILED."""
    ended = [(f.enddate, f) for f in filings if f.status is FilingStatus.ENDED and f.enddate is not None
             and f.enddate < visit.admission and area_covers(f.mdtrtarea_admvs, visit.treatment_admdvs)]
    if ended:
        last_day, last = max(ended, key=lambda pair: pair[0])
        raise YidiError("FILING_ENDED", {"filing_id": last.filing_id, "date": (last_day + timedelta(days=1)).isoformat(),
                                         "mdtrtarea": visit.treatment_admdvs, "admission": visit.admission.isoformat()})


def _returning(insuplc_admdvs: str, in_time: list[Filing], visit: Visit, policy: InsuredPolicy,
               med_class: MedClass) -> Coverage:
    """B3: treated back in the insured region while a filing is valid (two-way benefits)."""
    remote = policy.params.remote
    long_term = next((f for f in in_time if f.is_long_term), None)
    if long_term is not None:
        if (long_term.basis is Basis.COMMITMENT and not same_province(insuplc_admdvs, long_term.mdtrtarea_admvs)
                and remote.cross_province_commitment_returning.value == "other_temporary"):
            # 001 二(五): two-way benefits only after the materials are supplied (services/filings.supply_materials
            # turns the filing proof-based from that day).
            return _temporary(policy, FilingType.OTHER_TEMPORARY, long_term, ("B3",),
                              "跨省承诺制长期备案尚未补齐备案材料，回参保地就医暂不享受双向待遇，按其他临时外出就医人员待遇",
                              med_class)
        within_lock = visit.admission < commitment_free_from(long_term, policy.params.filing)
        if (long_term.basis is Basis.COMMITMENT and within_lock
                and remote.long_term_commitment_returning_within_lock.value == "temporary"):
            return _temporary(policy, FilingType.OTHER_TEMPORARY, long_term, ("B3",),
                              "承诺制长期备案未满6个月回参保地就医，按临时外出就医人员待遇", med_class)
        kind = Context.LONG_TERM_RETURNING.value
        reduction = reduction_pp(policy, kind, med_class)
        return Coverage(Context.LONG_TERM_RETURNING, reduction, first_selfpay_applies(policy, kind), long_term, None,
                        ("B3",), f"长期居住人员备案有效期内回参保地就医（比例降低{reduction}个百分点）")
    temporary = next((f for f in in_time if not f.is_long_term), None)
    if temporary is not None:
        kind = Context.TEMPORARY_RETURNING.value
        return Coverage(Context.TEMPORARY_RETURNING, reduction_pp(policy, kind, med_class),
                        first_selfpay_applies(policy, kind), temporary, None, ("B3",),
                        "临时外出就医人员回参保地就医，执行本地就医待遇")
    kind = Context.LOCAL.value
    return Coverage(Context.LOCAL, reduction_pp(policy, kind, med_class), first_selfpay_applies(policy, kind), None,
                    None, ("B1",), "参保地本地就医，执行本地待遇")


def _manual_after_discharge(usable: list[Filing], visit: Visit, policy: InsuredPolicy, med_class: MedClass) -> Coverage:
    """B7 / F8 / B6: a manual claim after a self-paid discharge, filed (or not) afterwards."""
    remote = policy.params.remote
    retro = [f for f in usable if f.apply_date > visit.discharge and area_covers(f.mdtrtarea_admvs, visit.treatment_admdvs)]
    retro.sort(key=lambda f: (f.apply_date, f.filing_id))
    if retro:
        filing = retro[0]
        if not filing.is_long_term:
            return _temporary(policy, filing.filing_type, filing, ("B7", "F8"),
                              "出院后补办临时外出备案，本次费用按临时外出就医人员类型确定待遇", med_class)
        if filing.basis is Basis.PROOF or remote.retro_after_discharge_commitment.value == "by_type":
            return _long_term(policy, filing, "出院后以证明材料补办长期居住备案，本次费用执行参保地本地就医待遇", ("B7", "F8"),
                              med_class)
        return _temporary(policy, FilingType.OTHER_TEMPORARY, filing, ("B7", "F8"),
                          "出院后以个人承诺补办长期居住备案，本次费用参照其他临时外出就医人员待遇，自申请之日起享受长期居住待遇",
                          med_class)
    if remote.manual_without_filing.value == "other_temporary":
        return _temporary(policy, FilingType.OTHER_TEMPORARY, None, ("B6", "S4"),
                          "未办理备案，回参保地手工报销，首先自付后按规定报销", med_class, manual_without_filing=True)
    raise YidiError("NOT_FILED", {"mdtrtarea": visit.treatment_admdvs, "date": visit.admission.isoformat()})
