"""Which regions an account sees — one rule, used by every page, /api route, CLI command and service.

A scope is a region code or none:

- none (``RegionScope.everywhere()``): a national account, e.g. a supervisor without a region, sees every region;
- a province-level code (``xx0000``, also a municipality such as 北京 110000): the province and all its cities;
- a city code: that city only;
- an account that should have a region and has none (``RegionScope.nowhere()``) sees nothing.

The same rule answers two questions: in Python ``covers(code)``, and in SQL ``where(*columns)`` — a
condition true for the rows whose region column (any of several, e.g. insured region or treatment region)
lies within the scope. A code that is not a valid six-digit division code is never read as a province: it
covers only itself, so a malformed filter never widens into a ``LIKE 'xx%'`` over someone else's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, false, or_, true

from yidi.domain.regions import is_province_level, is_valid_admdvs, same_province

if TYPE_CHECKING:
    from yidi.services.users import Principal

# Roles whose region is the scope of what they read; a supervisor without a region is national.
NATIONAL_ROLES = ("supervisor",)


@dataclass(frozen=True)
class RegionScope:
    """The regions within reach: ``admdvs`` None = every region; "" = none; else a city or a province."""

    admdvs: str | None

    @classmethod
    def everywhere(cls) -> RegionScope:
        return cls(None)

    @classmethod
    def nowhere(cls) -> RegionScope:
        return cls("")

    @classmethod
    def of_region(cls, admdvs: str | None) -> RegionScope:
        """A region filter as callers pass it: None or "" = no filter (every region), else that region."""
        return cls(admdvs or None)

    @property
    def national(self) -> bool:
        return self.admdvs is None

    @property
    def is_province(self) -> bool:
        """A valid province-level code: it reaches every city of its province."""
        return self.admdvs is not None and is_valid_admdvs(self.admdvs) and is_province_level(self.admdvs)

    @property
    def city(self) -> str | None:
        """The one city of a city-level scope (e.g. the insured city whose books a clerk keeps); else None."""
        return self.admdvs if self.admdvs and not is_province_level(self.admdvs) else None

    def covers(self, code: str | None) -> bool:
        """Is ``code`` (a city or province) within the scope?"""
        if self.admdvs is None:
            return True
        if not self.admdvs or not code:
            return False
        if code == self.admdvs:
            return True
        return self.is_province and same_province(self.admdvs, code)

    def covers_any(self, *codes: str | None) -> bool:
        return any(self.covers(code) for code in codes)

    def where(self, *columns: Any) -> ColumnElement[bool]:
        """SQL: the row's region — any of ``columns`` — lies within the scope."""
        if self.admdvs is None:
            return true()
        if not self.admdvs or not columns:
            return false()
        if self.is_province:
            prefix = self.admdvs[:2] + "%"  # two digits, never a LIKE wildcard (is_valid_admdvs)
            return or_(*(column.like(prefix) for column in columns))
        return or_(*(column == self.admdvs for column in columns))


def scope_of(principal: Principal) -> RegionScope:
    """What an account may read: a national supervisor everything, anyone else their region (none: nothing)."""
    if principal.admdvs is None:
        return RegionScope.everywhere() if principal.role in NATIONAL_ROLES else RegionScope.nowhere()
    return RegionScope(principal.admdvs)


def admin_scope(admin_admdvs: str | None) -> RegionScope:
    """An administrator's reach over accounts and credentials: no region = national."""
    return RegionScope.of_region(admin_admdvs)
