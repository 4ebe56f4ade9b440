"""The policy types: one version of an insured region's policy, a treatment region's catalog, the dated book.

These are the values the rules read (``coverage``, ``benefit``, ``catalog``, ``filing``). Every figure is a
``{value, source}`` pair: ``source`` cites the seed document and rule ID, or says ``illustrative baseline``.
Amounts are yuan strings in the policy files (an edge) and fen here; ratios are percent strings there and
basis points here — the conversion runs as the values are validated. The models are frozen pydantic models:
pydantic checks the shape and the types, and nothing here reads a file. Reading, merging and cross-checking
the dated YAML files is the loader's work (``yidi.policy.loader``), which builds a ``PolicyBook`` of these.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from yidi.domain.errors import YidiError
from yidi.domain.money import BasisPoints, Fen, percent_to_bp, yuan_to_fen

T = TypeVar("T")

YuanFen = Annotated[Fen, BeforeValidator(lambda v: yuan_to_fen(v) if not isinstance(v, int) or isinstance(v, bool) else v * 100)]
Percent = Annotated[BasisPoints, BeforeValidator(percent_to_bp)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(Strict, Generic[T]):
    value: T
    source: str = Field(min_length=3)


Level = Literal[1, 2, 3]
MedClassName = Literal["inpatient", "outpatient", "chronic"]
FilingTypeName = Literal[
    "retired_relocated", "long_term_resident", "resident_worker", "referral", "emergency", "other_temporary"
]
TemporaryType = Literal["referral", "emergency", "other_temporary"]


# ---------------------------------------------------------------- insured region ----
class InpatientPolicy(Strict):
    deductible: Figure[dict[Level, YuanFen]]
    ratio: Figure[dict[Level, Percent]]
    annual_cap: Figure[YuanFen]


class OutpatientPolicy(Strict):
    ratio: Figure[Percent]
    annual_limit: Figure[YuanFen]


class ChronicDisease(Strict):
    name: str
    ratio: Figure[Percent]
    annual_limit: Figure[YuanFen]
    # B10 (seed 002 三(四)): where the disease settles directly away from home — anywhere (the national five,
    # 跨省) or only inside the insured province (the rest of the region's list, 省内).
    remote: Figure[Literal["cross_province", "province"]]


class Benefits(Strict):
    inpatient: dict[str, InpatientPolicy]  # by insutype
    outpatient: dict[str, OutpatientPolicy]
    chronic: dict[str, ChronicDisease]  # by dise_codg; limit per disease per year (B10)


class Reductions(Strict):
    """Percentage points taken off the fund ratio (B3–B5). Never applied to chronic (14)."""

    referral: Figure[int]
    emergency: Figure[int]
    other_temporary: Figure[int]
    long_term_at_filed_place: Figure[int]
    long_term_returning: Figure[dict[MedClassName, int]]
    temporary_returning: Figure[int]


class FirstSelfpay(Strict):
    """首先自付 (B6): a share of the in-scope amount the person pays before the normal ratio."""

    share: Figure[Percent]
    applies_to: Figure[list[Literal["temporary", "manual_without_filing"]]]
    base: Figure[Literal["in_scope_before_deductible"]]


class RemoteRules(Strict):
    reductions: Reductions
    first_selfpay: FirstSelfpay
    # B3 德州: a commitment-only long-term filer returning within the lock → temporary benefits.
    long_term_commitment_returning_within_lock: Figure[Literal["local", "temporary"]]
    # B4: outside both filed and insured region — covered as other temporary, or needs its own filing.
    long_term_elsewhere: Figure[Literal["not_covered", "other_temporary"]]
    # B7: filed after a self-paid discharge, long-term by commitment → this stay as other temporary.
    retro_after_discharge_commitment: Figure[Literal["other_temporary", "by_type"]]
    # B6/S4: a manual claim with no filing at all.
    manual_without_filing: Figure[Literal["refuse", "other_temporary"]]
    # B13 / national 经办规程: emergency rescue is treated as filed (emergency type).
    emergency_waives_filing: Figure[bool]
    # 001 二(五): a long-term filer by commitment across provinces gets two-way benefits only after supplying the
    # filing's materials; before that, back in the insured region: other-temporary benefits, or two-way anyway.
    cross_province_commitment_returning: Figure[Literal["other_temporary", "two_way"]]
    # S4 / B-R19: working days the insured region's clerk has to review a 零星报销 (manual claim).
    manual_claim_review_working_days: Figure[int]
    # B9 (seed 002 三(三)): 职工 may pay their share from the personal account at remote institutions.
    personal_account: Figure[bool]


class FilingRules(Strict):
    online_auto_approve: Figure[bool]  # F4: 湖北 instant; 河南 within 2 working days
    approval_working_days: Figure[int]
    temporary_validity_months: Figure[int]  # F5
    # How "N months from begndate" ends: the day before the corresponding day (inclusive count, the
    # common administrative spelling: 2023-06-01 → 2023-11-30) or the corresponding day itself.
    temporary_validity_end: Figure[Literal["day_before_corresponding_day", "corresponding_day"]]
    # F5: [min, max] months for 恶性肿瘤放化疗 etc. (焦作); null where the region's document sets no extension.
    temporary_extension_months: Figure[tuple[int, int] | None]
    # F6: months a commitment-based long-term filing stays locked against change/cancel without proof;
    # 0 where the region's document sets no limit (湖北).
    commitment_lock_months: Figure[int]
    change_mode: Figure[Literal["amend", "terminate_and_refile"]]  # F6 焦作 vs 德州
    intra_province_temporary_needs_filing: Figure[bool]  # F9
    commitment_allowed_for: Figure[list[FilingTypeName]]  # F3
    proof_ever_required: Figure[bool]  # F3 德州: never


class SpecialDrugPolicy(Strict):
    """特药 (B11, seed 004): the insured region's list of special drugs settled directly away from home, their
    benefit and where and how they are dispensed. Absent where the region's document sets no 特药 direct
    settlement (docs/policy-readings.md B-R27…B-R31)."""

    drugs: Figure[dict[str, str]]  # med_list_codg → name (the region's 特药 list)
    ratio: Figure[dict[str, Percent]]  # fund share by insutype
    annual_limit: Figure[dict[str, YuanFen]]  # per person and calendar year, all 特药 together, by insutype
    remote: Figure[Literal["province", "cross_province"]]  # 省内 only (seed 004) or also 跨省
    dual_channel_pharmacy: Figure[bool]  # 双通道: also at designated pharmacies, not only at hospitals
    recognition_required: Figure[bool]  # 特药待遇认定 before the first purchase
    prescription_by_responsible_doctor: Figure[bool]  # a pharmacy fills only the 责任医师's prescription
    reductions_apply: Figure[bool]  # temporary-filer ratio reductions (B5) apply to 特药


class InsuredPolicyVersion(Strict):
    effective_from: date
    source: str
    filing: FilingRules
    benefits: Benefits
    remote: RemoteRules
    special_drugs: SpecialDrugPolicy | None = None


# ------------------------------------------------------------- treatment region ----
class CatalogItem(Strict):
    name: str
    chrgitm_lv: Literal["01", "02", "03"]  # 甲 / 乙 / 丙
    selfpay_prop: Percent = 0  # 乙类 先行自付 share
    price_limit: YuanFen | None = None  # unit price limit
    med_chrgitm_type: str  # national 大类 (S1)
    special_drug: bool = False  # B11
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _class_b_has_share(self) -> "CatalogItem":
        if self.chrgitm_lv != "02" and self.selfpay_prop:
            raise ValueError("only 乙类 (02) items carry a 先行自付 share")
        if not 0 <= self.selfpay_prop <= 10_000:
            raise ValueError("selfpay_prop must be within 0–100%")
        return self


class CatalogVersion(Strict):
    effective_from: date
    source: str
    items: dict[str, CatalogItem]


# ---------------------------------------------------------------------- national ----
class NationalCaps(Strict):
    """Largest ratio reductions a region may set (B5, 001 二(六)); province files may be stricter."""

    max_reduction_pp: Figure[dict[TemporaryType, int]]
    max_commitment_lock_months: Figure[int]  # 001 三(三): 原则上不超过6个月
    min_temporary_validity_months: Figure[int]  # 001 三(三): 原则上不少于6个月


# ------------------------------------------------------------- the dated book ----
@dataclass(frozen=True)
class InsuredPolicy:
    """One version of one insured region's policy, as in force from ``effective_from``."""

    region: str
    name: str
    version_id: str  # cited in every trace step, e.g. "410800@2023-01-01"
    params: InsuredPolicyVersion

    @property
    def effective_from(self) -> date:
        return self.params.effective_from


@dataclass(frozen=True)
class Catalog:
    admdvs: str
    name: str
    version_id: str
    items: dict[str, CatalogItem]


V = TypeVar("V")


@dataclass
class DatedValues(Generic[V]):
    """Values dated by the day they take effect; ``at(day)`` is the one in force that day."""

    dates: list[date] = field(default_factory=list)
    values: list[V] = field(default_factory=list)

    def add(self, on: date, value: V) -> None:
        index = bisect.bisect_right(self.dates, on)
        self.dates.insert(index, on)
        self.values.insert(index, value)

    def at(self, on: date) -> V | None:
        index = bisect.bisect_right(self.dates, on) - 1
        return self.values[index] if index >= 0 else None


@dataclass
class PolicyBook:
    national: NationalCaps
    insured: dict[str, DatedValues[InsuredPolicy]] = field(default_factory=dict)
    catalogs: dict[str, DatedValues[Catalog]] = field(default_factory=dict)
    region_names: dict[str, str] = field(default_factory=dict)

    def insured_policy(self, region: str, on: date) -> InsuredPolicy:
        """The version in force on ``on`` (a claim's discharge date, B-R13); NO_POLICY naming the year when
        none is loaded for that date (e.g. a stay discharged before the region's first version)."""
        dated = self.insured.get(region, DatedValues[InsuredPolicy]())
        policy = dated.at(on)
        if policy is None:
            first = f"（已载入的最早版本自 {dated.dates[0].isoformat()} 起施行）" if dated.dates else "（未载入任何版本）"
            raise YidiError("NO_POLICY", {"region": region, "date": on.isoformat(), "year": on.year, "first": first})
        return policy

    def filing_policy(self, region: str, on: date) -> InsuredPolicy:
        """The version whose filing rules govern a filing applied for on ``on``: the one in force, or — for a filing
        made before the region's first version — that first version (seed 000 三: 之前有关规定与本通知不一致的，
        均按本通知规定执行; a long-term filing made earlier stays valid, 长期有效). NO_POLICY only for a region
        without any policy (docs/policy-readings.md F-R18)."""
        dated = self.insured.get(region, DatedValues[InsuredPolicy]())
        if dated.values and on < dated.dates[0]:
            return dated.values[0]
        return self.insured_policy(region, on)

    def has_insured_policy(self, region: str) -> bool:
        return region in self.insured

    def catalog(self, admdvs: str, on: date) -> Catalog | None:
        """The treatment region's catalog: the city's own, else its province's (municipalities are both)."""
        for code in (admdvs, admdvs[:2] + "0000"):
            found = self.catalogs.get(code, DatedValues[Catalog]()).at(on)
            if found is not None:
                return found
        return None

    def versions(self, region: str) -> list[InsuredPolicy]:
        return list(self.insured.get(region, DatedValues[InsuredPolicy]()).values)
