"""The benefit calculation (B1, B5, B6, B9, B10, B12): who pays what, in integer fen, with a trace.

A pipeline of small pure steps following docs/baseline-policy.md's arithmetic. Each step appends one
``TraceStep`` citing the rule ID and the policy version it used, so a clerk can follow the money.
Input: the treatment region's catalog, the insured region's policy, the coverage decided by
``coverage.resolve_coverage`` and the fund already paid this calendar year against the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from yidi.domain.catalog import FeeItem, ItemSplit, split_item, totals
from yidi.domain.codes import MED_CLASS_OF, MedClass
from yidi.domain.coverage import CONTEXT_NAMES, Coverage
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import Fen, apply_bp, bp_to_percent, fen_to_yuan
from yidi.domain.policy import Catalog, InsuredPolicy, Level
from yidi.domain.special_drugs import benefit_of, require_listed


@dataclass(frozen=True)
class TraceStep:
    step: str
    rule: str
    policy_version: str
    explanation: str
    inputs: dict[str, Any]
    result: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "rule": self.rule, "policy_version": self.policy_version,
                "explanation": self.explanation, "inputs": self.inputs, "result": self.result}


@dataclass(frozen=True)
class CapKey:
    """What a running total counts against: one per person, calendar year and cap (B9, B10)."""

    med_class: str
    dise_codg: str = ""

    def __str__(self) -> str:
        return f"{self.med_class}:{self.dise_codg}" if self.dise_codg else self.med_class


@dataclass(frozen=True)
class BenefitResult:
    medfee_sumamt: Fen
    fulamt_ownpay_amt: Fen
    overlmt_selfpay: Fen
    preselfpay_amt: Fen
    inscp_scp_amt: Fen
    first_selfpay: Fen
    act_pay_dedc: Fen
    ratio_bp: int
    hifp_pay: Fen
    pool_prop_selfpay: Fen
    fund_pay_sumamt: Fen
    psn_part_amt: Fen
    cap_key: CapKey
    cap_fen: Fen
    cap_used_before_fen: Fen
    policy_version: str
    catalog_version: str
    splits: tuple[ItemSplit, ...]
    trace: tuple[TraceStep, ...] = field(default_factory=tuple)
    acct_pay: Fen = 0  # paid from the person's share by the personal account (domain/account.py, B9)

    def __post_init__(self) -> None:
        # Invariants asserted on every result (TigerBeetle style): the parts add up to the whole.
        assert self.fund_pay_sumamt + self.psn_part_amt == self.medfee_sumamt
        assert (self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt
                == self.medfee_sumamt)
        assert 0 <= self.hifp_pay <= max(0, self.cap_fen - self.cap_used_before_fen)
        assert self.first_selfpay + self.act_pay_dedc + self.hifp_pay + self.pool_prop_selfpay == self.inscp_scp_amt
        assert 0 <= self.acct_pay <= self.psn_part_amt

    def fields_fen(self) -> dict[str, Fen]:
        return {
            "medfee_sumamt": self.medfee_sumamt, "fulamt_ownpay_amt": self.fulamt_ownpay_amt,
            "overlmt_selfpay": self.overlmt_selfpay, "preselfpay_amt": self.preselfpay_amt,
            "inscp_scp_amt": self.inscp_scp_amt, "first_selfpay": self.first_selfpay,
            "act_pay_dedc": self.act_pay_dedc, "hifp_pay": self.hifp_pay,
            "pool_prop_selfpay": self.pool_prop_selfpay, "fund_pay_sumamt": self.fund_pay_sumamt,
            "psn_part_amt": self.psn_part_amt,
        }

    def fields_yuan(self) -> dict[str, str]:
        return {name: fen_to_yuan(value) for name, value in self.fields_fen().items()}


def cap_key_for(med_type: str, dise_codg: str | None) -> CapKey:
    med_class = MED_CLASS_OF[med_type]
    return CapKey(med_class.value, dise_codg or "" if med_class is MedClass.CHRONIC else "")


def calculate(
    *,
    policy: InsuredPolicy,
    catalog: Catalog | None,
    insutype: str,
    hospital_level: int,
    med_type: str,
    dise_codg: str | None,
    items: list[FeeItem],
    coverage: Coverage,
    cap_used_before_fen: Fen,
) -> BenefitResult:
    if med_type not in MED_CLASS_OF:
        raise YidiError("MED_TYPE_NOT_SUPPORTED", {"med_type": med_type})
    med_class = MED_CLASS_OF[med_type]
    version = policy.version_id
    catalog_version = catalog.version_id if catalog else "catalog-none"
    benefits = policy.params.benefits
    trace: list[TraceStep] = []

    # Parameters of the insured region for this kind of visit (B1, B9, B10).
    if med_class is MedClass.INPATIENT:
        inpatient = benefits.inpatient.get(insutype)
        if inpatient is None:
            raise YidiError("NO_POLICY", {"region": f"{policy.region} 险种{insutype}", "date": policy.version_id,
                                             "year": policy.effective_from.year, "first": ""})
        level = cast(Level, hospital_level)  # a level the policy does not list is a KeyError, as before
        deductible_fen = inpatient.deductible.value[level]
        base_ratio_bp = inpatient.ratio.value[level]
        cap_fen = inpatient.annual_cap.value
        param_rule = "B1"
    elif med_class is MedClass.OUTPATIENT:
        outpatient = benefits.outpatient.get(insutype)
        if outpatient is None:
            raise YidiError("NO_POLICY", {"region": f"{policy.region} 险种{insutype}", "date": policy.version_id,
                                             "year": policy.effective_from.year, "first": ""})
        deductible_fen, base_ratio_bp, cap_fen = 0, outpatient.ratio.value, outpatient.annual_limit.value
        param_rule = "B9"
    elif med_class is MedClass.SPECIAL_DRUG:
        # B11: the insured region's 特药 list, ratio and annual limit (one limit for all 特药 of the year).
        special = policy.params.special_drugs
        if special is None:
            raise YidiError("SPECIAL_DRUG_NOT_COVERED", {"region": policy.region, "name": policy.name})
        require_listed(special, items)
        figures = benefit_of(special, insutype)
        if figures is None:
            raise YidiError("NO_POLICY", {"region": f"{policy.region} 险种{insutype} 特药", "date": policy.version_id,
                                          "year": policy.effective_from.year, "first": ""})
        deductible_fen, (base_ratio_bp, cap_fen) = 0, figures
        param_rule = "B11"
    else:
        disease = benefits.chronic.get(dise_codg or "")
        if disease is None:
            # Out of range for this insured region (B1, B10): INVALID_INPUT naming the field, as the
            # scenario contract fixes for "out of range"; the message names the disease and the list.
            listed = "、".join(f"{code} {entry.name}" for code, entry in benefits.chronic.items())
            raise invalid("dise_codg", f"病种 {dise_codg or '（未填写）'} 不在参保地门诊慢特病病种范围内"
                                       f"（{listed}）；范围外费用可回参保地按规定手工报销")
        deductible_fen, base_ratio_bp, cap_fen = 0, disease.ratio.value, disease.annual_limit.value
        param_rule = "B10"

    trace.append(TraceStep("coverage", "+".join(coverage.rules), version, coverage.explanation,
                           {"context": coverage.context.value,
                            "filing_id": coverage.filing.filing_id if coverage.filing else None,
                            "temporary_type": coverage.temporary_type.value if coverage.temporary_type else None},
                           {"待遇类型": CONTEXT_NAMES[coverage.context], "reduction_pp": coverage.reduction_pp,
                            "first_selfpay": coverage.first_selfpay}))

    # 1–4: scope by the treatment region's catalog, row by row (B1, S1).
    splits = [split_item(item, catalog) for item in items]
    scope = totals(splits)
    trace.append(TraceStep("scope", "B1", catalog_version,
                           "按就医地目录划分：丙类全自费、超限价自付、乙类先行自付，其余为符合政策范围金额",
                           {"items": [{"code": s.code, "amount": fen_to_yuan(s.amount_fen), "chrgitm_lv": s.chrgitm_lv}
                                      for s in splits]},
                           {"medfee_sumamt": fen_to_yuan(scope.medfee_sumamt),
                            "fulamt_ownpay_amt": fen_to_yuan(scope.fulamt_ownpay_amt),
                            "overlmt_selfpay": fen_to_yuan(scope.overlmt_selfpay),
                            "preselfpay_amt": fen_to_yuan(scope.preselfpay_amt),
                            "inscp_scp_amt": fen_to_yuan(scope.inscp_scp_amt)}))

    # 5: 首先自付 (B6) on the in-scope amount before the deductible (documented reading).
    inscp = scope.inscp_scp_amt
    first_share = policy.params.remote.first_selfpay.share.value if coverage.first_selfpay else 0
    first_selfpay = apply_bp(inscp, first_share)
    eligible = inscp - first_selfpay
    trace.append(TraceStep("first_selfpay", "B6", version,
                           f"首先自付 {bp_to_percent(first_share)}" if first_share else "不适用首先自付",
                           {"inscp_scp_amt": fen_to_yuan(inscp), "share": bp_to_percent(first_share)},
                           {"first_selfpay": fen_to_yuan(first_selfpay), "eligible": fen_to_yuan(eligible)}))

    # 6: deductible, per admission for inpatient stays.
    act_pay_dedc = min(eligible, deductible_fen)
    trace.append(TraceStep("deductible", param_rule, version,
                           f"起付标准（{hospital_level}级医院）" if med_class is MedClass.INPATIENT
                           else "特药不设起付标准" if med_class is MedClass.SPECIAL_DRUG else "门诊不设起付标准",
                           {"deductible": fen_to_yuan(deductible_fen), "eligible": fen_to_yuan(eligible)},
                           {"act_pay_dedc": fen_to_yuan(act_pay_dedc)}))

    # 7: ratio = base ratio for the level − reduction (B3–B5); never below zero.
    ratio_bp = max(0, base_ratio_bp - coverage.reduction_pp * 100)
    trace.append(TraceStep("ratio", "B5" if coverage.reduction_pp else param_rule, version,
                           f"支付比例 {bp_to_percent(base_ratio_bp)} − {coverage.reduction_pp} 个百分点",
                           {"base_ratio": bp_to_percent(base_ratio_bp), "reduction_pp": coverage.reduction_pp},
                           {"ratio": bp_to_percent(ratio_bp)}))

    # 8: fund payment, limited by what is left of the calendar year's cap (B9, B10).
    by_ratio = apply_bp(eligible - act_pay_dedc, ratio_bp)
    cap_left = max(0, cap_fen - cap_used_before_fen)
    hifp_pay = min(by_ratio, cap_left)
    trace.append(TraceStep("fund", "B12", version,
                           "统筹基金支付 = (可报销金额 − 起付线) × 比例，不超过年度限额余额",
                           {"base": fen_to_yuan(eligible - act_pay_dedc), "ratio": bp_to_percent(ratio_bp),
                            "annual_cap": fen_to_yuan(cap_fen), "used_this_year": fen_to_yuan(cap_used_before_fen)},
                           {"by_ratio": fen_to_yuan(by_ratio), "cap_left": fen_to_yuan(cap_left),
                            "hifp_pay": fen_to_yuan(hifp_pay)}))

    # 9: totals.
    fund_pay_sumamt = hifp_pay
    psn_part_amt = scope.medfee_sumamt - fund_pay_sumamt
    pool_prop_selfpay = eligible - act_pay_dedc - hifp_pay
    trace.append(TraceStep("totals", "B12", version, "基金支付合计与个人负担（整数分，四舍五入到分）",
                           {}, {"fund_pay_sumamt": fen_to_yuan(fund_pay_sumamt),
                                "psn_part_amt": fen_to_yuan(psn_part_amt),
                                "pool_prop_selfpay": fen_to_yuan(pool_prop_selfpay)}))
    special_items = [s.code for s in splits if s.special_drug]
    if special_items:
        trace.append(TraceStep("special_drug", "B11", catalog_version, "特药按目录直接结算", {"items": special_items},
                               {}))
    for note in coverage.notes:
        trace.append(TraceStep("review", "B8", version, note, {}, {}))

    return BenefitResult(
        medfee_sumamt=scope.medfee_sumamt, fulamt_ownpay_amt=scope.fulamt_ownpay_amt,
        overlmt_selfpay=scope.overlmt_selfpay, preselfpay_amt=scope.preselfpay_amt, inscp_scp_amt=inscp,
        first_selfpay=first_selfpay, act_pay_dedc=act_pay_dedc, ratio_bp=ratio_bp, hifp_pay=hifp_pay,
        pool_prop_selfpay=pool_prop_selfpay, fund_pay_sumamt=fund_pay_sumamt, psn_part_amt=psn_part_amt,
        cap_key=cap_key_for(med_type, dise_codg), cap_fen=cap_fen, cap_used_before_fen=cap_used_before_fen,
        policy_version=version, catalog_version=catalog_version, splits=tuple(splits), trace=tuple(trace),
    )
