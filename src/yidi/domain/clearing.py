"""Funds arithmetic, pure (no database): clearing periods, flows, prepayment, allocation (C1, C2).

Seed 001 四(一): "每年1月底前，国家级经办机构原则上根据上年第四季度医保结算资金月平均值的两倍核定年度预付金额度，
并确认当年预付金调整额度。" — so prepayment = 2 × (Q4 total ÷ 3), rounded half-up to the fen.
Seed 001 四(二): "国家统一清分，省、市两级清算的方式，按月全额清算" — flows are cleared per insured
city → treatment city, rolled up to provinces for the transfers between provincial fiscal accounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from yidi.domain.errors import invalid
from yidi.domain.regions import province_of, same_province

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str) -> tuple[date, date]:
    """``'2024-03'`` -> (2024-03-01, 2024-03-31); anything else is INVALID_INPUT."""
    match = _MONTH.match(month or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise invalid("month", "清算月份格式应为 YYYY-MM，如 2024-03")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def previous_month(month: str) -> str:
    first, _ = month_bounds(month)
    last_of_previous = first - timedelta(days=1)
    return f"{last_of_previous.year:04d}-{last_of_previous.month:02d}"


def previous_q4(year: int) -> tuple[date, date]:
    """The quarter whose settlements set ``year``'s prepayment: October–December of the year before."""
    return date(year - 1, 10, 1), date(year - 1, 12, 31)


def prepayment_amount(q4_total_fen: int) -> int:
    """2 × the monthly average of the Q4 total (three months), half-up to the fen (C1)."""
    exact = Decimal(2) * Decimal(q4_total_fen) / Decimal(3)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def prepayment_flow(insuplc_admdvs: str, mdtrtarea_admvs: str) -> tuple[str, str]:
    """Who prepays whom. Cross-province: insured province → treatment province (the national
    agency prepays between provinces); inside a province: insured city → treatment city."""
    if same_province(insuplc_admdvs, mdtrtarea_admvs):
        return insuplc_admdvs, mdtrtarea_admvs
    return province_of(insuplc_admdvs), province_of(mdtrtarea_admvs)


def allocate(total_fen: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total_fen`` over keys in proportion to ``weights`` so that the parts add up exactly
    (largest remainder; ties go to the smaller key). Used to share a province's prepayment among the
    cities whose settlements made it (各省可通过预收省内各统筹地区异地就医资金等方式实现资金的预付)."""
    positive = {key: weight for key, weight in weights.items() if weight > 0}
    if not positive:
        return {key: 0 for key in weights}
    weight_sum = sum(positive.values())
    sign = -1 if total_fen < 0 else 1
    magnitude = abs(total_fen)
    floors = {key: magnitude * weight // weight_sum for key, weight in positive.items()}
    remainders = sorted(positive, key=lambda key: (-(magnitude * positive[key] % weight_sum), key))
    for key in remainders[: magnitude - sum(floors.values())]:
        floors[key] += 1
    return {key: sign * floors.get(key, 0) for key in weights}


@dataclass(frozen=True)
class FlowAmount:
    """One insured city → treatment city flow in a clearing period (amounts in fen)."""

    insuplc_admdvs: str
    mdtrtarea_admvs: str
    current_count: int
    current_fen: int
    adjustment_count: int
    adjustment_fen: int

    @property
    def net_fen(self) -> int:
        return self.current_fen + self.adjustment_fen

    @property
    def insured_province(self) -> str:
        return province_of(self.insuplc_admdvs)

    @property
    def treatment_province(self) -> str:
        return province_of(self.mdtrtarea_admvs)

    @property
    def cross_province(self) -> bool:
        return not same_province(self.insuplc_admdvs, self.mdtrtarea_admvs)


@dataclass(frozen=True)
class ProvinceTransfer:
    """全额清算: what the insured province's fiscal account pays the treatment province's (gross, per direction)."""

    from_province: str
    to_province: str
    current_fen: int
    adjustment_fen: int
    count: int

    @property
    def net_fen(self) -> int:
        return self.current_fen + self.adjustment_fen


def province_transfers(flows: Iterable[FlowAmount]) -> list[ProvinceTransfer]:
    """National 清分: cross-province flows rolled up to insured province × treatment province."""
    totals: dict[tuple[str, str], list[int]] = {}
    for flow in flows:
        if not flow.cross_province:
            continue
        bucket = totals.setdefault((flow.insured_province, flow.treatment_province), [0, 0, 0])
        bucket[0] += flow.current_fen
        bucket[1] += flow.adjustment_fen
        bucket[2] += flow.current_count + flow.adjustment_count
    return [ProvinceTransfer(src, dst, cur, adj, count) for (src, dst), (cur, adj, count) in sorted(totals.items())]


def net_positions(transfers: Iterable[ProvinceTransfer]) -> dict[str, int]:
    """Per province: receivable (as treatment province) minus payable (as insured province)."""
    positions: dict[str, int] = {}
    for transfer in transfers:
        positions[transfer.from_province] = positions.get(transfer.from_province, 0) - transfer.net_fen
        positions[transfer.to_province] = positions.get(transfer.to_province, 0) + transfer.net_fen
    return dict(sorted(positions.items()))


def contribution(setl_date: date, cancelled_on: date | None, start: date, end: date) -> str | None:
    """Where one cross-region direct settlement falls in the clearing period [start, end] — the same
    rule as adapters/analytics.CLEARING_SQL, for checks one settlement at a time (C4):
    ``'current'`` (当月, counted +), ``'adjustment'`` (cleared in an earlier month and cancelled in this
    one, counted −) or ``None``."""
    if start <= setl_date <= end and (cancelled_on is None or cancelled_on > end):
        return "current"
    if (setl_date < start and cancelled_on is not None and start <= cancelled_on <= end
            and cancelled_on > month_bounds(f"{setl_date.year:04d}-{setl_date.month:02d}")[1]):
        return "adjustment"
    return None
