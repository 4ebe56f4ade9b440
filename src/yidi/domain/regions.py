"""Administrative division codes (admdvs): six digits, province = first two digits + 0000.

Municipalities (北京 110000, 上海 310000 …) are both province and city: a code whose last four
digits are zero is a province-level code and covers every city code that shares its first two.
"""

from __future__ import annotations

import re

ADMDVS_PATTERN = re.compile(r"^[1-8]\d{5}$")


def is_valid_admdvs(code: str) -> bool:
    return bool(ADMDVS_PATTERN.match(code or ""))


def province_of(code: str) -> str:
    return code[:2] + "0000"


def is_province_level(code: str) -> bool:
    return code.endswith("0000")


def same_province(a: str, b: str) -> bool:
    return a[:2] == b[:2]


def area_covers(filed_area: str, treatment_admdvs: str) -> bool:
    """Does a filing to ``filed_area`` (city or province, F2) cover an institution in ``treatment_admdvs``?"""
    if filed_area == treatment_admdvs:
        return True
    return is_province_level(filed_area) and same_province(filed_area, treatment_admdvs)


def same_pooling_area(insured_admdvs: str, treatment_admdvs: str) -> bool:
    """Treatment inside the insured pooling region (local treatment, or 'returning' for a filer)."""
    return area_covers(insured_admdvs, treatment_admdvs) if is_province_level(insured_admdvs) else (
        insured_admdvs == treatment_admdvs
    )
