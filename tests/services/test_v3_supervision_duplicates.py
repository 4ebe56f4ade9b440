"""V3: duplicate and overlapping stays (incl. 网上网下重复报销) and per-day items beyond the stay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from yidi.domain.supervision import FeeLine, SettlementFact, overlapping_stays, quantity_over_days
from yidi.services import supervision
from yidi.services.settlements import cancel
from tests.services.supervision_helpers import file_p001_beijing, stay


def _fact(setl_id, begin, end, *, lines=(), med_type="21", psn_no="P001", kind="direct"):
    return SettlementFact(setl_id=setl_id, kind=kind, psn_no=psn_no, fixmedins_code="H11000000001", hospital_level=3,
                          insuplc_admdvs="410800", mdtrtarea_admvs="110000", med_type=med_type, dise_codg="I21.0",
                          begntime=begin, endtime=end, medfee_sumamt=100_000, fund_pay_sumamt=80_000,
                          lines=tuple(lines))


def test_v3_overlapping_stays_found_once_with_evidence(ctx):
    file_p001_beijing(ctx)
    first = stay(ctx, date(2023, 3, 1), date(2023, 3, 10))
    second = stay(ctx, date(2023, 3, 5), date(2023, 3, 12), hospital="H11000000002", kind="manual")
    summary = supervision.run_rules(ctx, on=date(2023, 4, 1), actor="test")
    leads = supervision.list_leads(ctx, rule="overlapping_stay")
    assert len(leads) == 1 and summary.new_leads >= 1
    lead = leads[0]
    assert set(lead.setl_ids) == {first.setl_id, second.setl_id}
    assert lead.evidence["overlap_from"] == "2023-03-05" and lead.evidence["overlap_to"] == "2023-03-10"
    assert lead.insuplc_admdvs == "410800" and lead.status == "open"
    again = supervision.run_rules(ctx, on=date(2023, 4, 2), actor="test")
    assert again.new_leads == 0  # the same finding is not stored twice
    assert len(supervision.list_leads(ctx, rule="overlapping_stay")) == 1


def test_v3_cancelled_settlement_is_not_a_duplicate(ctx):
    file_p001_beijing(ctx)
    first = stay(ctx, date(2023, 3, 1), date(2023, 3, 10))
    cancel(ctx, first.setl_id, date(2023, 3, 10))
    stay(ctx, date(2023, 3, 1), date(2023, 3, 10), kind="manual")
    supervision.run_rules(ctx, on=date(2023, 4, 1), actor="test")
    assert supervision.list_leads(ctx, rule="overlapping_stay") == []


def test_v3_transfer_same_day_is_not_an_overlap():
    a = _fact("A", date(2023, 3, 1), date(2023, 3, 10))
    b = _fact("B", date(2023, 3, 10), date(2023, 3, 20))
    assert overlapping_stays([a, b]) == []
    same = _fact("C", date(2023, 3, 1), date(2023, 3, 10), kind="manual")
    [finding] = overlapping_stays([a, same])
    assert "重复报销" in finding.title


def test_v3_bed_days_beyond_the_stay():
    bed = FeeLine("X004", "床位费", "01", Decimal("12"))
    surgery = FeeLine("X007", "手术费", "06", Decimal("30"))
    over = _fact("A", date(2023, 3, 1), date(2023, 3, 10), lines=[bed, surgery])  # 9 bed days
    [finding] = quantity_over_days([over])
    assert finding.evidence["stay_days"] == 9
    assert finding.evidence["items"] == [{"code": "X004", "name": "床位费", "qty": "12"}]
    fits = _fact("B", date(2023, 3, 1), date(2023, 3, 13), lines=[bed])  # 12 bed days
    assert quantity_over_days([fits]) == []
    outpatient = _fact("C", date(2023, 3, 1), date(2023, 3, 1), lines=[bed], med_type="11")
    assert quantity_over_days([outpatient]) == []
