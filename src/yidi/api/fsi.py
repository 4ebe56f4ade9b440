"""The hospital interface (national-platform style): one POST, a JSON envelope, a 4-digit ``infno``.

``POST /fsi/api/{infno}``, ``POST /fsi/api/call`` and ``POST /fsi/api/rsfComIfsService/callService``
all run ``handle_call``: size limits → gateway signature (api/signing.py) → envelope checks and the
access key's binding to one institution and its region → the transaction. Write transactions are
idempotent on ``msgid`` (services/idempotency.py): the business write and the stored answer
commit together. Every refusal is an envelope with ``infcode`` -1 and an ``err_msg`` that starts with
the error code; bad input never becomes a 500 and never changes data.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import date, datetime
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from yidi.adapters.orm import PersonRow, VisitRow
from yidi.api import fsi_auth, fsi_clearing, guards, ratelimit
from yidi.api.fsi_auth import Credential, authenticate  # noqa: F401 - re-exported (claims, bench)
from yidi.api.fsi_fields import (CERT_TYPES, INPATIENT_MED_TYPES, INSUTYPES, MED_TYPES, Fields, require_same,
                                 section)
from yidi.api.fsi_output import (SETTLED_AMOUNTS, fee_row, now_text, person_fields, reversal, setldetail, setlinfo,
                                 yuan)
from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan
from yidi.domain.regions import area_covers
from yidi.logs import exception_line, get_logger
from yidi.services import audit, idempotency, insured_side, ops, replay_guard, transactions, visits
from yidi.services.context import AppContext
from yidi.services.reference import cert_no_from

log = get_logger("yidi.fsi")

ENVELOPE_FIELDS = {"infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info",
                   "cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code",
                   "fixmedins_name", "sign_no", "input", "enctype"}
INFVERS = {"V1.0", "1.0", "1", "V1", "v1.0"}
MSGID_MAX = 30
ERR_MSG_MAX = 200


def msgid_key(fixmedins_code: str, msgid: str) -> str:
    """The idempotency key of a message: vendors write msgids in several styles (``H…yyyyMMddHHmmss0001``,
    ``yyMMddHHmmss-0001``, …) and they are unique only per institution, so a msgid that does not start with
    the institution's code is keyed under it."""
    return msgid if msgid.startswith(fixmedins_code) else f"{fixmedins_code}:{msgid}"


def read_msgid(fields: Fields, key: str) -> str:
    """A msgid is 1–30 printable ASCII characters; anything else cannot be one."""
    raw = fields.data.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise invalid(fields.name(key), "缺少该字段")
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise invalid(fields.name(key), "应为文本")
    text = str(raw).strip()
    if len(text) > MSGID_MAX:
        raise invalid(fields.name(key), f"超过 {MSGID_MAX} 个字符")
    if not all(" " <= ch <= "~" for ch in text):
        raise invalid(fields.name(key), "只能包含可打印的 ASCII 字符")
    return text


@dataclass
class Call:
    """One authenticated, well-formed call."""

    infno: str
    msgid: str  # the idempotency key (msgid_key): the msgid as sent, scoped to the institution when needed
    fixmedins_code: str
    admdvs: str  # the institution's (treatment) region
    input: Any
    actor: str
    received: str  # yyyy-MM-dd HH:mm:ss, e.g. the settlement time
    refmsg_time: str = ""  # yyyyMMddHHmmssSSS, when the call arrived (the envelope's refmsg_time)


# ------------------------------------------------------------------ transactions --
def t1101(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    cert_type = data.code("mdtrt_cert_type", CERT_TYPES, required=False) or "02"
    cert_no = data.text("mdtrt_cert_no", required=False) or data.text("certno", required=False)
    if cert_no is None:
        raise invalid(data.name("mdtrt_cert_no"), "缺少该字段")
    person, standing = insured_side.identify(ctx, cert_no_from(cert_type, cert_no))  # F11; another node's person too
    filings = [f for f in standing if f.status.value == "active" and (f.enddate is None or f.enddate >= date.today())]
    stas = {"active": "1", "suspended": "2", "ended": "4"}.get(person.insu_status, "9")
    output = {
        "baseinfo": {**person_fields(person), "exp_content": ""},
        "insuinfo": [{"insutype": person.insutype, "balc": yuan(person.acct_balc),
                      "insuplc_admdvs": person.insuplc_admdvs, "psn_insu_stas": stas, "psn_type": "",
                      "cvlserv_flag": "0", "psn_insu_date": "", "paus_insu_date": "", "emp_name": ""}],
        "idetinfo": [],
        "filings": [{"filing_id": f.filing_id, "filing_type": f.filing_type.value, "insuplc_admdvs": f.insuplc_admdvs,
                     "mdtrtarea_admvs": f.mdtrtarea_admvs, "begndate": f.begndate.isoformat(),
                     "enddate": f.enddate.isoformat() if f.enddate else "", "status": f.status.value}
                    for f in filings],
    }
    if person.insuplc_admdvs != call.admdvs and not any(area_covers(f.mdtrtarea_admvs, call.admdvs) for f in filings):
        output["message"] = YidiError("NOT_FILED", {"mdtrtarea": call.admdvs, "date": date.today()}).full_message()
    return output


def _dise_codg(info: Fields, input_data: dict) -> str | None:
    """The main diagnosis: ``dise_codg`` in the visit section, else the first ``diseinfo`` row's ``diag_code``."""
    code = info.text("dise_codg", required=False)
    if code is None and input_data.get("diseinfo"):
        rows = Fields(input_data, "").rows("diseinfo")
        code = rows[0].text("diag_code", required=False) if rows else None
    return code


def _register(ctx: AppContext, call: Call, *, inpatient: bool) -> dict:
    info = section(call.input, "mdtrtinfo", "data")
    emergency = bool(info.flag("emergency"))
    if inpatient:
        med_type = info.code("med_type", MED_TYPES)
        if med_type not in INPATIENT_MED_TYPES:
            raise invalid(info.name("med_type"), "住院交易用 21/22/23，门诊交易用 11/14")
    else:
        med_type, urgent = info.outpatient_med_type() or ("11", False)
        emergency = emergency or urgent
    cert_type = info.code("mdtrt_cert_type", CERT_TYPES, required=False) or "02"
    psn_no = info.text("psn_no")
    ttp_resp = info.flag("ttp_resp")
    visit = visits.register(
        ctx, fixmedins_code=call.fixmedins_code, psn_no=psn_no, med_type=med_type, begntime=info.date("begntime"),
        insutype=info.code("insutype", INSUTYPES, required=False), dise_codg=_dise_codg(info, call.input),
        mdtrt_cert_type=cert_type, emergency=emergency,
        trauma_no_third_party=info.flag("trauma_no_third_party", default=None if ttp_resp is None else not ttp_resp),
        actor=call.actor)
    key = "result" if inpatient else "data"
    return {key: {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "ipt_otp_no": info.text("ipt_no", required=False)
                  or info.text("ipt_otp_no", required=False) or ""}}


def _visit_ref(call: Call, *names: str) -> tuple[Fields, str]:
    data = section(call.input, *names)
    return data, data.text("mdtrt_id", max_len=40)


def t2401(ctx, call):
    return _register(ctx, call, inpatient=True)


def t2201(ctx, call):
    return _register(ctx, call, inpatient=False)


def t2402(ctx: AppContext, call: Call) -> dict:
    data, mdtrt_id = _visit_ref(call, "dscginfo", "data")
    visit = visits.discharge(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, endtime=_discharge(data, True),
                             dise_codg=_dise_codg(data, call.input), actor=call.actor)
    require_same(data, "psn_no", visit.psn_no)
    return {"result": {"mdtrt_id": mdtrt_id}}


def _cancel_registration(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    data, mdtrt_id = _visit_ref(call, "data")
    visit = visits.cancel_registration(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id,
                                       inpatient=inpatient, actor=call.actor)
    require_same(data, "psn_no", visit.psn_no)
    return {"result": {"mdtrt_id": mdtrt_id, "state": visit.state}}


def t2404(ctx, call):
    return _cancel_registration(ctx, call, True)


def t2202(ctx, call):
    return _cancel_registration(ctx, call, False)


def t2203(ctx: AppContext, call: Call) -> dict:
    data, mdtrt_id = _visit_ref(call, "mdtrtinfo", "data")
    reading = data.outpatient_med_type()
    med_type = reading[0] if reading else None
    visit = visits.update_info(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, med_type=med_type,
                               dise_codg=_dise_codg(data, call.input), begntime=data.date("begntime", required=False),
                               actor=call.actor)
    require_same(data, "psn_no", visit.psn_no)
    return {"result": {"mdtrt_id": mdtrt_id, "med_type": visit.med_type}}


def _fee_lines(call: Call) -> tuple[str, list[visits.FeeLine]]:
    if not isinstance(call.input, dict) or "feedetail" not in call.input:
        raise invalid("feedetail", "缺少该字段")
    raw = call.input["feedetail"]
    if isinstance(raw, list) and len(raw) > visits.MAX_ROWS_PER_UPLOAD:
        raise YidiError("TOO_MANY_ROWS", {"rows": len(raw), "limit": visits.MAX_ROWS_PER_UPLOAD})
    rows = Fields(call.input, "").rows("feedetail")
    if not rows:
        raise invalid("feedetail", "没有费用明细")
    mdtrt_id = None
    lines = []
    for row in rows:
        row_mdtrt = row.text("mdtrt_id", max_len=40)
        if mdtrt_id is not None and row_mdtrt != mdtrt_id:
            raise invalid(row.name("mdtrt_id"), "一次上传只能属于同一就诊")
        mdtrt_id = row_mdtrt
        amount = row.money("det_item_fee_sumamt")
        cnt = row.decimal("cnt", places=4)
        pric = row.decimal("pric", required=False, places=6)
        init_sn = row.text("init_feedetl_sn", required=False, max_len=40)
        if abs(amount) > visits.MAX_ROW_FEN:
            raise invalid(row.name("det_item_fee_sumamt"), "金额超出合理范围")
        if cnt == 0 and amount != 0:
            raise invalid(row.name("cnt"), "数量为 0 但金额不为 0")
        if (amount < 0 or cnt < 0) and not init_sn:
            raise invalid(row.name("det_item_fee_sumamt"), "负数明细（退费）须填写 init_feedetl_sn 指明原明细")
        if amount * cnt < 0:
            raise invalid(row.name("cnt"), "数量与金额的正负不一致")
        if init_sn and amount > 0:
            raise invalid(row.name("det_item_fee_sumamt"), "退费明细的数量和金额应为负数")
        if pric is not None:
            if pric < 0:
                raise invalid(row.name("pric"), "单价不能为负数")
            expected = (cnt * pric * 100).quantize(1, rounding="ROUND_HALF_UP")
            if expected != amount:
                raise invalid(row.name("det_item_fee_sumamt"), "不等于 数量×单价（四舍五入到分）")
        lines.append(visits.FeeLine(
            feedetl_sn=row.text("feedetl_sn", max_len=40),
            # blank: resolved from the hospital's 医保目录对照 by medins_list_codg (visits._mapped)
            med_list_codg=row.text("med_list_codg", required=False, max_len=40) or "",
            amount_fen=amount, cnt=cnt, pric=pric, init_feedetl_sn=init_sn,
            medins_list_codg=row.text("medins_list_codg", required=False, max_len=40) or "",
            name=row.text("medins_list_name", required=False, max_len=100) or "",
            fee_ocur_time=row.date("fee_ocur_time", required=False)))
    return mdtrt_id, lines


def _upload(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    mdtrt_id, lines = _fee_lines(call)
    result = visits.upload_fees(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, inpatient=inpatient,
                                lines=lines, admdvs=call.admdvs, actor=call.actor)
    return {"mdtrt_id": mdtrt_id, "result": [fee_row(entry) for entry in result]}


def t2301(ctx, call):
    return _upload(ctx, call, True)


def t2204(ctx, call):
    return _upload(ctx, call, False)


def _revoke(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    raw = call.input.get("data") if isinstance(call.input, dict) else None
    entries = Fields(call.input, "").rows("data") if isinstance(raw, list) else [section(call.input, "data")]
    mdtrt_id = entries[0].text("mdtrt_id", max_len=40)
    sns = []
    for entry in entries:
        if entry.text("mdtrt_id", max_len=40) != mdtrt_id:
            raise invalid(entry.name("mdtrt_id"), "一次撤销只能属于同一就诊")
        sn = entry.text("feedetl_sn", required=False, max_len=40)
        if sn and sn != "0000":  # "0000" = every row of the visit, as the national interface writes it
            sns.append(sn)
    count = visits.revoke_fees(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, inpatient=inpatient,
                               feedetl_sns=sns or None, actor=call.actor)
    return {"result": {"mdtrt_id": mdtrt_id, "revoked_rows": count}}


def t2302(ctx, call):
    return _revoke(ctx, call, True)


def t2205(ctx, call):
    return _revoke(ctx, call, False)


def _discharge(data: Fields, required: bool) -> date | None:
    """The discharge date: ``endtime`` or, as many HIS send it, ``dscg_time`` / ``dscgTime`` (2303/2304 without
    a 2402)."""
    given = (data.date("endtime", required=False) or data.date("dscg_time", required=False)
             or data.date("dscgTime", required=False))
    if given is None and required:
        raise invalid(data.name("endtime"), "缺少该字段（或 dscg_time）")
    return given


def _settlement_args(call: Call) -> tuple[Fields, dict]:
    data = section(call.input, "mdtrtinfo", "data")
    return data, {"fixmedins_code": call.fixmedins_code, "mdtrt_id": data.text("mdtrt_id", max_len=40),
                  "endtime": _discharge(data, False), "medfee_sumamt_fen": data.money("medfee_sumamt", required=False),
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
    with ctx.unit_of_work() as session:
        person = session.get(PersonRow, row.psn_no)
        visit = session.get(VisitRow, row.mdtrt_id) if row.mdtrt_id else None
    fields = {name: fen_to_yuan(getattr(row, name)) for name in SETTLED_AMOUNTS}
    fields.update({"acct_pay": fen_to_yuan(row.acct_pay or 0), "_endtime": row.endtime,
                   "ratio": f"{row.ratio_bp / 100:.2f}%".replace(".00%", "%"), "coverage": row.coverage_context,
                   "filing_id": row.filing_id, "policy_version": row.policy_version,
                   "catalog_version": row.catalog_version})
    shown = SimpleNamespace(mdtrt_id=row.mdtrt_id or "", med_type=row.med_type, begntime=row.begntime,
                            mdtrt_cert_type=visit.mdtrt_cert_type if visit else "02")
    info = setlinfo(fields, shown, person, setl_id=row.setl_id, setl_time="", acct_balc_fen=person.acct_balc,
                    medins_setl_id=(row.msgid or "").removeprefix(f"{row.fixmedins_code}:"))
    info, details = reversal(info, setldetail(fields, row.insutype), setl_id=row.setl_id, status=row.status,
                             cancel_time=call.received)
    return {"setlinfo": info, "setldetail": details}


def t2305(ctx, call):
    return _cancel_settlement(ctx, call, True)


def t2208(ctx, call):
    return _cancel_settlement(ctx, call, False)


def t2601(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    omsgid = msgid_key(call.fixmedins_code, read_msgid(data, "omsgid"))  # only your own messages, past or future
    if omsgid == call.msgid:
        raise invalid(data.name("omsgid"), "不能冲正本报文自身")
    oinfno = data.code("oinfno", tuple(sorted(WRITE_INFNOS)))
    psn_no = data.text("psn_no", required=False, max_len=30) or ""  # optional: where the person is insured
    return {"result": visits.reverse_message(ctx, fixmedins_code=call.fixmedins_code, omsgid=omsgid, oinfno=oinfno,
                                             actor=call.actor, psn_no=psn_no)}


def t9001(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "signIn", "data")
    opter_no = data.text("opter_no", required=False) or ""
    sign_no = f"{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().int % 10**16:016d}"  # 30 digits, as platforms issue
    with ctx.unit_of_work() as session:
        audit.record(session, call.actor, "fsi.sign_in", sign_no, {"opter_no": opter_no})
    return {"signinoutb": {"sign_time": call.received, "sign_no": sign_no}}


def t9002(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "signOut", "data")
    sign_no = data.text("sign_no", max_len=60)
    with ctx.unit_of_work() as session:
        audit.record(session, call.actor, "fsi.sign_out", sign_no, {})
    return {"signoutoutb": {"sign_time": call.received, "sign_no": sign_no}}


TRANSACTIONS: dict[str, Callable[[AppContext, Call], dict | bytes]] = {
    "1101": t1101, "2201": t2201, "2202": t2202, "2203": t2203, "2204": t2204, "2205": t2205, "2206": t2206,
    "2207": t2207, "2208": t2208, "2401": t2401, "2402": t2402, "2404": t2404, "2301": t2301, "2302": t2302,
    "2303": t2303, "2304": t2304, "2305": t2305, "2601": t2601, "9001": t9001, "9002": t9002,
    **fsi_clearing.TRANSACTIONS,
}
READ_INFNOS = {"1101", "2206", "2303", *fsi_clearing.READ_INFNOS}  # change nothing: answered fresh, never stored
WRITE_INFNOS = set(TRANSACTIONS) - READ_INFNOS


# ---------------------------------------------------------------------- envelope --
def stamp_text(moment: datetime | None = None) -> str:
    """yyyyMMddHHmmssSSS, the interface's refmsg_time / respond_time."""
    moment = moment or datetime.now()
    return f"{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"


def envelope(call_msgid: str, admdvs: str, refmsg_time: str, *, output: Any = None,
             error: YidiError | None = None) -> dict:
    """The answer's envelope. ``inf_refmsgid``: 30 digits (region + yyyyMMddHHmmss + 10 random digits)."""
    err_msg = ""
    if error is not None:
        err_msg = f"{error.code}：{error.full_message()}"[:ERR_MSG_MAX]
    region = admdvs if len(admdvs) == 6 and admdvs.isdigit() else "000000"
    return {"infcode": 0 if error is None else -1,
            "inf_refmsgid": f"{region}{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().int % 10**10:010d}",
            "refmsg_time": refmsg_time or stamp_text(), "respond_time": stamp_text(), "err_msg": err_msg,
            "output": output if error is None else {}, "warn_msg": None, "cainfo": None, "signtype": None,
            "enctype": None}


def parse_call(body: bytes, path_infno: str | None, cred: Credential, received: str, refmsg_time: str = "") -> Call:
    settings = get_settings()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid("body", "不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise invalid("body", "应为 JSON 对象")
    env = Fields(data, "")
    infno = env.text("infno", required=path_infno is None, max_len=8) or path_infno
    if path_infno is not None and infno != path_infno:
        raise invalid("infno", f"与路径中的交易编号 {path_infno} 不符")
    if infno not in TRANSACTIONS:
        raise YidiError("UNKNOWN_INFNO", {"infno": infno})
    extra = sorted(set(data) - ENVELOPE_FIELDS)
    if extra:
        log.info("fsi.extra_envelope_fields", fields=extra[:20], infno=infno)
    msgid = read_msgid(env, "msgid")
    code = env.text("fixmedins_code", max_len=20)
    if code != cred.fixmedins_code:
        raise YidiError("FORBIDDEN", {"detail": f"access key 只能代表机构 {cred.fixmedins_code}"})
    area = env.text("mdtrtarea_admvs", max_len=6)
    if area != cred.admdvs:
        raise YidiError("FORBIDDEN", {"detail": f"机构 {cred.fixmedins_code} 的就医地为 {cred.admdvs}"})
    infver = env.text("infver", required=False)
    if infver is not None and infver not in INFVERS:
        raise invalid("infver", "接口版本应为 V1.0")
    raw_input = data.get("input")
    # 9101 carries a file (bytes as numbers or Base64): only the body limit applies to it
    max_chars = settings.max_body_bytes if infno in fsi_clearing.FILE_INFNOS else settings.max_input_chars
    if raw_input is None:
        raise invalid("input", "缺少该字段")
    if isinstance(raw_input, str):  # some vendors send input as a JSON string
        if len(raw_input) > max_chars:
            raise invalid("input", f"超过 {max_chars} 个字符")
        refused = guards.json_text_refusal(raw_input.encode("utf-8", "surrogatepass"))  # the body's guards, again
        if refused is not None:
            raise refused
        try:
            raw_input = json.loads(raw_input)
        except ValueError:
            raise invalid("input", "不是有效的 JSON") from None
    if not isinstance(raw_input, dict):
        raise invalid("input", "应为 JSON 对象")
    if len(json.dumps(raw_input, ensure_ascii=False, separators=(",", ":"))) > max_chars:
        raise invalid("input", f"超过 {max_chars} 个字符")
    opter = (env.text("opter", required=False, max_len=30) or "")
    return Call(infno=infno, msgid=msgid_key(code, msgid), fixmedins_code=code, admdvs=area, input=raw_input,
                actor=f"fsi:{code}:{opter}"[:60], received=received, refmsg_time=refmsg_time)


def content_digest(call: Call) -> str:
    """What "the same body" means: the transaction, institution and input (not inf_time or a re-signed header)."""
    canonical = json.dumps([call.infno, call.fixmedins_code, call.input], ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return idempotency.body_digest(canonical.encode())


def run_write(ctx: AppContext, call: Call, seen: str | None = None) -> dict:
    """``_write_once``, run again from the start when the database ended it as the loser of a deadlock or a
    serialisation conflict (e.g. a 2305 and a 2304 of the same visit at once; services/transactions.py)."""
    return transactions.retrying(lambda: _write_once(ctx, call, seen), what=call.infno)


def _write_once(ctx: AppContext, call: Call, seen: str | None = None) -> dict:
    """Do the transaction and store its answer under the msgid — one database transaction.

    The message row (primary key msgid) is inserted at the end, with the answer, so a new message costs one
    statement. A msgid seen before makes that insert fail: the whole transaction (business write included)
    is rolled back and the answer comes from the stored message (same content) or the call is refused
    (MSGID_CONFLICT / MESSAGE_REVERSED). A refusal raised while a concurrent copy of the same message was
    committing is answered from that copy too, so every copy of one message gets the same answer.
    ``seen`` (the signed request's replay key) is recorded first, in the same transaction; when the
    transaction does not commit it is recorded on its own, so a replayed request is refused either way."""
    digest = content_digest(call)
    window = get_settings().sign_window_seconds
    for _attempt in range(2):
        try:
            with ctx.unit_of_work() as session:
                if seen is not None:
                    replay_guard.record_in(ctx, session, seen, window)
                output = TRANSACTIONS[call.infno](idempotency.bound_context(ctx, session), call)
                response = envelope(call.msgid, call.admdvs, call.refmsg_time, output=output)
                idempotency.record(session, msgid=call.msgid, fixmedins_code=call.fixmedins_code,
                                   infno=call.infno, digest=digest, response=response)
            return response
        except IntegrityError:
            pass  # the msgid is taken: answer from the stored message below
        except YidiError as exc:
            if exc.code == "REQUEST_REPLAYED":
                raise
            if seen is not None:
                replay_guard.first_sight(ctx, seen, window)
            with ctx.unit_of_work() as session:
                replay = idempotency.lookup(session, call.msgid, digest, call.fixmedins_code)
            if replay is not None:
                return replay.response
            raise
        if seen is not None:
            if not replay_guard.first_sight(ctx, seen, window):
                raise YidiError("REQUEST_REPLAYED", {})
            seen = None
        with ctx.unit_of_work() as session:
            replay = idempotency.lookup(session, call.msgid, digest, call.fixmedins_code)
        if replay is not None:
            return replay.response
    raise YidiError("SERVICE_UNAVAILABLE", {"detail": "并发冲突，请用同一 msgid 重试"})


def run_read(ctx: AppContext, call: Call, seen: str) -> dict | bytes:
    """A transaction that changes nothing, run in one database transaction with the record of its signed
    request (no transaction of its own for the replay guard); a refused read is recorded on its own."""
    try:
        with ctx.unit_of_work() as session:
            replay_guard.record_in(ctx, session, seen, get_settings().sign_window_seconds)
            return TRANSACTIONS[call.infno](idempotency.bound_context(ctx, session), call)
    except YidiError as exc:
        if exc.code != "REQUEST_REPLAYED":
            fsi_auth.not_replayed(ctx, seen)
        raise


def handle_call(ctx: AppContext, headers: dict[str, str], body: bytes,
                path_infno: str | None) -> tuple[int, dict | bytes]:
    """(HTTP status, envelope). Business refusals are HTTP 200 with infcode -1, as HIS software expects;
    authentication failures are 401/403 (with the same envelope), an oversized body 413."""
    arrived = datetime.now()
    received, refmsg_time = now_text(arrived), stamp_text(arrived)
    settings = get_settings()
    admdvs = ""
    msgid = ""
    if len(body) > settings.max_body_bytes:
        return 413, envelope(msgid, admdvs, refmsg_time,
                             error=invalid("body", f"报文超过 {settings.max_body_bytes} 字节"))
    try:
        cred = authenticate(ctx, headers, body, record=False)
        admdvs = cred.admdvs
        seen = fsi_auth.replay_key(headers)
        try:
            call = parse_call(body, path_infno, cred, received, refmsg_time)
            if not fsi_auth.name_matches(headers, call.infno):
                raise YidiError("AUTH_FAILED", {"detail": "_api_name 与 infno 不符"})
        except YidiError:
            fsi_auth.not_replayed(ctx, seen)  # a replayed malformed request is a replay too
            raise
        msgid = call.msgid
        ratelimit.check_fsi(ctx, cred.access_key)  # issue 9: token bucket per access key
        if call.infno in WRITE_INFNOS:
            if call.infno in ops.DEFERRABLE_INFNOS:
                try:  # I2: queue when the insured region is out; drain when it is back
                    ops.before_settlement(ctx, call)
                except YidiError:
                    fsi_auth.not_replayed(ctx, seen)
                    raise
                # federation: an insured node that does not answer → the JetStream work queue (services/ops.py)
                return 200, ops.settle_or_defer(ctx, call, lambda: run_write(ctx, call, seen))
            return 200, run_write(ctx, call, seen)  # the request is recorded in the write's own transaction
        output = run_read(ctx, call, seen)
        if isinstance(output, bytes):  # 9102 文件下载: the file itself, as platforms answer it
            return 200, output
        return 200, envelope(msgid, admdvs, refmsg_time, output=output)
    except YidiError as exc:
        return (exc.http_status if exc.spec.category == "auth" else 200), envelope(msgid, admdvs, refmsg_time, error=exc)
    except Exception as exc:  # noqa: BLE001 - a fault is answered with a coded reason, never a bare 500
        # One bounded line with a reference, never a traceback with locals (logs.py).
        ref = uuid.uuid4().hex[:12]
        log.error("fsi.fault", ref=ref, infno=path_infno, error=exception_line(exc))
        fault = YidiError("SERVICE_UNAVAILABLE", {"detail": f"系统故障，参考号 {ref}"})
        return 200, envelope(msgid, admdvs, refmsg_time, error=fault)


def register(app: FastAPI) -> None:
    """The interface's routes, for the OpenAPI document. Calls are answered before the router by
    api/fsi_gateway.py (installed outermost by ``create_app``) with the same ``answer``."""
    from yidi.api.fsi_gateway import answer, is_file

    async def _endpoint(request: Request, infno: str | None) -> Response:
        status, payload = await answer(request.app.state.ctx, dict(request.headers), await request.body(), infno)
        return Response(payload, status_code=status,
                        media_type="application/octet-stream" if is_file(payload) else "application/json")

    @app.post("/fsi/api/call", tags=["hospital interface"], summary="交易（infno 取自报文）")
    async def call_any(request: Request) -> Response:
        return await _endpoint(request, None)

    @app.post("/fsi/api/rsfComIfsService/callService", tags=["hospital interface"], summary="交易（HIS 常用路径）")
    async def call_service(request: Request) -> Response:
        return await _endpoint(request, None)

    @app.post("/fsi/api/{infno}", tags=["hospital interface"], summary="交易 infno")
    async def call_infno(infno: str, request: Request) -> Response:
        return await _endpoint(request, infno)
