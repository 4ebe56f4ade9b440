"""Reading the interface's ``input`` the way real HIS payloads are written — and refusing what breaks a rule.

Tolerated: numbers as JSON numbers or strings (``"cnt": "-20.0"``), dates as ``2023-03-01``,
``2023-03-01 08:00:00`` or ``20230301``, sections wrapped (``{"data": {...}}``) or flat.
Refused with INVALID_INPUT naming the field path: a missing required field, text where a number is
needed, more than two decimals on money, an unknown dictionary code. Nothing is ever silently fixed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import MoneyFormatError, yuan_to_fen

MED_TYPES = ("11", "14", "15", "21", "22", "23")
# Outpatient med_type codes of the national dictionary read as the ones this project settles: 12 门诊挂号 is
# a 普通门诊, 13 急诊 a 普通门诊 marked emergency; 15 特药 is settled as itself (B11). Other outpatient-family
# codes (19, 41, 51 …) are refused with MED_TYPE_NOT_SUPPORTED, never settled as something else.
OUTPATIENT_READINGS = {"11": ("11", False), "12": ("11", False), "13": ("11", True), "14": ("14", False),
                       "15": ("15", False)}
INPATIENT_MED_TYPES = ("21", "22", "23")
INSUTYPES = ("310", "390")
CERT_TYPES = ("01", "02", "03")
MAX_TEXT = 200
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?", re.ASCII)


class Fields:
    """One input object with its path, e.g. ``feedetail[3]``, used to name fields in errors."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise invalid(path or "input", "应为对象（JSON object）")
        self.data = data
        self.path = path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        value = self.data.get(key)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def text(self, key: str, *, required: bool = True, max_len: int = MAX_TEXT) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise invalid(self.name(key), "缺少该字段")
            return None
        if isinstance(value, (dict, list, bool)):
            raise invalid(self.name(key), "应为文本")
        text = str(value).strip()
        if len(text) > max_len:
            raise invalid(self.name(key), f"超过 {max_len} 个字符")
        return text

    def code(self, key: str, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        if isinstance(self.data.get(key), int):  # 21 sent as a number
            value = str(self.data[key])
        if value not in allowed:
            raise invalid(self.name(key), f"取值 {value} 不在字典中（可用 {'/'.join(allowed)}）")
        return value

    def outpatient_med_type(self, key: str = "med_type", *, required: bool = False) -> tuple[str, bool] | None:
        """(med_type as settled here, emergency) for an outpatient transaction; see OUTPATIENT_READINGS."""
        value = self.text(key, required=required, max_len=8)
        if value is None:
            return None
        if value in OUTPATIENT_READINGS:
            return OUTPATIENT_READINGS[value]
        if value in INPATIENT_MED_TYPES:
            raise invalid(self.name(key), "住院医疗类别请使用住院交易（2401/23xx）")
        if not value.isdigit():
            raise invalid(self.name(key), f"取值 {value} 不是医疗类别代码")
        raise YidiError("MED_TYPE_NOT_SUPPORTED", {"med_type": value})

    def decimal(self, key: str, *, required: bool = True, places: int = 6) -> Decimal | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise invalid(self.name(key), "缺少该字段")
            return None
        if isinstance(value, (bool, dict, list)):
            raise invalid(self.name(key), "应为数字")
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise invalid(self.name(key), f"不是数字：{str(value)[:20]}") from None
        if not number.is_finite():
            raise invalid(self.name(key), "不是有限数字")
        if abs(number) >= Decimal(10) ** 12:
            raise invalid(self.name(key), "数值超出合理范围")
        if number != number.quantize(Decimal(1).scaleb(-places)):
            raise invalid(self.name(key), f"最多 {places} 位小数")
        return number

    def money(self, key: str, *, required: bool = True) -> int | None:
        """Yuan (number or string, at most two decimals) → integer fen."""
        value = self.raw(key)
        if value is None:
            if required:
                raise invalid(self.name(key), "缺少该字段")
            return None
        if isinstance(value, (bool, dict, list)):
            raise invalid(self.name(key), "应为金额数字")
        try:
            return yuan_to_fen(value)
        except MoneyFormatError as exc:
            raise invalid(self.name(key), str(exc)[:60]) from None

    def date(self, key: str, *, required: bool = True) -> date | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise invalid(self.name(key), "缺少该字段")
            return None
        text = str(value).strip()
        if _ISO_DAY.fullmatch(text):  # the usual forms, read by the C parser (strptime costs ~20 µs a field)
            try:
                parsed = datetime.fromisoformat(text).date()
            except ValueError:
                parsed = None
            if parsed is not None and 1900 <= parsed.year <= 2100:
                return parsed
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d"):
            try:
                parsed = datetime.strptime(text, fmt).date()
            except ValueError:
                continue
            if not 1900 <= parsed.year <= 2100:
                break
            return parsed
        raise invalid(self.name(key), f"日期格式应为 yyyy-MM-dd 或 yyyy-MM-dd HH:mm:ss：{text[:20]}")

    def flag(self, key: str, *, default: bool | None = None) -> bool | None:
        value = self.raw(key)
        if value is None:
            return default
        if value in (True, 1, "1", "true", "Y", "y"):
            return True
        if value in (False, 0, "0", "false", "N", "n"):
            return False
        raise invalid(self.name(key), "应为 1/0")

    def obj(self, key: str, *, required: bool = True) -> "Fields | None":
        value = self.data.get(key)
        if value is None:
            if required:
                raise invalid(self.name(key), "缺少该字段")
            return None
        return Fields(value, self.name(key))

    def rows(self, key: str) -> list["Fields"]:
        value = self.data.get(key)
        if value is None:
            raise invalid(self.name(key), "缺少该字段")
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise invalid(self.name(key), "应为数组")
        return [Fields(entry, f"{self.name(key)}[{index}]") for index, entry in enumerate(value)]


def section(input_data: Any, *names: str) -> Fields:
    """The national interface wraps inputs (``data``, ``mdtrtinfo``, ``dscginfo``); some vendors send them flat."""
    top = Fields(input_data, "")
    for name in names:
        if isinstance(input_data.get(name), dict):
            return Fields(input_data[name], name)
        if isinstance(input_data.get(name), list) and len(input_data[name]) == 1 and isinstance(input_data[name][0], dict):
            return Fields(input_data[name][0], name)
    return top


def require_same(fields: Fields, key: str, expected: str) -> None:
    """An optional echo field (e.g. psn_no next to mdtrt_id) must agree with what we know."""
    value = fields.text(key, required=False)
    if value is not None and value != expected:
        raise invalid(fields.name(key), "与就诊记录不符")


def discharge_date(data: Fields, required: bool) -> date | None:
    """The discharge date: ``endtime`` or, as many HIS send it, ``dscg_time`` / ``dscgTime`` (2303/2304 without
    a 2402)."""
    given = (data.date("endtime", required=False) or data.date("dscg_time", required=False)
             or data.date("dscgTime", required=False))
    if given is None and required:
        raise invalid(data.name("endtime"), "缺少该字段（或 dscg_time）")
    return given
