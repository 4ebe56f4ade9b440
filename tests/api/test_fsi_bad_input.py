"""Bad input of every kind gets a coded error (never a 500) and changes nothing — over real HTTP."""

from __future__ import annotations

import copy
import json
import time

import httpx

from tests.api.test_fsi_support import BEIJING, client_for, demo_ctx, file_filing, his, ok, row_counts, server  # noqa: F401
from yidi.interface import signing
from yidi.client import fee_row


def _setup_stay(demo_ctx, his) -> str:
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00")]))
    return mdtrt_id


def _refused(response: dict, code: str, field: str | None = None) -> None:
    assert response["infcode"] == -1, response
    assert response["err_msg"].startswith(code), response["err_msg"]
    assert len(response["err_msg"]) <= 200
    if field:
        assert field in response["err_msg"], response["err_msg"]


def test_v1_bad_fields_are_refused_with_the_field_named(demo_ctx, his):
    mdtrt_id = _setup_stay(demo_ctx, his)
    good_row = fee_row(mdtrt_id, "9", "X004", "400.00", cnt=1, pric="400.00")
    cases = [  # (infno, input, code, field named in err_msg)
        ("2401", {"mdtrtinfo": {"med_type": "21", "begntime": "2023-03-01"}}, "INVALID_INPUT", "psn_no"),
        ("2401", {"mdtrtinfo": {"psn_no": "P001", "med_type": "99", "begntime": "2023-03-01"}}, "INVALID_INPUT", "med_type"),
        ("2401", {"mdtrtinfo": {"psn_no": "P001", "med_type": "21", "begntime": "2023-13-01"}}, "INVALID_INPUT", "begntime"),
        ("2401", {"mdtrtinfo": {"psn_no": "P999", "med_type": "21", "begntime": "2023-03-01"}}, "UNKNOWN_PERSON", None),
        ("2401", {"mdtrtinfo": {"psn_no": "P001", "med_type": "21", "begntime": "2023-03-01", "insutype": "399"}},
         "INVALID_INPUT", "insutype"),
        ("2401", {"mdtrtinfo": {"psn_no": {"x": 1}, "med_type": "21", "begntime": "2023-03-01"}}, "INVALID_INPUT", "psn_no"),
        ("2301", {"feedetail": [{k: v for k, v in good_row.items() if k != "mdtrt_id"}]}, "INVALID_INPUT", "mdtrt_id"),
        ("2301", {"feedetail": [good_row | {"det_item_fee_sumamt": "abc"}]}, "INVALID_INPUT", "det_item_fee_sumamt"),
        ("2301", {"feedetail": [good_row | {"det_item_fee_sumamt": "400.001", "pric": None}]}, "INVALID_INPUT",
         "det_item_fee_sumamt"),
        ("2301", {"feedetail": [good_row | {"det_item_fee_sumamt": "-400.00", "cnt": -1}]}, "INVALID_INPUT",
         "det_item_fee_sumamt"),
        ("2301", {"feedetail": [good_row | {"det_item_fee_sumamt": "9999999999.00", "pric": None}]}, "INVALID_INPUT",
         "det_item_fee_sumamt"),
        ("2301", {"feedetail": [good_row | {"cnt": "two"}]}, "INVALID_INPUT", "cnt"),
        ("2301", {"feedetail": [good_row | {"cnt": True}]}, "INVALID_INPUT", "cnt"),
        ("2301", {"feedetail": [good_row | {"pric": "399.00"}]}, "INVALID_INPUT", "det_item_fee_sumamt"),
        ("2301", {"feedetail": [good_row | {"feedetl_sn": "1"}]}, "INVALID_INPUT", "feedetl_sn"),  # duplicate sn
        ("2301", {"feedetail": [good_row | {"mdtrt_id": "MDNOPE"}]}, "VISIT_NOT_FOUND", None),
        ("2301", {"feedetail": [good_row | {"fee_ocur_time": "yesterday"}]}, "INVALID_INPUT", "fee_ocur_time"),
        ("2301", {"feedetail": [good_row | {"det_item_fee_sumamt": "-10.00", "cnt": -1, "pric": "10",
                                            "init_feedetl_sn": "nope"}]}, "INVALID_INPUT", "init_feedetl_sn"),
        ("2301", {"feedetail": [good_row | {"det_item_fee_sumamt": "-9000.00", "cnt": -1, "pric": "9000",
                                            "med_list_codg": "X007", "init_feedetl_sn": "1"}]}, "INVALID_INPUT", None),
        ("2301", {"feedetail": "rows"}, "INVALID_INPUT", "feedetail"),
        ("2301", {"feedetail": [{"feedetl_sn": str(i), "mdtrt_id": mdtrt_id, "med_list_codg": "X004",
                                 "det_item_fee_sumamt": 1, "cnt": 1} for i in range(100, 401)]}, "TOO_MANY_ROWS", None),
        ("2301", {}, "INVALID_INPUT", "feedetail"),
        ("2303", {"mdtrtinfo": {"psn_no": "P001"}}, "INVALID_INPUT", "mdtrt_id"),
        ("2304", {"mdtrtinfo": {"mdtrt_id": mdtrt_id}}, "INVALID_INPUT", "endtime"),  # no discharge, no endtime
        ("2304", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "endtime": "2023-03-10", "medfee_sumamt": "1.00"}},
         "INVALID_INPUT", "medfee_sumamt"),
        ("2304", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "endtime": "2023-03-10", "medfee_sumamt": "NaN"}},
         "INVALID_INPUT", "medfee_sumamt"),
        ("2304", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "endtime": "2023-02-10"}}, "INVALID_INPUT", "endtime"),
        ("2304", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "endtime": "2023-03-10", "psn_no": "P002"}}, "INVALID_INPUT",
         "psn_no"),
        ("2207", {"data": {"mdtrt_id": mdtrt_id}}, "INVALID_INPUT", "mdtrt_id"),  # an inpatient stay via 22xx
        ("2305", {"data": {"setl_id": "SLNOPE", "mdtrt_id": mdtrt_id}}, "SETTLEMENT_NOT_FOUND", None),
        ("2601", {"data": {"omsgid": his.new_msgid(), "oinfno": "1101"}}, "INVALID_INPUT", "oinfno"),
        ("3201", {"data": {"stmt_begndate": "2023-03-01", "stmt_enddate": "2023-02-01", "medfee_sumamt": 0,
                           "fund_pay_sumamt": 0, "fixmedins_setl_cnt": 0}}, "INVALID_INPUT", "stmt_enddate"),
        ("3201", {"data": {"stmt_begndate": "2023-03-01", "stmt_enddate": "2023-03-31", "medfee_sumamt": "x",
                           "fund_pay_sumamt": 0, "fixmedins_setl_cnt": 0}}, "INVALID_INPUT", "medfee_sumamt"),
        ("1101", {"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "410802195501011234"}}, "INVALID_INPUT",
         "mdtrt_cert_type"),
        ("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110101199001011237"}}, "UNKNOWN_PERSON", None),
    ]
    before = row_counts(demo_ctx)
    for infno, input_data, code, field in cases:
        _refused(his.call(infno, input_data), code, field)
    assert row_counts(demo_ctx) == before


def test_v1_bad_envelopes_are_refused(demo_ctx, his, server):
    _setup_stay(demo_ctx, his)
    good = his.envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "410802195501011234"}})
    before = row_counts(demo_ctx)
    cases = [
        ({"infno": "9999"}, "UNKNOWN_INFNO"),
        ({"msgid": ""}, "INVALID_INPUT"),
        ({"msgid": "H11000000001202303011200000001X"}, "INVALID_INPUT"),  # 31 characters
        ({"msgid": "2303011200\u00e9-0001"}, "INVALID_INPUT"),  # not printable ASCII
        ({"msgid": "231203120000-\t001"}, "INVALID_INPUT"),
        ({"fixmedins_code": "H31000000001"}, "FORBIDDEN"),
        ({"mdtrtarea_admvs": "310000"}, "FORBIDDEN"),
        ({"infver": "V9.9"}, "INVALID_INPUT"),
        ({"input": "not json"}, "INVALID_INPUT"),
        ({"input": ["a"]}, "INVALID_INPUT"),
        ({"input": {"data": {"mdtrt_cert_no": "x" * 40_001}}}, "INVALID_INPUT"),
    ]
    for change, code in cases:
        envelope = copy.deepcopy(good) | change
        infno = envelope["infno"]
        response = his.send_raw(infno, json.dumps(envelope).encode())
        _refused(response, code)
    for raw in (b"{", b"[]", b"\xff\xfe", b"null"):
        _refused(his.send_raw("1101", raw), "INVALID_INPUT")
    # path and body disagree on infno
    response = httpx.post(f"{server.url}/fsi/api/2304", content=json.dumps(good).encode(),
                          headers=signing.signed_headers(infno="2304", body=json.dumps(good).encode(),
                                                         access_key=his.access_key, secret=his.secret))
    _refused(response.json(), "INVALID_INPUT", "infno")
    # body size limit
    big = json.dumps(good | {"padding": "x" * 1_100_000}).encode()
    response = httpx.post(f"{server.url}/fsi/api/1101", content=big,
                          headers=signing.signed_headers(infno="1101", body=big, access_key=his.access_key,
                                                         secret=his.secret))
    assert response.status_code == 413 and response.json()["err_msg"].startswith("PAYLOAD_TOO_LARGE")
    assert row_counts(demo_ctx) == before


def test_tolerates_real_his_habits(demo_ctx, his):
    """Numbers as strings, infver "1", filler signtype/cainfo, extra envelope fields, input as a JSON string."""
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    envelope = his.envelope("2401", {"mdtrtinfo": {"psn_no": "P001", "med_type": 21, "begntime": "2023-03-01 08:00:00",
                                                   "insutype": "310"}},
                            infver="1", signtype="SM3", cainfo="xxxx", serv_code="A", serv_sign="B",
                            fixmedins_soft_fcty="vendor")
    mdtrt_id = ok(his.send(envelope))["result"]["mdtrt_id"]
    rows = {"feedetail": [fee_row(mdtrt_id, "1", "X007", 8000, cnt="1.0", pric="8000.0"),
                          fee_row(mdtrt_id, "2", "X004", "4000", cnt=20, pric=200)]}
    envelope = his.envelope("2301", json.dumps(rows, ensure_ascii=False), infver="V1.0")
    ok(his.send(envelope))
    out = ok(his.settle_inpatient(mdtrt_id, "P001", medfee_sumamt=12000, endtime="20230310"))
    assert out["setlinfo"]["hifp_pay"] == 9435.0


def test_auth_wrong_signature_stale_timestamp_other_institution(demo_ctx, his, server):
    before = row_counts(demo_ctx)
    body = json.dumps(his.envelope("1101", {"data": {"mdtrt_cert_type": "02",
                                                     "mdtrt_cert_no": "410802195501011234"}})).encode()
    url = f"{server.url}/fsi/api/1101"

    def post(headers):
        return httpx.post(url, content=body, headers=headers)

    good = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret=his.secret)
    assert post(good).json()["infcode"] == 0
    wrong_secret = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret="guess")
    stale = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret=his.secret,
                                   timestamp_ms=int(time.time() * 1000) - 301_000)
    future = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret=his.secret,
                                    timestamp_ms=int(time.time() * 1000) + 301_000)
    sha1 = signing.signed_headers(infno="1101", body=body, access_key=his.access_key, secret=his.secret,
                                  algorithm="HMAC-SHA1")  # not this credential's algorithm
    tampered = dict(good, _api_body_sm3=signing.sm3_hex(body + b" "))
    other_name = signing.signed_headers(infno="2304", body=body, access_key=his.access_key, secret=his.secret)
    unknown_key = signing.signed_headers(infno="1101", body=body, access_key="nobody", secret="x")
    missing = {k: v for k, v in good.items() if k != "_api_signature"}
    for headers in (wrong_secret, stale, future, sha1, tampered, other_name, unknown_key, missing):
        response = post(headers)
        assert response.status_code == 401, headers
        _refused(response.json(), "AUTH_FAILED")
    # a key is bound to its institution: Shanghai's key cannot speak for Beijing
    shanghai = client_for(server, "H31000000001")
    envelope = shanghai.envelope("1101", {"data": {"mdtrt_cert_no": "410802195501011234"}})
    _refused(shanghai.send(envelope | {"fixmedins_code": BEIJING}), "FORBIDDEN")
    assert row_counts(demo_ctx) == before


def test_institution_acts_only_on_its_own_visits(demo_ctx, his, server):
    mdtrt_id = _setup_stay(demo_ctx, his)
    other = client_for(server, "H11000000002")  # another Beijing hospital, same region
    before = row_counts(demo_ctx)
    _refused(other.settle_inpatient(mdtrt_id, endtime="2023-03-10"), "VISIT_NOT_FOUND")
    _refused(other.upload_inpatient_fees([fee_row(mdtrt_id, "5", "X004", "1.00")]), "VISIT_NOT_FOUND")
    _refused(other.cancel_admission(mdtrt_id), "VISIT_NOT_FOUND")
    assert row_counts(demo_ctx) == before
    setl_id = ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["setl_id"]
    _refused(other.cancel_inpatient_settlement(setl_id), "SETTLEMENT_NOT_FOUND")


def test_demo_credentials_need_demo_mode(demo_ctx, his):
    demo_ctx.demo_mode = False  # the cached demo key is still refused: demo_only is checked on every call
    response = his.person_info("02", "410802195501011234")
    _refused(response, "AUTH_FAILED")
