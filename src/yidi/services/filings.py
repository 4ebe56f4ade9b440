"""Filing use cases (F1–F6, F4): file, change, cancel, approve, reject, list. One transaction each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.hot_sql import FilingRecord
from yidi.adapters.orm import FilingEventRow, FilingRow, PersonRow
from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import (
    commitment_text,
    Basis,
    Channel,
    Filing,
    FilingCategory,
    FilingStatus,
    FilingType,
    category_of,
    check_change_or_cancel,
    check_new_filing,
    end_on,
    parse_channel,
    initial_status,
)
from yidi.domain.regions import area_covers, same_pooling_area
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.reference import certno_problem, get_person, require_region
from yidi.services.scope import RegionScope

_Code = TypeVar("_Code", bound=StrEnum)  # a code list of domain/codes.py or domain/filing.py


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


def to_domain(row: FilingRow | FilingRecord) -> Filing:
    return Filing(
        filing_id=row.filing_id, psn_no=row.psn_no, insuplc_admdvs=row.insuplc_admdvs,
        filing_type=FilingType(row.filing_type), basis=Basis(row.basis), mdtrtarea_admvs=row.mdtrtarea_admvs,
        begndate=row.begndate, enddate=row.enddate, apply_date=row.apply_date, channel=Channel(row.channel),
        status=FilingStatus(row.status), approve_due_date=row.approve_due_date, replaces=row.replaces,
        replaced_by=row.replaced_by, reason=row.reason,
    )


def _enum(enum_type: type[_Code], value: str, field_name: str) -> _Code:
    try:
        return enum_type(value)
    except ValueError:
        allowed = "、".join(member.value for member in enum_type)
        raise invalid(field_name, f"应为 {allowed} 之一") from None


def _event(session: Session, filing_id: str, event: str, status: str, actor: str, on: date, reason: str = "",
           **details: object) -> None:
    session.add(FilingEventRow(filing_id=filing_id, event=event, status=status, actor=actor, on_date=on,
                               reason=reason, details={k: str(v) for k, v in details.items()}))


def _new_id() -> str:
    return "BA" + uuid.uuid4().hex[:16].upper()


def file_filing(ctx: AppContext, cmd: FileCommand) -> Filing:
    filing_type = _enum(FilingType, cmd.filing_type, "type")
    basis = _enum(Basis, cmd.basis, "basis")
    try:
        channel = parse_channel(cmd.channel)
    except ValueError:
        channel = _enum(Channel, cmd.channel, "channel")  # raises INVALID_INPUT listing the channels
    if (cmd.apply_date - cmd.begndate).days > 366:
        raise invalid("begndate", "补办备案的开始日期不能早于申请日一年以上")
    with ctx.unit_of_work() as session:
        # Lock the person row: two filings for one person are checked for overlap one after the other.
        person = get_person(session, cmd.psn_no, for_update=True)
        if person.insu_status != "active":
            raise YidiError("INSURANCE_INACTIVE", {"status": person.insu_status})
        area = require_region(session, cmd.mdtrtarea_admvs)
        if same_pooling_area(person.insuplc_admdvs, area.admdvs):
            raise invalid("mdtrtarea_admvs", "就医地不能是参保地本身")
        rules = ctx.policy.filing_policy(person.insuplc_admdvs, cmd.apply_date).params.filing
        enddate = check_new_filing(filing_type, basis, cmd.begndate, cmd.enddate, rules)
        signed_text = ""
        if basis is Basis.COMMITMENT:
            if not (cmd.commitment_signature or "").strip():
                raise YidiError("COMMITMENT_NOT_SIGNED")
            signed_text = commitment_text(filing_type, name=person.name, certno=person.certno, area=area.name)
        _refuse_overlap(session, person.psn_no, filing_type, area.admdvs, cmd.begndate, enddate)
        superseded = (_supersede_long_term(session, ctx, person.psn_no, basis, cmd.begndate, cmd.actor)
                      if category_of(filing_type) is FilingCategory.LONG_TERM else [])
        status, due = initial_status(channel, rules, cmd.apply_date)
        row = FilingRow(
            filing_id=_new_id(), psn_no=person.psn_no, insuplc_admdvs=person.insuplc_admdvs,
            filing_type=filing_type.value, basis=basis.value, mdtrtarea_admvs=area.admdvs,
            begndate=cmd.begndate, enddate=enddate, apply_date=cmd.apply_date, channel=channel.value,
            status=status.value, approve_due_date=due, reason=cmd.reason, commitment_text=signed_text,
            commitment_signature=(cmd.commitment_signature or "").strip(),
        )
        session.add(row)
        session.flush()
        for old_row in superseded:
            ended = end_on(to_domain(old_row), cmd.begndate, FilingStatus.CHANGED, replaced_by=row.filing_id,
                           reason="新的长期异地备案")
            old_row.status, old_row.enddate, old_row.replaced_by = ended.status.value, ended.enddate, row.filing_id
            _event(session, old_row.filing_id, "changed", old_row.status, cmd.actor, cmd.begndate,
                   "新的长期异地备案", successor=row.filing_id)
        _event(session, row.filing_id, "applied", row.status, cmd.actor, cmd.apply_date, cmd.reason,
               channel=channel.value, basis=basis.value)
        audit.record(session, cmd.actor, "filing.apply", row.filing_id, {"status": row.status})
        return to_domain(row)


def _periods_meet(begin_a: date, end_a: date | None, begin_b: date, end_b: date | None) -> bool:
    """Do two validity periods share a day? ``None`` = open-ended (long-term)."""
    return (end_b is None or begin_a <= end_b) and (end_a is None or begin_b <= end_a)


def _refuse_overlap(session: Session, psn_no: str, filing_type: FilingType, area: str, begndate: date,
                    enddate: date | None, *, ignore: str | None = None) -> None:
    """A true duplicate is refused: the same type to an area that an active or pending filing already
    covers (city inside a filed province, or the reverse) in an overlapping period. Other overlaps are
    allowed (a temporary filer may add a referral; coverage picks the most favourable filing), and a
    second long-term filing supersedes the first (see ``_supersede_long_term``)."""
    standing = session.scalars(select(FilingRow).where(
        FilingRow.psn_no == psn_no, FilingRow.filing_type == filing_type.value,
        FilingRow.status.in_([FilingStatus.ACTIVE.value, FilingStatus.PENDING.value])))
    for other in standing:
        if other.filing_id == ignore or not _periods_meet(begndate, enddate, other.begndate, other.enddate):
            continue
        if area_covers(other.mdtrtarea_admvs, area) or area_covers(area, other.mdtrtarea_admvs):
            raise YidiError("FILING_OVERLAP", {"filing_id": other.filing_id})


def _supersede_long_term(session: Session, ctx: AppContext, psn_no: str, new_basis: Basis, on: date,
                         actor: str) -> list[FilingRow]:
    """A person has one 长期居住地: a new long-term filing from ``on`` ends the standing one on on − 1.
    That is a change of the old filing, so F6 applies: a commitment-based filing younger than the lock
    needs proof (FILING_CHANGE_NEEDS_PROOF)."""
    ended = []
    standing = session.scalars(select(FilingRow).where(
        FilingRow.psn_no == psn_no, FilingRow.status == FilingStatus.ACTIVE.value).with_for_update())
    for row in standing:
        old = to_domain(row)
        if not old.is_long_term or (old.enddate is not None and old.enddate < on):
            continue
        rules = ctx.policy.filing_policy(old.insuplc_admdvs, on).params.filing
        check_change_or_cancel(old, max(on, old.apply_date), new_basis is Basis.PROOF, rules)
        ended.append(row)
    return ended


def get_filing(ctx: AppContext, filing_id: str) -> Filing:
    with ctx.unit_of_work() as session:
        return to_domain(_get_row(session, filing_id))


def _get_row(session: Session, filing_id: str, for_update: bool = False) -> FilingRow:
    stmt = select(FilingRow).where(FilingRow.filing_id == filing_id)
    if for_update:  # re-read under the lock, even if this session loaded the row before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
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
        # Lock order person → filing (as in file_filing): a person's filings change one at a time (overlap check).
        get_person(session, _get_row(session, filing_id).psn_no, for_update=True)
        row = _get_row(session, filing_id, for_update=True)
        old = to_domain(row)
        rules = ctx.policy.filing_policy(old.insuplc_admdvs, on).params.filing
        _check_end_date(old, on)
        check_change_or_cancel(old, on, proof, rules)
        new_area = mdtrtarea_admvs or old.mdtrtarea_admvs
        require_region(session, new_area)
        if same_pooling_area(old.insuplc_admdvs, new_area):
            # 变更回参保地: the remote filing simply ends (B3 德州 'switched back').
            return _end(session, row, old, on, FilingStatus.CANCELLED, actor, reason or "变更回参保地", proof)
        successor_end = None if old.is_long_term else old.enddate
        if successor_end is not None and successor_end < on:
            raise YidiError("FILING_NOT_ACTIVE", {"status": f"已于 {successor_end.isoformat()} 到期"})
        _refuse_overlap(session, old.psn_no, old.filing_type, new_area, on, successor_end, ignore=old.filing_id)
        successor = FilingRow(
            filing_id=_new_id(), psn_no=old.psn_no, insuplc_admdvs=old.insuplc_admdvs,
            filing_type=old.filing_type.value, basis=(Basis.PROOF if proof else old.basis).value,
            mdtrtarea_admvs=new_area, begndate=on, enddate=successor_end, apply_date=on, channel=old.channel.value,
            # A change does not skip approval: the successor of a pending filing waits under the same due date.
            status=old.status.value, approve_due_date=old.approve_due_date, replaces=old.filing_id, reason=reason,
            commitment_text=row.commitment_text, commitment_signature=row.commitment_signature,
        )
        session.add(successor)
        session.flush()
        mode = rules.change_mode.value
        ended = end_on(old, _last_cover_day_after(old, on), FilingStatus.CHANGED, replaced_by=successor.filing_id,
                       reason=reason)
        row.status, row.enddate, row.replaced_by = ended.status.value, ended.enddate, ended.replaced_by
        # filing_events.event is VARCHAR(20): keep event names short.
        event = "terminated_refiled" if mode == "terminate_and_refile" else "changed"
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
        rules = ctx.policy.filing_policy(old.insuplc_admdvs, on).params.filing
        _check_end_date(old, on)
        check_change_or_cancel(old, on, proof, rules)
        return _end(session, row, old, on, FilingStatus.CANCELLED, actor, reason, proof)


def _check_end_date(old: Filing, on: date) -> None:
    """A change or cancellation cannot take effect before the filing was applied for."""
    if on < old.apply_date:
        raise invalid("date", f"变更或取消日期不能早于备案申请日 {old.apply_date.isoformat()}")


def _last_cover_day_after(old: Filing, on: date) -> date:
    """The ``on`` to pass to ``end_on``. A filing withdrawn or changed while still pending was never approved,
    so it must cover nothing: it ends before its start (a cancelled or changed filing otherwise counts as
    once effective for the days before ``on``, F7)."""
    return on if old.status is FilingStatus.ACTIVE else min(on, old.begndate)


def _end(session: Session, row: FilingRow, old: Filing, on: date, status: FilingStatus, actor: str, reason: str,
         proof: bool) -> Filing:
    ended = end_on(old, _last_cover_day_after(old, on), status, reason=reason)
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
        if not RegionScope.of_region(clerk_region).covers(row.insuplc_admdvs):
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
                 insuplc_admdvs: str | None = None, certno: str | None = None, mdtrtarea_admvs: str | None = None,
                 oldest_first: bool = False, limit: int = 200) -> list[Filing]:
    """Search filings. ``insuplc_admdvs`` given as a province code (xx0000) covers all its cities."""
    if status:
        _enum(FilingStatus, status, "status")
    if certno and (problem := certno_problem(certno)):
        raise invalid("certno", problem)
    with ctx.unit_of_work() as session:
        order = (FilingRow.apply_date.asc(), FilingRow.created_at.asc()) if oldest_first else (
            FilingRow.apply_date.desc(), FilingRow.created_at.desc())
        stmt = select(FilingRow).order_by(*order, FilingRow.filing_id)
        if psn_no:
            stmt = stmt.where(FilingRow.psn_no == psn_no)
        if status:
            stmt = stmt.where(FilingRow.status == status)
        if insuplc_admdvs:
            stmt = stmt.where(RegionScope(insuplc_admdvs).where(FilingRow.insuplc_admdvs))
        if mdtrtarea_admvs:
            stmt = stmt.where(FilingRow.mdtrtarea_admvs == mdtrtarea_admvs)
        if certno:
            stmt = stmt.join(PersonRow, PersonRow.psn_no == FilingRow.psn_no).where(
                PersonRow.certno == certno.strip().upper())
        return [to_domain(row) for row in session.scalars(stmt.limit(limit))]


def pending_queue(ctx: AppContext, insuplc_admdvs: str, limit: int = 200) -> list[Filing]:
    """F4: the clerk's queue — pending filings of the region, oldest application first, with due dates."""
    return list_filings(ctx, status=FilingStatus.PENDING.value, insuplc_admdvs=insuplc_admdvs, oldest_first=True,
                        limit=limit)


def filings_of(session: Session, psn_no: str) -> list[Filing]:
    return [to_domain(row) for row in session.scalars(select(FilingRow).where(FilingRow.psn_no == psn_no))]


def filing_history(ctx: AppContext, filing_id: str) -> list[dict[str, Any]]:
    with ctx.unit_of_work() as session:
        _get_row(session, filing_id)
        rows = session.scalars(select(FilingEventRow).where(FilingEventRow.filing_id == filing_id)
                               .order_by(FilingEventRow.id))
        return [{"event": r.event, "status": r.status, "actor": r.actor, "on": r.on_date.isoformat(),
                 "reason": r.reason, "details": r.details} for r in rows]


def commitment_form(ctx: AppContext, psn_no: str, mdtrtarea_admvs: str, filing_type: str | None = None) -> dict[str, Any]:
    """F3: the full text of the 个人承诺书 (seed 003's attachment) the person reads and signs."""
    kind = _enum(FilingType, filing_type, "type") if filing_type else None
    with ctx.unit_of_work() as session:
        person = get_person(session, psn_no)
        area = require_region(session, mdtrtarea_admvs)
        return {"psn_no": person.psn_no, "mdtrtarea_admvs": area.admdvs, "area_name": area.name,
                "text": commitment_text(kind, name=person.name, certno=person.certno, area=area.name)}


def person_region(ctx: AppContext, psn_no: str) -> str:
    """The insured region of a person (for scope checks before acting on their behalf)."""
    with ctx.unit_of_work() as session:
        return get_person(session, psn_no).insuplc_admdvs


INSURANCE_STATUSES = ("active", "suspended", "ended")  # 参保缴费 / 暂停 / 终止


def change_insurance_status(ctx: AppContext, psn_no: str, status: str, on: date, *, actor: str = "system",
                            reason: str = "参保状态变更") -> list[Filing]:
    """Seed 000 一(二): a long-term filing stays valid "未申请变更备案信息或参保状态未发生变更的". The person's
    insurance status changes on ``on``: every standing filing (active or pending) ends — it covers nothing
    admitted from ``on`` (status ``ended``, history kept) — and the person must file again under the new status.
    Returns the filings ended. Setting the status it already has changes nothing."""
    if status not in INSURANCE_STATUSES:
        raise invalid("status", "应为 active（参保）、suspended（暂停）或 ended（终止）之一")
    with ctx.unit_of_work() as session:
        person = get_person(session, psn_no, for_update=True)
        if person.insu_status == status:
            return []
        person.insu_status = status
        standing = session.scalars(select(FilingRow).where(
            FilingRow.psn_no == psn_no,
            FilingRow.status.in_([FilingStatus.ACTIVE.value, FilingStatus.PENDING.value])).with_for_update())
        ended = []
        for row in standing:
            old = to_domain(row)
            done = end_on(old, _last_cover_day_after(old, on), FilingStatus.ENDED, reason=reason)
            row.status, row.enddate, row.reason = done.status.value, done.enddate, reason
            _event(session, row.filing_id, "insurance_changed", row.status, actor, on, reason, insu_status=status)
            ended.append(to_domain(row))
        audit.record(session, actor, "person.insu_status", psn_no, {"status": status, "on": on.isoformat(),
                                                                    "filings_ended": [f.filing_id for f in ended]})
        return ended


def supply_materials(ctx: AppContext, filing_id: str, on: date, *, actor: str, reason: str = "补齐备案材料",
                     clerk_region: str | None = None) -> Filing:
    """Seed 001 二(五): a long-term filer by commitment "可在补齐相关备案材料后在备案地和参保地双向享受医保待遇". The
    clerk records on ``on`` that the materials were supplied: the commitment filing ends on ``on`` − 1 and a
    proof-based successor to the same place starts on ``on`` (history kept), so visits admitted from ``on`` get
    the two-way benefits and earlier ones keep what they had."""
    with ctx.unit_of_work() as session:
        get_person(session, _get_row(session, filing_id).psn_no, for_update=True)
        row = _get_row(session, filing_id, for_update=True)
        if not RegionScope.of_region(clerk_region).covers(row.insuplc_admdvs):
            raise YidiError("FORBIDDEN", {"detail": "只能办理本参保地的备案"})
        old = to_domain(row)
        if old.status is not FilingStatus.ACTIVE:
            raise YidiError("FILING_NOT_ACTIVE", {"status": old.status.value})
        if not old.is_long_term or old.basis is not Basis.COMMITMENT:
            raise invalid("filing", "只有以个人承诺方式办理的长期异地备案需要补齐备案材料")
        _check_end_date(old, on)
        successor = FilingRow(
            filing_id=_new_id(), psn_no=old.psn_no, insuplc_admdvs=old.insuplc_admdvs,
            filing_type=old.filing_type.value, basis=Basis.PROOF.value, mdtrtarea_admvs=old.mdtrtarea_admvs,
            begndate=on, enddate=None, apply_date=on, channel=old.channel.value, status=FilingStatus.ACTIVE.value,
            replaces=old.filing_id, reason=reason, commitment_text=row.commitment_text,
            commitment_signature=row.commitment_signature)
        session.add(successor)
        session.flush()
        ended = end_on(old, on, FilingStatus.CHANGED, replaced_by=successor.filing_id, reason=reason)
        row.status, row.enddate, row.replaced_by = ended.status.value, ended.enddate, ended.replaced_by
        _event(session, old.filing_id, "materials_supplied", row.status, actor, on, reason,
               successor=successor.filing_id)
        _event(session, successor.filing_id, "applied", successor.status, actor, on, reason, replaces=old.filing_id,
               basis=Basis.PROOF.value)
        audit.record(session, actor, "filing.materials", old.filing_id, {"successor": successor.filing_id,
                                                                         "on": on.isoformat()})
        return to_domain(successor)
