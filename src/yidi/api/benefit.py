"""POST /api/benefit/estimate — 费用测算: what will I pay, before treatment (B1–B13). Nothing is written.

Either stay anonymous with a profile — ``insuplc_admdvs`` + ``insutype`` (+ optional ``filing_type`` /
``basis``): no login, no filings except the one you name, nothing used yet this year — or name a person
(``psn_no``): their filings and this year's usage count, which are that person's own data, so the request must
be logged in as that person, or as the desk of a hospital treating them (an open visit there). Anyone else gets
FORBIDDEN, the anonymous LOGIN_REQUIRED. Amounts are yuan strings with two decimals; the trace cites rule IDs
and policy versions.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yidi.api.auth import optional_principal
from yidi.api.deps import get_ctx
from yidi.domain.errors import YidiError, invalid
from yidi.services import access, settlements, treatment_entry
from yidi.services.context import AppContext
from yidi.services.users import Principal

router = APIRouter(prefix="/api/benefit", tags=["benefit 待遇测算"])


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psn_no: str | None = Field(None, description="人员编号；与 insuplc_admdvs + insutype 二选一")
    insuplc_admdvs: str | None = Field(None, description="匿名测算：参保地行政区划代码")
    insutype: Literal["310", "390"] | None = Field(None, description="匿名测算：险种 310 职工 / 390 居民")
    filing_type: str | None = Field(None, description="匿名测算：已办（或拟办）的备案类型；不填 = 未备案")
    basis: Literal["proof", "commitment"] = Field("proof", description="匿名测算：备案依据")
    fixmedins_code: str = Field(min_length=1)
    med_type: str = Field(min_length=1, description="11 普通门诊 / 14 门诊慢特病 / 21 普通住院 / 22 外伤住院")
    begntime: date
    endtime: date
    items: list[dict[str, Any]] = Field(description="[{code, amount}] 或 [{code, qty, price}]，金额单位元")
    dise_codg: str | None = None
    emergency: bool = False
    trauma_no_third_party: bool | None = None

    @model_validator(mode="after")
    def _who(self) -> "EstimateRequest":
        if self.psn_no is None and (self.insuplc_admdvs is None or self.insutype is None):
            raise ValueError("需提供 psn_no，或 insuplc_admdvs 与 insutype（匿名测算）")
        return self


def _command(body: EstimateRequest, psn_no: str) -> settlements.SettleCommand:
    return settlements.SettleCommand(
        psn_no=psn_no, fixmedins_code=body.fixmedins_code, med_type=body.med_type, begntime=body.begntime,
        endtime=body.endtime, items=settlements.parse_items(body.items), dise_codg=body.dise_codg,
        emergency=body.emergency, trauma_no_third_party=body.trauma_no_third_party, actor="estimate")


@router.post("/estimate", summary="费用测算（不写入任何数据）")
def estimate(body: EstimateRequest, ctx: AppContext = Depends(get_ctx),
             principal: Principal | None = Depends(optional_principal)) -> dict:
    if body.psn_no is not None:
        if body.insuplc_admdvs is not None or body.insutype is not None or body.filing_type is not None:
            raise invalid("psn_no", "已指定人员时不能再指定 insuplc_admdvs / insutype / filing_type（以参保记录和备案为准）")
        if principal is None:
            raise YidiError("LOGIN_REQUIRED", {"detail": "按人员编号测算会用到本人的备案和本年度已用额度，需本人登录"
                                                         "（或就诊医院登录）；不登录请按参保地和险种匿名测算"})
        if not access.may_see_person(ctx, principal, body.psn_no):
            raise YidiError("FORBIDDEN", {"detail": "只能为本人，或为正在本院就诊的参保人测算"})
        result = treatment_entry.estimate(ctx, _command(body, body.psn_no))  # a visitor: asked of their node
    else:
        profile = settlements.AnonymousProfile(insuplc_admdvs=body.insuplc_admdvs, insutype=body.insutype,
                                               filing_type=body.filing_type, basis=body.basis)
        result = settlements.estimate_anonymous(ctx, _command(body, ""), profile)
    return {"estimate": True, **result}


def register(app: FastAPI) -> None:
    app.include_router(router)
