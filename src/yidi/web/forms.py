"""Reading form fields into domain values; a bad field becomes INVALID_INPUT naming it (never a 500)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from yidi.domain.catalog import FeeItem
from yidi.domain.filing import FilingType, temporary_enddate
from yidi.domain.errors import invalid
from yidi.domain.money import MoneyFormatError, yuan_to_fen
from yidi.services.context import AppContext
from yidi.services.lookups import Institution
from yidi.wording import field_label

MAX_FEE_ROWS = 8


def parse_date(value: str | None, field_name: str, *, required: bool = True) -> date | None:
    if not value:
        if required:
            raise invalid(field_name, "请填写日期")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise invalid(field_name, f"没有 {value} 这一天，请核对月份和日期") from None
        raise invalid(field_name, f"“{value}”不是日期，请按 年-月-日 填写，如 2024-03-01") from None


def parse_period(begin: str | None, end: str | None, begin_field: str, end_field: str, *,
                 end_required: bool = False) -> tuple[date, date | None]:
    """A start and an end date; an end before the start is said as that."""
    start = parse_date(begin, begin_field)
    finish = parse_date(end, end_field, required=end_required)
    if finish is not None and finish < start:
        end_label, begin_label = field_label(end_field)[0], field_label(begin_field)[0]
        raise invalid(end_field, f"{end_label} {finish} 早于{begin_label} {start}，请核对")
    return start, finish


def parse_yuan(value: str, field_name: str) -> int:
    if not value:
        raise invalid(field_name, "请填写金额")
    try:
        return yuan_to_fen(value.replace(",", "").replace("，", ""))
    except MoneyFormatError:
        raise invalid(field_name, f"“{value}”不是金额，请填写数字，最多两位小数，如 1200.50") from None


def parse_qty(value: str, field_name: str) -> Decimal:
    try:
        qty = Decimal(value or "1")
    except InvalidOperation:
        raise invalid(field_name, f"“{value}”不是数量，请填写数字") from None
    if not qty.is_finite() or qty <= 0 or qty > 10_000:
        raise invalid(field_name, "数量应大于0且不超过10000")
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
            raise invalid(f"items[{index}].code", "请填写项目编码（可从列表中选择）")
        qty = parse_qty(qtys[index] if index < len(qtys) else "1", f"items[{index}].qty")
        items.append(FeeItem(code=code.upper(), amount_fen=parse_yuan(amount, f"items[{index}].amount"), qty=qty))
    if not items:
        raise invalid("items[0].code", "请至少填写一项费用（项目编码和金额）")
    return tuple(items)


def catalog_items(ctx: AppContext, admdvs: str, on: date) -> list[tuple[str, str]]:
    """(code, name) of the treatment region's catalog, for the fee-line pickers."""
    catalog = ctx.policy.catalog(admdvs, on)
    if catalog is None:
        return []
    return sorted((code, item.name) for code, item in catalog.items.items())


def all_catalog_items(ctx: AppContext, hospitals: list[Institution]) -> list[tuple[str, str]]:
    """(code, name) of every listed institution's catalog, for a form not yet tied to one institution."""
    items: dict[str, str] = {}
    for hospital in hospitals:
        for code, name in catalog_items(ctx, hospital.admdvs, date.today()):
            items.setdefault(code, name)
    return sorted(items.items())


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
