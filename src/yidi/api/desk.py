"""/api for a hospital's desk (医院医保办): its settlements, as the desk pages show them (web/desk.py).

- ``GET /api/desk/settlements?day=YYYY-MM-DD`` (default today): the day's settlements made at the caller's
  institution — those of this node and, on a province node, this node's side of visitors' cross-province
  settlements (``cross_province: true``; the insured node holds the settlement itself) — with totals per status.
- ``GET /api/desk/settlements/{setl_id}``: one of them, with the result fields (trace, policy and catalog
  versions) as the HIS was answered.

Only a hospital user (role ``hospital``) and only its own institution's settlements: another hospital's settlement
answers SETTLEMENT_NOT_FOUND, as if it did not exist. Of a visitor the answer carries what the treatment side
holds: the person number, the name of the desk copy and the insured region — never their filings or usage.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, FastAPI, Query

from yidi.api.auth import current_principal
from yidi.api.deps import get_ctx
from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan, yuan_to_fen
from yidi.services import settlements, visitor_settlements
from yidi.services.context import AppContext
from yidi.services.users import Principal

router = APIRouter(prefix="/api/desk", tags=["desk 医院医保办"])


def _institution(principal: Principal) -> str:
    principal.require_role("hospital")
    if not principal.fixmedins_code:
        raise YidiError("FORBIDDEN", {"detail": "该账号未绑定医疗机构"})
    return principal.fixmedins_code


def _own(view: settlements.SettlementView) -> dict:
    return {**view.to_result(), "kind": view.kind, "cross_province": False, "psn_no": view.psn_no,
            "fixmedins_code": view.fixmedins_code, "med_type": view.med_type,
            "begntime": view.begntime.isoformat(), "endtime": view.endtime.isoformat()}


def _brief(entry: dict) -> dict:
    keys = ("setl_id", "status", "kind", "cross_province", "psn_no", "med_type", "begntime", "endtime",
            "medfee_sumamt", "fund_pay_sumamt", "psn_part_amt")
    return {key: entry.get(key) for key in keys} | {"insuplc_admdvs": entry.get("insuplc_admdvs")}


@router.get("/settlements", summary="本机构某日结算（含异地参保人的跨省结算）/ the day's settlements")
def day_settlements(day: date | None = Query(None, description="结算日期，默认今天"),
                    principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)) -> dict:
    code = _institution(principal)
    on = day or date.today()
    entries = [_own(view) for view in settlements.list_settlements(ctx, fixmedins_code=code, setl_date=on,
                                                                   limit=5000)]
    entries += [record.to_dict() for record in visitor_settlements.of_institution(ctx, code, setl_date=on)]
    totals: dict[str, dict] = {}
    for entry in entries:
        bucket = totals.setdefault(entry["status"], {"count": 0, "medfee": 0, "fund": 0, "psn": 0})
        bucket["count"] += 1
        for key, name in (("medfee", "medfee_sumamt"), ("fund", "fund_pay_sumamt"), ("psn", "psn_part_amt")):
            bucket[key] += yuan_to_fen(entry[name])
    return {"fixmedins_code": code, "day": on.isoformat(),
            "totals": {status: {"count": t["count"], "medfee_sumamt": fen_to_yuan(t["medfee"]),
                                "fund_pay_sumamt": fen_to_yuan(t["fund"]), "psn_part_amt": fen_to_yuan(t["psn"])}
                       for status, t in totals.items()},
            "settlements": [_brief(entry) for entry in sorted(entries, key=lambda e: (e["begntime"], e["setl_id"]))]}


@router.get("/settlements/{setl_id}", summary="本机构的一笔结算 / one settlement of this institution")
def one_settlement(setl_id: str, principal: Principal = Depends(current_principal),
                   ctx: AppContext = Depends(get_ctx)) -> dict:
    code = _institution(principal)
    visitor = visitor_settlements.find(ctx, code, setl_id)
    if visitor is not None:
        return visitor.to_dict()
    view = settlements.get_settlement(ctx, setl_id)
    if view.fixmedins_code != code:
        raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
    return _own(view)


def register(app: FastAPI) -> None:
    app.include_router(router)
