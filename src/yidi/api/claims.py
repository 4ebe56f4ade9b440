"""线上零星报销 (S4): submitted to the insured region's clerk, paid only on approval.

- ``POST /api/claims/manual``: the claim with its invoice and fee list (``attachments``: ``{kind: invoice|fee_list,
  filename, content_type, content_base64}``; PDF, JPEG or PNG, each up to the configured size) and the refund
  account (``bank_name``, ``bank_account``, ``account_name``). The visit is either ``{"mdtrt_id": …}`` (a visit
  the hospital uploaded through the interface) or ``{"psn_no", "fixmedins_code", "med_type", "begntime",
  "endtime", "items": [{"code", "amount"}]}``. Answer: the claim, status ``submitted``, with its due date.
  Nothing is paid on submission.
- ``GET /api/claims/manual/{claim_id}`` and ``…/attachments/{id}``: the person's own claim; the insured region's
  agency (and supervision).
- ``GET /api/claims/queue``: the clerk's queue (their region, earliest due first); ``GET …/{claim_id}/review``:
  the calculation as approval would pay it, with its trace, and the person's other claims, settlements, filings.
- ``POST …/{claim_id}/approve`` (the payment is booked; again = the same answer), ``…/reject`` ``{reason}``,
  ``…/paid`` ``{payment_ref}`` (the transfer to the person's account was made), ``…/reverse`` ``{reason}`` (冲正:
  the settlement reversed, usage given back): the insured region's agency.
Who may submit: the person themself (own psn_no), the hospital's desk user or the hospital's HIS with the
interface's signed headers — for its own institution. A visit is paid once: DUPLICATE_CLAIM otherwise.
On a province node of a federation (docs/federation.md) a hospital's claim for a visitor insured in another
province travels to the insured node over NATS and joins its agency's queue; the answer is the stored claim.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from yidi.interface.authentication import authenticate as authenticate_hospital
from yidi.domain.claims import MAX_ATTACHMENTS
from yidi.domain.errors import YidiError, invalid
from yidi.services import claim_intake, manual_claims
from yidi.services.users import Principal


class ClaimFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["invoice", "fee_list"]
    filename: str = Field(min_length=1, max_length=120)
    content_type: str = Field("", max_length=60)
    content_base64: str  # an empty file is ATTACHMENT_EMPTY; the size is checked on the decoded bytes


class ManualClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mdtrt_id: str | None = Field(None, max_length=40)
    psn_no: str | None = Field(None, max_length=30)
    fixmedins_code: str | None = Field(None, max_length=20)
    med_type: str | None = Field(None, max_length=4)
    begntime: date | None = None
    endtime: date | None = None
    dise_codg: str | None = Field(None, max_length=20)
    items: list[dict[str, Any]] | None = Field(None, max_length=300)
    bank_name: str = Field("", max_length=60)
    bank_account: str = Field("", max_length=40)
    account_name: str = Field("", max_length=60)
    attachments: list[ClaimFile] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


def _principal(ctx, request: Request, body: bytes) -> Principal:
    headers = dict(request.headers)
    if headers.get("_api_access_key"):
        cred = authenticate_hospital(ctx, headers, body)
        return Principal(f"fsi:{cred.fixmedins_code}", "hospital", cred.admdvs, None, cred.fixmedins_code)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):  # the same bearer tokens as the rest of /api (issue 9)
        from yidi.api.auth import current_principal
        return current_principal(request, ctx)
    if auth.lower().startswith("basic "):  # under the same failed-login budget as every password check
        from yidi.api.auth import basic_credentials, password_principal
        return password_principal(request, ctx, *basic_credentials(auth[6:]))
    raise YidiError("AUTH_FAILED", {"detail": "需要登录（参保人或医院账号）或医院接口签名"})


def _attachments(raw: list[ClaimFile]) -> tuple[manual_claims.Attachment, ...]:
    files = []
    for index, entry in enumerate(raw):
        try:
            content = base64.b64decode(entry.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"attachments[{index}].content_base64", "不是有效的 Base64 编码") from None
        files.append(manual_claims.Attachment(entry.kind, entry.filename, entry.content_type, content))
    return tuple(files)


def submit_manual_claim(ctx, principal: Principal, claim: ManualClaim) -> dict:
    """The request as services.claim_intake reads it (who may submit for which visit is decided there)."""
    request = claim_intake.ClaimRequest(
        bank_name=claim.bank_name, bank_account=claim.bank_account, account_name=claim.account_name,
        attachments=_attachments(claim.attachments), mdtrt_id=claim.mdtrt_id, psn_no=claim.psn_no,
        fixmedins_code=claim.fixmedins_code, med_type=claim.med_type, begntime=claim.begntime,
        endtime=claim.endtime, dise_codg=claim.dise_codg,
        items=tuple(claim.items) if claim.items is not None else None)
    return claim_intake.submit_claim(ctx, principal, request).to_dict()


def review_dict(review: manual_claims.Review) -> dict:
    return {"claim": review.claim.to_dict(), "calculation": review.calculation,
            "refusal": review.refusal.to_dict() if review.refusal else None,
            "other_claims": [c.to_dict() for c in review.other_claims],
            "settlements": [{"setl_id": v.setl_id, "kind": v.kind, "status": v.status, "fixmedins_code": v.fixmedins_code,
                             "begntime": v.begntime.isoformat(), "endtime": v.endtime.isoformat(),
                             "fund_pay_sumamt": v.row_fields["fund_pay_sumamt"]} for v in review.settlements],
            "filings": [{"filing_id": f.filing_id, "filing_type": f.filing_type.value, "status": f.status.value,
                         "mdtrtarea_admvs": f.mdtrtarea_admvs, "begndate": f.begndate.isoformat(),
                         "enddate": f.enddate.isoformat() if f.enddate else None} for f in review.filings]}


class Decide(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


class Paid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_ref: str = Field(min_length=1, max_length=60)


async def _json(request: Request, model: type[BaseModel]) -> Any:
    body = await request.body()
    try:
        return model.model_validate_json(body or b"{}")
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") and exc.errors() else {"loc": ["body"], "msg": ""}
        raise invalid(".".join(str(p) for p in first.get("loc", [])) or "body", str(first.get("msg", ""))[:80])


def register(app: FastAPI) -> None:
    @app.post("/api/claims/manual", tags=["claims"], summary="线上零星报销申请 / submit a manual claim (S4)")
    async def manual_claim(request: Request) -> dict:
        ctx = request.app.state.ctx
        body = await request.body()
        claim = await _json(request, ManualClaim)
        principal = await run_in_threadpool(_principal, ctx, request, body)
        return await run_in_threadpool(submit_manual_claim, ctx, principal, claim)

    @app.get("/api/claims/queue", tags=["claims"], summary="零星报销待审核队列 / the clerk's claim queue")
    def claim_queue(request: Request, status: str = "submitted") -> dict:
        ctx = request.app.state.ctx
        principal = _principal(ctx, request, b"")
        return {"claims": [c.to_dict() for c in manual_claims.queue(ctx, principal, status=status)]}

    @app.get("/api/claims/manual/{claim_id}", tags=["claims"], summary="零星报销申请 / one claim")
    def claim_detail(request: Request, claim_id: str) -> dict:
        ctx = request.app.state.ctx
        return manual_claims.get_claim(ctx, _principal(ctx, request, b""), claim_id).to_dict()

    @app.get("/api/claims/manual/{claim_id}/review", tags=["claims"], summary="审核零星报销 / review a claim")
    def claim_review(request: Request, claim_id: str) -> dict:
        ctx = request.app.state.ctx
        return review_dict(manual_claims.review(ctx, _principal(ctx, request, b""), claim_id))

    @app.get("/api/claims/manual/{claim_id}/attachments/{attachment_id}", tags=["claims"],
             summary="零星报销附件 / download an attachment")
    def claim_attachment(request: Request, claim_id: str, attachment_id: int) -> Response:
        ctx = request.app.state.ctx
        info, content = manual_claims.attachment(ctx, _principal(ctx, request, b""), claim_id, attachment_id)
        return attachment_response(info, content)

    async def _decide(request: Request, claim_id: str, approve: bool) -> dict:
        ctx = request.app.state.ctx
        decide = await _json(request, Decide)
        principal = await run_in_threadpool(_principal, ctx, request, b"")
        decision = await run_in_threadpool(lambda: manual_claims.decide(ctx, principal, claim_id, approve=approve,
                                                                        reason=decide.reason))
        return decision.claim.to_dict() | {"settlement": decision.settlement}

    @app.post("/api/claims/manual/{claim_id}/approve", tags=["claims"], summary="审核通过并支付 / approve and pay")
    async def claim_approve(request: Request, claim_id: str) -> dict:
        return await _decide(request, claim_id, True)

    @app.post("/api/claims/manual/{claim_id}/reject", tags=["claims"], summary="驳回 / reject with a reason")
    async def claim_reject(request: Request, claim_id: str) -> dict:
        return await _decide(request, claim_id, False)

    @app.post("/api/claims/manual/{claim_id}/reverse", tags=["claims"],
              summary="冲正已支付的零星报销 / the agency reverses a paid claim")
    async def claim_reverse(request: Request, claim_id: str) -> dict:
        ctx = request.app.state.ctx
        decide = await _json(request, Decide)
        principal = await run_in_threadpool(_principal, ctx, request, b"")
        claim = await run_in_threadpool(lambda: manual_claims.reverse(ctx, principal, claim_id, reason=decide.reason))
        return claim.to_dict()

    @app.post("/api/claims/manual/{claim_id}/paid", tags=["claims"], summary="登记已转账 / record the transfer")
    async def claim_paid(request: Request, claim_id: str) -> dict:
        ctx = request.app.state.ctx
        paid = await _json(request, Paid)
        principal = await run_in_threadpool(_principal, ctx, request, b"")
        claim = await run_in_threadpool(lambda: manual_claims.mark_paid(ctx, principal, claim_id,
                                                                        payment_ref=paid.payment_ref))
        return claim.to_dict()


def attachment_response(info: manual_claims.AttachmentInfo, content: bytes) -> Response:
    """The stored file, as its sniffed type, to be saved rather than rendered in the site's origin."""
    return Response(content, media_type=info.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename)}",
        "X-Content-Type-Options": "nosniff"})
