"""A Python client for the hospital interface, for HIS developers and for our own tools and tests.

    client = HospitalClient("http://127.0.0.1:8000", "demo-H11000000001", "demo-secret-H11000000001",
                            "H11000000001")
    person = client.person_info("02", "410802195501011234")          # 1101
    mdtrt_id = client.admit(psn_no, "21", "2023-03-01")["output"]["result"]["mdtrt_id"]   # 2401

Every method returns the response envelope (``infcode`` 0 = success). ``msgid`` = fixmedins code +
yyyyMMddHHmmss + 4-digit sequence (any 1–30 printable ASCII characters are accepted); pass ``msgid=`` to resend a message
(e.g. to ask "did my 2304 go through?" after a timeout: the stored first answer comes back).
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime
from typing import Any

import httpx

from yidi.interface.signing import signed_headers, tif_headers


# One running sequence per institution and range for the whole process: two clients of one institution made one
# after the other (a warm-up run, then the measured one) must not both start at 0001 within the same second.
_SEQUENCES: dict[tuple[str, int, int], itertools.count] = {}
_SEQUENCES_LOCK = threading.Lock()


def _sequence_for(fixmedins_code: str, seq_range: tuple[int, int]) -> itertools.count:
    with _SEQUENCES_LOCK:
        return _SEQUENCES.setdefault((fixmedins_code, *seq_range), itertools.count(1))


class HospitalClient:
    def __init__(self, base_url: str, access_key: str, secret: str, fixmedins_code: str,
                 algorithm: str = "HMAC-SM3", *, mdtrtarea_admvs: str | None = None, timeout: float = 30.0,
                 path: str = "/fsi/api/{infno}", http: httpx.Client | None = None,
                 seq_range: tuple[int, int] = (0, 10_000), gateway: str = "api"):
        self.base_url = base_url.rstrip("/")
        self.access_key = access_key
        self.secret = secret
        self.fixmedins_code = fixmedins_code
        self.algorithm = algorithm
        # National institution codes are "H" + the 6-digit region + a 5-digit number (H11000000001 → 110000).
        self.mdtrtarea_admvs = mdtrtarea_admvs or (fixmedins_code[1:7] if len(fixmedins_code) == 12 else "")
        self.path = path
        self.gateway = gateway  # "api": the _api_* headers (body signed); "tif": the x-tif-* headers
        self.http = http or httpx.Client(timeout=timeout)
        # The 4-digit sequence is per institution and second: terminals of one institution that send at the
        # same time must use disjoint ranges (e.g. terminal k of 8 uses (k*1250, (k+1)*1250)).
        self._seq_start, self._seq_size = seq_range[0], seq_range[1] - seq_range[0]
        self._seq = _sequence_for(fixmedins_code, seq_range)

    # ---------------------------------------------------------------- plumbing --
    def new_msgid(self) -> str:
        with _SEQUENCES_LOCK:
            seq = self._seq_start + next(self._seq) % self._seq_size
        return f"{self.fixmedins_code}{datetime.now():%Y%m%d%H%M%S}{seq:04d}"

    def envelope(self, infno: str, input_data: dict, msgid: str | None = None, **extra: Any) -> dict:
        env = {"infno": infno, "msgid": msgid or self.new_msgid(), "mdtrtarea_admvs": self.mdtrtarea_admvs or "",
               "insuplc_admdvs": "", "recer_sys_code": "FSI_LOCAL", "dev_no": "", "dev_safe_info": "", "cainfo": "",
               "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "his", "opter_name": "HIS",
               "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "fixmedins_code": self.fixmedins_code,
               "fixmedins_name": "", "sign_no": "", "input": input_data}
        env.update(extra)
        return env

    def send(self, envelope: dict) -> dict:
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self.send_raw(envelope["infno"], body)

    def post(self, infno: str, body: bytes, headers: dict | None = None) -> httpx.Response:
        if self.gateway == "tif":
            sent = tif_headers(paasid=self.access_key, token=self.secret)
        else:
            sent = signed_headers(infno=infno, body=body, access_key=self.access_key, secret=self.secret,
                                  algorithm=self.algorithm)
        sent["Content-Type"] = "application/json; charset=utf-8"
        sent.update(headers or {})
        return self.http.post(self.base_url + self.path.format(infno=infno), content=body, headers=sent)

    def send_raw(self, infno: str, body: bytes, headers: dict | None = None) -> dict:
        return self.post(infno, body, headers).json()

    def call(self, infno: str, input_data: dict, *, msgid: str | None = None, **extra: Any) -> dict:
        return self.send(self.envelope(infno, input_data, msgid, **extra))

    # ------------------------------------------------------------ transactions --
    def sign_in(self, opter_no: str = "his") -> dict:  # 9001
        return self.call("9001", {"signIn": {"opter_no": opter_no, "mac": "", "ip": ""}})

    def sign_out(self, sign_no: str, opter_no: str = "his") -> dict:  # 9002
        return self.call("9002", {"signOut": {"sign_no": sign_no, "opter_no": opter_no}})

    def person_info(self, mdtrt_cert_type: str, mdtrt_cert_no: str, **kw) -> dict:  # 1101
        return self.call("1101", {"data": {"mdtrt_cert_type": mdtrt_cert_type, "mdtrt_cert_no": mdtrt_cert_no,
                                           "psn_cert_type": "01", "card_sn": "", "begntime": ""}}, **kw)

    def register_outpatient(self, psn_no: str, begntime: str, insutype: str = "", mdtrt_cert_type: str = "02",
                            mdtrt_cert_no: str = "", **kw) -> dict:  # 2201
        return self.call("2201", {"data": {"psn_no": psn_no, "insutype": insutype, "begntime": begntime,
                                           "mdtrt_cert_type": mdtrt_cert_type, "mdtrt_cert_no": mdtrt_cert_no,
                                           "ipt_otp_no": ""}}, **kw)

    def cancel_outpatient(self, mdtrt_id: str, psn_no: str = "", **kw) -> dict:  # 2202
        return self.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}, **kw)

    def outpatient_info(self, mdtrt_id: str, med_type: str, dise_codg: str = "", psn_no: str = "", **kw) -> dict:
        return self.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": med_type,
                                                "dise_codg": dise_codg}, "diseinfo": []}, **kw)  # 2203

    def upload_outpatient_fees(self, rows: list[dict], **kw) -> dict:  # 2204
        return self.call("2204", {"feedetail": rows}, **kw)

    def revoke_outpatient_fees(self, mdtrt_id: str, feedetl_sn: str = "0000", **kw) -> dict:  # 2205
        return self.call("2205", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": feedetl_sn}}, **kw)

    def presettle_outpatient(self, mdtrt_id: str, psn_no: str = "", medfee_sumamt: Any = None, **kw) -> dict:
        return self.call("2206", {"data": _settle_input(mdtrt_id, psn_no, medfee_sumamt, None)}, **kw)  # 2206

    def settle_outpatient(self, mdtrt_id: str, psn_no: str = "", medfee_sumamt: Any = None, **kw) -> dict:
        return self.call("2207", {"data": _settle_input(mdtrt_id, psn_no, medfee_sumamt, None)}, **kw)  # 2207

    def cancel_outpatient_settlement(self, setl_id: str, mdtrt_id: str = "", psn_no: str = "", **kw) -> dict:
        return self.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}, **kw)

    def admit(self, psn_no: str, med_type: str, begntime: str, insutype: str = "", dise_codg: str = "",
              mdtrt_cert_type: str = "02", mdtrt_cert_no: str = "", **kw) -> dict:  # 2401
        return self.call("2401", {"mdtrtinfo": {"psn_no": psn_no, "insutype": insutype, "med_type": med_type,
                                                "begntime": begntime, "mdtrt_cert_type": mdtrt_cert_type,
                                                "mdtrt_cert_no": mdtrt_cert_no, "dise_codg": dise_codg},
                                  "diseinfo": []}, **kw)

    def discharge(self, mdtrt_id: str, endtime: str, psn_no: str = "", **kw) -> dict:  # 2402
        return self.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "endtime": endtime},
                                  "diseinfo": []}, **kw)

    def cancel_admission(self, mdtrt_id: str, psn_no: str = "", **kw) -> dict:  # 2404
        return self.call("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}, **kw)

    def upload_inpatient_fees(self, rows: list[dict], **kw) -> dict:  # 2301
        return self.call("2301", {"feedetail": rows}, **kw)

    def revoke_inpatient_fees(self, mdtrt_id: str, feedetl_sn: str = "0000", **kw) -> dict:  # 2302
        return self.call("2302", {"data": [{"mdtrt_id": mdtrt_id, "feedetl_sn": feedetl_sn}]}, **kw)

    def presettle_inpatient(self, mdtrt_id: str, psn_no: str = "", medfee_sumamt: Any = None,
                            endtime: str | None = None, **kw) -> dict:  # 2303
        return self.call("2303", {"mdtrtinfo": _settle_input(mdtrt_id, psn_no, medfee_sumamt, endtime)}, **kw)

    def settle_inpatient(self, mdtrt_id: str, psn_no: str = "", medfee_sumamt: Any = None,
                         endtime: str | None = None, **kw) -> dict:  # 2304
        return self.call("2304", {"mdtrtinfo": _settle_input(mdtrt_id, psn_no, medfee_sumamt, endtime)}, **kw)

    def cancel_inpatient_settlement(self, setl_id: str, mdtrt_id: str = "", psn_no: str = "", **kw) -> dict:
        return self.call("2305", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}, **kw)

    def reverse(self, omsgid: str, oinfno: str, psn_no: str = "", **kw) -> dict:  # 2601 冲正
        return self.call("2601", {"data": {"omsgid": omsgid, "oinfno": oinfno, "psn_no": psn_no}}, **kw)

    def reconcile_totals(self, begndate: str, enddate: str, *, medfee_sumamt: Any, fund_pay_sumamt: Any,
                         fixmedins_setl_cnt: int, acct_pay: Any = "0.00", insutype: str = "", clr_type: str = "",
                         **kw) -> dict:  # 3201
        return self.call("3201", {"data": {"stmt_begndate": begndate, "stmt_enddate": enddate, "insutype": insutype,
                                           "clr_type": clr_type, "medfee_sumamt": medfee_sumamt,
                                           "fund_pay_sumamt": fund_pay_sumamt, "acct_pay": acct_pay,
                                           "fixmedins_setl_cnt": fixmedins_setl_cnt}}, **kw)

    def reconcile_details(self, begndate: str, enddate: str, rows: list[dict], **kw) -> dict:  # 3202
        return self.call("3202", {"data": {"stmt_begndate": begndate, "stmt_enddate": enddate}, "detail": rows}, **kw)

    def upload_file(self, content: bytes, filename: str, **kw) -> dict:  # 9101 文件上传 (bytes as Java sends them)
        signed = [b - 256 if b > 127 else b for b in content]
        return self.call("9101", {"fsUploadIn": {"in": signed, "filename": filename,
                                                 "fixmedins_code": self.fixmedins_code}}, **kw)

    def download_file(self, file_qury_no: str, filename: str = "", **kw) -> bytes | dict:  # 9102 文件下载
        """The file's bytes, or the refusal envelope."""
        envelope = self.envelope("9102", {"fsDownloadIn": {"file_qury_no": file_qury_no, "filename": filename,
                                                           "fixmedins_code": self.fixmedins_code}}, kw.pop("msgid", None))
        response = self.post("9102", json.dumps(envelope, ensure_ascii=False).encode())
        return response.content if response.headers.get("content-type", "").startswith(
            "application/octet-stream") else response.json()

    def reconcile_details_file(self, begndate: str, enddate: str, file_qury_no: str, *, medfee_sumamt: Any,
                               fund_pay_sumamt: Any, fixmedins_setl_cnt: int, setl_optins: str = "",
                               clr_type: str = "", **kw) -> dict:  # 3202 with a 9101 file
        return self.call("3202", {"data": {"setl_optins": setl_optins, "file_qury_no": file_qury_no,
                                           "stmt_begndate": begndate, "stmt_enddate": enddate,
                                           "medfee_sumamt": medfee_sumamt, "fund_pay_sumamt": fund_pay_sumamt,
                                           "cash_payamt": 0, "fixmedins_setl_cnt": fixmedins_setl_cnt,
                                           "clr_type": clr_type, "refd_setl_flag": "0"}}, **kw)

    def close(self) -> None:
        self.http.close()


def _settle_input(mdtrt_id: str, psn_no: str, medfee_sumamt: Any, endtime: str | None) -> dict:
    data: dict[str, Any] = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "mdtrt_cert_type": "02", "psn_setlway": "01",
                            "acct_used_flag": "0", "insutype": ""}
    if medfee_sumamt is not None:
        data["medfee_sumamt"] = medfee_sumamt
    if endtime:
        data["endtime"] = endtime
    return data


def fee_row(mdtrt_id: str, feedetl_sn: str, med_list_codg: str, amount: Any, cnt: Any = 1, pric: Any = None,
            fee_ocur_time: str = "", init_feedetl_sn: str = "", psn_no: str = "") -> dict:
    """One national-style fee-detail row (2301/2204)."""
    row = {"feedetl_sn": feedetl_sn, "init_feedetl_sn": init_feedetl_sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no,
           "med_type": "", "fee_ocur_time": fee_ocur_time, "med_list_codg": med_list_codg,
           "medins_list_codg": med_list_codg, "det_item_fee_sumamt": amount, "cnt": cnt,
           "bilg_dept_codg": "", "bilg_dr_codg": ""}
    if pric is not None:
        row["pric"] = pric
    return row
