"""/api for filings (备案, F1–F6, F4, F11): persons file, view, change and cancel their own; agency clerks
search, approve and reject in their insured region; anyone logged in may read regions, institutions and
the commitment text.

Who sees what: a person only their own filings; a clerk (agency) only filings of persons insured in their
region (a province code covers its cities); a supervisor reads everywhere but writes nothing; a hospital
desk uses the hospital interface (1101) instead. A filing the caller may not see answers NOT_FOUND, as if
it did not exist. Persons file through the online channels only, dated today: choosing ``window`` or a past
application date would skip approval (F4) or rewrite history.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from yidi.api.auth import current_principal
from yidi.api.deps import get_ctx
from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import (
    CHANNEL_NAMES,
    ONLINE_CHANNELS,
    STATUS_NAMES,
    TYPE_NAMES,
    Basis,
    Channel,
    Filing,
    FilingStatus,
    FilingType,
)
from yidi.services import access
from yidi.services import filings as service
from yidi.services.context import AppContext
from yidi.services.reference import list_institutions, list_regions
from yidi.services.users import Principal

router = APIRouter(prefix="/api", tags=["备案 / filings"])

AGENCY_ROLES = access.FILING_READERS


def _iso_date(value: Any) -> Any:
    """Dates travel as YYYY-MM-DD strings only (no timestamps, no times of day)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("应为 YYYY-MM-DD 格式的日期")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("不是有效日期（YYYY-MM-DD）") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Admdvs = Annotated[str, Field(pattern=r"^[1-8]\d{5}$", description="6位行政区划代码，如 110000")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileRequest(Body):
    psn_no: str | None = Field(None, max_length=30, description="人员编号；个人办理时省略（本人）")
    type: FilingType = Field(description="备案类型 (F1)")
    basis: Basis = Field(description="proof 证明材料 / commitment 个人承诺 (F3)")
    mdtrtarea_admvs: Admdvs = Field(description="就医地（市或省，F2）")
    begndate: IsoDate
    apply_date: IsoDate | None = Field(None, description="申请日；个人办理为当天，经办代办可填收件日")
    enddate: IsoDate | None = Field(None, description="临时备案结束日；省略为开始日+6个月 (F5)")
    channel: Channel | None = Field(None, description="办理渠道 (F4)；个人默认 app，经办默认 window")
    commitment_signed: bool = Field(False, description="已阅读并勾选《个人承诺书》(F3)")
    commitment_signature: str | None = Field(None, max_length=100, description="承诺人签名")
    reason: str = Field("", max_length=500)


class EndRequest(Body):
    date: IsoDate = Field(description="生效日：原备案于前一日终止")
    proof: bool = Field(False, description="已提供备案类型所需证明材料 (F6)")
    reason: str = Field("", max_length=500)


class ChangeRequest(EndRequest):
    mdtrtarea_admvs: Admdvs | None = Field(None, description="新的就医地；为参保地时即取消备案")


class ApproveRequest(Body):
    reason: str = Field("", max_length=500)


class RejectRequest(Body):
    reason: str = Field(min_length=1, max_length=500, description="驳回原因（必填）")


def filing_view(filing: Filing) -> dict:
    return {
        "filing_id": filing.filing_id, "psn_no": filing.psn_no, "insuplc_admdvs": filing.insuplc_admdvs,
        "type": filing.filing_type.value, "type_name": TYPE_NAMES[filing.filing_type],
        "category": filing.category.value, "basis": filing.basis.value,
        "mdtrtarea_admvs": filing.mdtrtarea_admvs, "begndate": filing.begndate.isoformat(),
        "enddate": filing.enddate.isoformat() if filing.enddate else None,
        "apply_date": filing.apply_date.isoformat(), "channel": filing.channel.value,
        "channel_name": CHANNEL_NAMES[filing.channel], "status": filing.status.value,
        "status_name": STATUS_NAMES[filing.status],
        "approve_due_date": filing.approve_due_date.isoformat() if filing.approve_due_date else None,
        "replaces": filing.replaces, "replaced_by": filing.replaced_by, "reason": filing.reason,
    }


# Who sees and who may change a filing: services.access (visible_filing, require_filing_write).
_load_visible = access.visible_filing
_may_write = access.require_filing_write


def _person_date(principal: Principal, on: date, field_name: str) -> None:
    if principal.role == "person" and on < date.today():
        raise invalid(field_name, "个人办理的生效日期不能早于今天")


@router.post("/filings", status_code=201, summary="办理备案 / file")
def file(body: FileRequest, principal: Principal = Depends(current_principal),
         ctx: AppContext = Depends(get_ctx)) -> dict:
    today = date.today()
    if principal.role == "person":
        if body.psn_no not in (None, principal.psn_no) or principal.psn_no is None:
            raise YidiError("FORBIDDEN", {"detail": "个人只能为本人办理备案"})
        psn_no = principal.psn_no
        channel = body.channel or Channel.APP
        if channel not in ONLINE_CHANNELS:
            raise invalid("channel", "个人线上办理渠道为 app、mini_program 或 web")
        if body.apply_date not in (None, today):
            raise invalid("apply_date", "个人申请日期为提交当天，不可指定")
        apply_date = today
    elif principal.role == "agency":
        if not body.psn_no:
            raise invalid("psn_no", "经办代办备案需填写人员编号")
        psn_no = body.psn_no
        principal.require_region(service.person_region(ctx, psn_no))
        channel = body.channel or Channel.WINDOW
        apply_date = body.apply_date or today
        if apply_date > today:
            raise invalid("apply_date", "申请日期不能晚于今天")
    else:
        raise YidiError("FORBIDDEN", {"detail": "需要角色 person/agency"})
    if body.basis is Basis.COMMITMENT and not body.commitment_signed:
        raise YidiError("COMMITMENT_NOT_SIGNED")
    filing = service.file_filing(ctx, service.FileCommand(
        psn_no=psn_no, filing_type=body.type.value, basis=body.basis.value,
        mdtrtarea_admvs=body.mdtrtarea_admvs, begndate=body.begndate, apply_date=apply_date,
        channel=channel.value, enddate=body.enddate,
        commitment_signature=body.commitment_signature if body.basis is Basis.COMMITMENT else None,
        actor=principal.username, reason=body.reason))
    return filing_view(filing)


@router.get("/filings", summary="我的备案 / 备案查询 (list or search)")
def search(principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx),
           psn_no: str | None = Query(None, max_length=30), certno: str | None = Query(None, max_length=18),
           status: FilingStatus | None = None, mdtrtarea_admvs: Admdvs | None = Query(None),
           insuplc_admdvs: Admdvs | None = Query(None, description="参保地（经办：默认本区域）"),
           limit: int = Query(200, ge=1, le=1000)) -> dict:
    criteria: dict[str, Any] = {"status": status.value if status else None, "mdtrtarea_admvs": mdtrtarea_admvs,
                                "limit": limit}
    if principal.role == "person":
        if psn_no not in (None, principal.psn_no) or certno or insuplc_admdvs:
            raise YidiError("FORBIDDEN", {"detail": "只能查看本人备案"})
        criteria["psn_no"] = principal.psn_no or "-"
    elif principal.role in AGENCY_ROLES:
        region = insuplc_admdvs or principal.admdvs
        if region is not None:
            principal.require_region(region)
        criteria.update(psn_no=psn_no, certno=certno, insuplc_admdvs=region)
    else:
        raise YidiError("FORBIDDEN", {"detail": "需要角色 person/agency/supervisor"})
    filings = service.list_filings(ctx, **criteria)
    return {"count": len(filings), "filings": [filing_view(f) for f in filings]}


@router.get("/filings/pending", summary="待审核队列（最早申请在前，含办结期限）/ approval queue")
def pending(principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx),
            insuplc_admdvs: Admdvs | None = Query(None), limit: int = Query(200, ge=1, le=1000)) -> dict:
    principal.require_role(*AGENCY_ROLES)
    region = insuplc_admdvs or principal.admdvs
    if region is None:
        raise invalid("insuplc_admdvs", "请指定参保地")
    principal.require_region(region)
    filings = service.pending_queue(ctx, region, limit=limit)
    today = date.today()
    return {"count": len(filings), "today": today.isoformat(),
            "filings": [{**filing_view(f), "overdue": bool(f.approve_due_date and f.approve_due_date < today)}
                        for f in filings]}


@router.get("/filings/{filing_id}", summary="备案详情（含历史）/ one filing with its history")
def view(filing_id: str, principal: Principal = Depends(current_principal),
         ctx: AppContext = Depends(get_ctx)) -> dict:
    filing = _load_visible(ctx, principal, filing_id)
    return {**filing_view(filing), "history": service.filing_history(ctx, filing_id)}


@router.get("/filings/{filing_id}/history", summary="审核与变更历史 / audit history")
def history(filing_id: str, principal: Principal = Depends(current_principal),
            ctx: AppContext = Depends(get_ctx)) -> dict:
    _load_visible(ctx, principal, filing_id)
    return {"filing_id": filing_id, "history": service.filing_history(ctx, filing_id)}


@router.post("/filings/{filing_id}/change", summary="变更备案 / change (F6)")
def change(filing_id: str, body: ChangeRequest, principal: Principal = Depends(current_principal),
           ctx: AppContext = Depends(get_ctx)) -> dict:
    filing = _load_visible(ctx, principal, filing_id)
    _may_write(principal, filing)
    _person_date(principal, body.date, "date")
    result = service.change_filing(ctx, filing_id, body.date, proof=body.proof, mdtrtarea_admvs=body.mdtrtarea_admvs,
                                   actor=principal.username, reason=body.reason)
    return filing_view(result)


@router.post("/filings/{filing_id}/cancel", summary="取消备案 / cancel (F6)")
def cancel(filing_id: str, body: EndRequest, principal: Principal = Depends(current_principal),
           ctx: AppContext = Depends(get_ctx)) -> dict:
    filing = _load_visible(ctx, principal, filing_id)
    _may_write(principal, filing)
    _person_date(principal, body.date, "date")
    result = service.cancel_filing(ctx, filing_id, body.date, proof=body.proof, actor=principal.username,
                                   reason=body.reason)
    return filing_view(result)


@router.post("/filings/{filing_id}/approve", summary="审核通过 / approve (F4)")
def approve(filing_id: str, body: ApproveRequest | None = None, principal: Principal = Depends(current_principal),
            ctx: AppContext = Depends(get_ctx)) -> dict:
    principal.require_role("agency")
    _load_visible(ctx, principal, filing_id)
    result = service.decide_filing(ctx, filing_id, approve=True, actor=principal.username, on=date.today(),
                                   reason=body.reason if body else "", clerk_region=principal.admdvs)
    return filing_view(result)


@router.post("/filings/{filing_id}/reject", summary="审核驳回（须填原因）/ reject with a reason (F4)")
def reject(filing_id: str, body: RejectRequest, principal: Principal = Depends(current_principal),
           ctx: AppContext = Depends(get_ctx)) -> dict:
    principal.require_role("agency")
    _load_visible(ctx, principal, filing_id)
    result = service.decide_filing(ctx, filing_id, approve=False, actor=principal.username, on=date.today(),
                                   reason=body.reason, clerk_region=principal.admdvs)
    return filing_view(result)


class MaterialsRequest(Body):
    date: IsoDate = Field(description="材料补齐日：自该日起入院的就诊享受双向待遇 (医保发〔2022〕22号 二(五))")
    reason: str = Field("补齐备案材料", max_length=500)


@router.post("/filings/{filing_id}/materials", summary="登记补齐备案材料 / record the supplied materials (B3, 001 二(五))")
def materials(filing_id: str, body: MaterialsRequest, principal: Principal = Depends(current_principal),
              ctx: AppContext = Depends(get_ctx)) -> dict:
    """The clerk records that a commitment-based long-term filer supplied the filing's materials: the filing
    becomes proof-based from ``date`` (a successor filing, history kept) and two-way benefits apply from then."""
    principal.require_role("agency")
    _load_visible(ctx, principal, filing_id)
    if body.date > date.today():
        raise invalid("date", "材料补齐日不能晚于今天")
    result = service.supply_materials(ctx, filing_id, body.date, actor=principal.username, reason=body.reason,
                                      clerk_region=principal.admdvs)
    return filing_view(result)


@router.get("/commitment-text", summary="《个人承诺书》全文 / the commitment text to sign (F3)")
def commitment(mdtrtarea_admvs: Admdvs, psn_no: str | None = Query(None, max_length=30),
               type: str | None = Query(None, max_length=30, description="备案类型；临时类型的承诺书措辞不同"),
               principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)) -> dict:
    if principal.role == "person":
        if psn_no not in (None, principal.psn_no) or principal.psn_no is None:
            raise YidiError("FORBIDDEN", {"detail": "只能查看本人的承诺书"})
        psn_no = principal.psn_no
    elif principal.role == "agency":
        if not psn_no:
            raise invalid("psn_no", "经办代办需填写人员编号")
        principal.require_region(service.person_region(ctx, psn_no))
    else:
        raise YidiError("FORBIDDEN", {"detail": "需要角色 person/agency"})
    return service.commitment_form(ctx, psn_no, mdtrtarea_admvs, type)


@router.get("/regions", summary="行政区划 / regions")
def regions(_principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)) -> dict:
    return {"regions": list_regions(ctx)}


@router.get("/institutions", summary="异地联网定点医疗机构 / networked institutions (F2)")
def institutions(admdvs: Admdvs | None = Query(None, description="市或省代码；省代码含下辖各市"),
                 level: int | None = Query(None, ge=1, le=3),
                 _principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)) -> dict:
    return {"institutions": list_institutions(ctx, admdvs=admdvs, level=level)}


def register(app: FastAPI) -> None:
    app.include_router(router)
