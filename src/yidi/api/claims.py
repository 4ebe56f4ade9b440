"""线上零星报销 (S4): ``POST /api/claims/manual``.

When direct settlement was refused (no filing, unknown person, a system fault), the person pays at the
hospital and claims online afterwards, with the same calculation under the rules for retro filing
(``SettleCommand(kind="manual")``). Two ways in:
- ``{"mdtrt_id": …}``: the visit whose details the hospital already uploaded through the interface;
- ``{"psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "items": [{"code", "amount"}]}``.
Who may claim: the person themself (HTTP Basic, role person, own psn_no), the hospital's desk user
(role hospital) or the hospital's HIS with the interface's signed headers — for its own institution.
A visit is paid once: direct + manual, or manual twice, is refused with DUPLICATE_CLAIM.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from yidi.adapters.orm import VisitRow
from yidi.api.fsi import authenticate as authenticate_hospital
from yidi.domain.errors import YidiError, invalid
from yidi.services import settlements, visits
from yidi.services.scenario import parse_items
from yidi.services.users import Principal


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


def submit_manual_claim(ctx, principal: Principal, claim: ManualClaim) -> dict:
    principal.require_role("person", "hospital")
    if claim.mdtrt_id:
        with ctx.unit_of_work() as session:
            visit = session.scalars(select(VisitRow).where(VisitRow.mdtrt_id == claim.mdtrt_id)).first()
            owner = (visit.psn_no, visit.fixmedins_code) if visit else None
        if owner is None or (principal.role == "person" and owner[0] != principal.psn_no) or \
                (principal.role == "hospital" and owner[1] != principal.fixmedins_code):
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": claim.mdtrt_id})
        outcome = visits.settle(ctx, fixmedins_code=owner[1], mdtrt_id=claim.mdtrt_id, endtime=claim.endtime,
                                kind="manual", actor=principal.username)
        return {"setl_id": outcome.setl_id, "kind": "manual", "mdtrt_id": claim.mdtrt_id,
                **{k: v for k, v in outcome.fields.items() if not k.startswith("_")}}
    for name in ("psn_no", "fixmedins_code", "med_type", "begntime", "endtime"):
        if getattr(claim, name) in (None, ""):
            raise invalid(name, "缺少该字段")
    principal.require_person(claim.psn_no)
    if principal.role == "hospital" and claim.fixmedins_code != principal.fixmedins_code:
        raise YidiError("FORBIDDEN", {"detail": f"只能为本机构 {principal.fixmedins_code} 上传"})
    view = settlements.settle(ctx, settlements.SettleCommand(
        psn_no=claim.psn_no, fixmedins_code=claim.fixmedins_code, med_type=claim.med_type, begntime=claim.begntime,
        endtime=claim.endtime, items=parse_items(claim.items), dise_codg=claim.dise_codg, kind="manual",
        actor=principal.username))
    return view.to_result() | {"kind": "manual"}


def register(app: FastAPI) -> None:
    @app.post("/api/claims/manual", tags=["claims"], summary="线上零星报销 / online manual reimbursement (S4)")
    async def manual_claim(request: Request) -> dict:
        ctx = request.app.state.ctx
        body = await request.body()
        if len(body) > 1_000_000:
            raise invalid("body", "报文过大")
        try:
            claim = ManualClaim.model_validate_json(body)
        except ValueError as exc:
            first = exc.errors()[0] if hasattr(exc, "errors") and exc.errors() else {"loc": ["body"], "msg": ""}
            raise invalid(".".join(str(p) for p in first.get("loc", [])) or "body", str(first.get("msg", ""))[:80])
        principal = await run_in_threadpool(_principal, ctx, request, body)
        return await run_in_threadpool(submit_manual_claim, ctx, principal, claim)
