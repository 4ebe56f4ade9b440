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
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yidi.adapters.orm import CredentialRow, InstitutionRow, PersonRow
from yidi.api import guards, ratelimit, signing
from yidi.api.fsi_fields import CERT_TYPES, INSUTYPES, MED_TYPES, Fields, require_same, section
from yidi.api.fsi_output import birthday_of, fee_row, gender_of, now_text, setldetail, setlinfo
from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan
from yidi.domain.regions import area_covers
from yidi.logs import exception_line, get_logger
from yidi.services import audit, idempotency, ops, reconciliation, transactions, visits
from yidi.services.context import AppContext
from yidi.services.filings import filings_of
from yidi.services.reference import cert_no_from, find_person_by_certno, mask_certno

log = get_logger("yidi.fsi")

ENVELOPE_FIELDS = {"infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info",
                   "cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code",
                   "fixmedins_name", "sign_no", "input"}
INFVERS = {"V1.0", "1.0", "1", "V1", "v1.0"}
MSGID = re.compile(r"^(?P<code>.+)(?P<stamp>\d{14})(?P<seq>\d{4})$")
ERR_MSG_MAX = 200


@dataclass
class Call:
    """One authenticated, well-formed call."""

    infno: str
    msgid: str
    fixmedins_code: str
    admdvs: str  # the institution's (treatment) region
    input: Any
    actor: str
    received: str


# ------------------------------------------------------------------ transactions --
def person_by_cert(session, mdtrt_cert_type: str, mdtrt_cert_no: str) -> PersonRow:
    """The one place a certificate becomes a person (F11): reference.cert_no_from reads the ID number a
    01 电子凭证 / 02 身份证 / 03 社保卡 carries (documented reading), then the person is looked up."""
    return find_person_by_certno(session, cert_no_from(mdtrt_cert_type, mdtrt_cert_no))


def t1101(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    cert_type = data.code("mdtrt_cert_type", CERT_TYPES, required=False) or "02"
    cert_no = data.text("mdtrt_cert_no", required=False) or data.text("certno", required=False)
    if cert_no is None:
        raise invalid(data.name("mdtrt_cert_no"), "缺少该字段")
    with ctx.unit_of_work() as session:
        person = person_by_cert(session, cert_type, cert_no)
        filings = [f for f in filings_of(session, person.psn_no) if f.status.value == "active"
                   and (f.enddate is None or f.enddate >= date.today())]
    stas = {"active": "1", "suspended": "2", "ended": "4"}.get(person.insu_status, "9")
    output = {
        "baseinfo": {"psn_no": person.psn_no, "psn_cert_type": "01", "certno": mask_certno(person.certno),
                     "psn_name": person.name, "gend": gender_of(person.certno), "brdy": birthday_of(person.certno),
                     "age": _age(person.certno)},
        "insuinfo": [{"insutype": person.insutype, "balc": fen_to_yuan(person.acct_balc),
                      "insuplc_admdvs": person.insuplc_admdvs, "psn_insu_stas": stas, "psn_type": "",
                      "cvlserv_flag": "0"}],
        "idetinfo": [],
        "filings": [{"filing_id": f.filing_id, "filing_type": f.filing_type.value, "insuplc_admdvs": f.insuplc_admdvs,
                     "mdtrtarea_admvs": f.mdtrtarea_admvs, "begndate": f.begndate.isoformat(),
                     "enddate": f.enddate.isoformat() if f.enddate else "", "status": f.status.value}
                    for f in filings],
    }
    if person.insuplc_admdvs != call.admdvs and not any(area_covers(f.mdtrtarea_admvs, call.admdvs) for f in filings):
        output["message"] = YidiError("NOT_FILED", {"mdtrtarea": call.admdvs, "date": date.today()}).full_message()
    return output


def _age(certno: str) -> str:
    try:
        born = date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))
    except ValueError:
        return ""
    today = date.today()
    return str(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))


def _dise_codg(info: Fields, input_data: dict) -> str | None:
    """The main diagnosis: ``dise_codg`` in the visit section, else the first ``diseinfo`` row's ``diag_code``."""
    code = info.text("dise_codg", required=False)
    if code is None and input_data.get("diseinfo"):
        rows = Fields(input_data, "").rows("diseinfo")
        code = rows[0].text("diag_code", required=False) if rows else None
    return code


def _register(ctx: AppContext, call: Call, *, inpatient: bool) -> dict:
    info = section(call.input, "mdtrtinfo", "data")
    med_type = info.code("med_type", MED_TYPES, required=inpatient) or "11"
    if (med_type in ("21", "22", "23")) != inpatient:
        raise invalid(info.name("med_type"), "住院交易用 21/22/23，门诊交易用 11/14")
    cert_type = info.code("mdtrt_cert_type", CERT_TYPES, required=False) or "02"
    psn_no = info.text("psn_no")
    ttp_resp = info.flag("ttp_resp")
    visit = visits.register(
        ctx, fixmedins_code=call.fixmedins_code, psn_no=psn_no, med_type=med_type, begntime=info.date("begntime"),
        insutype=info.code("insutype", INSUTYPES, required=False), dise_codg=_dise_codg(info, call.input),
        mdtrt_cert_type=cert_type, emergency=bool(info.flag("emergency")),
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
    visit = visits.discharge(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, endtime=data.date("endtime"),
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
    med_type = data.code("med_type", ("11", "14"), required=False)
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
            feedetl_sn=row.text("feedetl_sn", max_len=40), med_list_codg=row.text("med_list_codg", max_len=40),
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


def _settlement_args(call: Call) -> tuple[Fields, dict]:
    data = section(call.input, "mdtrtinfo", "data")
    return data, {"fixmedins_code": call.fixmedins_code, "mdtrt_id": data.text("mdtrt_id", max_len=40),
                  "endtime": data.date("endtime", required=False),
                  "medfee_sumamt_fen": data.money("medfee_sumamt", required=False)}


def _presettle(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    data, args = _settlement_args(call)
    outcome = visits.presettle(ctx, inpatient=inpatient, actor=call.actor, **args)
    require_same(data, "psn_no", outcome.visit.psn_no)
    return {"setlinfo": setlinfo(outcome.fields, outcome.visit, outcome.person, setl_id="", setl_time="",
                                 acct_balc_fen=outcome.person.acct_balc),
            "setldetail": setldetail(outcome.fields, outcome.person.insutype)}


def _settle(ctx: AppContext, call: Call, inpatient: bool) -> dict:
    data, args = _settlement_args(call)
    outcome = visits.settle(ctx, inpatient=inpatient, msgid=call.msgid, actor=call.actor, **args)
    require_same(data, "psn_no", outcome.visit.psn_no)
    return {"setlinfo": setlinfo(outcome.fields, outcome.visit, outcome.person, setl_id=outcome.setl_id,
                                 setl_time=call.received, acct_balc_fen=outcome.person.acct_balc),
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
    data = section(call.input, "data")
    row = visits.cancel_settlement(ctx, fixmedins_code=call.fixmedins_code,
                                   mdtrt_id=data.text("mdtrt_id", required=False, max_len=40),
                                   setl_id=data.text("setl_id", max_len=40), inpatient=inpatient, actor=call.actor)
    require_same(data, "psn_no", row.psn_no)
    return {"setlinfo": {"setl_id": row.setl_id, "mdtrt_id": row.mdtrt_id or "", "psn_no": row.psn_no,
                         "setl_status": row.status, "hifp_pay": fen_to_yuan(-row.hifp_pay),
                         "cancel_date": row.cancelled_on.isoformat() if row.cancelled_on else ""}}


def t2305(ctx, call):
    return _cancel_settlement(ctx, call, True)


def t2208(ctx, call):
    return _cancel_settlement(ctx, call, False)


def t2601(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    omsgid = data.text("omsgid", max_len=60)
    if omsgid == call.msgid:
        raise invalid(data.name("omsgid"), "不能冲正本报文自身")
    match = MSGID.match(omsgid)
    if not match or match.group("code") != call.fixmedins_code:  # only your own messages, past or future
        raise invalid(data.name("omsgid"), "应为本机构发出的报文ID")
    oinfno = data.code("oinfno", tuple(sorted(WRITE_INFNOS)))
    return {"result": visits.reverse_message(ctx, fixmedins_code=call.fixmedins_code, omsgid=omsgid, oinfno=oinfno,
                                             actor=call.actor)}


def _period(data: Fields) -> tuple[date, date]:
    begn = data.date("stmt_begndate")
    end = data.date("stmt_enddate")
    if end < begn:
        raise invalid(data.name("stmt_enddate"), "对账结束日期早于开始日期")
    if (end - begn).days > 366:
        raise invalid(data.name("stmt_enddate"), "对账期间不能超过一年")
    return begn, end


def t3201(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    begn, end = _period(data)
    cnt = data.decimal("fixmedins_setl_cnt", places=0)
    if cnt < 0:
        raise invalid(data.name("fixmedins_setl_cnt"), "笔数不能为负数")
    reported = {"insutype": data.code("insutype", INSUTYPES, required=False),
                "clr_type": data.code("clr_type", ("11", "21"), required=False),
                "medfee_sumamt": data.money("medfee_sumamt"), "fund_pay_sumamt": data.money("fund_pay_sumamt"),
                "acct_pay": data.money("acct_pay", required=False) or 0, "fixmedins_setl_cnt": int(cnt)}
    result = reconciliation.reconcile_totals(ctx, call.fixmedins_code, begn, end, reported)
    money = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
    show = lambda d: {k: (fen_to_yuan(v) if k in money else v) for k, v in d.items()}  # noqa: E731
    return {"stmt_totlrslt": {"setl_optins": call.admdvs, "stmt_rslt": result["stmt_rslt"],
                              "stmt_rslt_dscr": "平" if result["stmt_rslt"] == "0" else "不平",
                              "ours": show(result["ours"]), "reported": show(result["reported"]),
                              "differences": show(result["differences"])}}


def t3202(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    begn, end = _period(data)
    detail = Fields(call.input, "").rows("detail") if "detail" in call.input else []
    if len(detail) > 10_000:
        raise YidiError("TOO_MANY_ROWS", {"rows": len(detail), "limit": 10_000})
    rows = [{"setl_id": r.text("setl_id", max_len=40), "medfee_sumamt": r.money("medfee_sumamt"),
             "fund_pay_sumamt": r.money("fund_pay_sumamt"), "acct_pay": r.money("acct_pay", required=False) or 0}
            for r in detail]
    result = reconciliation.reconcile_details(ctx, call.fixmedins_code, begn, end, rows)
    show = lambda d: None if d is None else {k: (fen_to_yuan(v) if isinstance(v, int) else v) for k, v in d.items()}  # noqa: E731
    return {"stmt_rslt": result["stmt_rslt"], "checked": result["checked"],
            "differing": [{"setl_id": r["setl_id"], "reason": r["reason"], "ours": show(r["ours"]),
                           "reported": show(r["reported"])} for r in result["differing"]]}


def t9001(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "signIn", "data")
    opter_no = data.text("opter_no", required=False) or ""
    sign_no = f"{call.fixmedins_code}{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().hex[:6]}"
    with ctx.unit_of_work() as session:
        audit.record(session, call.actor, "fsi.sign_in", sign_no, {"opter_no": opter_no})
    return {"signinoutb": {"sign_time": call.received, "sign_no": sign_no}}


def t9002(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "signOut", "data")
    sign_no = data.text("sign_no", max_len=60)
    with ctx.unit_of_work() as session:
        audit.record(session, call.actor, "fsi.sign_out", sign_no, {})
    return {"signoutoutb": {"sign_time": call.received, "sign_no": sign_no}}


TRANSACTIONS: dict[str, Callable[[AppContext, Call], dict]] = {
    "1101": t1101, "2201": t2201, "2202": t2202, "2203": t2203, "2204": t2204, "2205": t2205, "2206": t2206,
    "2207": t2207, "2208": t2208, "2401": t2401, "2402": t2402, "2404": t2404, "2301": t2301, "2302": t2302,
    "2303": t2303, "2304": t2304, "2305": t2305, "2601": t2601, "3201": t3201, "3202": t3202, "9001": t9001,
    "9002": t9002,
}
READ_INFNOS = {"1101", "2206", "2303", "3201", "3202"}  # change nothing: answered fresh, never stored
WRITE_INFNOS = set(TRANSACTIONS) - READ_INFNOS


# ---------------------------------------------------------------- authentication --
@dataclass(frozen=True)
class Credential:
    access_key: str
    fixmedins_code: str
    admdvs: str
    secret: SecretStr  # never printed (repr, logs): read with .get_secret_value() where a signature is checked
    algorithm: str
    demo_only: bool


CREDENTIAL_TTL = 30.0  # seconds a looked-up key is reused (revocation takes effect within this)


def _credential_cache(ctx: AppContext) -> dict[str, tuple[float, Credential | None]]:
    """Per-context cache (lives and dies with the AppContext, so two databases never share entries)."""
    return ctx.__dict__.setdefault("_fsi_credentials", {})


def credential(ctx: AppContext, access_key: str) -> Credential | None:
    cache = _credential_cache(ctx)
    key = access_key
    cached = cache.get(key)
    if cached and time.monotonic() - cached[0] < CREDENTIAL_TTL:
        return cached[1]
    with ctx.unit_of_work() as session:
        row = session.execute(select(CredentialRow, InstitutionRow.admdvs)
                              .join(InstitutionRow, InstitutionRow.fixmedins_code == CredentialRow.fixmedins_code)
                              .where(CredentialRow.access_key == access_key, CredentialRow.active.is_(True))).first()
    found = None if row is None else Credential(row[0].access_key, row[0].fixmedins_code, row[1], SecretStr(row[0].secret),
                                                row[0].algorithm, row[0].demo_only)
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = (time.monotonic(), found)
    return found


def authenticate(ctx: AppContext, headers: dict[str, str], body: bytes, now_ms: int | None = None) -> Credential:
    settings = get_settings()
    given = {name: headers.get(name, "") for name in (*signing.SIGNED_HEADERS, "_api_signature")}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise YidiError("AUTH_FAILED", {"detail": f"缺少请求头 {', '.join(missing)}"})
    cred = credential(ctx, given["_api_access_key"])
    if cred is None or (cred.demo_only and not ctx.demo_mode):
        raise YidiError("AUTH_FAILED", {"detail": "access key 无效或已停用（演示密钥仅在演示模式下可用）"})
    stamp = given["_api_timestamp"]
    if not (stamp.isdigit() and len(stamp) == 13):
        raise YidiError("AUTH_FAILED", {"detail": "_api_timestamp 应为13位毫秒时间戳"})
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if abs(now_ms - int(stamp)) > settings.sign_window_seconds * 1000:
        raise YidiError("AUTH_FAILED", {"detail": f"时间戳超出允许误差±{settings.sign_window_seconds}秒"})
    if signing.sm3_hex(body) != given["_api_body_sm3"].lower():
        raise YidiError("AUTH_FAILED", {"detail": "_api_body_sm3 与报文不符"})
    if not signing.signature_matches(cred.secret.get_secret_value(), given, cred.algorithm, given["_api_signature"]):
        raise YidiError("AUTH_FAILED", {"detail": f"签名无效（{cred.algorithm}）"})
    return cred


# ---------------------------------------------------------------------- envelope --
def envelope(call_msgid: str, admdvs: str, received: str, *, output: Any = None,
             error: YidiError | None = None) -> dict:
    err_msg = ""
    if error is not None:
        err_msg = f"{error.code}：{error.full_message()}"[:ERR_MSG_MAX]
    return {"infcode": 0 if error is None else -1,
            "inf_refmsgid": f"{admdvs or '000000'}{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().hex[:10]}",
            "refmsg_time": received, "respond_time": now_text(), "err_msg": err_msg,
            "output": output if error is None else {}, "warn_msg": None, "cainfo": None, "signtype": None}


def parse_call(body: bytes, path_infno: str | None, cred: Credential, received: str) -> Call:
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
    msgid = env.text("msgid", max_len=60)
    match = MSGID.match(msgid)
    if not match or match.group("code") != cred.fixmedins_code:
        raise invalid("msgid", "格式应为 定点机构编码 + yyyyMMddHHmmss + 4位顺序号")
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
    if raw_input is None:
        raise invalid("input", "缺少该字段")
    if isinstance(raw_input, str):  # some vendors send input as a JSON string
        if len(raw_input) > settings.max_input_chars:
            raise invalid("input", f"超过 {settings.max_input_chars} 个字符")
        refused = guards.json_text_refusal(raw_input.encode("utf-8", "surrogatepass"))  # the body's guards, again
        if refused is not None:
            raise refused
        try:
            raw_input = json.loads(raw_input)
        except ValueError:
            raise invalid("input", "不是有效的 JSON") from None
    if not isinstance(raw_input, dict):
        raise invalid("input", "应为 JSON 对象")
    if len(json.dumps(raw_input, ensure_ascii=False, separators=(",", ":"))) > settings.max_input_chars:
        raise invalid("input", f"超过 {settings.max_input_chars} 个字符")
    opter = (env.text("opter", required=False, max_len=30) or "")
    return Call(infno=infno, msgid=msgid, fixmedins_code=code, admdvs=area, input=raw_input,
                actor=f"fsi:{code}:{opter}"[:60], received=received)


def content_digest(call: Call) -> str:
    """What "the same body" means: the transaction, institution and input (not inf_time or a re-signed header)."""
    canonical = json.dumps([call.infno, call.fixmedins_code, call.input], ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return idempotency.body_digest(canonical.encode())


def run_write(ctx: AppContext, call: Call) -> dict:
    """``_write_once``, run again from the start when the database ended it as the loser of a deadlock or a
    serialisation conflict (e.g. a 2305 and a 2304 of the same visit at once; services/transactions.py)."""
    return transactions.retrying(lambda: _write_once(ctx, call), what=call.infno)


def _write_once(ctx: AppContext, call: Call) -> dict:
    """Do the transaction and store its answer under the msgid — one database transaction.

    The message row (primary key msgid) is inserted at the end, with the answer, so a new message costs one
    statement. A msgid seen before makes that insert fail: the whole transaction (business write included)
    is rolled back and the answer comes from the stored message (same content) or the call is refused
    (MSGID_CONFLICT / MESSAGE_REVERSED). A refusal raised while a concurrent copy of the same message was
    committing is answered from that copy too, so every copy of one message gets the same answer."""
    digest = content_digest(call)
    for _attempt in range(2):
        try:
            with ctx.unit_of_work() as session:
                output = TRANSACTIONS[call.infno](idempotency.bound_context(ctx, session), call)
                response = envelope(call.msgid, call.admdvs, call.received, output=output)
                idempotency.record(session, msgid=call.msgid, fixmedins_code=call.fixmedins_code,
                                   infno=call.infno, digest=digest, response=response)
            return response
        except IntegrityError:
            pass  # the msgid is taken: answer from the stored message below
        except YidiError:
            with ctx.unit_of_work() as session:
                replay = idempotency.lookup(session, call.msgid, digest, call.fixmedins_code)
            if replay is not None:
                return replay.response
            raise
        with ctx.unit_of_work() as session:
            replay = idempotency.lookup(session, call.msgid, digest, call.fixmedins_code)
        if replay is not None:
            return replay.response
    raise YidiError("SERVICE_UNAVAILABLE", {"detail": "并发冲突，请用同一 msgid 重试"})


def handle_call(ctx: AppContext, headers: dict[str, str], body: bytes, path_infno: str | None) -> tuple[int, dict]:
    """(HTTP status, envelope). Business refusals are HTTP 200 with infcode -1, as HIS software expects;
    authentication failures are 401/403 (with the same envelope), an oversized body 413."""
    received = now_text()
    settings = get_settings()
    admdvs = ""
    msgid = ""
    if len(body) > settings.max_body_bytes:
        return 413, envelope(msgid, admdvs, received, error=invalid("body", f"报文超过 {settings.max_body_bytes} 字节"))
    try:
        cred = authenticate(ctx, headers, body)
        admdvs = cred.admdvs
        call = parse_call(body, path_infno, cred, received)
        msgid = call.msgid
        if headers.get("_api_name") != call.infno:
            raise YidiError("AUTH_FAILED", {"detail": "_api_name 与 infno 不符"})
        ratelimit.check_fsi(ctx, cred.access_key)  # issue 9: token bucket per access key
        if call.infno in ops.DEFERRABLE_INFNOS:
            ops.before_settlement(ctx, call)  # I2: queue when the insured region is out; drain when it is back
        if call.infno in WRITE_INFNOS:
            return 200, run_write(ctx, call)
        return 200, envelope(msgid, admdvs, received, output=TRANSACTIONS[call.infno](ctx, call))
    except YidiError as exc:
        return (exc.http_status if exc.spec.category == "auth" else 200), envelope(msgid, admdvs, received, error=exc)
    except Exception as exc:  # noqa: BLE001 - a fault is answered with a coded reason, never a bare 500
        # One bounded line with a reference, never a traceback with locals (logs.py).
        ref = uuid.uuid4().hex[:12]
        log.error("fsi.fault", ref=ref, infno=path_infno, error=exception_line(exc))
        fault = YidiError("SERVICE_UNAVAILABLE", {"detail": f"系统故障，参考号 {ref}"})
        return 200, envelope(msgid, admdvs, received, error=fault)


def register(app: FastAPI) -> None:
    """The interface's routes, for the OpenAPI document. Calls are answered before the router by
    api/fsi_gateway.py (installed outermost by ``create_app``) with the same ``answer``."""
    from yidi.api.fsi_gateway import answer

    async def _endpoint(request: Request, infno: str | None) -> Response:
        status, payload = await answer(request.app.state.ctx, dict(request.headers), await request.body(), infno)
        return Response(payload, status_code=status, media_type="application/json")

    @app.post("/fsi/api/call", tags=["hospital interface"], summary="交易（infno 取自报文）")
    async def call_any(request: Request) -> Response:
        return await _endpoint(request, None)

    @app.post("/fsi/api/rsfComIfsService/callService", tags=["hospital interface"], summary="交易（HIS 常用路径）")
    async def call_service(request: Request) -> Response:
        return await _endpoint(request, None)

    @app.post("/fsi/api/{infno}", tags=["hospital interface"], summary="交易 infno")
    async def call_infno(infno: str, request: Request) -> Response:
        return await _endpoint(request, infno)
