"""Who sees which part of the funds documents (C1, C2): one rule for the JSON API (api/funds.py) and the
agency pages (web/agency.py), so that a page never shows more than the API would.

A national account (a supervisor) sees the national documents. An agency sees the part that concerns its
region — flows it pays (insured there) or receives (treated there), its own city statements (a province
agency: its province's cities), its province's prepayment lines — never another region's figures or national
totals (run totals, province transfers, statement sums).
"""

from __future__ import annotations

from typing import Any

from yidi.domain.errors import YidiError
from yidi.services.clearing import ClearingStatement
from yidi.services.scope import RegionScope
from yidi.services.users import Principal


def is_national(principal: Principal) -> bool:
    return principal.role == "supervisor"


def touches(principal: Principal, *admdvs: str) -> bool:
    """The agency's region is one end (a province agency covers its cities; a city agency its province's lines)."""
    return any(principal.can_act_for_region(code) or RegionScope(code).covers(principal.admdvs) for code in admdvs)


def runs(principal: Principal, all_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """services.clearing.list_runs as the principal may see it: an agency gets the months, not the totals."""
    if is_national(principal):
        return all_runs
    return [{"month": run["month"], "period_end": run["period_end"]} for run in all_runs]


def statement(principal: Principal, national: ClearingStatement) -> ClearingStatement:
    """The national statement for a national account, else the agency region's part of it."""
    return national if is_national(principal) else national.part_for(principal.admdvs or "")


def city_statement(principal: Principal, visible: ClearingStatement, admdvs: str) -> dict[str, Any]:
    """One city's statement from what the principal sees: FORBIDDEN for another region's city."""
    principal.require_region(admdvs)
    if admdvs not in visible.cities():
        raise YidiError("NOT_FOUND", {"what": "市级清算单", "key": f"{visible.month} {admdvs}"})
    return visible.city_statement(admdvs)


def prepayment_lines(principal: Principal, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prepayment lines (confirmed or planned, as dicts) with the agency's region at one end."""
    if is_national(principal):
        return lines
    return [line for line in lines if touches(principal, line["payer_admdvs"], line["payee_admdvs"])]
