"""F11 identity at the hospital: mdtrt_cert_type 01/02/03 + mdtrt_cert_no → person (for transaction 1101),
and an unfiled person is told how to file. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from yidi.domain.errors import YidiError
from yidi.services.filings import FileCommand, cancel_filing, file_filing
from yidi.services.person_lookup import find_person_by_cert

ZHANG_SAN = "410802195501011234"


def _file_p001(ctx, **overrides):
    fields = dict(psn_no="P001", filing_type="retired_relocated", basis="proof", mdtrtarea_admvs="110000",
                  begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10), channel="window")
    fields.update(overrides)
    return file_filing(ctx, FileCommand(**fields))


@pytest.mark.parametrize("cert_type", ["01", "02", "03"])
def test_f11_each_certificate_type_finds_the_person(ctx, cert_type):
    filing = _file_p001(ctx)
    person = find_person_by_cert(ctx, cert_type, f" {ZHANG_SAN} ")  # spaces trimmed
    assert (person.psn_no, person.name, person.insuplc_admdvs, person.insutype, person.mdtrt_cert_type) == (
        "P001", "张三", "410800", "310", cert_type)
    assert [f.filing_id for f in person.filings] == [filing.filing_id]
    assert find_person_by_cert(ctx, cert_type, ZHANG_SAN, treatment_admdvs="110000",
                               on=date(2023, 3, 1)).filing_notice is None


def test_f11_an_unfiled_person_is_told_how_to_file(ctx):
    person = find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 3, 1))
    assert person.filings == ()
    assert "未查询到" in person.filing_notice and "国家医保服务平台APP" in person.filing_notice
    assert "110000" in person.filing_notice and "补办" in person.filing_notice


def test_f11_notice_when_the_filing_is_elsewhere_ended_or_not_yet_started(ctx):
    filing = _file_p001(ctx)
    assert find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="310000", on=date(2023, 3, 1)).filing_notice
    assert find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 1, 9)).filing_notice
    cancel_filing(ctx, filing.filing_id, date(2023, 6, 1), proof=True)
    after = find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 6, 1))
    assert after.filings == () and after.filing_notice


def test_f11_pending_filing_is_listed_but_not_yet_covering(ctx):
    filing = _file_p001(ctx, channel="app", begndate=date(2023, 6, 1), apply_date=date(2023, 6, 1))
    person = find_person_by_cert(ctx, "01", ZHANG_SAN, treatment_admdvs="110000", on=date(2023, 6, 2))
    assert [(f.filing_id, f.status, f.approve_due_date) for f in person.filings] == [
        (filing.filing_id, "pending", date(2023, 6, 5))]
    assert person.filing_notice


def test_f11_no_notice_at_home(ctx):
    assert find_person_by_cert(ctx, "02", ZHANG_SAN, treatment_admdvs="410800").filing_notice is None


@pytest.mark.parametrize("cert_type, cert_no, code, field", [
    ("04", ZHANG_SAN, "INVALID_INPUT", "mdtrt_cert_type"),
    ("", ZHANG_SAN, "INVALID_INPUT", "mdtrt_cert_type"),
    ("02", "41080219550101123", "INVALID_INPUT", "mdtrt_cert_no"),  # 17 characters
    ("02", "410802195502301234", "INVALID_INPUT", "mdtrt_cert_no"),  # 30 February
    ("03", "", "INVALID_INPUT", "mdtrt_cert_no"),
    ("02", "110101199003071234", "UNKNOWN_PERSON", None),  # well-formed, not insured here
])
def test_f11_bad_or_unknown_certificates_are_refused(ctx, cert_type, cert_no, code, field):
    with pytest.raises(YidiError) as refused:
        find_person_by_cert(ctx, cert_type, cert_no)
    assert refused.value.code == code
    if field:
        assert field in refused.value.message
    if code == "UNKNOWN_PERSON":
        assert cert_no not in refused.value.full_message()  # the number is masked in messages
