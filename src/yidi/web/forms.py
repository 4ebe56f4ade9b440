"""Reading form fields into domain values; a bad field becomes INVALID_INPUT naming it (never a 500)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from yidi.adapters.orm import InstitutionRow, RegionRow
from yidi.domain.catalog import FeeItem
from yidi.domain.filing import FilingType, temporary_enddate
from yidi.domain.errors import invalid
from yidi.domain.money import MoneyFormatError, yuan_to_fen
from yidi.services.context import AppContext

MAX_FEE_ROWS = 8


def parse_date(value: str | None, field_name: str, *, required: bool = True) -> date | None:
    if not value:
        if required:
            raise invalid(field_name, "请填写日期")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field_name, "日期格式应为 YYYY-MM-DD") from None


def parse_yuan(value: str, field_name: str) -> int:
    try:
        return yuan_to_fen(value)
    except MoneyFormatError:
        raise invalid(field_name, "金额应为数字，最多两位小数") from None


def parse_qty(value: str, field_name: str) -> Decimal:
    try:
        qty = Decimal(value or "1")
    except InvalidOperation:
        raise invalid(field_name, "数量应为数字") from None
    if not qty.is_finite() or qty <= 0 or qty > 10_000:
        raise invalid(field_name, "数量应大于0")
    return qty


def parse_items(codes: list[str], amounts: list[str], qtys: list[str] | None = None) -> tuple[FeeItem, ...]:
    """Rows of (code, amount in yuan[, quantity]); empty rows are skipped."""
    items = []
    qtys = qtys or []
    for index, code in enumerate(codes):
        amount = amounts[index] if index < len(amounts) else ""
        if not code and not amount:
            continue
        if not code:
            raise invalid(f"items[{index}].code", "请填写项目编码")
        qty = parse_qty(qtys[index] if index < len(qtys) else "1", f"items[{index}].qty")
        items.append(FeeItem(code=code.upper(), amount_fen=parse_yuan(amount, f"items[{index}].amount"), qty=qty))
    if not items:
        raise invalid("items", "请至少填写一项费用")
    return tuple(items)


def region_names(ctx: AppContext) -> dict[str, str]:
    with ctx.unit_of_work() as session:
        return {row.admdvs: row.name for row in session.scalars(select(RegionRow).order_by(RegionRow.admdvs))}


def institutions(ctx: AppContext, *, admdvs: str | None = None, level: int | None = None) -> list[InstitutionRow]:
    """Networked institutions (异地联网定点医药机构); a province code finds its cities' institutions too."""
    with ctx.unit_of_work() as session:
        stmt = select(InstitutionRow).where(InstitutionRow.networked.is_(True)).order_by(
            InstitutionRow.admdvs, InstitutionRow.level.desc(), InstitutionRow.fixmedins_code)
        if admdvs:
            stmt = stmt.where(InstitutionRow.admdvs.like(admdvs[:2] + "%") if admdvs.endswith("0000")
                              else InstitutionRow.admdvs == admdvs)
        if level:
            stmt = stmt.where(InstitutionRow.level == level)
        return list(session.scalars(stmt))


def catalog_items(ctx: AppContext, admdvs: str, on: date) -> list[tuple[str, str]]:
    """(code, name) of the treatment region's catalog, for the fee-line pickers."""
    catalog = ctx.policy.catalog(admdvs, on)
    if catalog is None:
        return []
    return sorted((code, item.name) for code, item in catalog.items.items())


VALIDITY_EXAMPLE_BEGIN = date(2023, 6, 1)  # the example the pages give: 2023-06-01 → 2023-11-30


def filing_guide(ctx: AppContext, insuplc_admdvs: str, on: date) -> dict:
    """What the filing pages explain, read from the insured region's policy so the text follows the rules:
    how long a temporary filing lasts and on which day it ends (filing.temporary_validity_*), for which types
    a commitment is accepted (filing.commitment_allowed_for) and how long it locks a long-term filing, and
    whether an emergency is settled without any filing (remote.emergency_waives_filing)."""
    policy = ctx.policy.insured_policy(insuplc_admdvs, on).params
    rules = policy.filing
    allowed = set(rules.commitment_allowed_for.value)
    return {"rules": rules, "months": rules.temporary_validity_months.value,
            "lock_months": rules.commitment_lock_months.value,
            "example_begin": VALIDITY_EXAMPLE_BEGIN, "example_end": temporary_enddate(VALIDITY_EXAMPLE_BEGIN, rules),
            "end_if_today": temporary_enddate(on, rules), "end_of": lambda begin: temporary_enddate(begin, rules),
            "commitment_allowed": allowed, "commitment_for_all": allowed >= set(FilingType),
            "emergency_waives_filing": policy.remote.emergency_waives_filing.value}
