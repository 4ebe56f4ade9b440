"""Special drugs (特药, B11, seed 004): who may have them settled directly, where, and at what benefit.

Pure rules over the insured region's ``special_drugs`` policy and the facts a settlement reads: the
person's 特药 recognitions (认定), the institution (a hospital, or a 定点零售药店 designated 双通道 for the
drug) and the prescription a pharmacy fills. Refusals are coded errors saying why and what to do.
docs/policy-readings.md B-R27…B-R31 state the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yidi.domain.catalog import FeeItem
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import BasisPoints, Fen
from yidi.domain.policy import SpecialDrugPolicy

HOSPITAL, PHARMACY = "hospital", "pharmacy"  # institutions.kind
FIXMEDINS_TYPE = {HOSPITAL: "1", PHARMACY: "2"}  # the interface's 定点医药机构类型: 1 医疗机构, 2 零售药店


@dataclass(frozen=True)
class Recognition:
    """特药待遇认定 of one person for one drug: the responsible hospital and doctor, and its validity."""

    recognition_id: str
    med_list_codg: str
    fixmedins_code: str  # 责任医院
    doctor_code: str  # 责任医师
    begndate: date
    enddate: date | None
    active: bool = True

    def covers(self, on: date) -> bool:
        return self.active and self.begndate <= on and (self.enddate is None or on <= self.enddate)


@dataclass(frozen=True)
class DualChannel:
    """A pharmacy's 双通道 designation for one drug."""

    med_list_codg: str
    begndate: date
    enddate: date | None

    def covers(self, on: date) -> bool:
        return self.begndate <= on and (self.enddate is None or on <= self.enddate)


@dataclass(frozen=True)
class Prescription:
    """What a pharmacy's 2101/2102 line says about the prescription it fills (rxno, bilg_dr_codg)."""

    rxno: str | None
    doctor_code: str | None


@dataclass(frozen=True)
class Dispensing:
    """The facts of one 特药 settlement, as read by the service."""

    institution_kind: str  # hospital / pharmacy
    fixmedins_code: str
    on: date  # the day the drug is dispensed (the settlement's endtime)
    recognitions: tuple[Recognition, ...]
    dual_channel: tuple[DualChannel, ...] = ()  # the pharmacy's designations (empty for a hospital)
    prescriptions: tuple[Prescription, ...] = ()  # one per fee line at a pharmacy; empty at a hospital


def require_listed(special: SpecialDrugPolicy, items: list[FeeItem]) -> None:
    """Every line of a 特药 settlement (med_type 15) is a drug of the insured region's 特药 list."""
    listed = special.drugs.value
    for index, item in enumerate(items):
        if item.code not in listed:
            names = "、".join(f"{code} {name}" for code, name in listed.items())
            raise invalid(f"items[{index}].code", f"{item.code} 不在参保地特药目录内（{names}）；"
                                                  "非特药费用请按普通门诊（11）或门诊慢特病（14）结算")


def benefit_of(special: SpecialDrugPolicy, insutype: str) -> tuple[BasisPoints, Fen] | None:
    """(fund ratio, annual limit) for this insurance type; None when the policy sets none for it."""
    ratio = special.ratio.value.get(insutype)
    limit = special.annual_limit.value.get(insutype)
    return None if ratio is None or limit is None else (ratio, limit)


def check_dispensing(special: SpecialDrugPolicy, items: list[FeeItem], facts: Dispensing) -> tuple[str, ...]:
    """Refuse a 特药 settlement the rules do not allow; return the rule steps that passed, for the trace.

    - a pharmacy only under 双通道 (``dual_channel_pharmacy``), and only for drugs it is designated for;
    - the person recognised for each drug on that day (``recognition_required``);
    - at a hospital: the recognition's responsible hospital; at a pharmacy: a prescription (rxno) by the
      recognition's responsible doctor (``prescription_by_responsible_doctor``)."""
    require_listed(special, items)
    passed: list[str] = []
    at_pharmacy = facts.institution_kind == PHARMACY
    if at_pharmacy and not special.dual_channel_pharmacy.value:
        raise YidiError("PHARMACY_NOT_DUAL_CHANNEL", {"fixmedins_code": facts.fixmedins_code, "drug": "特药",
                                                      "detail": "参保地未开通特药“双通道”药店直接结算"})
    for index, item in enumerate(items):
        if at_pharmacy:
            if not any(d.med_list_codg == item.code and d.covers(facts.on) for d in facts.dual_channel):
                raise YidiError("PHARMACY_NOT_DUAL_CHANNEL", {
                    "fixmedins_code": facts.fixmedins_code, "drug": f"{item.code} {special.drugs.value[item.code]}",
                    "detail": f"{facts.on.isoformat()} 该药店不是此特药的“双通道”定点药店"})
        if not special.recognition_required.value:
            continue
        found = [r for r in facts.recognitions if r.med_list_codg == item.code and r.covers(facts.on)]
        if not found:
            raise YidiError("SPECIAL_DRUG_NOT_RECOGNIZED", {"drug": f"{item.code} {special.drugs.value[item.code]}",
                                                            "date": facts.on.isoformat()})
        if not at_pharmacy:
            if not any(r.fixmedins_code == facts.fixmedins_code for r in found):
                raise YidiError("SPECIAL_DRUG_WRONG_HOSPITAL", {
                    "drug": f"{item.code} {special.drugs.value[item.code]}",
                    "hospitals": "、".join(sorted({r.fixmedins_code for r in found}))})
            continue
        if special.prescription_by_responsible_doctor.value:
            rx = facts.prescriptions[index] if index < len(facts.prescriptions) else Prescription(None, None)
            if not rx.rxno or not rx.doctor_code:
                raise invalid(f"feedetail[{index}].rxno",
                              "特药须凭责任医师处方购药：请填写处方号 rxno 和开方医师 bilg_dr_codg")
            if not any(r.doctor_code == rx.doctor_code for r in found):
                raise YidiError("SPECIAL_DRUG_PRESCRIBER", {
                    "drug": f"{item.code} {special.drugs.value[item.code]}", "doctor": rx.doctor_code,
                    "responsible": "、".join(sorted({f"{r.fixmedins_code}/{r.doctor_code}" for r in found}))})
    if at_pharmacy:
        passed.append("双通道定点药店")
    if special.recognition_required.value:
        passed.append("特药待遇认定")
        passed.append("责任医师处方" if at_pharmacy else "责任医院")
    return tuple(passed)
