"""What a settlement page (and the slip) shows beyond the service's view: where the person is insured and
where they were treated, the diagnosis, when it was settled, and — when the fund paid nothing — why, in
words read from the stored trace (the rule IDs stay in the trace, where a clerk reads them)."""

from __future__ import annotations

from yidi.domain.coverage import MED_CLASS_OF, MedClass

CAP_NAMES = {MedClass.INPATIENT: "住院最高支付限额", MedClass.OUTPATIENT: "年度门诊限额",
             MedClass.CHRONIC: "该病种年度门诊限额", MedClass.SPECIAL_DRUG: "特药年度支付限额"}
ZERO = ("0.00", "0", "-0.00")


def zero_fund_reason(fields: dict, med_type: str) -> str | None:
    """Why the fund paid nothing, from the trace's own figures; None when it paid something."""
    if str(fields.get("fund_pay_sumamt")) not in ZERO or str(fields.get("medfee_sumamt")) in ZERO:
        return None
    steps = {step.get("step"): step for step in fields.get("trace") or []}
    scope = steps.get("scope", {}).get("result", {})
    if str(scope.get("inscp_scp_amt")) in ZERO:
        return "所有费用都不在医保报销范围内（目录外全自费、超出限价或乙类先行自付部分），由个人负担"
    fund = steps.get("fund", {})
    inputs, result = fund.get("inputs", {}), fund.get("result", {})
    if str(result.get("cap_left")) in ZERO:
        cap_name = CAP_NAMES.get(MED_CLASS_OF.get(med_type, MedClass.OUTPATIENT), "年度限额")
        return (f"{cap_name}已用完（年度限额 {inputs.get('annual_cap')} 元，本年度此前已支付 "
                f"{inputs.get('used_this_year')} 元），超出部分由个人负担")
    if str(inputs.get("ratio", "")).startswith("0"):
        return "按参保地政策，本次就医的支付比例为 0"
    deductible = steps.get("deductible", {})
    if str(inputs.get("base")) in ZERO and deductible:
        return (f"符合报销范围的金额 {deductible.get('inputs', {}).get('eligible')} 元未超过起付标准 "
                f"{deductible.get('inputs', {}).get('deductible')} 元")
    return "详见下方“怎么算出来的”"
