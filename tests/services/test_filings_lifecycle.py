"""The filing lifecycle through services/filings.py on SQLite and PostgreSQL (the ``ctx`` fixture):
file → (approve | reject) → change → cancel, with history, audit and every refusal leaving data untouched."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from yidi.adapters.orm import AuditRow, FilingEventRow, FilingRow
from yidi.domain.errors import YidiError
from yidi.domain.filing import FilingStatus
from yidi.services import audit
from yidi.services.filings import (
    FileCommand,
    cancel_filing,
    change_filing,
    current_filing_id,
    decide_filing,
    file_filing,
    filing_history,
    get_filing,
    list_filings,
    pending_queue,
)


def _file(ctx, **overrides):
    fields = dict(psn_no="P001", filing_type="retired_relocated", basis="commitment", mdtrtarea_admvs="110000",
                  begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10), channel="window",
                  commitment_signature="张三")
    fields.update(overrides)
    return file_filing(ctx, FileCommand(**fields))


def _counts(ctx) -> tuple[int, int, int]:
    with ctx.unit_of_work() as session:
        return tuple(session.scalar(select(func.count()).select_from(table))
                     for table in (FilingRow, FilingEventRow, AuditRow))


def _refused(ctx, code: str, call) -> YidiError:
    before = _counts(ctx)
    with pytest.raises(YidiError) as refused:
        call()
    assert refused.value.code == code, refused.value.full_message()
    assert _counts(ctx) == before, "a refusal must not change data"
    return refused.value


# ---------------------------------------------------------------- F1/F3/F5 filing ----
def test_f1_f3_commitment_filing_is_stored_with_the_signed_text(ctx):
    filing = _file(ctx)
    assert filing.status is FilingStatus.ACTIVE and filing.enddate is None and filing.is_long_term
    with ctx.unit_of_work() as session:
        row = session.get(FilingRow, filing.filing_id)
        assert "个人承诺书" in row.commitment_text and "张三" in row.commitment_text and "北京市" in row.commitment_text
        assert row.commitment_signature == "张三"
    assert [event["event"] for event in filing_history(ctx, filing.filing_id)] == ["applied"]


def test_f3_commitment_without_a_signature_is_refused(ctx):
    _refused(ctx, "COMMITMENT_NOT_SIGNED", lambda: _file(ctx, commitment_signature="  "))


def test_f3_jiaozuo_referral_by_commitment_is_accepted(ctx):
    # F3 reading: commitment must be offered for the long-term types and is forbidden for none
    # (docs/policy-readings.md); a region may restrict it with `filing.commitment_allowed_for`.
    filing = _file(ctx, psn_no="P004", filing_type="referral", mdtrtarea_admvs="410100",
                   begndate=date(2023, 8, 1), apply_date=date(2023, 8, 1))
    assert filing.basis.value == "commitment" and filing.status is FilingStatus.ACTIVE


def test_f5_temporary_filing_gets_its_six_month_enddate(ctx):
    filing = _file(ctx, psn_no="P004", filing_type="referral", basis="proof", mdtrtarea_admvs="410100",
                   begndate=date(2023, 8, 31), apply_date=date(2023, 8, 31))
    assert filing.enddate == date(2024, 2, 28)
    assert get_filing(ctx, filing.filing_id).enddate == date(2024, 2, 28)


@pytest.mark.parametrize("overrides, code, field", [
    ({"filing_type": "long_stay"}, "INVALID_INPUT", "type"),
    ({"basis": "promise"}, "INVALID_INPUT", "basis"),
    ({"channel": "fax"}, "INVALID_INPUT", "channel"),
    ({"mdtrtarea_admvs": "999999"}, "INVALID_INPUT", "mdtrtarea_admvs"),
    ({"mdtrtarea_admvs": "11000"}, "INVALID_INPUT", "mdtrtarea_admvs"),
    ({"mdtrtarea_admvs": "410800"}, "INVALID_INPUT", "mdtrtarea_admvs"),  # the insured region itself
    ({"psn_no": "P999"}, "UNKNOWN_PERSON", None),
    ({"begndate": date(2021, 12, 31), "apply_date": date(2023, 1, 10)}, "INVALID_INPUT", "begndate"),
    ({"enddate": date(2030, 1, 1)}, "INVALID_INPUT", "enddate"),  # long-term filings have no end
])
def test_f2_f5_bad_input_is_refused_with_a_coded_chinese_error(ctx, overrides, code, field):
    error = _refused(ctx, code, lambda: _file(ctx, **overrides))
    if field:
        assert field in error.message
    assert error.hint


def test_f2_a_second_filing_to_the_same_place_and_time_is_refused(ctx):
    first = _file(ctx)
    error = _refused(ctx, "FILING_OVERLAP", lambda: _file(ctx, begndate=date(2023, 5, 1),
                                                         apply_date=date(2023, 5, 1)))
    assert first.filing_id in error.message
    # A temporary filing beside the long-term one is fine (coverage takes the better one).
    other = _file(ctx, filing_type="referral", basis="proof", mdtrtarea_admvs="310000", begndate=date(2023, 5, 1),
                  apply_date=date(2023, 5, 1))
    assert other.status is FilingStatus.ACTIVE


def test_f6_a_second_long_term_filing_supersedes_the_first_under_the_six_month_rule(ctx):
    first = _file(ctx)  # commitment, from 2023-01-10
    # Within 6 months without proof: that is a change of the standing filing (F6).
    _refused(ctx, "FILING_CHANGE_NEEDS_PROOF", lambda: _file(ctx, mdtrtarea_admvs="310000",
                                                             begndate=date(2023, 5, 1), apply_date=date(2023, 5, 1)))
    # With proof it is allowed, and the first filing ends the day before.
    second = _file(ctx, mdtrtarea_admvs="310000", basis="proof", begndate=date(2023, 5, 1),
                   apply_date=date(2023, 5, 1))
    old = get_filing(ctx, first.filing_id)
    assert old.status is FilingStatus.CHANGED and old.enddate == date(2023, 4, 30)
    assert old.replaced_by == second.filing_id


def test_f2_a_city_filing_inside_a_filed_province_overlaps(ctx):
    _file(ctx, psn_no="P002", filing_type="other_temporary", mdtrtarea_admvs="410000", channel="window",
          begndate=date(2023, 6, 1), apply_date=date(2023, 6, 1))
    _refused(ctx, "FILING_OVERLAP", lambda: _file(ctx, psn_no="P002", filing_type="other_temporary",
                                                 mdtrtarea_admvs="410100", begndate=date(2023, 11, 30),
                                                 apply_date=date(2023, 11, 30)))
    # The day after the temporary filing ends (2023-12-01) the city can be filed again.
    later = _file(ctx, psn_no="P002", filing_type="other_temporary", mdtrtarea_admvs="410100",
                  begndate=date(2023, 12, 2), apply_date=date(2023, 12, 2))
    assert later.begndate == date(2023, 12, 2)


def test_inactive_insurance_cannot_file(ctx):
    from yidi.adapters.orm import PersonRow

    with ctx.unit_of_work() as session:
        session.get(PersonRow, "P005").insu_status = "suspended"
    _refused(ctx, "INSURANCE_INACTIVE", lambda: _file(ctx, psn_no="P005", filing_type="other_temporary",
                                                     basis="proof", channel="app"))


# ---------------------------------------------------------------- F4 approval ----
def test_f4_jiaozuo_online_filing_waits_for_the_clerk_then_takes_effect(ctx):
    filing = _file(ctx, channel="app", apply_date=date(2023, 6, 9), begndate=date(2023, 6, 9))  # a Friday
    assert filing.status is FilingStatus.PENDING and filing.approve_due_date == date(2023, 6, 13)
    assert [f.filing_id for f in pending_queue(ctx, "410800")] == [filing.filing_id]
    assert pending_queue(ctx, "410000")[0].filing_id == filing.filing_id  # the province covers its cities
    assert pending_queue(ctx, "420100") == []
    _refused(ctx, "FORBIDDEN", lambda: decide_filing(ctx, filing.filing_id, approve=True, actor="clerk-wuhan",
                                                     on=date(2023, 6, 12), clerk_region="420100"))
    approved = decide_filing(ctx, filing.filing_id, approve=True, actor="clerk-jiaozuo", on=date(2023, 6, 12),
                             clerk_region="410800")
    assert approved.status is FilingStatus.ACTIVE
    _refused(ctx, "FILING_ALREADY_DECIDED", lambda: decide_filing(ctx, filing.filing_id, approve=False,
                                                                  actor="clerk-jiaozuo", on=date(2023, 6, 12),
                                                                  reason="重复"))
    history = filing_history(ctx, filing.filing_id)
    assert [(e["event"], e["actor"], e["on"]) for e in history] == [
        ("applied", "person", "2023-06-09"), ("approved", "clerk-jiaozuo", "2023-06-12")]


def test_f4_reject_needs_a_reason_and_records_it(ctx):
    filing = _file(ctx, channel="web", apply_date=date(2023, 6, 1), begndate=date(2023, 6, 1))
    _refused(ctx, "INVALID_INPUT", lambda: decide_filing(ctx, filing.filing_id, approve=False, actor="c",
                                                        on=date(2023, 6, 2), reason=" "))
    rejected = decide_filing(ctx, filing.filing_id, approve=False, actor="clerk-jiaozuo", on=date(2023, 6, 2),
                             reason="承诺书签名与姓名不符")
    assert rejected.status is FilingStatus.REJECTED and rejected.reason == "承诺书签名与姓名不符"
    assert filing_history(ctx, filing.filing_id)[-1]["reason"] == "承诺书签名与姓名不符"
    # A rejected filing stands in nobody's way: the person files again.
    again = _file(ctx, channel="window", apply_date=date(2023, 6, 5), begndate=date(2023, 6, 5))
    assert again.status is FilingStatus.ACTIVE


@pytest.mark.parametrize("psn_no, area", [("P005", "110000"), ("P002", "310000")])
def test_f4_wuhan_and_dezhou_online_filings_are_active_at_once(ctx, psn_no, area):
    filing = _file(ctx, psn_no=psn_no, filing_type="other_temporary", basis="proof", mdtrtarea_admvs=area,
                   channel="app", begndate=date(2023, 6, 1), apply_date=date(2023, 6, 1))
    assert filing.status is FilingStatus.ACTIVE and filing.approve_due_date is None and filing.channel.value == "app"


def test_f4_pending_queue_is_oldest_first(ctx):
    later = _file(ctx, channel="app", apply_date=date(2023, 6, 5), begndate=date(2023, 6, 5))
    earlier = _file(ctx, psn_no="P004", filing_type="referral", basis="proof", mdtrtarea_admvs="410100",
                    channel="app", apply_date=date(2023, 6, 1), begndate=date(2023, 6, 1))
    assert [f.filing_id for f in pending_queue(ctx, "410800")] == [earlier.filing_id, later.filing_id]
    assert [f.approve_due_date for f in pending_queue(ctx, "410800")] == [date(2023, 6, 5), date(2023, 6, 7)]


# ---------------------------------------------------------------- F6 change and cancel ----
def test_f6_commitment_change_before_six_months_needs_proof(ctx):
    filing = _file(ctx)
    error = _refused(ctx, "FILING_CHANGE_NEEDS_PROOF", lambda: change_filing(
        ctx, filing.filing_id, date(2023, 7, 9), proof=False, mdtrtarea_admvs="310000"))
    assert "2023-07-10" in error.full_message()
    successor = change_filing(ctx, filing.filing_id, date(2023, 7, 10), proof=False, mdtrtarea_admvs="310000",
                              reason="随子女迁居上海")
    old = get_filing(ctx, filing.filing_id)
    assert (old.status, old.enddate, old.replaced_by) == (FilingStatus.CHANGED, date(2023, 7, 9), successor.filing_id)
    assert (successor.status, successor.begndate, successor.enddate, successor.mdtrtarea_admvs, successor.replaces) == (
        FilingStatus.ACTIVE, date(2023, 7, 10), None, "310000", filing.filing_id)
    assert current_filing_id(ctx, filing.filing_id) == successor.filing_id
    assert [e["event"] for e in filing_history(ctx, filing.filing_id)] == ["applied", "changed"]
    assert filing_history(ctx, successor.filing_id)[0]["details"]["replaces"] == filing.filing_id


def test_f6_early_change_with_proof_becomes_proof_based(ctx):
    filing = _file(ctx)
    successor = change_filing(ctx, filing.filing_id, date(2023, 2, 1), proof=True, mdtrtarea_admvs="310000")
    assert successor.basis.value == "proof"


def test_f6_dezhou_change_is_recorded_as_terminate_and_refile(ctx):
    filing = _file(ctx, psn_no="P002", filing_type="long_term_resident", mdtrtarea_admvs="110000",
                   begndate=date(2023, 1, 1), apply_date=date(2023, 1, 1))
    change_filing(ctx, filing.filing_id, date(2023, 7, 1), proof=False, mdtrtarea_admvs="310000")
    assert filing_history(ctx, filing.filing_id)[-1]["event"] == "terminated_refiled"


def test_f6_changing_back_to_the_insured_region_cancels(ctx):
    filing = _file(ctx, basis="proof")
    ended = change_filing(ctx, filing.filing_id, date(2023, 3, 1), proof=False, mdtrtarea_admvs="410800")
    assert (ended.filing_id, ended.status, ended.enddate) == (filing.filing_id, FilingStatus.CANCELLED,
                                                             date(2023, 2, 28))
    assert list_filings(ctx, psn_no="P001", status="active") == []


def test_f6_cancel_ends_the_day_before_and_cannot_repeat(ctx):
    filing = _file(ctx, basis="proof")
    cancelled = cancel_filing(ctx, filing.filing_id, date(2024, 3, 1), proof=False, reason="回参保地居住")
    assert (cancelled.status, cancelled.enddate) == (FilingStatus.CANCELLED, date(2024, 2, 29))
    _refused(ctx, "FILING_NOT_ACTIVE", lambda: cancel_filing(ctx, filing.filing_id, date(2024, 3, 2), proof=True))
    _refused(ctx, "FILING_NOT_ACTIVE", lambda: change_filing(ctx, filing.filing_id, date(2024, 3, 2), proof=True))
    _refused(ctx, "NOT_FOUND", lambda: cancel_filing(ctx, "BA-NOPE", date(2024, 3, 2), proof=True))


def test_f6_change_cannot_predate_the_application(ctx):
    filing = _file(ctx, basis="proof", begndate=date(2023, 1, 10), apply_date=date(2023, 2, 1))
    _refused(ctx, "INVALID_INPUT", lambda: cancel_filing(ctx, filing.filing_id, date(2023, 1, 31), proof=True))


def test_f4_f6_changing_a_pending_filing_keeps_it_pending(ctx):
    filing = _file(ctx, channel="app", apply_date=date(2023, 6, 1), begndate=date(2023, 6, 1))
    successor = change_filing(ctx, filing.filing_id, date(2023, 6, 2), proof=True, mdtrtarea_admvs="310000")
    assert successor.status is FilingStatus.PENDING and successor.approve_due_date == filing.approve_due_date
    assert [f.filing_id for f in pending_queue(ctx, "410800")] == [successor.filing_id]


def test_f6_a_change_into_a_place_with_a_temporary_filing_is_allowed(ctx):
    long_term = _file(ctx, basis="proof")
    _file(ctx, filing_type="referral", basis="proof", mdtrtarea_admvs="310000", begndate=date(2023, 5, 1),
          apply_date=date(2023, 5, 1))
    successor = change_filing(ctx, long_term.filing_id, date(2023, 6, 1), proof=False, mdtrtarea_admvs="310000")
    assert successor.status is FilingStatus.ACTIVE and successor.mdtrtarea_admvs == "310000"


def test_every_write_is_audited_in_a_verifiable_chain(ctx):
    filing = _file(ctx, channel="app", apply_date=date(2023, 6, 1), begndate=date(2023, 6, 1))
    decide_filing(ctx, filing.filing_id, approve=True, actor="clerk-jiaozuo", on=date(2023, 6, 2))
    cancel_filing(ctx, filing.filing_id, date(2024, 1, 1), proof=False)
    with ctx.unit_of_work() as session:
        actions = [row.action for row in session.scalars(select(AuditRow).order_by(AuditRow.id))]
        assert actions == ["filing.apply", "filing.approve", "filing.cancel"]
        assert audit.seal(session) == 3  # the chain is built off the write path (services/audit.py)
        assert audit.verify_chain(session) == (True, 3, None)


# ---------------------------------------------------------------- search ----
def test_search_by_certno_status_and_region(ctx):
    p001 = _file(ctx)
    p004 = _file(ctx, psn_no="P004", filing_type="referral", basis="proof", mdtrtarea_admvs="410100",
                 begndate=date(2023, 8, 1), apply_date=date(2023, 8, 1))
    _file(ctx, psn_no="P005", filing_type="other_temporary", basis="proof", channel="app")
    assert [f.filing_id for f in list_filings(ctx, certno="410802195501011234")] == [p001.filing_id]
    assert [f.filing_id for f in list_filings(ctx, insuplc_admdvs="410800")] == [p004.filing_id, p001.filing_id]
    assert {f.filing_id for f in list_filings(ctx, insuplc_admdvs="410000")} == {p001.filing_id, p004.filing_id}
    assert [f.filing_id for f in list_filings(ctx, mdtrtarea_admvs="410100")] == [p004.filing_id]
    assert list_filings(ctx, insuplc_admdvs="410800", status="pending") == []
    for bad in ({"status": "open"}, {"certno": "41080219550101123"}, {"certno": "410802195513011234"}):
        with pytest.raises(YidiError) as refused:
            list_filings(ctx, **bad)
        assert refused.value.code == "INVALID_INPUT" and next(iter(bad)) in refused.value.message


def test_f2_concurrent_overlapping_filings_one_wins(ctx):
    """Two requests filing the same place at once: the person row lock lets exactly one through."""
    import threading

    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            _file(ctx, psn_no="P002", filing_type="other_temporary", basis="proof", mdtrtarea_admvs="310000",
                  begndate=date(2023, 6, 1), apply_date=date(2023, 6, 1))
            outcomes.append("filed")
        except YidiError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["FILING_OVERLAP"] * 3 + ["filed"]
    assert len(list_filings(ctx, psn_no="P002")) == 1


def test_f4_a_pending_filing_withdrawn_or_changed_never_covered_anything(ctx):
    from yidi.domain.coverage import Visit, resolve_coverage
    from yidi.services.filings import filings_of

    filing = _file(ctx, psn_no="P004", filing_type="referral", basis="proof", mdtrtarea_admvs="410100", channel="app",
                   begndate=date(2023, 6, 1), apply_date=date(2023, 6, 1))
    cancelled = cancel_filing(ctx, filing.filing_id, date(2023, 6, 20), proof=False, reason="撤回申请")
    assert cancelled.status is FilingStatus.CANCELLED and cancelled.enddate == date(2023, 5, 31)
    pending = _file(ctx, channel="app", apply_date=date(2023, 6, 1), begndate=date(2023, 6, 1))
    change_filing(ctx, pending.filing_id, date(2023, 6, 3), proof=True, mdtrtarea_admvs="310000")
    assert get_filing(ctx, pending.filing_id).enddate == date(2023, 5, 31)
    stay = Visit(psn_no="P004", treatment_admdvs="410100", med_type="21", admission=date(2023, 6, 5),
                 discharge=date(2023, 6, 10))
    with ctx.unit_of_work() as session:
        filings = filings_of(session, "P004")
    with pytest.raises(YidiError) as refused:
        resolve_coverage("410800", filings, stay, ctx.policy.insured_policy("410800", stay.discharge))
    assert refused.value.code == "NOT_FILED"


def test_f5_a_change_of_insurance_status_ends_every_standing_filing(ctx):
    """Seed 000 一(二): 参保状态未发生变更的，备案长期有效. The change ends the filing the day before; a stay admitted
    after it is refused FILING_ENDED even once the person is insured again; one admitted before still settles (F7)."""
    from yidi.services import settlements
    from yidi.services.filings import change_insurance_status
    from yidi.services.settlements import SettleCommand, parse_items

    long_term = _file(ctx)
    temporary = _file(ctx, filing_type="other_temporary", basis="proof", mdtrtarea_admvs="310000",
                      begndate=date(2023, 5, 1), apply_date=date(2023, 5, 1))
    ended = change_insurance_status(ctx, "P001", "suspended", date(2023, 6, 1), actor="clerk")
    assert {f.filing_id for f in ended} == {long_term.filing_id, temporary.filing_id}
    assert {f.status for f in ended} == {FilingStatus.ENDED} and {f.enddate for f in ended} == {date(2023, 5, 31)}
    assert [e["event"] for e in filing_history(ctx, long_term.filing_id)][-1] == "insurance_changed"
    assert change_insurance_status(ctx, "P001", "active", date(2023, 7, 1)) == []  # nothing standing any more

    def stay(begn, end):
        return SettleCommand(psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=begn, endtime=end,
                             items=parse_items([{"code": "X007", "amount": "12000"}]))
    refused = _refused(ctx, "FILING_ENDED", lambda: settlements.settle(ctx, stay(date(2023, 8, 1), date(2023, 8, 5))))
    assert "2023-06-01" in refused.message
    assert settlements.settle(ctx, stay(date(2023, 5, 25), date(2023, 8, 5))).status == "settled"  # admitted before
    with pytest.raises(YidiError) as bad:
        change_insurance_status(ctx, "P001", "retired", date(2023, 9, 1))
    assert bad.value.code == "INVALID_INPUT" and "status" in bad.value.message
