"""F11, one person lookup (services/person_lookup.py) for 1101, the desk page and every other caller: which
filings are listed, which cover, and what an uncovered person is told — on the day asked. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from yidi.services.filings import FileCommand, file_filing
from yidi.services.person_lookup import find_person_by_cert
from yidi.services.reference import add_person

ZHANG_SAN = "410802195501011234"


def _file(ctx, **overrides):
    fields = dict(psn_no="P001", filing_type="retired_relocated", basis="proof", mdtrtarea_admvs="110000",
                  begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10), channel="window")
    return file_filing(ctx, FileCommand(**(fields | overrides)))


def test_f11_a_pending_filing_is_listed_as_pending_and_the_notice_says_it_awaits_approval(ctx):
    filing = _file(ctx, channel="app", begndate=date(2023, 6, 1), apply_date=date(2023, 6, 1))
    person = find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 6, 2))
    assert [(f.filing_id, f.status) for f in person.filings] == [(filing.filing_id, "pending")]
    # not valid for settlement yet: the notice is the refusal settlement gives (FILING_PENDING), not "not filed"
    assert person.filing_notice.startswith("备案尚在审核中") and "2023-06-05" in person.filing_notice


def test_f11_a_temporary_filing_past_its_end_is_not_listed_on_the_day_asked(ctx):
    _file(ctx, filing_type="other_temporary", begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10))
    during = find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 3, 1))
    assert [f.filing_type for f in during.filings] == ["other_temporary"] and during.filing_notice is None
    after = find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2024, 3, 1))
    assert after.filings == () and after.filing_notice.startswith("未查询到")


def test_f11_a_filing_that_starts_later_is_listed_but_does_not_cover_today(ctx):
    filing = _file(ctx, begndate=date(2023, 5, 1), apply_date=date(2023, 4, 20))
    person = find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 4, 25))
    assert [f.filing_id for f in person.filings] == [filing.filing_id]
    assert person.filing_notice.startswith("未查询到") and "2023-04-25" in person.filing_notice


def test_f11_a_province_level_pool_needs_no_filing_in_its_own_cities(ctx):
    with ctx.unit_of_work() as session:
        add_person(session, psn_no="P410", name="省本级", certno="410105198001011230", insuplc_admdvs="410000",
                   insutype="310")
    assert find_person_by_cert(ctx, "02", "410105198001011230", treatment_admdvs="410100").filing_notice is None
    assert find_person_by_cert(ctx, "02", "410105198001011230", treatment_admdvs="110000").filing_notice
