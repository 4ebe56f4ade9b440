"""The reference directory as pages and commands read it: region names, persons, networked institutions.

Read-only use cases returning frozen values (never ORM rows), so that api/, web/ and the CLI show the directory
without a database session of their own. A province code given as a filter covers its cities
(services/scope.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from yidi.adapters.orm import InstitutionRow, PersonRow, RegionRow
from yidi.domain.errors import YidiError
from yidi.services.context import AppContext
from yidi.services.lookups import Institution
from yidi.services.scope import RegionScope


@dataclass(frozen=True)
class PersonCard:
    """An insured person as the pages show them (same attribute names as the persons table)."""

    psn_no: str
    name: str
    certno: str
    insuplc_admdvs: str
    insutype: str
    insu_status: str
    acct_balc: int  # fen (职工 personal account, B9)


def person_card(row: PersonRow) -> PersonCard:
    return PersonCard(row.psn_no, row.name, row.certno, row.insuplc_admdvs, row.insutype, row.insu_status,
                      row.acct_balc)


def institution_card(row: InstitutionRow) -> Institution:
    return Institution(row.fixmedins_code, row.name, row.admdvs, row.level, row.networked, row.kind)


def region_names(ctx: AppContext) -> dict[str, str]:
    """{admdvs: name} of every region in the directory, in code order."""
    with ctx.unit_of_work() as session:
        return {row.admdvs: row.name for row in session.scalars(select(RegionRow).order_by(RegionRow.admdvs))}


def require_known_region(ctx: AppContext, code: str) -> str:
    """``code`` if the directory knows the region; UNKNOWN_REGION (未知地区) otherwise."""
    with ctx.unit_of_work() as session:
        if session.get(RegionRow, code) is None:
            raise YidiError("UNKNOWN_REGION", {"key": code})
    return code


def person_names(ctx: AppContext, psn_nos: Iterable[str]) -> dict[str, str]:
    """Names beside person numbers: {psn_no: name} for the numbers a page lists."""
    wanted = sorted(set(psn_nos))
    if not wanted:
        return {}
    with ctx.unit_of_work() as session:
        return {psn_no: name for psn_no, name in session.execute(
            select(PersonRow.psn_no, PersonRow.name).where(PersonRow.psn_no.in_(wanted)))}


def person(ctx: AppContext, psn_no: str) -> PersonCard:
    """One person; UNKNOWN_PERSON when the number is not in the directory."""
    with ctx.unit_of_work() as session:
        row = session.get(PersonRow, psn_no) if psn_no else None
        if row is None:
            raise YidiError("UNKNOWN_PERSON", {"key": psn_no})
        return person_card(row)


def persons(ctx: AppContext, psn_nos: Iterable[str]) -> dict[str, PersonCard]:
    """{psn_no: person} for the numbers a page lists (unknown numbers are left out)."""
    wanted = sorted(set(psn_nos))
    if not wanted:
        return {}
    with ctx.unit_of_work() as session:
        return {row.psn_no: person_card(row)
                for row in session.scalars(select(PersonRow).where(PersonRow.psn_no.in_(wanted)))}


def institution(ctx: AppContext, fixmedins_code: str) -> Institution:
    """A networked institution by code; UNKNOWN_INSTITUTION otherwise (also when it left the network)."""
    with ctx.unit_of_work() as session:
        row = session.get(InstitutionRow, fixmedins_code) if fixmedins_code else None
        if row is None or not row.networked:
            raise YidiError("UNKNOWN_INSTITUTION", {"key": fixmedins_code})
        return institution_card(row)


def institutions(ctx: AppContext, *, admdvs: str | None = None, level: int | None = None) -> list[Institution]:
    """Networked institutions (异地联网定点医药机构) by region, then level (highest first), then code;
    a province code finds its cities' institutions too."""
    with ctx.unit_of_work() as session:
        stmt = select(InstitutionRow).where(InstitutionRow.networked.is_(True)).order_by(
            InstitutionRow.admdvs, InstitutionRow.level.desc(), InstitutionRow.fixmedins_code)
        if admdvs:
            stmt = stmt.where(RegionScope(admdvs).where(InstitutionRow.admdvs))
        if level:
            stmt = stmt.where(InstitutionRow.level == level)
        return [institution_card(row) for row in session.scalars(stmt)]


def institution_names(ctx: AppContext) -> dict[str, str]:
    """{fixmedins_code: name} of the networked institutions, for the code columns of lists."""
    return {found.fixmedins_code: found.name for found in institutions(ctx)}
