"""Read-only JSON for the funds pages (C1, C2, C4): clearing statements by month, prepayments, reconciliation.

Writes (clearing runs, prepayment confirmation) are agency batch work on the command line
(`yidi clearing …`); these endpoints only read what those runs stored.

Who may read (issue 9): agencies and supervisors only. A supervisor sees the national documents; an agency
sees the part that concerns its region — flows it pays (insured there) or receives (treated there), its own
city statements, its province's prepayment lines — never another region's figures or national totals.
That rule lives in services/funds_scope.py, shared with the agency pages.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, FastAPI, Query

from yidi.api.auth import current_principal
from yidi.api.deps import get_ctx
from yidi.domain.errors import YidiError
from yidi.services import access, clearing, finance_reconciliation, funds_scope, prepayment
from yidi.services.context import AppContext
from yidi.services.users import Principal

router = APIRouter(prefix="/api/funds", tags=["funds 资金"])


def funds_reader(principal: Principal = Depends(current_principal)) -> Principal:
    principal.require_role(*access.FUNDS_READERS)
    return principal


@router.get("/clearing", summary="已清算月份列表")
def clearing_runs(principal: Principal = Depends(funds_reader), ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    return funds_scope.runs(principal, clearing.list_runs(ctx))


def _statement(ctx: AppContext, month: str) -> clearing.ClearingStatement:
    statement = clearing.get_statement(ctx, month)
    if statement is None:
        raise YidiError("NOT_FOUND", {"what": "清算单", "key": month})
    return statement


@router.get("/clearing/{month}", summary="某月清算单（流向、省级划拨、市级汇总）")
def clearing_statement(month: str, principal: Principal = Depends(funds_reader),
                       ctx: AppContext = Depends(get_ctx)) -> dict:
    return funds_scope.statement(principal, _statement(ctx, month)).to_dict()


@router.get("/clearing/{month}/cities/{admdvs}", summary="市级清算单")
def city_statement(month: str, admdvs: str, principal: Principal = Depends(funds_reader),
                   ctx: AppContext = Depends(get_ctx)) -> dict:
    statement = funds_scope.statement(principal, _statement(ctx, month))
    sheet = funds_scope.city_statement(principal, statement, admdvs)
    return {"month": month, "admdvs": admdvs, "name": statement.name(admdvs),
            "payable": [statement.flow_dict(flow) for flow in sheet["payable"]],
            "receivable": [statement.flow_dict(flow) for flow in sheet["receivable"]]}


@router.get("/clearing/{month}/reconciliation", summary="对账结果（账账相符、账款相符）")
def reconciliation(month: str, principal: Principal = Depends(funds_reader),
                   ctx: AppContext = Depends(get_ctx)) -> dict:
    region = None if funds_scope.is_national(principal) else principal.admdvs
    return finance_reconciliation.reconcile(ctx, month, region).to_dict()


@router.get("/prepayments", summary="已确认的年度预付金")
def prepayments(year: Optional[int] = Query(None, ge=2000, le=2100), principal: Principal = Depends(funds_reader),
                ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    return funds_scope.prepayment_lines(principal, prepayment.list_prepayments(ctx, year))


@router.get("/prepayments/plan", summary="预付金测算（未确认，不记账）")
def prepayment_plan(year: int = Query(..., ge=2000, le=2100), principal: Principal = Depends(funds_reader),
                    ctx: AppContext = Depends(get_ctx)) -> list[dict]:
    return funds_scope.prepayment_lines(principal, [line.to_dict() for line in prepayment.plan(ctx, year)])


@router.get("/federation/clearing/{month}", summary="全国清分单（联邦：由中心节点提供，按本机构范围）")
def federation_statement(month: str, principal: Principal = Depends(funds_reader),
                         ctx: AppContext = Depends(get_ctx)) -> dict:
    """On a province node: the hub's national 清分 of ``month`` (cross-province flows, province-pair transfers),
    scoped like the node's own statements. One embedded node is its own national level: its own statement."""
    if ctx.federation is None:
        return clearing_statement(month, principal, ctx)
    from yidi.federation.hub_api import hub_statement

    return funds_scope.statement(principal, hub_statement(ctx.federation, month)).to_dict()


def register(app: FastAPI) -> None:
    app.include_router(router)
