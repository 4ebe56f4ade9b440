"""Read-only JSON for the funds pages (C1, C2, C4): clearing statements by month, prepayments, reconciliation.

Writes (clearing runs, prepayment confirmation) are agency batch work on the command line
(`yidi clearing …`); these endpoints only read what those runs stored.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, FastAPI, Query

from yidi.api.deps import get_ctx
from yidi.domain.errors import YidiError
from yidi.services import clearing, finance_reconciliation, prepayment
from yidi.services.context import AppContext

router = APIRouter(prefix="/api/funds", tags=["funds 资金"])


@router.get("/clearing", summary="已清算月份列表")
def clearing_runs(ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    return clearing.list_runs(ctx)


@router.get("/clearing/{month}", summary="某月清算单（流向、省级划拨、市级汇总）")
def clearing_statement(month: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    statement = clearing.get_statement(ctx, month)
    if statement is None:
        raise YidiError("NOT_FOUND", {"what": "清算单", "key": month})
    return statement.to_dict()


@router.get("/clearing/{month}/cities/{admdvs}", summary="市级清算单")
def city_statement(month: str, admdvs: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    statement = clearing.get_statement(ctx, month)
    if statement is None or admdvs not in statement.cities():
        raise YidiError("NOT_FOUND", {"what": "市级清算单", "key": f"{month} {admdvs}"})
    document = statement.to_dict()
    return {"month": month, "admdvs": admdvs, "name": statement.name(admdvs),
            "payable": [f for f in document["flows"] if f["insuplc_admdvs"] == admdvs],
            "receivable": [f for f in document["flows"] if f["mdtrtarea_admvs"] == admdvs]}


@router.get("/clearing/{month}/reconciliation", summary="对账结果（账账相符、账款相符）")
def reconciliation(month: str, ctx: AppContext = Depends(get_ctx)) -> dict:
    return finance_reconciliation.reconcile(ctx, month).to_dict()


@router.get("/prepayments", summary="已确认的年度预付金")
def prepayments(year: Optional[int] = Query(None, ge=2000, le=2100), ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    return prepayment.list_prepayments(ctx, year)


@router.get("/prepayments/plan", summary="预付金测算（未确认，不记账）")
def prepayment_plan(year: int = Query(..., ge=2000, le=2100), ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    return [line.to_dict() for line in prepayment.plan(ctx, year)]


def register(app: FastAPI) -> None:
    app.include_router(router)
