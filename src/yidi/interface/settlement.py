"""Settlement: 2206 / 2303 预结算, 2207 / 2304 结算, 2208 / 2305 撤销 (services/visits.py)."""

from __future__ import annotations

from types import SimpleNamespace

from yidi.domain.errors import invalid
from yidi.domain.money import fen_to_yuan
from yidi.interface.envelope import Call
from yidi.interface.fields import Fields, discharge_date, require_same, section
from yidi.interface.output import SETTLED_AMOUNTS, reversal, setldetail, setlinfo
from yidi.services import visits
from yidi.services.context import AppContext


def _settlement_args(call: Call) -> tuple[Fields, dict]:
    data = section(call.input, "mdtrtinfo", "data")
    return data, {"fixmedins_code": call.fixmedins_code, "mdtrt_id": data.text("mdtrt_id", max_len=40),
                  "endtime": discharge_date(data, False), "medfee_sumamt_fen": data.money("medfee_sumamt", required=False),
                  # 个人账户使用标志: "1" pays the person's share from the personal account (B9)
                  "use_account": data.text("acct_used_flag", required=False, max_len=1) == "1"}


def _check_echoes(data: Fields, visit, inpatient: bool) -> None:
    """Echoed fields must agree with the visit: psn_no, and an outpatient med_type (as read, 12 → 11 …)."""
    require_same(data, "psn_no", visit.psn_no)
    if not inpatient:
        reading = data.outpatient_med_type()
        if reading is not None and reading[0] != visit.med_type:
            raise invalid(data.name("med_type"), f"与就诊信息的医疗类别 {visit.med_type} 不符，请先用 2203 更正")


def _sent_msgid(call: Call) -> str:
    """The msgid as the HIS sent it (the answer's medins_setl_id)."""
    prefix = f"{call.fixmedins_code}:"
    return call.msgid[len(prefix):] if call.msgid.startswith(prefix) else call.msgid


def _presettle(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    data, args = _settlement_args(call)
    outcome = visits.presettle(ctx, inpatient=inpatient, actor=call.actor, **args)
    _check_echoes(data, outcome.visit, inpatient)
    return {"setlinfo": setlinfo(outcome.fields, outcome.visit, outcome.person, setl_id="", setl_time="",
                                 acct_balc_fen=outcome.person.acct_balc, medins_setl_id=_sent_msgid(call)),
            "setldetail": setldetail(outcome.fields, outcome.person.insutype)}


def _settle(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    data, args = _settlement_args(call)
    outcome = visits.settle(ctx, inpatient=inpatient, msgid=call.msgid, actor=call.actor, **args)
    _check_echoes(data, outcome.visit, inpatient)
    return {"setlinfo": setlinfo(outcome.fields, outcome.visit, outcome.person, setl_id=outcome.setl_id,
                                 setl_time=call.received, acct_balc_fen=outcome.person.acct_balc,
                                 medins_setl_id=_sent_msgid(call)),
            "setldetail": setldetail(outcome.fields, outcome.person.insutype)}


def t2303(ctx, call):
    return _presettle(ctx, call, True)


def t2206(ctx, call):
    return _presettle(ctx, call, False)


def t2304(ctx, call):
    return _settle(ctx, call, True)


def t2207(ctx, call):
    return _settle(ctx, call, False)


def _cancel_settlement(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    """2305/2208: the settlement reversed, answered as a refund slip — the original setlinfo and setldetail
    with every amount negated."""
    data = section(call.input, "data")
    row = visits.cancel_settlement(ctx, fixmedins_code=call.fixmedins_code,
                                   mdtrt_id=data.text("mdtrt_id", required=False, max_len=40),
                                   setl_id=data.text("setl_id", max_len=40), inpatient=inpatient, actor=call.actor)
    require_same(data, "psn_no", row.psn_no)
    parties = visits.reversed_parties(ctx, psn_no=row.psn_no, mdtrt_id=row.mdtrt_id)
    fields = {name: fen_to_yuan(getattr(row, name)) for name in SETTLED_AMOUNTS}
    fields.update({"acct_pay": fen_to_yuan(row.acct_pay or 0), "_endtime": row.endtime,
                   "ratio": f"{row.ratio_bp / 100:.2f}%".replace(".00%", "%"), "coverage": row.coverage_context,
                   "filing_id": row.filing_id, "policy_version": row.policy_version,
                   "catalog_version": row.catalog_version})
    shown = SimpleNamespace(mdtrt_id=row.mdtrt_id or "", med_type=row.med_type, begntime=row.begntime,
                            mdtrt_cert_type=parties.mdtrt_cert_type)
    info = setlinfo(fields, shown, parties, setl_id=row.setl_id, setl_time="", acct_balc_fen=parties.acct_balc,
                    medins_setl_id=(row.msgid or "").removeprefix(f"{row.fixmedins_code}:"))
    info, details = reversal(info, setldetail(fields, row.insutype), setl_id=row.setl_id, status=row.status,
                             cancel_time=call.received)
    return {"setlinfo": info, "setldetail": details}


def t2305(ctx, call):
    return _cancel_settlement(ctx, call, True)


def t2208(ctx, call):
    return _cancel_settlement(ctx, call, False)
