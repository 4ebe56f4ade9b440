"""Statistics (I4): direct-settlement rate against the national target, volumes and fund by region pair.

I4: direct-settlement rate = direct settlements / (direct settlements + manual claims), per medical class
(inpatient, outpatient, chronic). The national target is ≥ 70 % for cross-province inpatient stays by
2025 (seed 001 一). Only paid claims count: cancelled and reversed settlements are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TypeVarTuple, Unpack

from sqlalchemy import Select, func, select

from yidi.adapters.orm import SettlementRow
from yidi.domain.codes import MED_CLASS_OF, MedClass
from yidi.domain.regions import same_province
from yidi.services.context import AppContext
from yidi.services.scope import RegionScope

_Columns = TypeVarTuple("_Columns")

NATIONAL_TARGET_BP = 7_000  # I4: ≥ 70 % (seed 001 一)
CLASS_NAMES = {MedClass.INPATIENT.value: "住院", MedClass.OUTPATIENT.value: "普通门诊", MedClass.CHRONIC.value: "门诊慢特病",
               MedClass.SPECIAL_DRUG.value: "特药"}


@dataclass(frozen=True)
class DirectRate:
    med_class: str
    direct: int
    manual: int

    @property
    def total(self) -> int:
        return self.direct + self.manual

    @property
    def rate_bp(self) -> int | None:
        """Basis points, rounded half-up; None when there is nothing to measure."""
        if self.total == 0:
            return None
        return (self.direct * 10_000 * 2 + self.total) // (self.total * 2)

    @property
    def meets_target(self) -> bool | None:
        return None if self.rate_bp is None else self.rate_bp >= NATIONAL_TARGET_BP


@dataclass(frozen=True)
class FlowMonth:
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    month: str  # YYYY-MM
    claims: int
    medfee_fen: int
    fund_fen: int


def _scoped(stmt: Select[Unpack[_Columns]], admdvs: str | None, date_from: date | None,
            date_to: date | None) -> Select[Unpack[_Columns]]:
    stmt = stmt.where(SettlementRow.status == "settled")
    if admdvs:
        stmt = stmt.where(RegionScope(admdvs).where(SettlementRow.insuplc_admdvs))
    if date_from:
        stmt = stmt.where(SettlementRow.setl_date >= date_from)
    if date_to:
        stmt = stmt.where(SettlementRow.setl_date <= date_to)
    return stmt


def direct_settlement_rates(ctx: AppContext, *, admdvs: str | None = None, date_from: date | None = None,
                            date_to: date | None = None, cross_province_only: bool = False) -> list[DirectRate]:
    """One rate per medical class (inpatient, outpatient, chronic), remote claims only (insured ≠ treatment)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    with ctx.unit_of_work() as session:
        stmt = _scoped(select(SettlementRow.med_type, SettlementRow.kind, SettlementRow.insuplc_admdvs,
                              SettlementRow.mdtrtarea_admvs, func.count()), admdvs, date_from, date_to)
        stmt = stmt.where(SettlementRow.insuplc_admdvs != SettlementRow.mdtrtarea_admvs)
        stmt = stmt.group_by(SettlementRow.med_type, SettlementRow.kind, SettlementRow.insuplc_admdvs,
                             SettlementRow.mdtrtarea_admvs)
        for med_type, kind, insured, treatment, count in session.execute(stmt):
            if cross_province_only and same_province(insured, treatment):
                continue
            med_class = MED_CLASS_OF.get(med_type)
            if med_class is not None:
                counts[(med_class.value, kind)] += int(count)
    return [DirectRate(cls.value, counts[(cls.value, "direct")], counts[(cls.value, "manual")])
            for cls in (MedClass.INPATIENT, MedClass.OUTPATIENT, MedClass.CHRONIC, MedClass.SPECIAL_DRUG)]


def flows_by_month(ctx: AppContext, *, admdvs: str | None = None, date_from: date | None = None,
                   date_to: date | None = None) -> list[FlowMonth]:
    """Claims, medical fees and fund paid per insured → treatment region pair and month (remote only)."""
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    with ctx.unit_of_work() as session:
        # Group by day in SQL (portable), fold the days into months here.
        stmt = _scoped(select(SettlementRow.insuplc_admdvs, SettlementRow.mdtrtarea_admvs, SettlementRow.setl_date,
                              func.count(), func.sum(SettlementRow.medfee_sumamt),
                              func.sum(SettlementRow.fund_pay_sumamt)), admdvs, date_from, date_to)
        stmt = stmt.where(SettlementRow.insuplc_admdvs != SettlementRow.mdtrtarea_admvs)
        stmt = stmt.group_by(SettlementRow.insuplc_admdvs, SettlementRow.mdtrtarea_admvs, SettlementRow.setl_date)
        for insured, treatment, day, count, medfee, fund in session.execute(stmt):
            entry = totals[(insured, treatment, day.strftime("%Y-%m"))]
            entry[0] += int(count)
            entry[1] += int(medfee or 0)
            entry[2] += int(fund or 0)
    return [FlowMonth(i, t, m, *values) for (i, t, m), values in sorted(totals.items())]


def fund_by_month(flows: list[FlowMonth]) -> list[tuple[str, int]]:
    """Fund paid per month over all region pairs (for the bar chart)."""
    months: dict[str, int] = defaultdict(int)
    for flow in flows:
        months[flow.month] += flow.fund_fen
    return sorted(months.items())


@dataclass(frozen=True)
class SettlementTotal:
    """Standing (settled) settlements of one month, insured region, treatment region, institution and kind."""

    month: str  # YYYY-MM
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    fixmedins_code: str
    kind: str
    count: int
    medfee_fen: int
    fund_fen: int


def settlement_totals(ctx: AppContext, scope: RegionScope, *, date_from: date | None = None,
                      date_to: date | None = None) -> list[SettlementTotal]:
    """Totals of settled settlements whose insured or treatment region is within ``scope``, by month, region
    pair, institution and kind, in that order (the agency's reconciliation page)."""
    totals: dict[tuple[str, str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    with ctx.unit_of_work() as session:
        stmt = select(SettlementRow.setl_date, SettlementRow.insuplc_admdvs, SettlementRow.mdtrtarea_admvs,
                      SettlementRow.fixmedins_code, SettlementRow.kind, func.count(),
                      func.sum(SettlementRow.medfee_sumamt), func.sum(SettlementRow.fund_pay_sumamt)
                      ).where(SettlementRow.status == "settled",
                              scope.where(SettlementRow.insuplc_admdvs, SettlementRow.mdtrtarea_admvs))
        if date_from:
            stmt = stmt.where(SettlementRow.setl_date >= date_from)
        if date_to:
            stmt = stmt.where(SettlementRow.setl_date <= date_to)
        # Grouped by day in SQL (portable), folded into months here.
        stmt = stmt.group_by(SettlementRow.setl_date, SettlementRow.insuplc_admdvs, SettlementRow.mdtrtarea_admvs,
                             SettlementRow.fixmedins_code, SettlementRow.kind)
        for day, insured, treatment, hospital, kind, count, medfee, fund in session.execute(stmt):
            entry = totals[(day.strftime("%Y-%m"), insured, treatment, hospital, kind)]
            entry[0] += int(count)
            entry[1] += int(medfee or 0)
            entry[2] += int(fund or 0)
    return [SettlementTotal(*key, *values) for key, values in sorted(totals.items())]
