"""Reading form fields into domain values; a bad field becomes INVALID_INPUT naming it (never a 500)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from yidi.adapters.orm import InstitutionRow, RegionRow
from yidi.domain.catalog import FeeItem
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
