"""Read-only JSON for the funds pages (C1, C2, C4): clearing statements by month, prepayments, reconciliation.

Writes (clearing runs, prepayment confirmation) are agency batch work on the command line
(`yidi clearing …`); these endpoints only read what those runs stored.

Who may read (issue 9): agencies and supervisors only. A supervisor sees the national documents; an agency
sees the part that concerns its region — flows it pays (insured there) or receives (treated there), its own
city statements, its province's prepayment lines — never another region's figures or national totals.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, FastAPI, Query

from yidi.api.auth import current_principal
from yidi.api.deps import get_ctx
from yidi.domain.errors import YidiError
from yidi.domain.regions import area_covers
from yidi.services import clearing, finance_reconciliation, prepayment
from yidi.services.context import AppContext
from yidi.services.users import Principal

router = APIRouter(prefix="/api/funds", tags=["funds 资金"])


def funds_reader(principal: Principal = Depends(current_principal)) -> Principal:
    principal.require_role("agency", "supervisor")
    return principal


def _national(principal: Principal) -> bool:
    return principal.role == "supervisor"


def _touches(principal: Principal, *admdvs: str) -> bool:
    """The agency's region is one end (a province agency covers its cities; a city agency its province's lines)."""
    return any(principal.can_act_for_region(code) or area_covers(code, principal.admdvs or "") for code in admdvs)


@router.get("/clearing", summary="已清算月份列表")
def clearing_runs(principal: Principal = Depends(funds_reader), ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    runs = clearing.list_runs(ctx)
    if _national(principal):
        return runs
    return [{"month": run["month"], "period_end": run["period_end"]} for run in runs]  # national totals: supervisors


@router.get("/clearing/{month}", summary="某月清算单（流向、省级划拨、市级汇总）")
def clearing_statement(month: str, principal: Principal = Depends(funds_reader),
                       ctx: AppContext = Depends(get_ctx)) -> dict:
    statement = clearing.get_statement(ctx, month)
    if statement is None:
        raise YidiError("NOT_FOUND", {"what": "清算单", "key": month})
    document = statement.to_dict()
    if _national(principal):
        return document
    return {"month": document["month"], "period_end": document["period_end"], "admdvs": principal.admdvs,
            "flows": [f for f in document["flows"]
                      if principal.can_act_for_region(f["insuplc_admdvs"])
                      or principal.can_act_for_region(f["mdtrtarea_admvs"])],
            "cities": [c for c in document["cities"] if principal.can_act_for_region(c["admdvs"])]}


@router.get("/clearing/{month}/cities/{admdvs}", summary="市级清算单")
def city_statement(month: str, admdvs: str, principal: Principal = Depends(funds_reader),
                   ctx: AppContext = Depends(get_ctx)) -> dict:
    principal.require_region(admdvs)
    statement = clearing.get_statement(ctx, month)
    if statement is None or admdvs not in statement.cities():
        raise YidiError("NOT_FOUND", {"what": "市级清算单", "key": f"{month} {admdvs}"})
    document = statement.to_dict()
    return {"month": month, "admdvs": admdvs, "name": statement.name(admdvs),
            "payable": [f for f in document["flows"] if f["insuplc_admdvs"] == admdvs],
            "receivable": [f for f in document["flows"] if f["mdtrtarea_admvs"] == admdvs]}


@router.get("/clearing/{month}/reconciliation", summary="对账结果（账账相符、账款相符）")
def reconciliation(month: str, principal: Principal = Depends(funds_reader),
                   ctx: AppContext = Depends(get_ctx)) -> dict:
    region = None if _national(principal) else principal.admdvs
    return finance_reconciliation.reconcile(ctx, month, region).to_dict()


@router.get("/prepayments", summary="已确认的年度预付金")
def prepayments(year: Optional[int] = Query(None, ge=2000, le=2100), principal: Principal = Depends(funds_reader),
                ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    lines = prepayment.list_prepayments(ctx, year)
    return lines if _national(principal) else [
        line for line in lines if _touches(principal, line["payer_admdvs"], line["payee_admdvs"])]


@router.get("/prepayments/plan", summary="预付金测算（未确认，不记账）")
def prepayment_plan(year: int = Query(..., ge=2000, le=2100), principal: Principal = Depends(funds_reader),
                    ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    lines = [line.to_dict() for line in prepayment.plan(ctx, year)]
    return lines if _national(principal) else [
        line for line in lines if _touches(principal, line["payer_admdvs"], line["payee_admdvs"])]


def register(app: FastAPI) -> None:
    app.include_router(router)
