"""1101 人员信息获取: the person behind a certificate, their insurance and their filings."""

from __future__ import annotations

from datetime import date

from yidi.domain.errors import YidiError, invalid
from yidi.domain.regions import area_covers
from yidi.interface.envelope import Call
from yidi.interface.fields import CERT_TYPES, section
from yidi.interface.output import person_fields, yuan
from yidi.services import insured_side
from yidi.services.context import AppContext
from yidi.services.reference import cert_no_from


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
