"""services/scope.py: the one rule for which regions an account sees — national all, a province its province and
cities, a city itself — in Python (covers) and in SQL (where) against a real database, with its edges."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yidi.adapters.orm import InstitutionRow, PersonRow
from yidi.services import casework, directory, statistics
from yidi.services.scope import RegionScope, admin_scope, scope_of
from yidi.services.users import Principal

HENAN, JIAOZUO, ZHENGZHOU, HUBEI, WUHAN, BEIJING = "410000", "410800", "410100", "420000", "420100", "110000"


def agency(admdvs: str | None) -> Principal:
    return Principal("clerk", "agency", admdvs)


@pytest.mark.parametrize("scope, code, covered", [
    (RegionScope.everywhere(), JIAOZUO, True),
    (RegionScope.everywhere(), None, True),
    (RegionScope(HENAN), HENAN, True),  # a province covers itself
    (RegionScope(HENAN), JIAOZUO, True),  # … and its cities
    (RegionScope(HENAN), ZHENGZHOU, True),
    (RegionScope(HENAN), WUHAN, False),  # … not another province's
    (RegionScope(HENAN), HUBEI, False),
    (RegionScope(JIAOZUO), JIAOZUO, True),  # a city covers itself
    (RegionScope(JIAOZUO), ZHENGZHOU, False),  # … not its neighbour
    (RegionScope(JIAOZUO), HENAN, False),  # … nor its province
    (RegionScope(BEIJING), BEIJING, True),  # a municipality is province and city at once
    (RegionScope(BEIJING), "110100", True),
    (RegionScope.nowhere(), JIAOZUO, False),  # an account without its region sees nothing
    (RegionScope.nowhere(), "", False),
    (RegionScope(JIAOZUO), None, False),
    (RegionScope(JIAOZUO), "", False),
    (RegionScope("41000"), "410800", False),  # not a valid code: never read as a province
    (RegionScope("4100000"), "410800", False),
    (RegionScope("%%0000"), "410800", False),
])
def test_covers(scope: RegionScope, code: str | None, covered: bool):
    assert scope.covers(code) is covered


def test_scope_of_an_account():
    assert scope_of(Principal("sup", "supervisor")).national  # a national supervisor
    assert scope_of(Principal("sup", "supervisor", HENAN)) == RegionScope(HENAN)  # a provincial one
    assert scope_of(agency(JIAOZUO)) == RegionScope(JIAOZUO)
    assert scope_of(agency(None)) == RegionScope.nowhere()  # an agency without a region: nothing, not everything
    assert scope_of(Principal("p", "person")).covers(JIAOZUO) is False
    assert admin_scope(None).national and admin_scope("").national  # a national administrator
    assert admin_scope(HENAN).covers(JIAOZUO) and not admin_scope(JIAOZUO).covers(HENAN)


def test_principal_checks_are_the_scope():
    for principal in (agency(HENAN), agency(JIAOZUO), agency(None), Principal("s", "supervisor"),
                      Principal("s", "supervisor", HUBEI), Principal("p", "person", psn_no="P001")):
        for code in (HENAN, JIAOZUO, ZHENGZHOU, WUHAN, BEIJING):
            assert principal.can_act_for_region(code) is scope_of(principal).covers(code)


def test_city_of_a_scope():
    assert RegionScope(JIAOZUO).city == JIAOZUO
    assert RegionScope(HENAN).city is None and RegionScope.everywhere().city is None
    assert RegionScope.nowhere().city is None


def _institutions_within(ctx, scope: RegionScope) -> list[str]:
    with ctx.unit_of_work() as session:
        return sorted(session.scalars(select(InstitutionRow.fixmedins_code).where(scope.where(InstitutionRow.admdvs))))


def test_sql_filter_agrees_with_covers(ctx):
    with ctx.unit_of_work() as session:
        every = {code: admdvs for code, admdvs in session.execute(
            select(InstitutionRow.fixmedins_code, InstitutionRow.admdvs))}
    for scope in (RegionScope.everywhere(), RegionScope(HENAN), RegionScope(JIAOZUO), RegionScope(BEIJING),
                  RegionScope(HUBEI), RegionScope.nowhere(), RegionScope("41%"), RegionScope("4100000")):
        expected = sorted(code for code, admdvs in every.items() if scope.covers(admdvs))
        assert _institutions_within(ctx, scope) == expected, scope
    assert _institutions_within(ctx, RegionScope(HENAN)) == ["H41010000001", "H41080000001", "H41080000002",
                                                             "P41010000001", "P41010000002"]  # 郑州's two pharmacies
    assert _institutions_within(ctx, RegionScope("41%")) == []  # a LIKE pattern is not a scope


def test_sql_filter_over_two_columns(ctx):
    """Insured or treatment region: a row is within reach when either end is."""
    scope = RegionScope(JIAOZUO)
    with ctx.unit_of_work() as session:
        found = sorted(session.scalars(select(PersonRow.psn_no).where(
            scope.where(PersonRow.insuplc_admdvs, PersonRow.insuplc_admdvs))))
    assert found == ["P001", "P004"]
    with ctx.unit_of_work() as session:
        assert list(session.scalars(select(PersonRow.psn_no).where(RegionScope(JIAOZUO).where()))) == []


def test_services_use_the_scope(ctx):
    assert [p.psn_no for p in casework.find_persons(ctx, RegionScope(HENAN), "P00")] == []  # no name matches
    assert sorted(p.psn_no for p in casework.find_persons(ctx, RegionScope(HENAN), "五")) == []
    assert sorted(p.psn_no for p in casework.find_persons(ctx, RegionScope(HUBEI), "五")) == ["P003"]
    assert sorted(p.psn_no for p in casework.find_persons(ctx, RegionScope.everywhere(), "五")) == ["P002", "P003"]
    assert casework.find_persons(ctx, RegionScope.nowhere(), "P001") == []
    assert [p.psn_no for p in casework.find_persons(ctx, RegionScope(JIAOZUO), "410802195501011234")] == ["P001"]
    assert [i.fixmedins_code for i in directory.institutions(ctx, admdvs=HENAN, level=3)] == [
        "H41010000001", "H41080000001"]
    assert statistics.settlement_totals(ctx, RegionScope(HENAN)) == []
