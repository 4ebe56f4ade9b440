"""V1: the treatment region's monitoring (card used in two regions, outlier hospitals) and 协查 with C5."""

from __future__ import annotations

from datetime import date

import pytest

from yidi.domain.errors import YidiError
from yidi.domain.supervision import SettlementFact, hospital_outliers
from yidi.services import supervision
from yidi.services.users import Principal
from tests.services.supervision_helpers import file_p001_beijing, stay

JIAOZUO = Principal("clerk-jiaozuo", "agency", "410800")
BEIJING = Principal("clerk-beijing", "agency", "110000")
WUHAN = Principal("clerk-wuhan", "agency", "420100")


def test_v1_card_used_in_two_regions_same_day(ctx):
    file_p001_beijing(ctx)
    beijing = stay(ctx, date(2023, 4, 3), date(2023, 4, 3), med_type="11", dise=None, amount_fen=30_000)
    local = stay(ctx, date(2023, 4, 3), date(2023, 4, 3), med_type="11", dise=None, amount_fen=20_000,
                 hospital="H41080000001")
    stay(ctx, date(2023, 4, 4), date(2023, 4, 4), med_type="11", dise=None, amount_fen=20_000,
         hospital="H41080000001")  # the next day: fine
    supervision.run_rules(ctx, on=date(2023, 4, 30), actor="test")
    [lead] = supervision.list_leads(ctx, rule="card_two_regions")
    assert set(lead.setl_ids) == {beijing.setl_id, local.setl_id}
    assert lead.evidence["same_days"] == ["2023-04-03"]


def test_v1_outlier_hospital_against_peers():
    def fact(n, code, fee):
        return SettlementFact(f"{code}-{n}", "direct", f"P{n}", code, 3, "410800", "110000", "21", None,
                              date(2023, 3, 1), date(2023, 3, 5), fee, fee // 2)

    facts = [fact(n, code, fee) for n in range(3) for code, fee in
             (("H1", 1_000_000), ("H2", 1_100_000), ("H3", 900_000), ("H4", 2_000_000))]
    [finding] = hospital_outliers(facts)
    assert finding.fixmedins_code == "H4"
    assert finding.evidence["peer_median_fen"] == 1_000_000 and finding.evidence["mean_fen"] == 2_000_000
    # Fewer than three claims at a hospital say nothing.
    assert hospital_outliers([f for f in facts if not (f.fixmedins_code == "H4" and f.setl_id != "H4-0")]) == []


def test_v1_assign_for_joint_investigation_and_close_with_recovery(ctx):
    file_p001_beijing(ctx)
    first = stay(ctx, date(2023, 3, 1), date(2023, 3, 10))
    stay(ctx, date(2023, 3, 5), date(2023, 3, 12), hospital="H11000000002", kind="manual")
    supervision.run_rules(ctx, on=date(2023, 4, 1), actor="test")
    [lead] = supervision.list_leads(ctx, rule="overlapping_stay")
    with pytest.raises(YidiError) as refused:
        supervision.assign(ctx, lead.lead_id, principal=WUHAN, assigned_admdvs="110000", on=date(2023, 4, 2))
    assert refused.value.code == "FORBIDDEN"
    with pytest.raises(YidiError) as refused:
        supervision.assign(ctx, lead.lead_id, principal=JIAOZUO, assigned_admdvs="420100", on=date(2023, 4, 2))
    assert refused.value.code == "INVALID_INPUT"
    supervision.assign(ctx, lead.lead_id, principal=JIAOZUO, assigned_admdvs="110000", on=date(2023, 4, 2),
                       note="请核查住院记录")
    # The treatment region now sees it through the assignment and closes it.
    assert [row.lead_id for row in supervision.list_leads(ctx, admdvs="110000")] == [lead.lead_id]
    with pytest.raises(YidiError) as refused:
        supervision.close(ctx, lead.lead_id, principal=BEIJING, outcome="confirmed", on=date(2023, 4, 9),
                          recovered_fen=99_999_999)
    assert refused.value.code == "INVALID_INPUT"  # more than the fund paid on that claim
    closed = supervision.close(ctx, lead.lead_id, principal=BEIJING, outcome="confirmed", on=date(2023, 4, 9),
                               recovered_fen=100_000, recovery_setl_id=first.setl_id, note="查实重复报销")
    assert closed.recovered_fen == 100_000 and closed.closed_by == "clerk-beijing"
    lead_after, investigations = supervision.get_lead(ctx, lead.lead_id)
    assert lead_after.status == "closed" and len(investigations) == 1
    assert investigations[0].outcome == "confirmed" and investigations[0].assigned_admdvs == "110000"
