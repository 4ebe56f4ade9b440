"""零星报销 use cases (S4): submit (nothing paid), the clerk's queue and review, approve (pay) or reject.

Submission stores the claim, its attachments and the refund account and puts it in the insured region's queue
with a due date counted as for online filings (F4). Nothing is settled, no usage or ledger is written. The clerk
sees the calculation as it would be paid now (the settlement engine's result and trace), the attachments and the
person's other claims, settlements and filings. Approval books the settlement, the usage and the ledger entry in
the same transaction as the claim's new status; approving an approved claim again changes nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import InstitutionRow
from yidi.adapters.orm_claims import ClaimAttachmentRow, ManualClaimRow
from yidi.config import get_settings
from yidi.domain.catalog import FeeItem
from yidi.domain.claims import (
    ClaimStatus,
    check_attachment,
    check_attachment_kinds,
    check_bank_account,
    check_decision,
)
from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import Filing, add_working_days
from yidi.services import audit, lookups, settlements, visits
from yidi.services.context import AppContext
from yidi.services.filings import filings_of
from yidi.services.idempotency import bound_context
from yidi.services.reference import get_person
from yidi.services.users import Principal


@dataclass(frozen=True)
class Attachment:
    kind: str
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class SubmitCommand:
    """Either ``mdtrt_id`` (a visit the hospital uploaded) or the visit's details and fee lines."""

    psn_no: str
    bank_name: str
    bank_account: str
    account_name: str
    attachments: tuple[Attachment, ...]
    submitted_on: date
    actor: str
    mdtrt_id: str | None = None
    fixmedins_code: str | None = None
    med_type: str | None = None
    begntime: date | None = None
    endtime: date | None = None
    items: tuple[FeeItem, ...] = ()
    dise_codg: str | None = None
    emergency: bool = False
    trauma_no_third_party: bool | None = None


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Claim:
    claim_id: str
    psn_no: str
    insuplc_admdvs: str
    fixmedins_code: str
    mdtrt_id: str | None
    med_type: str
    dise_codg: str | None
    begntime: date
    endtime: date
    medfee_sumamt: int  # fen
    status: str
    submitted_on: date
    due_date: date
    submitted_by: str
    decided_on: date | None
    decided_by: str | None
    reason: str
    setl_id: str | None
    bank_name: str
    bank_account: str
    account_name: str
    paid_on: date | None
    payment_ref: str
    attachments: tuple[AttachmentInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from yidi.domain.money import fen_to_yuan

        return {"claim_id": self.claim_id, "kind": "manual", "status": self.status, "psn_no": self.psn_no,
                "insuplc_admdvs": self.insuplc_admdvs, "fixmedins_code": self.fixmedins_code,
                "mdtrt_id": self.mdtrt_id, "med_type": self.med_type, "dise_codg": self.dise_codg,
                "begntime": self.begntime.isoformat(), "endtime": self.endtime.isoformat(),
                "medfee_sumamt": fen_to_yuan(self.medfee_sumamt), "submitted_on": self.submitted_on.isoformat(),
                "due_date": self.due_date.isoformat(), "decided_on": _iso(self.decided_on),
                "decided_by": self.decided_by, "reason": self.reason, "setl_id": self.setl_id,
                "bank_name": self.bank_name, "bank_account": self.bank_account, "account_name": self.account_name,
                "paid_on": _iso(self.paid_on), "payment_ref": self.payment_ref,
                "attachments": [{"id": a.id, "kind": a.kind, "filename": a.filename, "content_type": a.content_type,
                                 "size": a.size, "sha256": a.sha256} for a in self.attachments]}


@dataclass(frozen=True)
class Review:
    """What the clerk decides on: the claim, the calculation as it would be paid now (or the refusal the
    settlement would give), and the person's other claims, settlements and filings."""

    claim: Claim
    calculation: dict[str, Any] | None
    refusal: YidiError | None
    other_claims: list[Claim] = field(default_factory=list)
    settlements: list[Any] = field(default_factory=list)  # settlements.SettlementView
    filings: list[Filing] = field(default_factory=list)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _item_dict(item: FeeItem) -> dict[str, Any]:
    return {"code": item.code, "amount": item.amount_fen, "qty": str(item.qty), "price": item.price_fen,
            "name": item.name}


def _item(entry: dict[str, Any]) -> FeeItem:
    from decimal import Decimal

    return FeeItem(code=entry["code"], amount_fen=int(entry["amount"]), qty=Decimal(entry["qty"]),
                   price_fen=entry.get("price"), name=cast(str, entry.get("name")))  # _item_dict stores a name


def _claim(row: ManualClaimRow, attachments: list[ClaimAttachmentRow] | None = None) -> Claim:
    return Claim(
        claim_id=row.claim_id, psn_no=row.psn_no, insuplc_admdvs=row.insuplc_admdvs,
        fixmedins_code=row.fixmedins_code, mdtrt_id=row.mdtrt_id, med_type=row.med_type, dise_codg=row.dise_codg,
        begntime=row.begntime, endtime=row.endtime, medfee_sumamt=sum(int(i["amount"]) for i in row.items),
        status=row.status, submitted_on=row.submitted_on, due_date=row.due_date, submitted_by=row.submitted_by,
        decided_on=row.decided_on, decided_by=row.decided_by, reason=row.reason, setl_id=row.setl_id,
        bank_name=row.bank_name, bank_account=row.bank_account, account_name=row.account_name, paid_on=row.paid_on,
        payment_ref=row.payment_ref,
        attachments=tuple(AttachmentInfo(a.id, a.kind, a.filename, a.content_type, a.size, a.sha256)
                          for a in attachments or []))


def _command(row: ManualClaimRow, actor: str) -> settlements.SettleCommand:
    return settlements.SettleCommand(
        psn_no=row.psn_no, fixmedins_code=row.fixmedins_code, med_type=row.med_type, begntime=row.begntime,
        endtime=row.endtime, items=tuple(_item(i) for i in row.items), dise_codg=row.dise_codg,
        emergency=row.emergency, trauma_no_third_party=row.trauma_no_third_party, kind="manual",
        mdtrt_id=row.mdtrt_id, actor=actor)


def max_attachment_bytes() -> int:
    return get_settings().claim_attachment_max_bytes


def _visit_command(ctx: AppContext, cmd: SubmitCommand) -> settlements.SettleCommand:
    """The claim's visit: the hospital's upload (``mdtrt_id``) or what the person typed. A visit held at another
    province's node (a claim its desk sent here over the federation) arrives with its fee lines already read
    there: the lines are the claim's, the visit number is kept for reference."""
    if cmd.mdtrt_id and visit_held_here(ctx, cmd.fixmedins_code):
        visit = visits.claim_command(ctx, mdtrt_id=cmd.mdtrt_id, endtime=cmd.endtime, actor=cmd.actor)
        if visit.psn_no != cmd.psn_no:
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": cmd.mdtrt_id})
        return visit
    return settlements.SettleCommand(
        psn_no=cmd.psn_no, fixmedins_code=cmd.fixmedins_code or "", med_type=cmd.med_type or "",
        # A date left out stays None here and settlements.validate refuses it, naming the field.
        begntime=cast(date, cmd.begntime), endtime=cast(date, cmd.endtime), items=cmd.items, dise_codg=cmd.dise_codg,
        emergency=cmd.emergency, trauma_no_third_party=cmd.trauma_no_third_party, kind="manual",
        mdtrt_id=cmd.mdtrt_id, actor=cmd.actor)


def visit_held_here(ctx: AppContext, fixmedins_code: str | None) -> bool:
    """Whether the visits of ``fixmedins_code`` are in this database: always on one node; on a province node of a
    federation, those of its own province's hospitals (another province's node holds the rest)."""
    if ctx.federation is None or not fixmedins_code:
        return True
    with ctx.unit_of_work() as session:
        admdvs = session.scalar(select(InstitutionRow.admdvs).where(InstitutionRow.fixmedins_code == fixmedins_code))
    return admdvs is None or ctx.federation.owns(admdvs)


def check_submission(cmd: SubmitCommand) -> list[tuple[Attachment, str]]:
    """The submission's own checks (refund account, attachments), before anything is read: the same refusals in
    the same order wherever the claim is entered. Returns each attachment with its sniffed content type."""
    check_bank_account(cmd.bank_name, cmd.bank_account, cmd.account_name)
    check_attachment_kinds([a.kind for a in cmd.attachments])
    limit = max_attachment_bytes()
    return [(a, check_attachment(a.filename, a.content_type, a.content, limit)) for a in cmd.attachments]


def submit(ctx: AppContext, cmd: SubmitCommand) -> Claim:
    """A claim into the queue: checked, stored with its files; nothing settled, no usage, no ledger."""
    checked = check_submission(cmd)
    account = check_bank_account(cmd.bank_name, cmd.bank_account, cmd.account_name)
    visit = _visit_command(ctx, cmd)
    settlements.validate(visit)
    key = settlements.visit_key(visit)
    with ctx.unit_of_work() as session:
        person = get_person(session, cmd.psn_no, for_update=True)  # one submission of this person at a time
        lookups.institution(session, visit.fixmedins_code)
        paid = settlements.paid_claim_of_visit(session, key)
        if paid is not None:
            raise YidiError("DUPLICATE_CLAIM", {"setl_id": paid})
        waiting = session.scalars(select(ManualClaimRow.claim_id).where(
            ManualClaimRow.visit_key == key, ManualClaimRow.status == ClaimStatus.SUBMITTED.value)).first()
        if waiting is not None:
            raise YidiError("CLAIM_PENDING", {"claim_id": waiting})
        rules = ctx.policy.insured_policy(person.insuplc_admdvs, cmd.submitted_on).params.remote
        row = ManualClaimRow(
            claim_id="LB" + uuid.uuid4().hex[:18].upper(), psn_no=person.psn_no,
            insuplc_admdvs=person.insuplc_admdvs, fixmedins_code=visit.fixmedins_code, mdtrt_id=visit.mdtrt_id,
            med_type=visit.med_type, dise_codg=visit.dise_codg, begntime=visit.begntime, endtime=visit.endtime,
            items=[_item_dict(i) for i in visit.items], emergency=visit.emergency,
            trauma_no_third_party=visit.trauma_no_third_party, visit_key=key, bank_name=cmd.bank_name.strip(),
            bank_account=account, account_name=cmd.account_name.strip(), status=ClaimStatus.SUBMITTED.value,
            submitted_on=cmd.submitted_on,
            due_date=add_working_days(cmd.submitted_on, rules.manual_claim_review_working_days.value),
            submitted_by=cmd.actor, reason="", payment_ref="")
        session.add(row)
        session.flush()
        stored = []
        for attachment, content_type in checked:
            stored.append(ClaimAttachmentRow(
                claim_id=row.claim_id, kind=attachment.kind, filename=attachment.filename[:120] or attachment.kind,
                content_type=content_type, size=len(attachment.content),
                sha256=hashlib.sha256(attachment.content).hexdigest(), content=attachment.content))
        session.add_all(stored)
        session.flush()
        audit.record(session, cmd.actor, "claim.submit", row.claim_id, {"files": len(stored)})
        return _claim(row, stored)


# ------------------------------------------------------------------------------------------ reading --
def _row(session: Session, claim_id: str, *, for_update: bool = False) -> ManualClaimRow:
    stmt = select(ManualClaimRow).where(ManualClaimRow.claim_id == claim_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).first()
    if row is None:
        raise YidiError("NOT_FOUND", {"what": "零星报销申请", "key": claim_id})
    return row


def _attachment_rows(session: Session, claim_id: str) -> list[ClaimAttachmentRow]:
    return list(session.scalars(select(ClaimAttachmentRow).where(ClaimAttachmentRow.claim_id == claim_id)
                                .order_by(ClaimAttachmentRow.id)))


def _require_access(principal: Principal, row: ManualClaimRow) -> None:
    """The person's own claims; the agency (and supervision) of the insured region. Others: not found —
    a claim that is not yours does not exist for you."""
    if principal.role == "person" and principal.psn_no == row.psn_no:
        return
    if principal.role in ("agency", "supervisor") and principal.can_act_for_region(row.insuplc_admdvs):
        return
    raise YidiError("NOT_FOUND", {"what": "零星报销申请", "key": row.claim_id})


def claim_region(ctx: AppContext, claim_id: str) -> str:
    """The insured region whose clerk reviews the claim."""
    with ctx.unit_of_work() as session:
        return _row(session, claim_id).insuplc_admdvs


def get_claim(ctx: AppContext, principal: Principal, claim_id: str) -> Claim:
    with ctx.unit_of_work() as session:
        row = _row(session, claim_id)
        _require_access(principal, row)
        return _claim(row, _attachment_rows(session, claim_id))


def attachment(ctx: AppContext, principal: Principal, claim_id: str, attachment_id: int) -> tuple[AttachmentInfo, bytes]:
    with ctx.unit_of_work() as session:
        _require_access(principal, _row(session, claim_id))
        found = session.get(ClaimAttachmentRow, attachment_id)
        if found is None or found.claim_id != claim_id:
            raise YidiError("NOT_FOUND", {"what": "附件", "key": str(attachment_id)})
        return (AttachmentInfo(found.id, found.kind, found.filename, found.content_type, found.size, found.sha256),
                bytes(found.content))


def claims_of_person(ctx: AppContext, psn_no: str) -> list[Claim]:
    with ctx.unit_of_work() as session:
        rows = session.scalars(select(ManualClaimRow).where(ManualClaimRow.psn_no == psn_no)
                               .order_by(ManualClaimRow.submitted_on.desc(), ManualClaimRow.created_at.desc()))
        return [_claim(row) for row in rows]


def queue(ctx: AppContext, principal: Principal, *, status: str = ClaimStatus.SUBMITTED.value,
          limit: int = 500) -> list[Claim]:
    """The clerk's queue: claims of their insured region in ``status``, the earliest due first."""
    principal.require_role("agency", "supervisor")
    if status not in {s.value for s in ClaimStatus}:
        raise invalid("status", "应为 " + "、".join(s.value for s in ClaimStatus) + " 之一")
    with ctx.unit_of_work() as session:
        rows = session.scalars(select(ManualClaimRow).where(ManualClaimRow.status == status)
                               .order_by(ManualClaimRow.due_date, ManualClaimRow.submitted_on,
                                         ManualClaimRow.claim_id))
        return [_claim(row) for row in rows if principal.can_act_for_region(row.insuplc_admdvs)][:limit]


def review(ctx: AppContext, principal: Principal, claim_id: str) -> Review:
    """The claim with its calculation computed now, as approval would pay it."""
    principal.require_role("agency", "supervisor")
    with ctx.unit_of_work() as session:
        row = _row(session, claim_id)
        _require_access(principal, row)
        claim = _claim(row, _attachment_rows(session, claim_id))
        others = [_claim(other) for other in session.scalars(select(ManualClaimRow).where(
            ManualClaimRow.psn_no == row.psn_no, ManualClaimRow.claim_id != claim_id))]
        filings = filings_of(session, row.psn_no)
        cmd = _command(row, principal.username)
    calculation, refusal = None, None
    if claim.status == ClaimStatus.SUBMITTED.value:
        try:
            calculation = _calculate(ctx, cmd)
        except YidiError as exc:
            refusal = exc
    elif claim.setl_id:
        calculation = settlements.get_settlement(ctx, claim.setl_id).to_result()
    return Review(claim, calculation, refusal, others,
                  settlements.list_settlements(ctx, psn_no=claim.psn_no), filings)


def _calculate(ctx: AppContext, cmd: settlements.SettleCommand) -> dict[str, Any]:
    if cmd.mdtrt_id and visit_held_here(ctx, cmd.fixmedins_code):  # the hospital's upload as it stands now
        cmd = visits.claim_command(ctx, mdtrt_id=cmd.mdtrt_id, endtime=cmd.endtime, actor=cmd.actor)
    return settlements.presettle(ctx, cmd)


# ----------------------------------------------------------------------------------------- deciding --
def _locked_for_clerk(session: Session, principal: Principal, claim_id: str) -> ManualClaimRow:
    """The claim, locked, for a clerk of its insured region (FORBIDDEN for any other)."""
    principal.require_role("agency")
    row = _row(session, claim_id, for_update=True)
    if not principal.can_act_for_region(row.insuplc_admdvs):
        raise YidiError("FORBIDDEN", {"detail": "只能办理本参保地参保人的零星报销"})
    return row


@dataclass(frozen=True)
class Decision:
    claim: Claim
    settlement: dict[str, Any] | None  # the booked settlement's fields (approved claims)


def decide(ctx: AppContext, principal: Principal, claim_id: str, *, approve: bool, reason: str = "",
           on: date | None = None) -> Decision:
    """Approve (book the payment) or reject a claim, in one transaction. Deciding again the same way
    returns the same answer and books nothing; the other way is CLAIM_ALREADY_DECIDED."""
    on = on or date.today()
    with ctx.unit_of_work() as session:
        row = _locked_for_clerk(session, principal, claim_id)
        if check_decision(ClaimStatus(row.status), approve, reason):
            if approve:
                row.setl_id = _pay(ctx, session, row, principal.username)
                row.status = ClaimStatus.APPROVED.value
            else:
                row.status, row.reason = ClaimStatus.REJECTED.value, reason.strip()
            row.decided_on, row.decided_by = on, principal.username
            session.flush()
            audit.record(session, principal.username, "claim.approve" if approve else "claim.reject", claim_id,
                         {"setl_id": row.setl_id, "reason": row.reason})
        claim = _claim(row, _attachment_rows(session, claim_id))
        booked = settlements.get_settlement(bound_context(ctx, session), row.setl_id).to_result() \
            if row.setl_id else None
        return Decision(claim, booked)


def _pay(ctx: AppContext, session: Session, row: ManualClaimRow, actor: str) -> str:
    """Settlement, usage and ledger, in the caller's transaction (the same settle a direct claim uses)."""
    bound = bound_context(ctx, session)
    if row.mdtrt_id and visit_held_here(bound, row.fixmedins_code):
        outcome = visits.settle(bound, fixmedins_code=row.fixmedins_code, mdtrt_id=row.mdtrt_id, endtime=row.endtime,
                                kind="manual", actor=actor)
        return cast(str, outcome.setl_id)  # a settle (not a pre-settle) always names its settlement
    return settlements.settle(bound, _command(row, actor)).setl_id


def reverse(ctx: AppContext, principal: Principal, claim_id: str, *, reason: str, on: date | None = None) -> Claim:
    """The agency's 冲正 of an approved (or paid) claim: the settlement reversed (usage given back, mirror ledger
    entry) and the claim marked reversed, in one transaction; once. The hospital cannot do this (B-R20)."""
    with ctx.unit_of_work() as session:
        row = _locked_for_clerk(session, principal, claim_id)
        if not reason.strip():
            raise invalid("reason", "冲正零星报销需填写原因")
        if row.status == ClaimStatus.REVERSED.value:
            return _claim(row, _attachment_rows(session, claim_id))
        if row.status not in (ClaimStatus.APPROVED.value, ClaimStatus.PAID.value) or not row.setl_id:
            raise YidiError("CLAIM_ALREADY_DECIDED", {"status": row.status})
        settlements.cancel(bound_context(ctx, session), row.setl_id, on or date.today(), reversal=True,
                           actor=principal.username)
        row.status, row.reason = ClaimStatus.REVERSED.value, reason.strip()
        audit.record(session, principal.username, "claim.reverse", claim_id, {"setl_id": row.setl_id,
                                                                            "reason": row.reason})
        return _claim(row, _attachment_rows(session, claim_id))


def mark_paid(ctx: AppContext, principal: Principal, claim_id: str, *, payment_ref: str,
              on: date | None = None) -> Claim:
    """The transfer to the person's account was made: approved → paid (once)."""
    with ctx.unit_of_work() as session:
        row = _locked_for_clerk(session, principal, claim_id)
        if not payment_ref.strip():
            raise invalid("payment_ref", "请填写转账流水号")
        if row.status == ClaimStatus.PAID.value and row.payment_ref == payment_ref.strip():
            return _claim(row, _attachment_rows(session, claim_id))
        if row.status != ClaimStatus.APPROVED.value:
            raise YidiError("CLAIM_ALREADY_DECIDED", {"status": row.status})
        row.status, row.paid_on, row.payment_ref = ClaimStatus.PAID.value, on or date.today(), payment_ref.strip()
        audit.record(session, principal.username, "claim.paid", claim_id, {"payment_ref": row.payment_ref})
        return _claim(row, _attachment_rows(session, claim_id))


def consistency_problems(session: Session, limit: int = 50) -> list[str]:
    """`yidi verify`: a claim's status agrees with its settlement — approved/paid: settled, reversed: reversed,
    submitted/rejected: none booked."""
    from yidi.adapters.orm import SettlementRow

    wanted = {ClaimStatus.APPROVED.value: "settled", ClaimStatus.PAID.value: "settled",
              ClaimStatus.REVERSED.value: "reversed"}
    problems = []
    rows = session.execute(select(ManualClaimRow.claim_id, ManualClaimRow.status, ManualClaimRow.setl_id,
                                  SettlementRow.status, SettlementRow.kind)
                           .outerjoin(SettlementRow, SettlementRow.setl_id == ManualClaimRow.setl_id))
    for claim_id, status, setl_id, setl_status, kind in rows:
        expected = wanted.get(status)
        if expected is None and setl_id is not None:
            problems.append(f"claim {claim_id} is {status} but has settlement {setl_id}")
        elif expected is not None and (setl_status != expected or kind != "manual"):
            problems.append(f"claim {claim_id} is {status} but its settlement {setl_id} is {setl_status or 'missing'}")
        if len(problems) >= limit:
            break
    return problems
