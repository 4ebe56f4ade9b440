"""Stored settlements as the pages list them, beyond services.settlements.SettlementView: the facts a settlement
page and slip print (regions, diagnosis, when), short lines for lists (a visit's settlements, the claims a
supervision lead names, a settlement found by number).

Read-only; every answer is a frozen value, never an ORM row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from yidi.adapters.orm import SettlementRow
from yidi.domain.errors import YidiError
from yidi.services.context import AppContext
from yidi.services.scope import RegionScope


@dataclass(frozen=True)
class SettlementFacts:
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    dise_codg: str | None
    setl_date: date
    settled_at: datetime | None
    mdtrt_id: str | None


def settlement_facts(ctx: AppContext, setl_id: str) -> SettlementFacts:
    """Where the person is insured and was treated, the diagnosis, the dates, the visit of one settlement."""
    with ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        if row is None:
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        return SettlementFacts(insuplc_admdvs=row.insuplc_admdvs, mdtrtarea_admvs=row.mdtrtarea_admvs,
                               dise_codg=row.dise_codg, setl_date=row.setl_date, settled_at=row.created_at,
                               mdtrt_id=row.mdtrt_id)


@dataclass(frozen=True)
class SettlementLine:
    """One settlement in a list: who, where, when, how much (fen)."""

    setl_id: str
    kind: str
    status: str
    psn_no: str
    fixmedins_code: str
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    med_type: str
    dise_codg: str | None
    begntime: date
    endtime: date
    setl_date: date
    medfee_sumamt: int
    fund_pay_sumamt: int


def settlement_line(row: SettlementRow) -> SettlementLine:
    return SettlementLine(row.setl_id, row.kind, row.status, row.psn_no, row.fixmedins_code, row.insuplc_admdvs,
                          row.mdtrtarea_admvs, row.med_type, row.dise_codg, row.begntime, row.endtime, row.setl_date,
                          row.medfee_sumamt, row.fund_pay_sumamt)


def settlement_lines(ctx: AppContext, setl_ids: Iterable[str]) -> dict[str, SettlementLine]:
    """{setl_id: line} of the named settlements that exist (e.g. those a supervision lead names)."""
    wanted = sorted(set(setl_ids))
    if not wanted:
        return {}
    with ctx.unit_of_work() as session:
        return {row.setl_id: settlement_line(row)
                for row in session.scalars(select(SettlementRow).where(SettlementRow.setl_id.in_(wanted)))}


def settlement_in_scope(ctx: AppContext, scope: RegionScope, setl_id: str) -> SettlementLine | None:
    """The settlement if its insured or treatment region is within ``scope``; None otherwise (or unknown)."""
    with ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        if row is None or not scope.covers_any(row.insuplc_admdvs, row.mdtrtarea_admvs):
            return None
        return settlement_line(row)
