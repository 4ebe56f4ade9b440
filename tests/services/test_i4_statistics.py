"""I4: direct-settlement rate = direct / (direct + manual claims), per class, against the 70 % target."""

from __future__ import annotations

from datetime import date

from yidi.services import statistics
from yidi.services.settlements import cancel
from tests.services.supervision_helpers import file_p001_beijing, stay


def test_i4_direct_settlement_rate_and_flows(ctx):
    file_p001_beijing(ctx)
    for n in range(7):
        stay(ctx, date(2023, 3, 1 + 3 * n), date(2023, 3, 2 + 3 * n))
    for n in range(3):
        stay(ctx, date(2023, 4, 1 + 3 * n), date(2023, 4, 2 + 3 * n), kind="manual")
    cancelled = stay(ctx, date(2023, 5, 1), date(2023, 5, 2))
    cancel(ctx, cancelled.setl_id, date(2023, 5, 2))
    stay(ctx, date(2023, 5, 10), date(2023, 5, 10), med_type="11", dise=None, amount_fen=20_000,
         hospital="H41080000001")  # local visit: not a remote claim, not counted
    rates = {rate.med_class: rate for rate in statistics.direct_settlement_rates(ctx)}
    inpatient = rates["inpatient"]
    assert (inpatient.direct, inpatient.manual) == (7, 3)
    assert inpatient.rate_bp == 7_000 and inpatient.meets_target is True
    assert rates["outpatient"].rate_bp is None and rates["outpatient"].meets_target is None
    stay(ctx, date(2023, 6, 1), date(2023, 6, 2), kind="manual")
    inpatient = {r.med_class: r for r in statistics.direct_settlement_rates(ctx)}["inpatient"]
    assert inpatient.rate_bp == 6_364 and inpatient.meets_target is False  # 7/11 = 63.64 %
    flows = statistics.flows_by_month(ctx, admdvs="410800")
    assert [(f.insuplc_admdvs, f.mdtrtarea_admvs, f.month, f.claims) for f in flows] == [
        ("410800", "110000", "2023-03", 7), ("410800", "110000", "2023-04", 3), ("410800", "110000", "2023-06", 1)]
    assert all(f.medfee_fen == f.claims * 800_000 for f in flows)
    assert statistics.fund_by_month(flows)[0] == ("2023-03", flows[0].fund_fen)
    assert statistics.flows_by_month(ctx, admdvs="420100") == []
