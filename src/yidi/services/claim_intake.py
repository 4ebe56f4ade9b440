"""线上零星报销 as it arrives (S4): who may submit a claim for which visit, and where it is made; then
services.manual_claims.submit stores it. The /api route (api/claims.py) only reads the request and the caller.

Who may submit: the person themself (own psn_no), or a hospital (its desk user, or its HIS with the interface's
signed headers) for its own institution. A visit the hospital uploaded (``mdtrt_id``) that is not the caller's
answers VISIT_NOT_FOUND, as if it did not exist. A claim is made at the person's insured node: on a federation
node (docs/federation.md) the claim of a person insured in another province travels there
(services/treatment_entry.submit_claim) and joins that agency's queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from yidi.adapters.orm import VisitRow
from yidi.domain.errors import YidiError, invalid
from yidi.services import manual_claims, treatment_entry
from yidi.services.context import AppContext
from yidi.services.settlements import parse_items
from yidi.services.users import Principal

# Without a hospital's upload (mdtrt_id), the claim names the visit by these.
VISIT_FIELDS = ("psn_no", "fixmedins_code", "med_type", "begntime", "endtime")


@dataclass(frozen=True)
class ClaimRequest:
    """A claim as submitted: either ``mdtrt_id`` (a visit the hospital uploaded through the interface) or the
    visit's details with fee lines ``items`` ({code, amount[, qty]}, amounts in yuan)."""

    bank_name: str
    bank_account: str
    account_name: str
    attachments: tuple[manual_claims.Attachment, ...]
    mdtrt_id: str | None = None
    psn_no: str | None = None
    fixmedins_code: str | None = None
    med_type: str | None = None
    begntime: date | None = None
    endtime: date | None = None
    dise_codg: str | None = None
    items: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class VisitOwner:
    psn_no: str
    fixmedins_code: str


def visit_owner(ctx: AppContext, mdtrt_id: str) -> VisitOwner | None:
    """Whose visit ``mdtrt_id`` is (person and institution); None when there is no such visit."""
    with ctx.unit_of_work() as session:
        row = session.execute(select(VisitRow.psn_no, VisitRow.fixmedins_code)
                              .where(VisitRow.mdtrt_id == mdtrt_id)).first()
        return VisitOwner(row.psn_no, row.fixmedins_code) if row is not None else None


def submit_claim(ctx: AppContext, principal: Principal, request: ClaimRequest, *,
                 on: date | None = None) -> manual_claims.Claim:
    """Check who submits what, then submit (nothing is paid until the insured region's clerk approves)."""
    principal.require_role("person", "hospital")
    common: dict[str, Any] = dict(
        bank_name=request.bank_name, bank_account=request.bank_account, account_name=request.account_name,
        attachments=request.attachments, submitted_on=on or date.today(), actor=principal.username)
    if request.mdtrt_id:
        owner = visit_owner(ctx, request.mdtrt_id)
        if owner is None or (principal.role == "person" and owner.psn_no != principal.psn_no) or \
                (principal.role == "hospital" and owner.fixmedins_code != principal.fixmedins_code):
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": request.mdtrt_id})
        return treatment_entry.submit_claim(ctx, manual_claims.SubmitCommand(
            psn_no=owner.psn_no, mdtrt_id=request.mdtrt_id, endtime=request.endtime, **common))
    for name in VISIT_FIELDS:
        if getattr(request, name) in (None, ""):
            raise invalid(name, "缺少该字段")
    psn_no = request.psn_no or ""
    principal.require_person(psn_no)
    if principal.role == "hospital" and request.fixmedins_code != principal.fixmedins_code:
        raise YidiError("FORBIDDEN", {"detail": f"只能为本机构 {principal.fixmedins_code} 上传"})
    return treatment_entry.submit_claim(ctx, manual_claims.SubmitCommand(
        psn_no=psn_no, fixmedins_code=request.fixmedins_code, med_type=request.med_type, begntime=request.begntime,
        endtime=request.endtime, items=parse_items(list(request.items) if request.items is not None else None),
        dise_codg=request.dise_codg, **common))
