"""Issue 18: the interface as real HIS systems speak it — requests written the way vendors write them (strings
for numbers, extra keys, refund rows with negative counts, missing optional keys) and the answers they parse.
Everything over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from datetime import date, datetime

import httpx

from tests.api.test_fsi_support import BEIJING, client_for, demo_ctx, file_filing, his, ok, row_counts, server  # noqa: F401
from yidi.interface import signing
from yidi.client import fee_row

TODAY = date.today().isoformat()


def _refused(response: dict, code: str, field: str | None = None) -> None:
    assert response["infcode"] == -1, response
    assert response["err_msg"].startswith(code), response["err_msg"]
    if field:
        assert field in response["err_msg"], response["err_msg"]


def _stay(demo_ctx, his, begin: str = "2023-03-01") -> str:
    """P001 (焦作 410800, filed for 北京) admitted at 协和 with 12,000.00 of fees, as a HIS uploads them."""
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", begin))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([
        fee_row(mdtrt_id, "1", "X007", "8000.00", cnt="1.0", pric="8000.0", fee_ocur_time=f"{begin} 10:00:00"),
        fee_row(mdtrt_id, "2", "X004", "4400.00", cnt="11", pric="400"),
        fee_row(mdtrt_id, "3", "X004", "-400.00", cnt="-1.0", pric="400", init_feedetl_sn="2")]))  # refund row
    return mdtrt_id


def _settled(demo_ctx, his) -> dict:
    mdtrt_id = _stay(demo_ctx, his)
    return ok(his.settle_inpatient(mdtrt_id, "P001", "12000.00", endtime="2023-03-10"))["setlinfo"]


# ----------------------------------------------------------------------------------------- msgid --
def test_msgid_in_vendor_styles_unique_per_institution(demo_ctx, server):
    beijing, other = client_for(server), client_for(server, "H11000000002")
    stamp = datetime.now().strftime("%y%m%d%H%M%S")
    for msgid in (f"{stamp}-0001", f"{BEIJING}-{stamp}-0001", f"{BEIJING}{datetime.now():%Y%m%d%H%M%S}0001"):
        answer = beijing.register_outpatient("P001", TODAY, msgid=msgid)
        mdtrt_id = ok(answer)["data"]["mdtrt_id"]
        assert beijing.register_outpatient("P001", TODAY, msgid=msgid) == answer  # the stored first answer
    # the same vendor-style msgid from another institution is another message
    theirs = ok(other.register_outpatient("P001", TODAY, msgid=f"{stamp}-0001"))["data"]["mdtrt_id"]
    assert theirs != mdtrt_id
    assert len({theirs, mdtrt_id}) == 2


# --------------------------------------------------------------------------------- answers' shape --
def test_answers_as_real_platforms_send_them(demo_ctx, his):
    response = his.person_info("02", "410802195501011234")
    assert re.fullmatch(r"\d{17}", response["refmsg_time"]) and re.fullmatch(r"\d{17}", response["respond_time"])
    assert re.fullmatch(r"\d{30}", response["inf_refmsgid"]) and "enctype" in response
    info = ok(response)
    assert info["baseinfo"]["naty"] == "" and isinstance(info["baseinfo"]["age"], int)
    assert {"psn_insu_date", "emp_name", "psn_type", "cvlserv_flag"} <= set(info["insuinfo"][0])
    assert isinstance(info["insuinfo"][0]["balc"], (int, float))
    sign_no = ok(his.sign_in())["signinoutb"]["sign_no"]
    assert 0 < len(sign_no) <= 30

    mdtrt_id = _stay(demo_ctx, his)
    rows = ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "9", "X004", "400.00", cnt="1", pric="400.0")]))["result"]
    for flag in ("lmt_used_flag", "pric_uplmt_amt", "bas_medn_flag", "hi_nego_drug_flag", "drt_reim_flag"):
        assert flag in rows[0]
    assert rows[0]["det_item_fee_sumamt"] == 400.0 and rows[0]["cnt"] == 1 and rows[0]["selfpay_prop"] == 0
    ok(his.revoke_inpatient_fees(mdtrt_id, "9"))

    pre = ok(his.presettle_inpatient(mdtrt_id, "P001", "12000.00", endtime="2023-03-10"))["setlinfo"]
    msgid = his.new_msgid()
    settled = ok(his.settle_inpatient(mdtrt_id, "P001", "12000.00", endtime="2023-03-10", msgid=msgid))["setlinfo"]
    for setl in (pre, settled):
        for name in ("medins_setl_id", "mdtrt_cert_type", "age", "naty", "cvlserv_flag", "psn_type", "gend", "brdy",
                     "hifmi_pay", "hifob_pay", "maf_pay", "acct_mulaid_pay", "hosp_part_amt", "balc", "clr_optins"):
            assert name in setl, name
        assert setl["hifp_pay"] == 9435.0 and setl["medfee_sumamt"] == 12000.0 and setl["age"] == 68
        assert all(isinstance(setl[k], (int, float)) and not isinstance(setl[k], bool)
                   for k in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay", "acct_pay", "balc"))
    assert settled["medins_setl_id"] == msgid and settled["mdtrt_cert_type"] == "02"
    assert json.dumps(settled).count('"9435.00"') == 0  # amounts are numbers, never text


def test_refund_slip_2305_is_the_settlement_negated(demo_ctx, his):
    setl = _settled(demo_ctx, his)
    out = ok(his.cancel_inpatient_settlement(setl["setl_id"], setl["mdtrt_id"], "P001"))
    info, detail = out["setlinfo"], out["setldetail"]
    assert info["setl_id"] == setl["setl_id"] and info["psn_name"] == setl["psn_name"]
    assert (info["medfee_sumamt"], info["hifp_pay"], info["psn_cash_pay"]) == (-12000.0, -9435.0, -2565.0)
    assert info["setl_status"] == "cancelled" and info["refd_setl_flag"] == "1" and info["age"] == 68
    assert detail[0]["fund_payamt"] == -9435.0 and detail[0]["fund_pay_type"] == "310100"


# ------------------------------------------------------------------------ discharge and med_type --
def test_2303_2304_with_dscg_time_and_no_2402(demo_ctx, his):
    mdtrt_id = _stay(demo_ctx, his)
    data = {"psn_no": "P001", "mdtrt_cert_type": "02", "mdtrt_cert_no": "410802195501011234",
            "medfee_sumamt": "12000.0", "ipt_otp_no": "ZY001", "med_type": "21", "insutype": "310",
            "mid_setl_flag": "0", "acct_used_flag": "0", "psn_setlway": "01", "invono": "", "mdtrt_id": mdtrt_id,
            "dscg_time": "2023-03-10 09:30:00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
            "preselfpay_amt": "0", "inscp_scp_amt": "12000"}
    pre = ok(his.call("2303", {"mdtrtinfo": data}))["setlinfo"]
    assert pre["enddate"] == "2023-03-10" and pre["hifp_pay"] == 9435.0
    settled = ok(his.call("2304", {"mdtrtinfo": data}))["setlinfo"]
    assert settled["enddate"] == "2023-03-10" and settled["setl_id"]


def test_2207_outpatient_med_types_mapped_or_refused(demo_ctx, his):
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    for day, med_type in (("01", "12"), ("02", 13)):
        mdtrt_id = ok(his.call("2201", {"data": {"psn_no": "P001", "begntime": f"2023-05-{day} 08:00:00",
                                                 "med_type": med_type, "atddr_no": "D01", "caty": "A03"}}))["data"]["mdtrt_id"]
        ok(his.upload_outpatient_fees([fee_row(mdtrt_id, "1", "X001", 60, cnt="2", pric="30.00")]))
        setl = ok(his.call("2207", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "med_type": str(med_type),
                                             "medfee_sumamt": 60, "chrg_bchno": "B1", "acct_used_flag": "0"}}))
        assert setl["setlinfo"]["med_type"] == "11" and setl["setlinfo"]["clr_type"] == "11"
    before = row_counts(demo_ctx)
    refused = his.call("2201", {"data": {"psn_no": "P001", "begntime": "2023-05-04", "med_type": "19"}})
    _refused(refused, "MED_TYPE_NOT_SUPPORTED", "19")
    assert row_counts(demo_ctx) == before
    mdtrt_id = ok(his.register_outpatient("P001", "2023-05-05"))["data"]["mdtrt_id"]
    before = row_counts(demo_ctx)
    ok_rows = ok(his.upload_outpatient_fees([fee_row(mdtrt_id, "1", "X001", "30.00")]))
    assert ok_rows["result"]
    before = row_counts(demo_ctx)
    # 41 定点药店购药 is not settled at a hospital (15 特药 is, since B11: it would be a med_type mismatch here)
    _refused(his.call("2207", {"data": {"mdtrt_id": mdtrt_id, "med_type": "41"}}), "MED_TYPE_NOT_SUPPORTED")
    _refused(his.call("2207", {"data": {"mdtrt_id": mdtrt_id, "med_type": "14"}}), "INVALID_INPUT", "med_type")
    assert row_counts(demo_ctx) == before


def test_already_admitted_at_any_hospital(demo_ctx, his, server):
    mdtrt_id = _stay(demo_ctx, his)
    other = client_for(server, "H11000000002")
    before = row_counts(demo_ctx)
    _refused(other.admit("P001", "21", "2023-03-05"), "ALREADY_ADMITTED", "已有在院记录")
    _refused(his.admit("P001", "22", "2023-03-05"), "ALREADY_ADMITTED", mdtrt_id)
    assert row_counts(demo_ctx) == before
    ok(his.register_outpatient("P001", "2023-03-05"))  # an outpatient visit is no second stay
    ok(his.discharge(mdtrt_id, "2023-03-10"))
    ok(other.admit("P001", "21", "2023-03-11"))


# ------------------------------------------------------------------------------------ signatures --
def test_tif_gateway_headers_and_seconds_timestamp(demo_ctx, his, server):
    tif = client_for(server, gateway="tif")
    assert ok(tif.person_info("02", "410802195501011234"))["baseinfo"]["psn_no"] == "P001"
    body = json.dumps(his.envelope("1101", {"data": {"mdtrt_cert_no": "410802195501011234"}})).encode()
    url = f"{server.url}/fsi/api/1101"
    headers = signing.tif_headers(paasid=his.access_key, token=his.secret)
    assert httpx.post(url, content=body, headers=headers).json()["infcode"] == 0
    replay = httpx.post(url, content=body, headers=headers)  # byte for byte, within the window
    assert replay.status_code == 401 and replay.json()["err_msg"].startswith("REQUEST_REPLAYED")
    bad = [signing.tif_headers(paasid=his.access_key, token="guess"),
           signing.tif_headers(paasid=his.access_key, token=his.secret, timestamp_s=int(time.time()) - 301),
           signing.tif_headers(paasid="nobody", token=his.secret),
           {**signing.tif_headers(paasid=his.access_key, token=his.secret), "x-tif-nonce": ""}]
    for headers in bad:
        response = httpx.post(url, content=body, headers=headers)
        assert response.status_code == 401 and response.json()["err_msg"].startswith("AUTH_FAILED"), headers
    # today's _api_* headers with a 10-digit seconds timestamp, and their replay refused too
    seconds = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret=his.secret,
                                     timestamp_ms=int(time.time()))
    assert len(seconds["_api_timestamp"]) == 10
    assert httpx.post(url, content=body, headers=seconds).json()["infcode"] == 0
    again = httpx.post(url, content=body, headers=seconds)
    assert again.status_code == 401 and again.json()["err_msg"].startswith("REQUEST_REPLAYED")
    stale = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret=his.secret,
                                   timestamp_ms=int(time.time()) - 301)
    assert httpx.post(url, content=body, headers=stale).status_code == 401


# ------------------------------------------------------------------------------ 对账 and 清算 --
def test_3201_scoped_by_setl_optins_and_clr_type(demo_ctx, his):
    setl = _settled(demo_ctx, his)
    totals = {"medfee_sumamt": "12000.00", "fund_pay_sumamt": 9435, "acct_pay": "0", "fixmedins_setl_cnt": "1",
              "cash_payamt": "2565.00", "refd_setl_flag": "0", "insutype": "310"}

    def check(begin, end, **scope):
        data = {"stmt_begndate": begin, "stmt_enddate": end, **totals, **scope}
        return ok(his.call("3201", {"data": data}))

    june = check("2023-06-01", "2023-06-30", setl_optins="410800", clr_type="21")  # dated by settlement time
    assert june["stmtinfo"]["stmt_rslt"] == "1" and june["stmt_totlrslt"]["ours"]["fixmedins_setl_cnt"] == 0
    mine = check(TODAY, TODAY, setl_optins="410800", clr_type="21")
    assert mine["stmtinfo"] == {"setl_optins": "410800", "stmt_rslt": "0", "stmt_rslt_dscr": "平"}
    elsewhere = check(TODAY, TODAY, setl_optins="371400", clr_type="21")
    assert elsewhere["stmtinfo"]["setl_optins"] == "371400" and elsewhere["stmtinfo"]["stmt_rslt"] == "1"
    outpatient = check(TODAY, TODAY, setl_optins="410800", clr_type="11")
    assert outpatient["stmtinfo"]["stmt_rslt"] == "1"
    assert setl["clr_optins"] == "410800"


def _zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("3202.txt", text)
    return buffer.getvalue()


def test_3202_through_9101_file_and_9102_result(demo_ctx, his, server):
    setl = _settled(demo_ctx, his)
    cancelled = ok(his.settle_inpatient(_stay_again(demo_ctx, his), "P001", endtime="2023-04-10"))["setlinfo"]
    ok(his.cancel_inpatient_settlement(cancelled["setl_id"]))
    lines = [f"{setl['setl_id']}\t{setl['mdtrt_id']}\tP001\t12000.00\t9435.00\t0.00\t0\tnull",
             # a refund is sent as the settlement and its negation: it nets to nothing
             f"{cancelled['setl_id']}\t{cancelled['mdtrt_id']}\tP001\t12000.00\t9435.00\t0.00\t1\tnull",
             f"{cancelled['setl_id']}\t{cancelled['mdtrt_id']}\tP001\t-12000.00\t-9435.00\t0.00\t1\tnull"]
    uploaded = ok(his.upload_file(_zipped("\n".join(lines) + "\n"), "3202_detail.zip"))
    assert len(uploaded["file_qury_no"]) <= 30 and uploaded["dld_endtime"]
    result = ok(his.reconcile_details_file(TODAY, TODAY, uploaded["file_qury_no"], medfee_sumamt="12000.00",
                                           fund_pay_sumamt="9435.00", fixmedins_setl_cnt=1, setl_optins="410800"))
    assert result["stmt_rslt"] == "0" and result["fileinfo"]["file_qury_no"]
    content = his.download_file(result["fileinfo"]["file_qury_no"], result["fileinfo"]["filename"])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        rows = [line.split("\t") for line in archive.read(archive.namelist()[0]).decode().splitlines()]
    assert [(row[2], row[4]) for row in rows] == [(setl["setl_id"], "0")]

    # one amount off: 不平, named in the answer and in the result file
    wrong = ok(his.upload_file(_zipped(lines[0].replace("12000.00", "12001.00")), "3202_detail.zip"))
    off = ok(his.reconcile_details_file(TODAY, TODAY, wrong["file_qury_no"], medfee_sumamt=12001,
                                        fund_pay_sumamt=9435, fixmedins_setl_cnt=1))
    assert off["stmt_rslt"] == "1" and off["differing"][0]["reason"] == "amount"
    assert off["differing"][0]["ours"]["medfee_sumamt"] == 12000.0

    broken = ok(his.upload_file(b"SL1\tMD1\tP001\tabc\t1\t0\t0", "bad.txt"))
    before = row_counts(demo_ctx)
    _refused(his.reconcile_details_file(TODAY, TODAY, uploaded["file_qury_no"], medfee_sumamt="1.00",
                                        fund_pay_sumamt="9435.00", fixmedins_setl_cnt=1), "INVALID_INPUT",
             "medfee_sumamt")
    _refused(his.reconcile_details_file(TODAY, TODAY, "F-nope", medfee_sumamt=0, fund_pay_sumamt=0,
                                        fixmedins_setl_cnt=0), "NOT_FOUND")
    _refused(his.reconcile_details_file(TODAY, TODAY, broken["file_qury_no"], medfee_sumamt=0, fund_pay_sumamt=0,
                                        fixmedins_setl_cnt=0), "INVALID_INPUT", "file[1].medfee_sumamt")
    _refused(his.call("9101", {"fsUploadIn": {"in": "not base64!", "filename": "x.zip"}}), "INVALID_INPUT", "in")
    assert his.download_file("F-nope")["err_msg"].startswith("NOT_FOUND")
    other = client_for(server, "H11000000002")
    assert other.download_file(uploaded["file_qury_no"])["err_msg"].startswith("NOT_FOUND")  # not your file
    assert row_counts(demo_ctx) == before


def _stay_again(demo_ctx, his) -> str:
    mdtrt_id = ok(his.admit("P001", "21", "2023-04-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00"),
                                  fee_row(mdtrt_id, "2", "X004", "4000.00")]))
    return mdtrt_id


def test_3203_clearing_application_and_3260_3262_treatment_side(demo_ctx, his):
    setl = _settled(demo_ctx, his)
    clr_ym = date.today().strftime("%Y%m")  # cleared in the month it was settled (setl_date: server clock)
    application = {"clr_type": "21", "clr_way": "1", "setlym": TODAY[:7].replace("-", ""), "psntime": "1",
                   "medfee_sumamt": "12000.00", "med_sumfee": "12000.00", "fund_appy_sum": "9435.00",
                   "cash_payamt": "2565.00", "acct_pay": 0, "begndate": TODAY, "enddate": TODAY,
                   "clr_optins": "410800"}
    before = row_counts(demo_ctx)
    _refused(his.call("3203", {"data": application | {"fund_appy_sum": "9000.00"}}), "CLEARING_TOTALS_DIFFER",
             "fund_appy_sum")
    assert row_counts(demo_ctx) == before
    applied = ok(his.call("3203", {"data": application}))["result"]
    assert applied["clr_appy_evt_id"]
    _refused(his.call("3203", {"data": application}), "INVALID_INPUT", "setlym")
    assert ok(his.call("3204", {"data": {"clr_appy_evt_id": applied["clr_appy_evt_id"]}}))["result"]["clr_stas"] \
        == "withdrawn"
    ok(his.call("3203", {"data": application}))  # applied again after the withdrawal

    fetched = ok(his.call("3260", {"data": {"clr_ym": clr_ym, "page_num": "1", "page_size": "50"}}))
    assert [(row["setl_id"], row["cnfm_flag"], row["clr_amt"]) for row in fetched["data"]] == \
        [(setl["setl_id"], "0", 9435.0)]
    assert fetched["clr_stas"] == "0" and fetched["sumamt"]["clr_amt"] == 9435.0
    confirmed = ok(his.call("3261", {"data": {"clr_ym": clr_ym, "clr_optins": "410800"}}))["result"]
    assert confirmed["cnfm_cnt"] == 1 and confirmed["clr_amt"] == 9435.0
    assert ok(his.call("3260", {"data": {"clr_ym": clr_ym}}))["data"][0]["cnfm_flag"] == "1"
    _refused(his.call("3261", {"data": {"clr_ym": clr_ym, "setl_id": setl["setl_id"]}}), "INVALID_INPUT", "已确认")
    rolled = ok(his.call("3262", {"data": {"clr_ym": clr_ym}, "detail": [{"setl_id": setl["setl_id"]}]}))["result"]
    assert rolled["rollback_cnt"] == 1
    assert ok(his.call("3260", {"data": {"clr_ym": clr_ym}}))["data"][0]["cnfm_flag"] == "0"
    _refused(his.call("3260", {"data": {"clr_ym": "2023-13"}}), "INVALID_INPUT", "clr_ym")


def test_already_admitted_holds_under_concurrent_admissions(demo_ctx, server):
    import threading

    from sqlalchemy import func, select

    from yidi.adapters.orm import VisitRow

    codes = ["H11000000001", "H11000000002"] * 2
    barrier = threading.Barrier(len(codes))
    answers = []

    def terminal(index, code):
        client = client_for(server, code, seq_range=(index * 1000, (index + 1) * 1000))  # distinct msgids
        barrier.wait()
        answers.append(client.admit("P001", "21", "2023-03-01"))

    threads = [threading.Thread(target=terminal, args=(index, code)) for index, code in enumerate(codes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(answer["infcode"] == 0 for answer in answers) == 1
    assert all(answer["err_msg"].split("：")[0] in ("ALREADY_ADMITTED", "SERVICE_UNAVAILABLE")
               for answer in answers if answer["infcode"] != 0)
    with demo_ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(VisitRow).where(VisitRow.psn_no == "P001")) == 1


def test_replayed_writes_are_refused_and_change_nothing(demo_ctx, his, server):
    url = f"{server.url}/fsi/api/2201"
    body = json.dumps(his.envelope("2201", {"data": {"psn_no": "P001", "begntime": TODAY}})).encode()
    headers = signing.signed_headers(infno="2201", body=body, access_key=his.access_key, secret=his.secret)
    assert httpx.post(url, content=body, headers=headers).json()["infcode"] == 0
    before = row_counts(demo_ctx)
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 401 and replay.json()["err_msg"].startswith("REQUEST_REPLAYED")
    assert row_counts(demo_ctx) == before
    # a refused write is remembered too: its replay is refused as a replay, not run again
    bad = json.dumps(his.envelope("2201", {"data": {"psn_no": "NOBODY", "begntime": TODAY}})).encode()
    tif = signing.tif_headers(paasid=his.access_key, token=his.secret)
    assert httpx.post(url, content=bad, headers=tif).json()["err_msg"].startswith("UNKNOWN_PERSON")
    again = httpx.post(url, content=bad, headers=tif)
    assert again.status_code == 401 and again.json()["err_msg"].startswith("REQUEST_REPLAYED")
    assert row_counts(demo_ctx) == before
