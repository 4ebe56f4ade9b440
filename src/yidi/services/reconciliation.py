"""对账 (3201 / 3202): compare a hospital's own totals and settlements with ours for a period.

Both functions work in integer fen and return plain dicts so that other parts (monthly clearing)
can reuse and extend them. "Ours" = direct settlements of that institution, still in status
``settled``, whose settlement date lies in [begndate, enddate]; cancelled and reversed ones net to zero.
clr_type (清算类别): 11 门诊 (outpatient and 门诊慢特病), 21 住院.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from yidi.adapters.orm import SettlementRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.domain.coverage import MED_CLASS_OF, MedClass
from yidi.services.context import AppContext

TOTAL_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
DETAIL_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


def clr_type_of(med_type: str) -> str:
    return "21" if MED_CLASS_OF.get(med_type) is MedClass.INPATIENT else "11"


def _settled(ctx: AppContext, fixmedins_code: str, begndate: date, enddate: date) -> list[SettlementRow]:
    """The institution's settlements; on a federation node also its side of cross-province ones (the insured
    node holds those settlements; this node's ``treatment_settlements`` rows carry the same columns)."""
    with ctx.unit_of_work() as session:
        rows = []
        for table in (SettlementRow, TreatmentSettlementRow):
            rows += session.scalars(select(table).where(table.fixmedins_code == fixmedins_code, table.kind == "direct",
                                                        table.status == "settled", table.setl_date >= begndate,
                                                        table.setl_date <= enddate))
        return rows


def reconcile_totals(ctx: AppContext, fixmedins_code: str, begndate: date, enddate: date, reported: dict) -> dict:
    """3201: ``reported`` = {insutype?, clr_type?, medfee_sumamt, fund_pay_sumamt, acct_pay, fixmedins_setl_cnt}
    (money in fen). Answer: stmt_rslt "0" 平 (equal) / "1" 不平 (mismatch), both sides and the differences."""
    rows = [row for row in _settled(ctx, fixmedins_code, begndate, enddate)
            if (not reported.get("insutype") or row.insutype == reported["insutype"])
            and (not reported.get("clr_type") or clr_type_of(row.med_type) == reported["clr_type"])]
    ours = {"medfee_sumamt": sum(r.medfee_sumamt for r in rows), "fund_pay_sumamt": sum(r.fund_pay_sumamt for r in rows),
            "acct_pay": sum(r.acct_pay for r in rows), "fixmedins_setl_cnt": len(rows)}
    differences = {name: int(reported.get(name, 0)) - ours[name] for name in TOTAL_FIELDS
                   if int(reported.get(name, 0)) != ours[name]}
    return {"fixmedins_code": fixmedins_code, "begndate": begndate, "enddate": enddate,
            "insutype": reported.get("insutype"), "clr_type": reported.get("clr_type"),
            "stmt_rslt": "0" if not differences else "1", "ours": ours,
            "reported": {name: int(reported.get(name, 0)) for name in TOTAL_FIELDS}, "differences": differences}


def reconcile_details(ctx: AppContext, fixmedins_code: str, begndate: date, enddate: date,
                      reported_rows: list[dict]) -> dict:
    """3202: ``reported_rows`` = [{setl_id, medfee_sumamt, fund_pay_sumamt, acct_pay}] (fen). Lists every
    settlement that differs: only_ours (we have it, the hospital does not), only_reported, amounts."""
    ours = {row.setl_id: row for row in _settled(ctx, fixmedins_code, begndate, enddate)}
    theirs = {str(row["setl_id"]): row for row in reported_rows}
    differing = []
    for setl_id in sorted(set(ours) | set(theirs)):
        mine, reported = ours.get(setl_id), theirs.get(setl_id)
        if mine is None:
            differing.append({"setl_id": setl_id, "reason": "only_reported", "reported": reported, "ours": None})
            continue
        ours_amounts = {name: getattr(mine, name) for name in DETAIL_FIELDS}
        if reported is None:
            differing.append({"setl_id": setl_id, "reason": "only_ours", "ours": ours_amounts, "reported": None})
            continue
        reported_amounts = {name: int(reported.get(name, 0)) for name in DETAIL_FIELDS}
        if reported_amounts != ours_amounts:
            differing.append({"setl_id": setl_id, "reason": "amount", "ours": ours_amounts,
                              "reported": reported_amounts})
    return {"fixmedins_code": fixmedins_code, "begndate": begndate, "enddate": enddate,
            "stmt_rslt": "0" if not differing else "1", "checked": len(set(ours) | set(theirs)),
            "differing": differing}
