"""The treatment side's records of cross-province settlements, as a hospital desk reads them (issue 16).

On a province node a visitor insured in another province is settled by their insured node; this node keeps its
side (``treatment_settlements``: the insured node's settlement id and answer, what its hospital is owed) and the
desk copy of the visitor made at admission (name, certificate number, insured region — what the desk and the HIS's
answers show). The desk lists, opens and prints these like its own settlements, from these two records only:
nothing is asked of the insured node, and nothing of the person beyond the desk copy is shown.

Every read is scoped to one institution: another hospital's record does not exist for the desk
(SETTLEMENT_NOT_FOUND, as for a settlement of this node). On one embedded node the table is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select

from yidi.adapters.orm import PersonRow, VisitRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan
from yidi.services.context import AppContext
from yidi.services.settlements import SettlementView


@dataclass(frozen=True)
class VisitorName:
    """What the desk's settlement page and slip show of a visitor: the desk copy's name and certificate number
    (the insured node holds the rest of the person)."""

    name: str
    certno: str


@dataclass(frozen=True)
class VisitorSettlement:
    """One cross-province settlement as this node holds it. Amounts are integer fen; ``answer`` is the insured
    node's result fields (trace, policy and catalog versions included) as the HIS was answered."""

    setl_id: str
    status: str  # settled / cancelled / reversed (this node's record, kept in step with the insured node's)
    kind: str
    msgid: str  # the hospital's msgid, the request id the insured node stored the settlement under
    psn_no: str
    person_name: str  # from the desk copy ("" when the settlement was entered without an admission)
    certno: str  # from the desk copy; the pages mask it
    insuplc_admdvs: str
    insutype: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    mdtrt_id: str | None
    dise_codg: str | None  # the visit's diagnosis, as the hospital registered it here
    med_type: str
    begntime: date
    endtime: date
    setl_date: date
    settled_at: datetime | None
    cancelled_on: date | None
    medfee_sumamt: int
    fund_pay_sumamt: int
    psn_part_amt: int
    hifp_pay: int
    acct_pay: int
    answer: dict[str, Any]

    def person(self) -> VisitorName:
        return VisitorName(self.person_name, self.certno)

    def view(self) -> SettlementView:
        """The same view a settlement of this node gives (the settlement page, the slip, the day's list): the
        insured node's answer fields with this node's status."""
        return SettlementView(setl_id=self.setl_id, status=self.status, kind=self.kind, psn_no=self.psn_no,
                              fixmedins_code=self.fixmedins_code, med_type=self.med_type, begntime=self.begntime,
                              endtime=self.endtime, result=None, row_fields=dict(self.answer))

    def to_dict(self) -> dict[str, Any]:
        """The desk API's answer: yuan text at the edge, as everywhere else."""
        return {"setl_id": self.setl_id, "status": self.status, "kind": self.kind, "cross_province": True,
                "msgid": self.msgid, "psn_no": self.psn_no, "psn_name": self.person_name,
                "insuplc_admdvs": self.insuplc_admdvs, "insutype": self.insutype,
                "fixmedins_code": self.fixmedins_code, "mdtrtarea_admvs": self.mdtrtarea_admvs,
                "mdtrt_id": self.mdtrt_id, "dise_codg": self.dise_codg, "med_type": self.med_type,
                "begntime": self.begntime.isoformat(), "endtime": self.endtime.isoformat(), "setl_date": self.setl_date.isoformat(),
                "cancelled_on": self.cancelled_on.isoformat() if self.cancelled_on else None,
                "medfee_sumamt": fen_to_yuan(self.medfee_sumamt), "fund_pay_sumamt": fen_to_yuan(self.fund_pay_sumamt),
                "psn_part_amt": fen_to_yuan(self.psn_part_amt), "hifp_pay": fen_to_yuan(self.hifp_pay),
                "acct_pay": fen_to_yuan(self.acct_pay), "answer": self.answer}


def _record(row: TreatmentSettlementRow, name: str | None, certno: str | None,
            dise_codg: str | None) -> VisitorSettlement:
    return VisitorSettlement(
        setl_id=row.setl_id, status=row.status, kind=row.kind, msgid=row.request_id, psn_no=row.psn_no,
        person_name=name or "", certno=certno or "", insuplc_admdvs=row.insuplc_admdvs, insutype=row.insutype,
        fixmedins_code=row.fixmedins_code, mdtrtarea_admvs=row.mdtrtarea_admvs, mdtrt_id=row.mdtrt_id,
        dise_codg=dise_codg, med_type=row.med_type, begntime=row.begntime, endtime=row.endtime,
        setl_date=row.setl_date,
        settled_at=row.created_at, cancelled_on=row.cancelled_on, medfee_sumamt=row.medfee_sumamt,
        fund_pay_sumamt=row.fund_pay_sumamt, psn_part_amt=row.psn_part_amt, hifp_pay=row.hifp_pay,
        acct_pay=row.acct_pay or 0, answer=dict(row.answer or {}))


def _select(fixmedins_code: str) -> Select[TreatmentSettlementRow, str | None, str | None, str | None]:
    return (select(TreatmentSettlementRow, PersonRow.name, PersonRow.certno, VisitRow.dise_codg)
            .outerjoin(PersonRow, PersonRow.psn_no == TreatmentSettlementRow.psn_no)
            .outerjoin(VisitRow, VisitRow.mdtrt_id == TreatmentSettlementRow.mdtrt_id)
            .where(TreatmentSettlementRow.fixmedins_code == fixmedins_code))


def of_institution(ctx: AppContext, fixmedins_code: str, *, setl_date: date | None = None,
                   mdtrt_id: str | None = None, limit: int = 5000) -> list[VisitorSettlement]:
    """The institution's cross-province settlements (of one day, or of one visit), newest first."""
    stmt = _select(fixmedins_code)
    if setl_date is not None:
        stmt = stmt.where(TreatmentSettlementRow.setl_date == setl_date)
    if mdtrt_id is not None:
        stmt = stmt.where(TreatmentSettlementRow.mdtrt_id == mdtrt_id)
    stmt = stmt.order_by(TreatmentSettlementRow.setl_date.desc(), TreatmentSettlementRow.created_at.desc(),
                         TreatmentSettlementRow.setl_id).limit(limit)
    with ctx.unit_of_work() as session:
        return [_record(*found) for found in session.execute(stmt)]


def find(ctx: AppContext, fixmedins_code: str, setl_id: str) -> VisitorSettlement | None:
    """The record, if this institution made it; None otherwise (another hospital's does not exist for it)."""
    with ctx.unit_of_work() as session:
        found = session.execute(_select(fixmedins_code).where(TreatmentSettlementRow.setl_id == setl_id)).first()
    return _record(*found) if found is not None else None


def get(ctx: AppContext, fixmedins_code: str, setl_id: str) -> VisitorSettlement:
    found = find(ctx, fixmedins_code, setl_id)
    if found is None:
        raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
    return found
