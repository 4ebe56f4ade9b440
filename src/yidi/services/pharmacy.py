"""Pharmacy use cases (B11, seed 004): 特药 bought at a 双通道 定点零售药店 and settled directly inside the
province — the interface's 2101 药店预结算, 2102 药店结算, 2103 药店结算撤销 — and the records they rest on:
a pharmacy's 双通道 designation for a drug and a person's 特药待遇认定.

A pharmacy purchase has no registered visit: the pharmacy sends the person, the drugs and the prescription in
one call. It is settled by the same settlement service as a hospital visit (med_type 15 特药, one paid claim
per person, pharmacy and day), inside one transaction; the 特药 rules themselves are domain/special_drugs.py.
"""

from __future__ import annotations

import uuid
from typing import Any
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import InstitutionRow, PersonRow
from yidi.adapters.orm_pharmacy import DualChannelDrugRow, SpecialDrugRecognitionRow
from yidi.domain.catalog import FeeItem
from yidi.domain.codes import SPECIAL_DRUG_MED_TYPE
from yidi.domain.errors import YidiError, invalid
from yidi.domain.special_drugs import HOSPITAL, PHARMACY, Prescription
from yidi.services import audit, clock, insured_side, lookups, settlements
from yidi.services.context import AppContext
from yidi.services.idempotency import bound_context


@dataclass(frozen=True)
class DrugLine:
    """One drug line of a 2101/2102 call (money in fen), with the prescription it fills."""

    feedetl_sn: str
    med_list_codg: str
    amount_fen: int
    cnt: Decimal
    pric_fen: int | None = None
    name: str = ""
    rxno: str | None = None
    doctor_code: str | None = None  # bilg_dr_codg: the prescribing doctor


@dataclass(frozen=True)
class Purchase:
    """A pharmacy purchase (2101/2102 ``data`` + ``feedetail``)."""

    fixmedins_code: str
    psn_no: str
    on: date  # the purchase date (begntime)
    lines: tuple[DrugLine, ...]
    med_type: str = SPECIAL_DRUG_MED_TYPE
    insutype: str | None = None
    medfee_sumamt_fen: int | None = None
    use_account: bool = False  # acct_used_flag (B9)
    msgid: str | None = None
    actor: str = "pharmacy"
    setl_date: date | None = None  # None = today (only replays pass a date)


@dataclass
class PurchaseOutcome:
    person: object  # PERSON_COLUMNS as they stand after the call (the answer shows the balance)
    fields: dict[str, Any]  # yuan strings (settlements.result_fields / row fields)
    cmd: settlements.SettleCommand
    setl_id: str = ""


def _new_mdtrt_id(fixmedins_code: str) -> str:
    return f"MD{fixmedins_code}{uuid.uuid4().hex[:16].upper()}"


def command(ctx: AppContext, purchase: Purchase, *, infno: str, mdtrt_id: str | None = None) -> settlements.SettleCommand:
    """The purchase as a settlement command, after the pharmacy's own checks (a pharmacy, 特药 only, amounts)."""
    with ctx.unit_of_work() as session:
        institution = lookups.institution(session, purchase.fixmedins_code)
    if institution.kind != PHARMACY:
        raise YidiError("NOT_A_PHARMACY", {"fixmedins_code": purchase.fixmedins_code, "infno": infno})
    if purchase.med_type != SPECIAL_DRUG_MED_TYPE:
        raise YidiError("PHARMACY_MED_TYPE", {"med_type": purchase.med_type})
    if not purchase.lines:
        raise invalid("feedetail", "没有购药明细")
    total = sum(line.amount_fen for line in purchase.lines)
    if purchase.medfee_sumamt_fen is not None and purchase.medfee_sumamt_fen != total:
        raise invalid("medfee_sumamt", "与购药明细合计不符，请核对明细")
    clock.refuse_future_care(on=purchase.setl_date, begntime=purchase.on)
    items = tuple(FeeItem(line.med_list_codg, line.amount_fen, line.cnt if line.cnt > 0 else Decimal(1),
                          line.pric_fen, line.name) for line in purchase.lines)
    return settlements.SettleCommand(
        psn_no=purchase.psn_no, fixmedins_code=purchase.fixmedins_code, med_type=SPECIAL_DRUG_MED_TYPE,
        begntime=purchase.on, endtime=purchase.on, items=items, kind="direct", use_account=purchase.use_account,
        mdtrt_id=mdtrt_id, msgid=purchase.msgid, actor=purchase.actor, setl_date=purchase.setl_date,
        extra={"prescriptions": tuple(Prescription(line.rxno, line.doctor_code) for line in purchase.lines)})


def _person(ctx: AppContext, session: Session, purchase: Purchase, *, lock: bool) -> Any:
    """The person (locked for a settlement) when insured on this node, else the visitor stand-in the insured
    side is asked about; a given insutype must match."""
    region = insured_side.person_region(ctx, session, purchase.psn_no)
    side = insured_side.for_region(ctx, region)
    if side is insured_side.LOCAL:
        person = settlements.person_row(session, purchase.psn_no, for_update=lock)
        if purchase.insutype and purchase.insutype != person.insutype:
            raise invalid("insutype", f"与参保人险种 {person.insutype} 不符")
        return side, person
    return side, SimpleNamespace(psn_no=purchase.psn_no, insuplc_admdvs=region)


def presettle(ctx: AppContext, purchase: Purchase) -> PurchaseOutcome:
    """药店预结算 (2101): the full calculation; nothing is written (S3)."""
    cmd = command(ctx, purchase, infno="2101")
    settlements.validate(cmd)
    with ctx.unit_of_work() as session:
        side, person = _person(ctx, session, purchase, lock=False)
        fields, person = side.presettle(bound_context(ctx, session), cmd, person)
        return PurchaseOutcome(person, fields, cmd)


def settle(ctx: AppContext, purchase: Purchase) -> PurchaseOutcome:
    """药店结算 (2102): settlement, usage, personal account and ledger in one transaction; a second purchase
    of the same person at the same pharmacy on the same day is DUPLICATE_CLAIM (B-R14)."""
    cmd = command(ctx, purchase, infno="2102", mdtrt_id=_new_mdtrt_id(purchase.fixmedins_code))
    settlements.validate(cmd)
    with ctx.unit_of_work() as session:
        side, person = _person(ctx, session, purchase, lock=True)
        view, person = side.settle(bound_context(ctx, session), cmd, person)
        audit.record(session, purchase.actor, "pharmacy.settle", view.setl_id, {"lines": len(purchase.lines)})
        return PurchaseOutcome(person, dict(view.row_fields), cmd, view.setl_id)


def cancel(ctx: AppContext, *, fixmedins_code: str, setl_id: str, reversal: bool = False,
           actor: str = "pharmacy") -> Any:
    """药店结算撤销 (2103): the pharmacy's settlement reversed exactly once (fund, usage, account, ledger)."""
    with ctx.unit_of_work() as session:
        institution = lookups.institution(session, fixmedins_code)
        if institution.kind != PHARMACY:
            raise YidiError("NOT_A_PHARMACY", {"fixmedins_code": fixmedins_code, "infno": "2103"})
        record = insured_side.settlement_record(ctx, session, setl_id, for_update=True)
        if record is None or record.fixmedins_code != fixmedins_code:
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        insured_side.for_region(ctx, record.insuplc_admdvs).cancel(bound_context(ctx, session), record, on=None,
                                                                   reversal=reversal, actor=actor)
        return record


# --------------------------------------------------------------- reference records --
def designate_dual_channel(ctx: AppContext, *, fixmedins_code: str, med_list_codg: str, begndate: date,
                           enddate: date | None = None, source: str = "", actor: str = "system") -> None:
    """Record that a pharmacy dispenses ``med_list_codg`` under 双通道 from ``begndate`` (idempotent)."""
    with ctx.unit_of_work() as session:
        institution = session.get(InstitutionRow, fixmedins_code)
        if institution is None:
            raise YidiError("UNKNOWN_INSTITUTION", {"key": fixmedins_code})
        if institution.kind != PHARMACY:
            raise YidiError("NOT_A_PHARMACY", {"fixmedins_code": fixmedins_code, "infno": "双通道"})
        session.merge(DualChannelDrugRow(fixmedins_code=fixmedins_code, med_list_codg=med_list_codg,
                                         begndate=begndate, enddate=enddate, source=source))
        audit.record(session, actor, "pharmacy.dual_channel", fixmedins_code, {"drug": med_list_codg})


def recognize(ctx: AppContext, *, psn_no: str, med_list_codg: str, fixmedins_code: str, doctor_code: str,
              begndate: date, enddate: date | None = None, dise_codg: str = "",
              actor: str = "agency") -> SpecialDrugRecognitionRow:
    """特药待遇认定 (reading B-R28): the insured region recognises the person for one drug of its 特药 list, with the
    responsible hospital (a hospital of the directory) and doctor."""
    if not doctor_code or len(doctor_code) > 30:
        raise invalid("doctor_code", "请填写责任医师编码（不超过 30 个字符）")
    if enddate is not None and enddate < begndate:
        raise invalid("enddate", "认定终止日期早于开始日期")
    with ctx.unit_of_work() as session:
        person = session.get(PersonRow, psn_no)
        if person is None:
            raise YidiError("UNKNOWN_PERSON", {"key": psn_no})
        hospital = session.get(InstitutionRow, fixmedins_code)
        if hospital is None:
            raise YidiError("UNKNOWN_INSTITUTION", {"key": fixmedins_code})
        if hospital.kind != HOSPITAL:
            raise invalid("fixmedins_code", "责任医院应为定点医疗机构，不能是药店")
        policy = ctx.policy.insured_policy(person.insuplc_admdvs, begndate)
        special = policy.params.special_drugs
        if special is None:
            raise YidiError("SPECIAL_DRUG_NOT_COVERED", {"region": policy.region, "name": policy.name})
        if med_list_codg not in special.drugs.value:
            names = "、".join(f"{code} {name}" for code, name in special.drugs.value.items())
            raise invalid("med_list_codg", f"{med_list_codg} 不在参保地特药目录内（{names}）")
        row = SpecialDrugRecognitionRow(
            recognition_id="TY" + uuid.uuid4().hex[:18].upper(), psn_no=psn_no, med_list_codg=med_list_codg,
            dise_codg=dise_codg or "", fixmedins_code=fixmedins_code, doctor_code=doctor_code, begndate=begndate,
            enddate=enddate, status="active", actor=actor[:60])
        session.add(row)
        session.flush()
        audit.record(session, actor, "special_drug.recognize", row.recognition_id, {"drug": med_list_codg})
        return row


def recognitions(ctx: AppContext, psn_no: str) -> list[SpecialDrugRecognitionRow]:
    with ctx.unit_of_work() as session:
        return list(session.scalars(select(SpecialDrugRecognitionRow)
                                    .where(SpecialDrugRecognitionRow.psn_no == psn_no)
                                    .order_by(SpecialDrugRecognitionRow.begndate)))


def person_after(ctx: AppContext, psn_no: str) -> Any:
    """The person as they stand now (the 2103 answer shows the account balance after the refund)."""
    with ctx.unit_of_work() as session:
        return session.get(PersonRow, psn_no)
