"""Registration and discharge: 2201 门诊挂号 / 2202 撤销 / 2203 就诊信息上传, 2401 入院办理 / 2402 出院办理 /
2404 入院撤销 (services/visits.py)."""

from __future__ import annotations

from yidi.domain.errors import invalid
from yidi.interface.envelope import Call
from yidi.interface.fields import (CERT_TYPES, INPATIENT_MED_TYPES, INSUTYPES, MED_TYPES, Fields, discharge_date,
                                   require_same, section)
from yidi.services import visits
from yidi.services.context import AppContext


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
    visit = visits.discharge(ctx, fixmedins_code=call.fixmedins_code, mdtrt_id=mdtrt_id, endtime=discharge_date(data, True),
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
