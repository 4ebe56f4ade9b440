"""The transactions the interface answers: one table, ``infno`` → ``Transaction``.

Adding a transaction is one line here (its handler lives in the module of its group). How a call is run follows
from the entry: a write (``writes=True``) is done once per msgid — the business write and the stored answer
commit together, a resend gets the stored answer (interface/calls.py) — and may be reversed by 2601; a read
changes nothing and is answered fresh, never stored. ``file_input``: the input carries a file (9101), so only
the body limit applies to it. ``deferrable``: queued while the person's insured region is out (I2,
interface/deferred.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from yidi.interface import clearing, fees, person, pharmacy, registration, reversal, settlement, signin
from yidi.interface.envelope import Call
from yidi.services.context import AppContext

Handler = Callable[[AppContext, Call], "dict | bytes"]


@dataclass(frozen=True)
class Transaction:
    handler: Handler
    writes: bool = True
    file_input: bool = False
    deferrable: bool = False


TRANSACTIONS: dict[str, Transaction] = {
    "1101": Transaction(person.t1101, writes=False),  # 人员信息获取
    "2201": Transaction(registration.t2201),  # 门诊挂号
    "2202": Transaction(registration.t2202),  # 门诊挂号撤销
    "2203": Transaction(registration.t2203),  # 门诊就诊信息上传
    "2204": Transaction(fees.t2204),  # 门诊费用明细上传
    "2205": Transaction(fees.t2205),  # 门诊费用明细撤销
    "2206": Transaction(settlement.t2206, writes=False),  # 门诊预结算
    "2207": Transaction(settlement.t2207, deferrable=True),  # 门诊结算
    "2208": Transaction(settlement.t2208),  # 门诊结算撤销
    "2401": Transaction(registration.t2401),  # 入院办理
    "2402": Transaction(registration.t2402),  # 出院办理
    "2404": Transaction(registration.t2404),  # 入院撤销
    "2301": Transaction(fees.t2301),  # 住院费用明细上传
    "2302": Transaction(fees.t2302),  # 住院费用明细撤销
    "2303": Transaction(settlement.t2303, writes=False),  # 住院预结算
    "2304": Transaction(settlement.t2304, deferrable=True),  # 住院结算
    "2305": Transaction(settlement.t2305),  # 住院结算撤销
    "2101": Transaction(pharmacy.t2101, writes=False),  # 药店预结算
    "2102": Transaction(pharmacy.t2102),  # 药店结算
    "2103": Transaction(pharmacy.t2103),  # 药店结算撤销
    "2601": Transaction(reversal.t2601),  # 冲正交易
    "9001": Transaction(signin.t9001),  # 签到
    "9002": Transaction(signin.t9002),  # 签退
    "3201": Transaction(clearing.t3201, writes=False),  # 对总账
    "3202": Transaction(clearing.t3202),  # 对明细账
    "3203": Transaction(clearing.t3203),  # 清算申请
    "3204": Transaction(clearing.t3204),  # 清算申请撤销
    "3260": Transaction(clearing.t3260, writes=False),  # 清分数据查询
    "3261": Transaction(clearing.t3261),  # 清分确认
    "3262": Transaction(clearing.t3262),  # 清分确认回退
    "9101": Transaction(clearing.t9101, file_input=True),  # 文件上传
    "9102": Transaction(clearing.t9102, writes=False),  # 文件下载 (answers the file itself)
}
READ_INFNOS = frozenset(infno for infno, entry in TRANSACTIONS.items() if not entry.writes)
WRITE_INFNOS = frozenset(infno for infno, entry in TRANSACTIONS.items() if entry.writes)
DEFERRABLE_INFNOS = frozenset(infno for infno, entry in TRANSACTIONS.items() if entry.deferrable)
