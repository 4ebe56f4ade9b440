"""对账 (3201 / 3202): compare a hospital's own totals and settlements with ours for a period.

Both functions work in integer fen and return plain dicts so that other parts (monthly clearing)
can reuse and extend them. "Ours" = direct settlements of that institution, still in status
``settled``, whose settlement time (when the 2304/2207 was processed — the row's creation time, not the
discharge date) lies in [begndate, enddate]; cancelled and reversed ones net to zero. The check is scoped
as the hospital sends it: ``setl_optins`` (the clearing institution, i.e. the insured region), ``clr_type``
and ``insutype``, each only when given.
clr_type (清算类别): 11 门诊 (outpatient and 门诊慢特病), 21 住院; 41 药店购药 (every settlement of a pharmacy:
2102 特药 at a 双通道 pharmacy, B11).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from yidi.adapters.orm import SettlementRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.domain.coverage import MED_CLASS_OF, MedClass
from yidi.domain.special_drugs import PHARMACY
from yidi.services import lookups
from yidi.services.context import AppContext

CLR_TYPES = ("11", "21", "41")
TOTAL_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
DETAIL_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


PHARMACY_CLR_TYPE = "41"


def clr_type_of(med_type: str, *, pharmacy: bool = False) -> str:
    """The 清算类别 of a settlement: a pharmacy's is 药店购药 whatever its med_type; else 住院 or 门诊."""
    if pharmacy:
        return PHARMACY_CLR_TYPE
    return "21" if MED_CLASS_OF.get(med_type) is MedClass.INPATIENT else "11"


def is_pharmacy(ctx: AppContext, fixmedins_code: str) -> bool:
    """The institution is a pharmacy (its settlements clear as 41)."""
    with ctx.unit_of_work() as session:
        return lookups.institution(session, fixmedins_code).kind == PHARMACY


def settled_between(ctx: AppContext, fixmedins_code: str, begndate: date, enddate: date, *,
                    setl_optins: str | None = None, clr_type: str | None = None,
                    insutype: str | None = None) -> list[SettlementRow]:
    """The institution's direct settlements still in force, settled (processed) within the period, scoped; on a
    federation node also its side of cross-province ones (``treatment_settlements``: the same columns)."""
    start = datetime.combine(begndate, time.min)
    stop = datetime.combine(enddate + timedelta(days=1), time.min)
    rows: list[Any] = []  # rows of either table: the same columns
    with ctx.unit_of_work() as session:
        for table in (SettlementRow, TreatmentSettlementRow):
            stmt = select(table).where(table.fixmedins_code == fixmedins_code, table.kind == "direct",
                                       table.status == "settled", table.created_at >= start, table.created_at < stop)
            if setl_optins:
                stmt = stmt.where(table.insuplc_admdvs == setl_optins)
            if insutype:
                stmt = stmt.where(table.insutype == insutype)
            rows += session.scalars(stmt.order_by(table.setl_id))
    pharmacy = is_pharmacy(ctx, fixmedins_code) if clr_type else False
    return [row for row in rows if not clr_type or clr_type_of(row.med_type, pharmacy=pharmacy) == clr_type]


def reconcile_totals(ctx: AppContext, fixmedins_code: str, begndate: date, enddate: date, reported: dict[str, Any]) -> dict[str, Any]:
    """3201: ``reported`` = {setl_optins?, insutype?, clr_type?, medfee_sumamt, fund_pay_sumamt, acct_pay, fixmedins_setl_cnt}
    (money in fen). Answer: stmt_rslt "0" 平 (equal) / "1" 不平 (mismatch), both sides and the differences."""
    rows = settled_between(ctx, fixmedins_code, begndate, enddate, setl_optins=reported.get("setl_optins"),
                           clr_type=reported.get("clr_type"), insutype=reported.get("insutype"))
    ours = {"medfee_sumamt": sum(r.medfee_sumamt for r in rows), "fund_pay_sumamt": sum(r.fund_pay_sumamt for r in rows),
            "acct_pay": sum(r.acct_pay for r in rows), "fixmedins_setl_cnt": len(rows)}
    differences = {name: int(reported.get(name, 0)) - ours[name] for name in TOTAL_FIELDS
                   if int(reported.get(name, 0)) != ours[name]}
    return {"fixmedins_code": fixmedins_code, "begndate": begndate, "enddate": enddate,
            "setl_optins": reported.get("setl_optins"), "insutype": reported.get("insutype"),
            "clr_type": reported.get("clr_type"),
            "stmt_rslt": "0" if not differences else "1", "ours": ours,
            "reported": {name: int(reported.get(name, 0)) for name in TOTAL_FIELDS}, "differences": differences}


def reconcile_details(ctx: AppContext, fixmedins_code: str, begndate: date, enddate: date,
                      reported_rows: list[dict[str, Any]], *, setl_optins: str | None = None,
                      clr_type: str | None = None) -> dict[str, Any]:
    """3202: ``reported_rows`` = [{setl_id, medfee_sumamt, fund_pay_sumamt, acct_pay}] (fen). Lists every
    settlement that differs: only_ours (we have it, the hospital does not), only_reported, amounts."""
    ours = {row.setl_id: row for row in settled_between(ctx, fixmedins_code, begndate, enddate,
                                                         setl_optins=setl_optins, clr_type=clr_type)}
    theirs = {str(row["setl_id"]): row for row in reported_rows}
    differing = []
    for setl_id in sorted(set(ours) | set(theirs)):
        mine, reported = ours.get(setl_id), theirs.get(setl_id)
        given = reported or {}  # a setl_id is ours, reported or both
        ident = {"setl_id": setl_id, "mdtrt_id": mine.mdtrt_id or "" if mine else str(given.get("mdtrt_id") or ""),
                 "psn_no": mine.psn_no if mine else str(given.get("psn_no") or ""),
                 "msgid": (mine.msgid or "") if mine else ""}
        if mine is None:
            differing.append({**ident, "reason": "only_reported", "reported": reported, "ours": None})
            continue
        ours_amounts = {name: getattr(mine, name) for name in DETAIL_FIELDS}
        if reported is None:
            differing.append({**ident, "reason": "only_ours", "ours": ours_amounts, "reported": None})
            continue
        reported_amounts = {name: int(reported.get(name, 0)) for name in DETAIL_FIELDS}
        if reported_amounts != ours_amounts:
            differing.append({**ident, "reason": "amount", "ours": ours_amounts, "reported": reported_amounts})
    return {"fixmedins_code": fixmedins_code, "begndate": begndate, "enddate": enddate,
            "stmt_rslt": "0" if not differing else "1", "checked": len(set(ours) | set(theirs)),
            "differing": differing}
