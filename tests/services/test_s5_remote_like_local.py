"""S5: the treatment region manages remote patients like local ones — the same monitoring rules, the same
thresholds, the same evidence, whether the patient is insured here or in another province."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from yidi.domain.supervision import SettlementFact, run_rules


def _stay(setl_id: str, insured: str, begin: date, end: date) -> SettlementFact:
    return SettlementFact(setl_id=setl_id, kind="direct", psn_no=f"P-{insured}", fixmedins_code="H11000000001",
                          hospital_level=3, insuplc_admdvs=insured, mdtrtarea_admvs="110000", med_type="21",
                          dise_codg="I21.0", begntime=begin, endtime=end, medfee_sumamt=1_000_000,
                          fund_pay_sumamt=800_000)


def _findings(insured: str) -> list[tuple[str, tuple[str, ...]]]:
    stays = [_stay("A", insured, date(2023, 3, 1), date(2023, 3, 10)),
             _stay("B", insured, date(2023, 3, 15), date(2023, 3, 20)),  # readmitted 5 days later (分解住院)
             _stay("C", insured, date(2023, 3, 18), date(2023, 3, 19))]  # overlaps B
    return sorted((finding.rule, tuple(finding.setl_ids)) for finding in run_rules(stays))


def test_s5_remote_and_local_patients_meet_the_same_rules():
    local = _findings("110000")  # insured in 北京, treated in 北京
    remote = _findings("410800")  # insured in 焦作, treated in 北京
    assert local and local == remote
    assert {rule for rule, _ in remote} >= {"split_admission", "overlapping_stay"}


def test_s5_outliers_compare_remote_claims_with_local_peers():
    # A hospital whose remote claims are far above its same-level peers is flagged like any other.
    peers = [replace(_stay(f"L{h}{i}", "110000", date(2023, 3, 1), date(2023, 3, 5)),
                     psn_no=f"L{h}{i}", fixmedins_code=f"H1100000000{h}") for h in range(3) for i in range(3)]
    outlier = [replace(_stay(f"R{i}", "410800", date(2023, 3, 1), date(2023, 3, 5)), psn_no=f"R{i}",
                       fixmedins_code="H11000000009", medfee_sumamt=9_000_000, fund_pay_sumamt=7_000_000)
               for i in range(3)]
    flagged = [f for f in run_rules(peers + outlier) if f.rule == "hospital_outlier"]
    assert [f.setl_ids for f in flagged] == [("R0", "R1", "R2")]
