"""The personal account (个人账户) at remote institutions (B9; seed 002 三(三): 所有统筹区要允许职工医保参保人在异地
就医定点医药机构使用个人账户直接结算).

After the fund's share is computed, a 职工 who asks for it (interface ``acct_used_flag`` = 1) pays the person's
share from the account, up to the balance; the rest is cash (``psn_cash_pay``). Whether the insured region allows
it is its policy parameter ``remote.personal_account``; 居民 (390) have no account. Reading: docs/policy-readings.md
B-R22.
"""

from __future__ import annotations

from dataclasses import replace

from yidi.domain.benefit import BenefitResult, TraceStep
from yidi.domain.money import Fen, fen_to_yuan
from yidi.domain.policy import InsuredPolicy

EMPLOYEE_INSUTYPE = "310"  # 职工基本医疗保险: the only insurance with a personal account


def pay_from_account(result: BenefitResult, policy: InsuredPolicy, insutype: str, balance_fen: Fen) -> BenefitResult:
    """``result`` with ``acct_pay`` = min(person's share, balance) where the account may be used, and a trace step
    saying how much was paid from it, or why nothing was."""
    allowed = policy.params.remote.personal_account.value
    if insutype != EMPLOYEE_INSUTYPE:
        acct_pay, why = 0, "城乡居民医保没有个人账户，个人负担以现金支付"
    elif not allowed:
        acct_pay, why = 0, "参保地政策未规定个人账户可在异地就医定点医药机构直接结算，个人负担以现金支付"
    else:
        acct_pay = max(0, min(result.psn_part_amt, balance_fen))
        why = "职工个人账户支付个人负担部分，不超过账户余额；其余以现金支付"
    step = TraceStep("personal_account", "B9", policy.version_id, why,
                     {"psn_part_amt": fen_to_yuan(result.psn_part_amt), "balance": fen_to_yuan(max(0, balance_fen))},
                     {"acct_pay": fen_to_yuan(acct_pay), "psn_cash_pay": fen_to_yuan(result.psn_part_amt - acct_pay)})
    return replace(result, acct_pay=acct_pay, trace=(*result.trace, step))
