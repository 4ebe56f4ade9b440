"""The hospital's side of reconciliation and clearing through the interface (issue 18).

- Files (9101 / 9102): what a hospital uploads (3202's settlement details) or downloads (3202's result),
  kept under a ``file_qury_no`` until ``dld_endtime``; an institution only ever reads its own files.
- 清算申请 (3203 / 3204): the institution's declared totals for a period and clearing type, checked
  against its settlements (the same scope and dating as 3201) before they are recorded.
- 清分 for the treatment side (3260 fetch / 3261 confirm / 3262 roll back): the month's cross-region direct
  settlements of the institution, as the monthly clearing (services/clearing.py) counts them — by
  settlement date, ``fund_pay_sumamt + acct_pay`` — with the month's clearing state and the
  institution's confirmation of each. On a federation node the institution's cross-province settlements are its
  side's records (``treatment_settlements``: the same columns), and the month counts as cleared when the hub has
  made the national 清分 of it (the hub answers for the federation; NodeLink.hub_cleared).
Money in fen; one unit of work per use case.
"""

from __future__ import annotations

from typing import Any

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from yidi.adapters.orm import SettlementRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.adapters.orm_funds import ClearingRunRow
from yidi.adapters.orm_interface import ClearingApplicationRow, ClearingConfirmationRow, InterfaceFileRow
from yidi.domain.clearing import month_bounds
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan
from yidi.services import audit, reconciliation
from yidi.services.context import AppContext

FILE_KEEP = timedelta(days=1)  # a file can be downloaded for a day after it was stored


# --------------------------------------------------------------------------------------------- files --
def new_file_qury_no() -> str:
    """30 characters: F + yyyyMMddHHmmss + 15 hex."""
    return f"F{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().hex[:15]}"


def store_file(ctx: AppContext, *, fixmedins_code: str, filename: str, content: bytes,
               actor: str = "hospital") -> InterfaceFileRow:
    row = InterfaceFileRow(file_qury_no=new_file_qury_no(), fixmedins_code=fixmedins_code, filename=filename[:200],
                           content=content, dld_endtime=datetime.now().replace(microsecond=0) + FILE_KEEP)
    with ctx.unit_of_work() as session:
        session.add(row)
        audit.record(session, actor, "interface.file", row.file_qury_no, {"filename": row.filename,
                                                                          "bytes": len(content)})
    return row


def load_file(ctx: AppContext, *, fixmedins_code: str, file_qury_no: str) -> InterfaceFileRow:
    with ctx.unit_of_work() as session:
        row = session.get(InterfaceFileRow, file_qury_no)
    if row is None or row.fixmedins_code != fixmedins_code:  # another institution's file does not exist for you
        raise YidiError("NOT_FOUND", {"what": "文件（file_qury_no）", "key": file_qury_no})
    if row.dld_endtime < datetime.now():
        raise invalid("file_qury_no", f"文件已过下载截止时间 {row.dld_endtime:%Y-%m-%d %H:%M:%S}，请重新上传或重新对账")
    return row


# ----------------------------------------------------------------------------- clearing application --
@dataclass(frozen=True)
class Application:
    clr_optins: str
    clr_type: str
    setlym: str
    begndate: date
    enddate: date
    psntime: int
    medfee_sumamt: int
    fund_appy_sum: int
    acct_pay: int
    cash_payamt: int


def apply_for_clearing(ctx: AppContext, fixmedins_code: str, app: Application, *,
                       actor: str = "hospital") -> ClearingApplicationRow:
    """3203: recorded only when the declared totals are the institution's settlements for that scope."""
    rows = reconciliation.settled_between(ctx, fixmedins_code, app.begndate, app.enddate,
                                          setl_optins=app.clr_optins or None, clr_type=app.clr_type)
    ours = {"psntime": len(rows), "medfee_sumamt": sum(r.medfee_sumamt for r in rows),
            "fund_appy_sum": sum(r.fund_pay_sumamt for r in rows), "acct_pay": sum(r.acct_pay for r in rows)}
    ours["cash_payamt"] = ours["medfee_sumamt"] - ours["fund_appy_sum"] - ours["acct_pay"]
    differing = [f"{name} 申报 {_show(name, getattr(app, name))} / 结算 {_show(name, value)}"
                 for name, value in ours.items() if getattr(app, name) != value]
    if differing:
        raise YidiError("CLEARING_TOTALS_DIFFER", {"detail": "；".join(differing)[:120]})
    with ctx.unit_of_work() as session:
        taken = session.scalars(select(ClearingApplicationRow).where(
            ClearingApplicationRow.fixmedins_code == fixmedins_code, ClearingApplicationRow.setlym == app.setlym,
            ClearingApplicationRow.clr_type == app.clr_type, ClearingApplicationRow.clr_optins == app.clr_optins,
            ClearingApplicationRow.status == "applied")).first()
        if taken is not None:
            raise invalid("setlym", f"该清算年月和清算类别已申请（{taken.clr_appy_evt_id}），重报请先撤销（3204）")
        row = ClearingApplicationRow(
            clr_appy_evt_id=f"CA{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().hex[:14]}", fixmedins_code=fixmedins_code,
            clr_optins=app.clr_optins, clr_type=app.clr_type, setlym=app.setlym, begndate=app.begndate,
            enddate=app.enddate, psntime=app.psntime, medfee_sumamt=app.medfee_sumamt,
            fund_appy_sum=app.fund_appy_sum, acct_pay=app.acct_pay, cash_payamt=app.cash_payamt, status="applied")
        session.add(row)
        audit.record(session, actor, "interface.clearing_apply", row.clr_appy_evt_id,
                     {"setlym": app.setlym, "clr_type": app.clr_type, "fund_appy_sum": app.fund_appy_sum})
    return row


def withdraw_application(ctx: AppContext, fixmedins_code: str, clr_appy_evt_id: str, *,
                         actor: str = "hospital") -> ClearingApplicationRow:
    """3204 清算申请撤销."""
    with ctx.unit_of_work() as session:
        row = session.get(ClearingApplicationRow, clr_appy_evt_id, with_for_update=True)
        if row is None or row.fixmedins_code != fixmedins_code:
            raise YidiError("NOT_FOUND", {"what": "清算申请（clr_appy_evt_id）", "key": clr_appy_evt_id})
        if row.status != "applied":
            raise invalid("clr_appy_evt_id", "该清算申请已撤销")
        row.status = "withdrawn"
        audit.record(session, actor, "interface.clearing_withdraw", clr_appy_evt_id, {})
    return row


def _show(name: str, value: int) -> str:
    return str(value) if name == "psntime" else fen_to_yuan(value)


# ------------------------------------------------------------------------------- 清分 (treatment side) --
@dataclass(frozen=True)
class ClearingItem:
    row: SettlementRow
    amount_fen: int  # what clearing moves for it: fund_pay_sumamt + acct_pay
    confirmed: bool
    clr_type: str  # 清算类别 (reconciliation.clr_type_of: 41 for every settlement of a pharmacy)


def clearing_items(ctx: AppContext, fixmedins_code: str, clr_ym: str, *,
                   clr_optins: str | None = None) -> tuple[list[ClearingItem], bool]:
    """The month's cross-region direct settlements of the institution still in force, and whether the
    month has been cleared (services/clearing.py)."""
    start, end = _month(clr_ym)
    tables = (SettlementRow,) if ctx.federation is None else (SettlementRow, TreatmentSettlementRow)
    with ctx.unit_of_work() as session:
        rows: list[Any] = []
        for table in tables:
            stmt = select(table).where(
                table.fixmedins_code == fixmedins_code, table.kind == "direct",
                table.insuplc_admdvs != table.mdtrtarea_admvs, table.status == "settled",
                table.setl_date >= start, table.setl_date <= end)
            if clr_optins:
                stmt = stmt.where(table.insuplc_admdvs == clr_optins)
            rows += session.scalars(stmt)
        rows.sort(key=lambda row: row.setl_id)
        confirmed = set(session.scalars(select(ClearingConfirmationRow.setl_id).where(
            ClearingConfirmationRow.fixmedins_code == fixmedins_code, ClearingConfirmationRow.clr_ym == clr_ym,
            ClearingConfirmationRow.status == "confirmed")))
        cleared = session.get(ClearingRunRow, f"{clr_ym[:4]}-{clr_ym[4:]}") is not None
    if ctx.federation is not None and not cleared and any(isinstance(row, TreatmentSettlementRow) for row in rows):
        cleared = ctx.federation.hub_cleared(f"{clr_ym[:4]}-{clr_ym[4:]}")
    pharmacy = reconciliation.is_pharmacy(ctx, fixmedins_code)
    return [ClearingItem(row, row.fund_pay_sumamt + (row.acct_pay or 0), row.setl_id in confirmed,
                         reconciliation.clr_type_of(row.med_type, pharmacy=pharmacy)) for row in rows], cleared


def confirm(ctx: AppContext, fixmedins_code: str, clr_ym: str, setl_ids: list[str] | None, *,
            clr_optins: str | None = None, actor: str = "hospital") -> list[ClearingItem]:
    """3261: confirm the named settlements (or every unconfirmed one of the month)."""
    items = _chosen(ctx, fixmedins_code, clr_ym, setl_ids, clr_optins)
    now = datetime.now().replace(microsecond=0)
    with ctx.unit_of_work() as session:
        for item in items:
            row = session.get(ClearingConfirmationRow, item.row.setl_id, with_for_update=True)
            if row is None:
                session.add(ClearingConfirmationRow(setl_id=item.row.setl_id, fixmedins_code=fixmedins_code,
                                                    clr_ym=clr_ym, fund_pay_sumamt=item.amount_fen,
                                                    status="confirmed", updated_at=now))
            else:
                row.status, row.fund_pay_sumamt, row.updated_at = "confirmed", item.amount_fen, now
        audit.record(session, actor, "interface.clearing_confirm", f"{fixmedins_code}:{clr_ym}", {"rows": len(items)})
    return items


def roll_back(ctx: AppContext, fixmedins_code: str, clr_ym: str, setl_ids: list[str] | None, *,
              clr_optins: str | None = None, actor: str = "hospital") -> list[ClearingItem]:
    """3262: undo the confirmation of the named settlements (or all confirmed ones of the month) — only
    while the month has not been cleared."""
    items, cleared = clearing_items(ctx, fixmedins_code, clr_ym, clr_optins=clr_optins)
    if cleared:
        raise invalid("clr_ym", f"{clr_ym} 已完成清分，不能回退确认；如有差错请联系就医地经办机构")
    chosen = _pick(items, setl_ids, want_confirmed=True)
    now = datetime.now().replace(microsecond=0)
    with ctx.unit_of_work() as session:
        for item in chosen:
            row = session.get(ClearingConfirmationRow, item.row.setl_id, with_for_update=True)
            assert row is not None  # chosen among this month's confirmed rows
            row.status, row.updated_at = "rolled_back", now
        audit.record(session, actor, "interface.clearing_roll_back", f"{fixmedins_code}:{clr_ym}", {"rows": len(chosen)})
    return chosen


def _chosen(ctx: AppContext, fixmedins_code: str, clr_ym: str, setl_ids: list[str] | None,
            clr_optins: str | None) -> list[ClearingItem]:
    items, _cleared = clearing_items(ctx, fixmedins_code, clr_ym, clr_optins=clr_optins)
    return _pick(items, setl_ids, want_confirmed=False)


def _pick(items: list[ClearingItem], setl_ids: list[str] | None, *, want_confirmed: bool) -> list[ClearingItem]:
    by_id = {item.row.setl_id: item for item in items}
    if setl_ids is None:
        chosen = [item for item in items if item.confirmed == want_confirmed]
    else:
        missing = [setl_id for setl_id in setl_ids if setl_id not in by_id]
        if missing:
            raise invalid("setl_id", f"{missing[0]} 不是本机构该月的待清分结算")
        chosen = [by_id[setl_id] for setl_id in dict.fromkeys(setl_ids)]
        wrong = [item.row.setl_id for item in chosen if item.confirmed != want_confirmed]
        if wrong:
            raise invalid("setl_id", f"{wrong[0]} " + ("尚未确认，无需回退" if want_confirmed else "已确认"))
    if not chosen:
        raise invalid("clr_ym", "没有可" + ("回退" if want_confirmed else "确认") + "的清分数据")
    return chosen


def _month(clr_ym: str) -> tuple[date, date]:
    if len(clr_ym) != 6 or not clr_ym.isdigit() or not 1 <= int(clr_ym[4:]) <= 12:
        raise invalid("clr_ym", "应为清算年月 yyyyMM")
    return month_bounds(f"{clr_ym[:4]}-{clr_ym[4:]}")
