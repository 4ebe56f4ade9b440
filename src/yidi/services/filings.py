"""Filing use cases (F1–F6, F4): file, change, cancel, approve, reject, list. One transaction each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import FilingEventRow, FilingRow, PersonRow
from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import (
    COMMITMENT_TEXT,
    Basis,
    Channel,
    Filing,
    FilingStatus,
    FilingType,
    check_change_or_cancel,
    check_new_filing,
    end_on,
    initial_status,
)
from yidi.domain.regions import same_pooling_area
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.reference import get_person, require_region


@dataclass(frozen=True)
class FileCommand:
    psn_no: str
    filing_type: str
    basis: str
    mdtrtarea_admvs: str
    begndate: date
    apply_date: date
    channel: str = "app"
    enddate: date | None = None
    commitment_signature: str | None = None  # F3: the signer's name; required for commitment
    actor: str = "person"
    reason: str = ""


def to_domain(row: FilingRow) -> Filing:
    return Filing(
        filing_id=row.filing_id, psn_no=row.psn_no, insuplc_admdvs=row.insuplc_admdvs,
        filing_type=FilingType(row.filing_type), basis=Basis(row.basis), mdtrtarea_admvs=row.mdtrtarea_admvs,
        begndate=row.begndate, enddate=row.enddate, apply_date=row.apply_date, channel=Channel(row.channel),
        status=FilingStatus(row.status), approve_due_date=row.approve_due_date, replaces=row.replaces,
        replaced_by=row.replaced_by, reason=row.reason,
    )


def _enum(enum_type, value: str, field_name: str):
    try:
        return enum_type(value)
    except ValueError:
        allowed = "、".join(member.value for member in enum_type)
        raise invalid(field_name, f"应为 {allowed} 之一") from None


def _event(session: Session, filing_id: str, event: str, status: str, actor: str, on: date, reason: str = "",
           **details) -> None:
    session.add(FilingEventRow(filing_id=filing_id, event=event, status=status, actor=actor, on_date=on,
                               reason=reason, details={k: str(v) for k, v in details.items()}))


def _new_id() -> str:
    return "BA" + uuid.uuid4().hex[:16].upper()


def file_filing(ctx: AppContext, cmd: FileCommand) -> Filing:
    filing_type = _enum(FilingType, cmd.filing_type, "type")
    basis = _enum(Basis, cmd.basis, "basis")
    channel = _enum(Channel, cmd.channel, "channel")
    if (cmd.apply_date - cmd.begndate).days > 366:
        raise invalid("begndate", "补办备案的开始日期不能早于申请日一年以上")
    with ctx.unit_of_work() as session:
        person = get_person(session, cmd.psn_no)
        if person.insu_status != "active":
            raise YidiError("INSURANCE_INACTIVE", {"status": person.insu_status})
        area = require_region(session, cmd.mdtrtarea_admvs)
        if same_pooling_area(person.insuplc_admdvs, area.admdvs):
            raise invalid("mdtrtarea_admvs", "就医地不能是参保地本身")
        rules = ctx.policy.insured_policy(person.insuplc_admdvs, cmd.apply_date).params.filing
        enddate = check_new_filing(filing_type, basis, cmd.begndate, cmd.enddate, rules)
        commitment_text = ""
        if basis is Basis.COMMITMENT:
            if not (cmd.commitment_signature or "").strip():
                raise YidiError("COMMITMENT_NOT_SIGNED")
            commitment_text = COMMITMENT_TEXT.format(name=person.name, certno=person.certno, area=area.name)
        status, due = initial_status(channel, rules, cmd.apply_date)
        row = FilingRow(
            filing_id=_new_id(), psn_no=person.psn_no, insuplc_admdvs=person.insuplc_admdvs,
            filing_type=filing_type.value, basis=basis.value, mdtrtarea_admvs=area.admdvs,
            begndate=cmd.begndate, enddate=enddate, apply_date=cmd.apply_date, channel=channel.value,
            status=status.value, approve_due_date=due, reason=cmd.reason, commitment_text=commitment_text,
            commitment_signature=(cmd.commitment_signature or "").strip(),
        )
        session.add(row)
        session.flush()
        _event(session, row.filing_id, "applied", row.status, cmd.actor, cmd.apply_date, cmd.reason,
               channel=channel.value, basis=basis.value)
        audit.record(session, cmd.actor, "filing.apply", row.filing_id, {"status": row.status})
        return to_domain(row)


def get_filing(ctx: AppContext, filing_id: str) -> Filing:
    with ctx.unit_of_work() as session:
        return to_domain(_get_row(session, filing_id))


def _get_row(session: Session, filing_id: str, for_update: bool = False) -> FilingRow:
    stmt = select(FilingRow).where(FilingRow.filing_id == filing_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise YidiError("NOT_FOUND", {"what": "备案", "key": filing_id})
    return row


def current_filing_id(ctx: AppContext, filing_id: str) -> str:
    """Follow ``replaced_by`` to the filing that stands now (a change creates a successor)."""
    with ctx.unit_of_work() as session:
        row = _get_row(session, filing_id)
        seen = {row.filing_id}
        while row.replaced_by and row.replaced_by not in seen:
            row = _get_row(session, row.replaced_by)
            seen.add(row.filing_id)
        return row.filing_id


def change_filing(ctx: AppContext, filing_id: str, on: date, *, proof: bool, mdtrtarea_admvs: str | None = None,
                  actor: str = "person", reason: str = "") -> Filing:
    """F6: end the old filing the day before and start its successor on ``on`` (history stays)."""
    with ctx.unit_of_work() as session:
        row = _get_row(session, filing_id, for_update=True)
        old = to_domain(row)
        rules = ctx.policy.insured_policy(old.insuplc_admdvs, on).params.filing
        check_change_or_cancel(old, on, proof, rules)
        new_area = mdtrtarea_admvs or old.mdtrtarea_admvs
        require_region(session, new_area)
        if same_pooling_area(old.insuplc_admdvs, new_area):
            # 变更回参保地: the remote filing simply ends (B3 德州 'switched back').
            return _end(session, row, old, on, FilingStatus.CANCELLED, actor, reason or "变更回参保地", proof)
        successor = FilingRow(
            filing_id=_new_id(), psn_no=old.psn_no, insuplc_admdvs=old.insuplc_admdvs,
            filing_type=old.filing_type.value, basis=(Basis.PROOF if proof else old.basis).value,
            mdtrtarea_admvs=new_area, begndate=on,
            enddate=None if old.is_long_term else old.enddate, apply_date=on, channel=old.channel.value,
            status=FilingStatus.ACTIVE.value, replaces=old.filing_id, reason=reason,
            commitment_text=row.commitment_text, commitment_signature=row.commitment_signature,
        )
        session.add(successor)
        session.flush()
        mode = rules.change_mode.value
        ended = end_on(old, on, FilingStatus.CHANGED, replaced_by=successor.filing_id, reason=reason)
        row.status, row.enddate, row.replaced_by = ended.status.value, ended.enddate, ended.replaced_by
        event = "terminated_and_refiled" if mode == "terminate_and_refile" else "changed"
        _event(session, old.filing_id, event, row.status, actor, on, reason, successor=successor.filing_id,
               proof=proof)
        _event(session, successor.filing_id, "applied", successor.status, actor, on, reason, replaces=old.filing_id)
        audit.record(session, actor, "filing.change", old.filing_id, {"successor": successor.filing_id})
        return to_domain(successor)


def cancel_filing(ctx: AppContext, filing_id: str, on: date, *, proof: bool, actor: str = "person",
                  reason: str = "") -> Filing:
    with ctx.unit_of_work() as session:
        row = _get_row(session, filing_id, for_update=True)
        old = to_domain(row)
        rules = ctx.policy.insured_policy(old.insuplc_admdvs, on).params.filing
        check_change_or_cancel(old, on, proof, rules)
        return _end(session, row, old, on, FilingStatus.CANCELLED, actor, reason, proof)


def _end(session: Session, row: FilingRow, old: Filing, on: date, status: FilingStatus, actor: str, reason: str,
         proof: bool) -> Filing:
    ended = end_on(old, on, status, reason=reason)
    row.status, row.enddate = ended.status.value, ended.enddate
    _event(session, old.filing_id, "cancelled", row.status, actor, on, reason, proof=proof)
    audit.record(session, actor, "filing.cancel", old.filing_id, {"on": on.isoformat()})
    return to_domain(row)


def decide_filing(ctx: AppContext, filing_id: str, *, approve: bool, actor: str, on: date, reason: str = "",
                  clerk_region: str | None = None) -> Filing:
    """F4: the insured region's clerk approves or rejects a pending online filing."""
    if not approve and not reason.strip():
        raise invalid("reason", "驳回备案需填写原因")
    with ctx.unit_of_work() as session:
        row = _get_row(session, filing_id, for_update=True)
        if clerk_region and row.insuplc_admdvs != clerk_region and row.insuplc_admdvs[:2] + "0000" != clerk_region:
            raise YidiError("FORBIDDEN", {"detail": "只能审核本参保地的备案"})
        if row.status != FilingStatus.PENDING.value:
            raise YidiError("FILING_ALREADY_DECIDED", {"status": row.status})
        row.status = (FilingStatus.ACTIVE if approve else FilingStatus.REJECTED).value
        if not approve:
            row.reason = reason
        _event(session, row.filing_id, "approved" if approve else "rejected", row.status, actor, on, reason)
        audit.record(session, actor, "filing.approve" if approve else "filing.reject", row.filing_id, {"reason": reason})
        return to_domain(row)


def list_filings(ctx: AppContext, *, psn_no: str | None = None, status: str | None = None,
                 insuplc_admdvs: str | None = None, certno: str | None = None, limit: int = 200) -> list[Filing]:
    with ctx.unit_of_work() as session:
        stmt = select(FilingRow).order_by(FilingRow.apply_date.desc(), FilingRow.filing_id)
        if psn_no:
            stmt = stmt.where(FilingRow.psn_no == psn_no)
        if status:
            stmt = stmt.where(FilingRow.status == status)
        if insuplc_admdvs:
            stmt = stmt.where(FilingRow.insuplc_admdvs.like(insuplc_admdvs.rstrip("0")[:2] + "%")
                              if insuplc_admdvs.endswith("0000") else FilingRow.insuplc_admdvs == insuplc_admdvs)
        if certno:
            stmt = stmt.join(PersonRow, PersonRow.psn_no == FilingRow.psn_no).where(PersonRow.certno == certno.upper())
        return [to_domain(row) for row in session.scalars(stmt.limit(limit))]


def filings_of(session: Session, psn_no: str) -> list[Filing]:
    return [to_domain(row) for row in session.scalars(select(FilingRow).where(FilingRow.psn_no == psn_no))]


def filing_history(ctx: AppContext, filing_id: str) -> list[dict]:
    with ctx.unit_of_work() as session:
        _get_row(session, filing_id)
        rows = session.scalars(select(FilingEventRow).where(FilingEventRow.filing_id == filing_id)
                               .order_by(FilingEventRow.id))
        return [{"event": r.event, "status": r.status, "actor": r.actor, "on": r.on_date.isoformat(),
                 "reason": r.reason, "details": r.details} for r in rows]
