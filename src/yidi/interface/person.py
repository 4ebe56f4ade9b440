"""1101 人员信息获取: the person behind a certificate, their insurance and their standing filings
(services/person_lookup.py, the one lookup the desk page uses too)."""

from __future__ import annotations

from yidi.domain.errors import invalid
from yidi.interface.envelope import Call
from yidi.interface.fields import CERT_TYPES, section
from yidi.interface.output import person_fields, yuan
from yidi.services import person_lookup
from yidi.services.context import AppContext

INSU_STATUS = {"active": "1", "suspended": "2", "ended": "4"}  # psn_insu_stas: 1 参保缴费 / 2 暂停 / 4 终止


def t1101(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "data")
    cert_type = data.code("mdtrt_cert_type", CERT_TYPES, required=False) or "02"
    cert_no = data.text("mdtrt_cert_no", required=False) or data.text("certno", required=False)
    if cert_no is None:
        raise invalid(data.name("mdtrt_cert_no"), "缺少该字段")
    person = person_lookup.find_person_by_cert(ctx, cert_type, cert_no, treatment_admdvs=call.admdvs)  # F11
    output = {
        "baseinfo": {**person_fields(person), "exp_content": ""},
        "insuinfo": [{"insutype": person.insutype, "balc": yuan(person.acct_balc),
                      "insuplc_admdvs": person.insuplc_admdvs,
                      "psn_insu_stas": INSU_STATUS.get(person.insu_status, "9"), "psn_type": "",
                      "cvlserv_flag": "0", "psn_insu_date": "", "paus_insu_date": "", "emp_name": ""}],
        "idetinfo": [],
        "filings": [{"filing_id": f.filing_id, "filing_type": f.filing_type.value, "insuplc_admdvs": f.insuplc_admdvs,
                     "mdtrtarea_admvs": f.mdtrtarea_admvs, "begndate": f.begndate.isoformat(),
                     "enddate": f.enddate.isoformat() if f.enddate else "", "status": f.status.value}
                    for f in person.filings],
    }
    if person.filing_notice:
        output["message"] = person.filing_notice
    return output
