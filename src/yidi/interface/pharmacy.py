"""The pharmacy transactions of the national interface (B11, seed 004): a 定点零售药店 settles 特药 directly.

- ``2101`` 药店预结算: the full calculation, nothing written (a read: answered fresh, never stored);
- ``2102`` 药店结算: settled, idempotent on ``msgid`` (interface/execution.py stores the answer with the write);
- ``2103`` 药店结算撤销: the settlement reversed, answered as a refund slip (every amount negated).

Input as vendors send it: the purchase in ``data`` (also ``druginfo``), the drug lines in ``feedetail`` (also
``drugdetail``) with ``med_list_codg``, ``cnt``, ``pric``, ``det_item_fee_sumamt`` and the prescription they
fill (``rxno``, ``bilg_dr_codg``). The output is 2207's: ``setlinfo`` + ``setldetail``, plus ``detlcutinfo`` per
line. The use cases are services/pharmacy.py; the rules domain/special_drugs.py.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import TYPE_CHECKING

from yidi.interface.fields import CERT_TYPES, INSUTYPES, Fields, require_same, section
from yidi.interface.output import SETTLED_AMOUNTS, reversal, setldetail, setlinfo
from yidi.domain.catalog import FeeItem, split_item
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan
from yidi.services import insured_side, pharmacy, reconciliation
from yidi.services.context import AppContext
from yidi.services.person_lookup import cert_no_from

if TYPE_CHECKING:
    from yidi.interface.envelope import Call

MAX_LINES = 300  # as 2204: rows per call
MAX_LINE_FEN = 100_000_000_00
SETLWAY_BY_ITEM = "01"  # psn_setlway 01 按项目结算 (02 按定额结算 is not a 特药 way)


def _psn_no(ctx: AppContext, data: Fields) -> str:
    """``psn_no``, or the person the certificate names (mdtrt_cert_type/no, as 1101 reads it)."""
    psn_no = data.text("psn_no", required=False, max_len=30)
    cert_no = data.text("mdtrt_cert_no", required=False, max_len=64)
    if psn_no is None and cert_no is None:
        raise invalid(data.name("psn_no"), "缺少该字段（或 mdtrt_cert_type 与 mdtrt_cert_no）")
    if psn_no is None:
        cert_type = data.code("mdtrt_cert_type", CERT_TYPES, required=False) or "02"
        person, _filings = insured_side.identify(ctx, cert_no_from(cert_type, cert_no))
        psn_no = person.psn_no
    return psn_no


def _lines(input_data: dict) -> list[pharmacy.DrugLine]:
    key = "feedetail" if "feedetail" in input_data else "drugdetail"
    raw = input_data.get(key)
    if isinstance(raw, list) and len(raw) > MAX_LINES:
        raise YidiError("TOO_MANY_ROWS", {"rows": len(raw), "limit": MAX_LINES})
    rows = Fields(input_data, "").rows(key)
    if not rows:
        raise invalid(key, "没有购药明细")
    lines, seen = [], set()
    for row in rows:
        sn = row.text("feedetl_sn", max_len=40)
        if sn in seen:
            raise invalid(row.name("feedetl_sn"), f"明细流水号 {sn} 重复")
        seen.add(sn)
        amount = row.money("det_item_fee_sumamt")
        cnt = row.decimal("cnt", places=4)
        pric = row.decimal("pric", required=False, places=6)
        if amount <= 0 or cnt <= 0:
            raise invalid(row.name("det_item_fee_sumamt"), "药店结算的金额和数量应为正数（退药请撤销结算 2103）")
        if amount > MAX_LINE_FEN:
            raise invalid(row.name("det_item_fee_sumamt"), "金额超出合理范围")
        pric_fen = None
        if pric is not None:
            if pric < 0:
                raise invalid(row.name("pric"), "单价不能为负数")
            if (cnt * pric * 100).quantize(1, rounding="ROUND_HALF_UP") != amount:
                raise invalid(row.name("det_item_fee_sumamt"), "不等于 数量×单价（四舍五入到分）")
            fen = pric * 100
            pric_fen = int(fen) if fen == fen.to_integral_value() else None
        lines.append(pharmacy.DrugLine(
            feedetl_sn=sn, med_list_codg=row.text("med_list_codg", max_len=40), amount_fen=amount, cnt=cnt,
            pric_fen=pric_fen, name=row.text("medins_list_name", required=False, max_len=100) or "",
            rxno=row.text("rxno", required=False, max_len=40),
            doctor_code=row.text("bilg_dr_codg", required=False, max_len=30)))
    return lines


def _purchase(ctx: AppContext, call: "Call") -> tuple[Fields, pharmacy.Purchase]:
    data = section(call.input, "data", "druginfo")
    require_same(data, "fixmedins_code", call.fixmedins_code)
    setlway = data.text("psn_setlway", required=False, max_len=4)
    if setlway is not None and setlway != SETLWAY_BY_ITEM:
        raise invalid(data.name("psn_setlway"), "特药按项目结算，应为 01")
    reading = data.outpatient_med_type()
    on = data.date("begntime", required=False) or date.today()
    return data, pharmacy.Purchase(
        fixmedins_code=call.fixmedins_code, psn_no=_psn_no(ctx, data), on=on, lines=tuple(_lines(call.input)),
        med_type=reading[0] if reading else "15", insutype=data.code("insutype", INSUTYPES, required=False),
        medfee_sumamt_fen=data.money("medfee_sumamt", required=False),
        use_account=data.flag("acct_used_flag", default=False) or False,
        msgid=call.msgid, actor=call.actor)


def _detlcutinfo(ctx: AppContext, call: "Call", purchase: pharmacy.Purchase) -> list[dict]:
    """Per line: the 费用分割 by the pharmacy region's catalog (as 2204 answers per row)."""
    catalog = ctx.policy.catalog(call.admdvs, purchase.on)
    out = []
    for line in purchase.lines:
        split = split_item(FeeItem(line.med_list_codg, line.amount_fen, line.cnt, line.pric_fen, line.name), catalog)
        out.append({"feedetl_sn": line.feedetl_sn, "det_item_fee_sumamt": line.amount_fen / 100,
                    "cnt": float(line.cnt), "pric": (line.pric_fen or 0) / 100, "chrgitm_lv": split.chrgitm_lv,
                    "selfpay_prop": split.selfpay_prop_bp / 10000, "fulamt_ownpay_amt": split.fulamt_ownpay_fen / 100,
                    "overlmt_amt": split.overlmt_fen / 100, "preselfpay_amt": split.preselfpay_fen / 100,
                    "inscp_scp_amt": split.inscp_fen / 100, "med_chrgitm_type": split.med_chrgitm_type,
                    "hi_nego_drug_flag": "1" if split.special_drug else "0", "rxno": line.rxno or "",
                    "memo": ""})
    return out


def _answer(ctx: AppContext, call: "Call", purchase: pharmacy.Purchase, outcome: pharmacy.PurchaseOutcome,
            setl_time: str) -> dict:
    fields = dict(outcome.fields)
    fields["_endtime"] = purchase.on
    shown = SimpleNamespace(mdtrt_id=outcome.cmd.mdtrt_id or "", med_type=outcome.cmd.med_type,
                            begntime=purchase.on, mdtrt_cert_type="02")
    person = outcome.person
    info = setlinfo(fields, shown, person, setl_id=outcome.setl_id, setl_time=setl_time,
                    acct_balc_fen=getattr(person, "acct_balc", 0) or 0,
                    medins_setl_id=call.msgid.removeprefix(f"{call.fixmedins_code}:"))
    info["fixmedins_type"] = "2"  # 定点零售药店
    info["clr_type"] = reconciliation.PHARMACY_CLR_TYPE  # 药店购药
    return {"setlinfo": info, "setldetail": setldetail(fields, person.insutype),
            "detlcutinfo": _detlcutinfo(ctx, call, purchase)}


def t2101(ctx: AppContext, call: "Call") -> dict:
    _data, purchase = _purchase(ctx, call)
    outcome = pharmacy.presettle(ctx, purchase)
    return _answer(ctx, call, purchase, outcome, setl_time="")


def t2102(ctx: AppContext, call: "Call") -> dict:
    _data, purchase = _purchase(ctx, call)
    outcome = pharmacy.settle(ctx, purchase)
    return _answer(ctx, call, purchase, outcome, setl_time=call.received)


def t2103(ctx: AppContext, call: "Call") -> dict:
    """The pharmacy's settlement reversed: the original setlinfo and setldetail with every amount negated."""
    data = section(call.input, "data")
    row = pharmacy.cancel(ctx, fixmedins_code=call.fixmedins_code, setl_id=data.text("setl_id", max_len=40),
                          actor=call.actor)
    require_same(data, "psn_no", row.psn_no)
    require_same(data, "mdtrt_id", row.mdtrt_id or "")
    person = pharmacy.person_after(ctx, row.psn_no)
    fields = {name: fen_to_yuan(getattr(row, name)) for name in SETTLED_AMOUNTS}
    fields.update({"acct_pay": fen_to_yuan(row.acct_pay or 0), "_endtime": row.endtime,
                   "ratio": f"{row.ratio_bp / 100:.2f}%".replace(".00%", "%"), "coverage": row.coverage_context,
                   "filing_id": row.filing_id, "policy_version": row.policy_version,
                   "catalog_version": row.catalog_version})
    shown = SimpleNamespace(mdtrt_id=row.mdtrt_id or "", med_type=row.med_type, begntime=row.begntime,
                            mdtrt_cert_type="02")
    info = setlinfo(fields, shown, person, setl_id=row.setl_id, setl_time="", acct_balc_fen=person.acct_balc,
                    medins_setl_id=(row.msgid or "").removeprefix(f"{row.fixmedins_code}:"))
    info["clr_type"] = reconciliation.PHARMACY_CLR_TYPE
    info, details = reversal(info, setldetail(fields, row.insutype), setl_id=row.setl_id, status=row.status,
                             cancel_time=call.received)
    return {"setlinfo": info, "setldetail": details}
