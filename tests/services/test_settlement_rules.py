"""Settlement use cases on real SQLite and PostgreSQL: caps across settlements, year change, cancel gives the cap
back, duplicates, unknown institution, invalid input, estimate writes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from yidi.adapters.orm import SettlementRow, UsageRow
from yidi.domain.errors import YidiError
from yidi.services import filings as filing_service
from yidi.services import settlements as svc
from yidi.services.settlements import SettleCommand, parse_items


def _file(ctx, psn_no, ftype, area, begndate, basis="proof"):
    filing = filing_service.file_filing(ctx, filing_service.FileCommand(
        psn_no=psn_no, filing_type=ftype, basis=basis, mdtrtarea_admvs=area, begndate=begndate,
        apply_date=begndate, channel="window", commitment_signature="签名"))
    assert filing.status.value == "active"
    return filing


def _cmd(psn_no, code, med_type, begn, end, *pairs, kind="direct", **extra):
    return SettleCommand(psn_no=psn_no, fixmedins_code=code, med_type=med_type, begntime=begn, endtime=end,
                         items=parse_items([{"code": c, "amount": a} for c, a in pairs]), kind=kind, **extra)


def test_b10_cap_exhaustion_over_several_settlements_and_year_change(ctx):
    _file(ctx, "P004", "long_term_resident", "110000", date(2023, 1, 15), basis="commitment")
    # 焦作 390 L3: deductible 1000, 65%, cap 200000
    first = svc.settle(ctx, _cmd("P004", "H11000000001", "21", date(2023, 2, 1), date(2023, 2, 20), ("X007", "250000")))
    assert first.row_fields["hifp_pay"] == "161850.00"  # 249000 × 0.65
    second = svc.settle(ctx, _cmd("P004", "H11000000001", "21", date(2023, 3, 1), date(2023, 3, 9), ("X007", "100000")))
    assert second.row_fields["hifp_pay"] == "38150.00"  # 200000 − 161850
    third = svc.settle(ctx, _cmd("P004", "H11000000001", "21", date(2023, 4, 1), date(2023, 4, 2), ("X007", "5000")))
    assert third.row_fields["hifp_pay"] == "0.00"
    next_year = svc.settle(ctx, _cmd("P004", "H11000000001", "21", date(2023, 12, 30), date(2024, 1, 2), ("X007", "5000")))
    assert next_year.row_fields["hifp_pay"] == "2600.00"  # (5000 − 1000) × 0.65, 2024's cap
    with ctx.unit_of_work() as session:
        used = {row.year: row.used_fen for row in session.scalars(select(UsageRow).where(UsageRow.psn_no == "P004"))}
    assert used == {2023: 20_000_000, 2024: 260_000}


def test_s3_cancel_gives_the_cap_back_exactly_once(ctx):
    _file(ctx, "P003", "resident_worker", "310000", date(2023, 2, 3), basis="commitment")
    one = svc.settle(ctx, _cmd("P003", "H31000000001", "11", date(2023, 3, 1), date(2023, 3, 1), ("X001", "3000")))
    assert one.row_fields["hifp_pay"] == "1800.00"
    svc.cancel(ctx, one.setl_id, date(2023, 3, 2))
    with pytest.raises(YidiError) as twice:
        svc.cancel(ctx, one.setl_id, date(2023, 3, 2))
    assert twice.value.code == "SETTLEMENT_ALREADY_CANCELLED"
    again = svc.settle(ctx, _cmd("P003", "H31000000001", "11", date(2023, 3, 5), date(2023, 3, 5), ("X001", "4000")))
    assert again.row_fields["hifp_pay"] == "2000.00"  # 4000 × 0.6 = 2400, full 2000 limit available again


def test_s4_duplicate_claim_settle_twice_and_manual_after_direct(ctx):
    _file(ctx, "P001", "retired_relocated", "110000", date(2023, 1, 10), basis="commitment")
    svc.settle(ctx, _cmd("P001", "H11000000001", "21", date(2023, 3, 1), date(2023, 3, 10), ("X007", "12000")))
    for kind in ("direct", "manual"):
        with pytest.raises(YidiError) as dup:
            svc.settle(ctx, _cmd("P001", "H11000000001", "21", date(2023, 3, 1), date(2023, 3, 11),
                                 ("X007", "13000"), kind=kind))
        assert dup.value.code == "DUPLICATE_CLAIM"
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 1


def test_s4_duplicate_claim_same_outpatient_visit_whatever_the_fee_lines(ctx):
    """A manual claim (零星报销) for an outpatient visit already settled directly is the same visit — person,
    institution, date and visit type — even when a fee line differs; so is a stay overlapping a paid stay."""
    _file(ctx, "P001", "retired_relocated", "110000", date(2023, 1, 10), basis="commitment")
    paid = svc.settle(ctx, _cmd("P001", "H11000000001", "11", date(2023, 4, 1), date(2023, 4, 1),
                                ("X001", "100"), ("X006", "300")))
    for pairs in ((("X001", "100"), ("X006", "300.01")), (("X001", "100"),), (("X008", "50"),)):
        with pytest.raises(YidiError) as dup:
            svc.settle(ctx, _cmd("P001", "H11000000001", "11", date(2023, 4, 1), date(2023, 4, 1), *pairs, kind="manual"))
        assert dup.value.code == "DUPLICATE_CLAIM" and paid.setl_id in dup.value.message
    # another visit type the same day, or another institution, is another visit
    svc.settle(ctx, _cmd("P001", "H11000000001", "14", date(2023, 4, 1), date(2023, 4, 1), ("X001", "100"), dise_codg="I10"))
    svc.settle(ctx, _cmd("P001", "H11000000002", "11", date(2023, 4, 1), date(2023, 4, 1), ("X001", "100"), kind="manual"))
    # inpatient: a claim for a stay overlapping a paid stay at the same institution is the same stay
    stay = svc.settle(ctx, _cmd("P001", "H11000000001", "21", date(2023, 5, 1), date(2023, 5, 10), ("X007", "8000")))
    with pytest.raises(YidiError) as overlapping:
        svc.settle(ctx, _cmd("P001", "H11000000001", "21", date(2023, 5, 3), date(2023, 5, 12), ("X007", "7999"),
                             kind="manual"))
    assert overlapping.value.code == "DUPLICATE_CLAIM" and stay.setl_id in overlapping.value.message
    svc.settle(ctx, _cmd("P001", "H11000000001", "21", date(2023, 5, 10), date(2023, 5, 12), ("X007", "100")))  # readmitted on the discharge day
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 5


@pytest.mark.parametrize("change, field", [
    ({"fixmedins_code": "H00000000000"}, None),
    ({"med_type": "99"}, "med_type"),
    ({"med_type": "22", "trauma_no_third_party": False}, "trauma_no_third_party"),
    ({"med_type": "14"}, "dise_codg"),
    ({"endtime": date(2023, 2, 1)}, "endtime"),
])
def test_refusals_name_the_field_and_write_nothing(ctx, change, field):
    _file(ctx, "P001", "retired_relocated", "110000", date(2023, 1, 10), basis="commitment")
    base = dict(psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=date(2023, 3, 1),
                endtime=date(2023, 3, 2), items=parse_items([{"code": "X007", "amount": "100"}]))
    with pytest.raises(YidiError) as refused:
        svc.settle(ctx, SettleCommand(**{**base, **change}))
    if field is None:
        assert refused.value.code == "UNKNOWN_INSTITUTION"
    else:
        assert refused.value.code == "INVALID_INPUT" and field in refused.value.message
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 0


@pytest.mark.parametrize("raw, fen", [
    ({"code": "X001", "qty": "0.5", "price": "33.33"}, 1667),  # 16.665 → 16.67 half-up (B12)
    ({"code": "X001", "qty": 3, "price": "10.05"}, 3015),
    ({"code": "X001", "qty": 2.5, "price": 0.1234}, 31),  # four-decimal unit price: 0.3085 → 0.31
    ({"code": "X004", "qty": 10, "price": 400.0}, 400000),
])
def test_b12_line_amount_is_qty_times_price_rounded_half_up(raw, fen):
    (item,) = parse_items([raw])
    assert item.amount_fen == fen


@pytest.mark.parametrize("raw, field", [
    ([], "items"), ([{"amount": "1"}], "items[0]"), ([{"code": "X001", "amount": "1.005"}], "items[0].amount"),
    ([{"code": "X001", "qty": 0, "price": "1"}], "items[0].qty"), ([{"code": "X001", "colour": 1}], "items[0]"),
    ([{"code": "X001", "qty": 1, "price": "-1"}], "items[0].price"), ([{"code": "X001", "qty": 1, "price": "abc"}], "items[0].price"),
])
def test_parse_items_refuses_malformed_lines(raw, field):
    with pytest.raises(YidiError) as refused:
        parse_items(raw)
    assert refused.value.code == "INVALID_INPUT" and field in refused.value.message


def test_b8_trauma_flag_is_stored_for_review(ctx):
    _file(ctx, "P001", "retired_relocated", "110000", date(2023, 1, 10), basis="commitment")
    view = svc.settle(ctx, _cmd("P001", "H11000000001", "22", date(2023, 3, 1), date(2023, 3, 2), ("X007", "1900"),
                                trauma_no_third_party=True))
    assert view.row_fields["review_flag"] == "trauma" and view.row_fields["hifp_pay"] == "850.00"
    with ctx.unit_of_work() as session:
        assert session.get(SettlementRow, view.setl_id).review_flag == "trauma"


def test_estimate_uses_this_years_usage_and_writes_nothing(ctx):
    _file(ctx, "P003", "resident_worker", "310000", date(2023, 2, 3), basis="commitment")
    svc.settle(ctx, _cmd("P003", "H31000000001", "11", date(2023, 3, 1), date(2023, 3, 1), ("X001", "3000")))
    result = svc.estimate(ctx, _cmd("P003", "H31000000001", "11", date(2023, 4, 1), date(2023, 4, 1), ("X001", "1000")))
    assert result["hifp_pay"] == "200.00"  # 600 by ratio, 200 left of 2000
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 1


def test_policy_version_by_discharge_date_through_the_service(ctx, tmp_path):
    import shutil

    import yaml

    from yidi.policy.loader import DATA_DIR, collect_policy

    data_dir = tmp_path / "policy"
    shutil.copytree(DATA_DIR, data_dir)
    path = data_dir / "insured" / "420100.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"].append({"effective_from": date(2024, 1, 1), "source": "test",
                             "benefits": {"outpatient": {**data["versions"][0]["benefits"]["outpatient"],
                                                         "310": {"ratio": {"value": "70%", "source": "test"},
                                                                 "annual_limit": {"value": "3000.00", "source": "test"}}}}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    book, problems = collect_policy(data_dir)
    assert problems == []
    original, ctx.policy = ctx.policy, book
    try:
        _file(ctx, "P003", "resident_worker", "310000", date(2023, 2, 3), basis="commitment")
        old = svc.settle(ctx, _cmd("P003", "H31000000001", "11", date(2023, 12, 31), date(2023, 12, 31), ("X001", "100")))
        new = svc.settle(ctx, _cmd("P003", "H31000000001", "11", date(2024, 1, 1), date(2024, 1, 1), ("X001", "100")))
    finally:
        ctx.policy = original
    assert (old.row_fields["hifp_pay"], old.row_fields["policy_version"]) == ("60.00", "420100@2023-01-01")
    assert (new.row_fields["hifp_pay"], new.row_fields["policy_version"]) == ("70.00", "420100@2024-01-01")
