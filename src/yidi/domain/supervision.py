"""Supervision rules (V1–V3): pure functions over settled claims that return leads with evidence.

Each rule looks at ``SettlementFact`` values (no I/O) and returns ``LeadFinding`` values. A finding's
``fingerprint`` is stable, so running the rules again finds the same lead rather than a new one.

Rules (thresholds are parameters in ``SupervisionParams``, not literals in the code):
- overlapping_stay   同一人住院时间重叠（含网上网下重复报销，V3）
- split_admission    同一诊断出院后15天内再次入院（分解住院，V2）
- card_two_regions   同一参保凭证同一天在两个地区就医（冒名就医，V1/V3）
- quantity_over_days 按日计费项目数量超过住院天数（虚计费用，V3）
- hospital_outlier   医院次均费用显著高于同级同类医院（V1）
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations
from statistics import median
from typing import Any

INPATIENT_MED_TYPES = frozenset({"21", "22", "23"})


@dataclass(frozen=True)
class FeeLine:
    code: str
    name: str
    med_chrgitm_type: str
    qty: Decimal


@dataclass(frozen=True)
class SettlementFact:
    """What the rules need to know about one settled claim (direct or manual)."""

    setl_id: str
    kind: str  # direct / manual
    psn_no: str
    fixmedins_code: str
    hospital_level: int
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    med_type: str
    dise_codg: str | None
    begntime: date
    endtime: date
    medfee_sumamt: int  # fen
    fund_pay_sumamt: int  # fen
    lines: tuple[FeeLine, ...] = ()

    @property
    def inpatient(self) -> bool:
        return self.med_type in INPATIENT_MED_TYPES

    @property
    def stay_days(self) -> int:
        """Bed days: admission day counts, discharge day does not; a same-day stay is one day."""
        return max(1, (self.endtime - self.begntime).days)


@dataclass(frozen=True)
class SupervisionParams:
    readmission_days: int = 15  # 分解住院: 出院后15日内同病种再入院 (common inspection practice; illustrative baseline)
    per_day_item_types: frozenset[str] = frozenset({"01"})  # 医疗收费项目类别 01 床位费 is billed per day
    outlier_ratio_bp: int = 15_000  # a hospital's mean cost ≥ 150 % of its peers' median
    outlier_min_claims: int = 3  # too few claims say nothing about a hospital
    outlier_min_peers: int = 2


@dataclass(frozen=True)
class LeadFinding:
    rule: str
    rule_ids: str  # V1 / V2 / V3
    title: str
    psn_no: str | None
    fixmedins_code: str | None
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    setl_ids: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        key = "|".join([self.rule, self.psn_no or "", self.fixmedins_code or "", *sorted(self.setl_ids)])
        return hashlib.sha256(key.encode()).hexdigest()[:32]


RULE_NAMES = {
    "overlapping_stay": "住院时间重叠/重复报销",
    "split_admission": "分解住院",
    "card_two_regions": "同日两地就医（疑似冒名）",
    "quantity_over_days": "按日计费数量超过住院天数",
    "hospital_outlier": "医院次均费用异常",
}


def _by_person(facts: list[SettlementFact]) -> dict[str, list[SettlementFact]]:
    grouped: dict[str, list[SettlementFact]] = defaultdict(list)
    for fact in facts:
        grouped[fact.psn_no].append(fact)
    for claims in grouped.values():
        claims.sort(key=lambda f: (f.begntime, f.endtime, f.setl_id))
    return grouped


def _describe(fact: SettlementFact) -> dict[str, Any]:
    return {"setl_id": fact.setl_id, "kind": fact.kind, "fixmedins_code": fact.fixmedins_code,
            "mdtrtarea_admvs": fact.mdtrtarea_admvs, "med_type": fact.med_type, "dise_codg": fact.dise_codg or "",
            "begntime": fact.begntime.isoformat(), "endtime": fact.endtime.isoformat()}


def overlapping_stays(facts: list[SettlementFact]) -> list[LeadFinding]:
    """Two paid inpatient claims of one person whose stays share a night, or are the same stay claimed
    twice (once directly, once by manual claim: 网上网下重复报销). A discharge and an admission on the
    same day (a transfer) is not an overlap."""
    found = []
    for psn_no, claims in _by_person(facts).items():
        stays = [c for c in claims if c.inpatient]
        for a, b in combinations(stays, 2):
            same_stay = a.begntime == b.begntime and a.endtime == b.endtime
            if same_stay or (a.begntime < b.endtime and b.begntime < a.endtime):
                found.append(LeadFinding(
                    "overlapping_stay", "V3", "同一参保人住院时间重叠" + ("（同一次住院重复报销）" if same_stay else ""),
                    psn_no, b.fixmedins_code, b.insuplc_admdvs, b.mdtrtarea_admvs, (a.setl_id, b.setl_id),
                    {"claims": [_describe(a), _describe(b)],
                     "overlap_from": max(a.begntime, b.begntime).isoformat(),
                     "overlap_to": min(a.endtime, b.endtime).isoformat()}))
    return found


def split_admissions(facts: list[SettlementFact], params: SupervisionParams = SupervisionParams()) -> list[LeadFinding]:
    """分解住院: readmitted for the same diagnosis within ``readmission_days`` of a discharge."""
    found = []
    for psn_no, claims in _by_person(facts).items():
        stays = [c for c in claims if c.inpatient and c.dise_codg]
        for a, b in zip(stays, stays[1:]):
            gap = (b.begntime - a.endtime).days
            if a.dise_codg == b.dise_codg and 0 <= gap <= params.readmission_days:
                found.append(LeadFinding(
                    "split_admission", "V2", f"出院后{gap}天同病种（{a.dise_codg}）再次入院",
                    psn_no, b.fixmedins_code, b.insuplc_admdvs, b.mdtrtarea_admvs, (a.setl_id, b.setl_id),
                    {"claims": [_describe(a), _describe(b)], "gap_days": gap,
                     "threshold_days": params.readmission_days}))
    return found


def _days(fact: SettlementFact) -> set[date]:
    return {fact.begntime + timedelta(days=n) for n in range((fact.endtime - fact.begntime).days + 1)}


def card_in_two_regions(facts: list[SettlementFact]) -> list[LeadFinding]:
    """One person's card used the same day in two different treatment regions (冒名就医). Two stays
    that overlap are already an overlapping-stay lead, so at least one of the pair is outpatient."""
    found = []
    for psn_no, claims in _by_person(facts).items():
        for a, b in combinations(claims, 2):
            if a.mdtrtarea_admvs == b.mdtrtarea_admvs or (a.inpatient and b.inpatient):
                continue
            shared = sorted(_days(a) & _days(b))
            if shared:
                found.append(LeadFinding(
                    "card_two_regions", "V1/V3", f"同一凭证 {shared[0].isoformat()} 在两地就医",
                    psn_no, b.fixmedins_code, b.insuplc_admdvs, b.mdtrtarea_admvs, (a.setl_id, b.setl_id),
                    {"claims": [_describe(a), _describe(b)], "same_days": [d.isoformat() for d in shared]}))
    return found


def quantity_over_days(facts: list[SettlementFact], params: SupervisionParams = SupervisionParams()) -> list[LeadFinding]:
    """A per-day item (bed fee) billed for more days than the stay lasted."""
    found = []
    for fact in facts:
        if not fact.inpatient:
            continue
        per_day: dict[str, Decimal] = defaultdict(Decimal)
        names: dict[str, str] = {}
        for line in fact.lines:
            if line.med_chrgitm_type in params.per_day_item_types:
                per_day[line.code] += line.qty
                names[line.code] = line.name
        over = {code: qty for code, qty in per_day.items() if qty > fact.stay_days}
        if over:
            found.append(LeadFinding(
                "quantity_over_days", "V3", f"按日计费项目数量超过住院天数（{fact.stay_days}天）",
                fact.psn_no, fact.fixmedins_code, fact.insuplc_admdvs, fact.mdtrtarea_admvs, (fact.setl_id,),
                {"claims": [_describe(fact)], "stay_days": fact.stay_days,
                 "items": [{"code": c, "name": names[c], "qty": str(q)} for c, q in sorted(over.items())]}))
    return found


def hospital_outliers(facts: list[SettlementFact], params: SupervisionParams = SupervisionParams()) -> list[LeadFinding]:
    """A hospital whose mean cost per claim is far above the median of its peers (same level, same
    medical class). Cancelled claims never reach here; manual claims count like direct ones."""
    groups: dict[tuple[int, bool], dict[str, list[SettlementFact]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        groups[(fact.hospital_level, fact.inpatient)][fact.fixmedins_code].append(fact)
    found = []
    for (level, inpatient), hospitals in groups.items():
        means = {code: sum(f.medfee_sumamt for f in claims) // len(claims)
                 for code, claims in hospitals.items() if len(claims) >= params.outlier_min_claims}
        for code, mean in means.items():
            peers = [m for other, m in means.items() if other != code]
            if len(peers) < params.outlier_min_peers:
                continue
            peer_median = int(median(peers))
            if peer_median > 0 and mean * 10_000 >= peer_median * params.outlier_ratio_bp:
                claims = hospitals[code]
                found.append(LeadFinding(
                    "hospital_outlier", "V1", f"{'住院' if inpatient else '门诊'}次均费用为同级医院中位数的"
                    f"{mean * 100 // peer_median}%",
                    None, code, claims[0].mdtrtarea_admvs, claims[0].mdtrtarea_admvs,  # the treatment region's own lead (V1)
                    tuple(sorted(f.setl_id for f in claims)),
                    {"hospital_level": level, "inpatient": inpatient, "claims": len(claims), "mean_fen": mean,
                     "peer_median_fen": peer_median, "peers": len(peers),
                     "ratio_threshold_bp": params.outlier_ratio_bp}))
    return found


def run_rules(facts: list[SettlementFact], params: SupervisionParams = SupervisionParams()) -> list[LeadFinding]:
    """Every rule over the same facts; findings in a stable order."""
    findings = [*overlapping_stays(facts), *split_admissions(facts, params), *card_in_two_regions(facts),
                *quantity_over_days(facts, params), *hospital_outliers(facts, params)]
    return sorted(findings, key=lambda f: (f.rule, f.fingerprint))
