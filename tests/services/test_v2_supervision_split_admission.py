"""V2: the insured region's periodic analysis finds 分解住院 (same diagnosis readmitted within 15 days)."""

from __future__ import annotations

from datetime import date

from yidi.domain.supervision import SupervisionParams, split_admissions
from yidi.services import supervision
from tests.services.supervision_helpers import file_p001_beijing, stay


def test_v2_readmission_same_diagnosis_within_15_days(ctx):
    file_p001_beijing(ctx)
    first = stay(ctx, date(2023, 3, 1), date(2023, 3, 10))
    second = stay(ctx, date(2023, 3, 15), date(2023, 3, 20))  # 5 days after discharge
    stay(ctx, date(2023, 6, 1), date(2023, 6, 5))  # 73 days later: not a split
    stay(ctx, date(2023, 6, 10), date(2023, 6, 12), dise="K35.9")  # other diagnosis: not a split
    supervision.run_rules(ctx, on=date(2023, 7, 1), actor="test", admdvs="410800")
    [lead] = supervision.list_leads(ctx, rule="split_admission", admdvs="410800")
    assert lead.setl_ids == [first.setl_id, second.setl_id]
    assert lead.evidence["gap_days"] == 5 and lead.rule_ids == "V2"
    # Another insured region does not see Jiaozuo's lead.
    assert supervision.list_leads(ctx, admdvs="420100") == []


def test_v2_threshold_is_a_parameter():
    from tests.services.test_v3_supervision_duplicates import _fact

    a = _fact("A", date(2023, 3, 1), date(2023, 3, 10))
    b = _fact("B", date(2023, 3, 26), date(2023, 3, 28))  # 16 days after discharge
    assert split_admissions([a, b]) == []
    assert len(split_admissions([a, b], SupervisionParams(readmission_days=16))) == 1
