"""B11 特药 at a 双通道 定点零售药店 over the real interface: 2101 药店预结算 changes nothing, 2102 药店结算 is
idempotent on msgid and books fund, usage and ledger, 2103 药店结算撤销 reverses it once; refusals are coded
(a hospital using pharmacy transactions, a pharmacy not 双通道 for the drug, no 特药认定, another doctor's
prescription, outside the province); 2601 冲正 of a 2102 is exact."""

from __future__ import annotations

from decimal import Decimal
from datetime import date

from sqlalchemy import select

from tests.api.test_fsi_support import client_for, demo_ctx, file_filing, ok, row_counts, server  # noqa: F401
from yidi.adapters.orm import SettlementRow, UsageRow
from yidi.services import ledger, pharmacy, users

DUAL = "P41010000001"  # 郑州, 双通道 for X002 伊马替尼 (illustrative demo pharmacy)
PLAIN = "P41010000002"  # 郑州, not 双通道
ZHENGZHOU_HOSPITAL = "H41010000001"


def _yuan(*values) -> tuple:
    return tuple(Decimal(str(v)).quantize(Decimal("0.01")) for v in values)


def _refused(envelope: dict, code: str) -> None:
    assert envelope["infcode"] == -1, envelope
    assert envelope["err_msg"].startswith(code), envelope["err_msg"]


def _purchase(psn_no: str = "P004", *, doctor: str = "D001", rxno: str | None = "RX1", amount: str = "10000.00",
              code: str = "X002", fixmedins: str = DUAL, **data) -> dict:
    line = {"feedetl_sn": "1", "med_list_codg": code, "medins_list_codg": "YP-0001", "medins_list_name": "伊马替尼片",
            "cnt": "4", "pric": str(Decimal(amount) / 4), "det_item_fee_sumamt": amount, "fee_ocur_time": "2023-08-05 10:00:00",
            "bilg_dr_codg": doctor, "bilg_dr_name": "责任医师"}
    if rxno:
        line["rxno"] = rxno
    return {"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": "", "insutype": "390",
                     "fixmedins_code": fixmedins, "medfee_sumamt": amount, "psn_setlway": "01", "begntime": "2023-08-05",
                     "med_type": "15", "acct_used_flag": "0", **data},
            "feedetail": [line]}


def _prepare(ctx) -> None:
    file_filing(ctx, "P004", "referral", "410100", "2023-08-01", "王小")
    pharmacy.recognize(ctx, psn_no="P004", med_list_codg="X002", fixmedins_code=ZHENGZHOU_HOSPITAL, doctor_code="D001",
                       begndate=date(2023, 8, 1), dise_codg="C80", actor="test-clerk")


def test_b11_pharmacy_2101_2102_2103_special_drug_at_a_dual_channel_pharmacy(demo_ctx, server):
    _prepare(demo_ctx)
    shop = client_for(server, DUAL)
    try:
        before = row_counts(demo_ctx)
        pre = ok(shop.call("2101", _purchase()))
        info = pre["setlinfo"]
        # 郑州 X002 乙 10%: inscp 9000; 焦作 居民 特药 60% − 10 pp (referral) = 50% (illustrative figures)
        assert _yuan(info["inscp_scp_amt"], info["hifp_pay"], info["psn_part_amt"]) == _yuan("9000.00", "4500.00", "5500.00")
        assert info["med_type"] == "15" and info["fixmedins_type"] == "2" and info["setl_id"] == ""
        assert pre["detlcutinfo"][0]["chrgitm_lv"] == "02" and pre["detlcutinfo"][0]["hi_nego_drug_flag"] == "1"
        assert row_counts(demo_ctx) == before  # 2101 writes nothing (S3)

        msgid = shop.new_msgid()
        first = ok(shop.call("2102", _purchase(), msgid=msgid))
        again = ok(shop.call("2102", _purchase(), msgid=msgid))  # a replay: the stored answer, nothing new
        assert again == first
        setl_id = first["setlinfo"]["setl_id"]
        with demo_ctx.unit_of_work() as session:
            rows = session.scalars(select(SettlementRow).where(SettlementRow.psn_no == "P004")).all()
            assert [(r.setl_id, r.med_type, r.hifp_pay, r.fixmedins_code) for r in rows] == [(setl_id, "15", 450000, DUAL)]
            assert any(step["rule"] == "B11" for step in rows[0].trace)
            usage = session.get(UsageRow, ("P004", 2023, "special_drug"))
            assert usage.used_fen == 450000
            assert ledger.trial_balance(session) == 0
        _refused(shop.call("2102", _purchase()), "DUPLICATE_CLAIM")  # same person, pharmacy and day: one paid purchase (B-R14)

        cancelled = ok(shop.call("2103", {"data": {"setl_id": setl_id, "psn_no": "P004"}}))
        assert _yuan(cancelled["setlinfo"]["hifp_pay"]) == _yuan("-4500.00")
        with demo_ctx.unit_of_work() as session:
            assert session.get(UsageRow, ("P004", 2023, "special_drug")).used_fen == 0
            assert session.get(SettlementRow, setl_id).status == "cancelled"
            assert ledger.trial_balance(session) == 0
        _refused(shop.call("2103", {"data": {"setl_id": setl_id, "psn_no": "P004"}}), "SETTLEMENT_ALREADY_CANCELLED")

        # settled again, then 冲正 (2601) of that 2102: reversed exactly once
        msgid2 = shop.new_msgid()
        second = ok(shop.call("2102", _purchase(), msgid=msgid2))
        assert ok(shop.reverse(msgid2, "2102", "P004"))["result"]["rslt"] == "reversed"
        assert ok(shop.reverse(msgid2, "2102", "P004"))["result"]["rslt"] == "already_reversed"
        with demo_ctx.unit_of_work() as session:
            assert session.get(SettlementRow, second["setlinfo"]["setl_id"]).status == "reversed"
            assert session.get(UsageRow, ("P004", 2023, "special_drug")).used_fen == 0
    finally:
        shop.close()


def test_b11_pharmacy_refusals_are_coded_and_change_nothing(demo_ctx, server):
    _prepare(demo_ctx)
    shop, plain, hospital = client_for(server, DUAL), client_for(server, PLAIN), client_for(server, ZHENGZHOU_HOSPITAL)
    try:
        before = row_counts(demo_ctx)
        _refused(hospital.call("2102", _purchase(fixmedins=ZHENGZHOU_HOSPITAL)), "NOT_A_PHARMACY")
        _refused(plain.call("2102", _purchase(fixmedins=PLAIN)), "PHARMACY_NOT_DUAL_CHANNEL")
        _refused(shop.call("2102", _purchase(doctor="D999")), "SPECIAL_DRUG_PRESCRIBER")
        _refused(shop.call("2102", _purchase(rxno=None)), "INVALID_INPUT")
        _refused(shop.call("2102", _purchase(code="X001", amount="30.00")), "INVALID_INPUT")
        _refused(shop.call("2102", _purchase(med_type="11")), "PHARMACY_MED_TYPE")
        _refused(shop.call("2102", _purchase(psn_setlway="02")), "INVALID_INPUT")
        _refused(shop.call("2102", _purchase(medfee_sumamt="9999.99")), "INVALID_INPUT")
        # 焦作 职工 filed to 北京 has no filing for 郑州: the filing rules still apply (F10)
        _refused(shop.call("2102", _purchase("P001", insutype="310")), "NOT_FILED")
        # 武汉's document sets no 特药 direct settlement
        _refused(shop.call("2102", _purchase("P003", insutype="310")), "SPECIAL_DRUG_NOT_COVERED")
        assert row_counts(demo_ctx) == before
        with demo_ctx.unit_of_work() as session:
            assert session.scalars(select(SettlementRow)).all() == []
    finally:
        for client in (shop, plain, hospital):
            client.close()


def test_b11_no_recognition_no_special_drug_settlement(demo_ctx, server):
    file_filing(demo_ctx, "P004", "referral", "410100", "2023-08-01", "王小")
    shop = client_for(server, DUAL)
    try:
        _refused(shop.call("2101", _purchase()), "SPECIAL_DRUG_NOT_RECOGNIZED")
    finally:
        shop.close()


def test_b11_the_responsible_hospital_settles_the_special_drug_as_med_type_15(demo_ctx, server):
    from yidi.client import fee_row

    _prepare(demo_ctx)
    hospital, other = client_for(server, ZHENGZHOU_HOSPITAL), client_for(server, "H41080000001")
    try:
        mdtrt_id = ok(hospital.call("2201", {"data": {"psn_no": "P004", "begntime": "2023-08-07 09:00:00",
                                                      "med_type": "15"}}))["data"]["mdtrt_id"]
        ok(hospital.upload_outpatient_fees([fee_row(mdtrt_id, "1", "X002", "10000.00", cnt=4, pric="2500.00")]))
        setl = ok(hospital.call("2207", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "P004", "med_type": "15",
                                                  "medfee_sumamt": "10000.00", "acct_used_flag": "0"}}))["setlinfo"]
        assert setl["med_type"] == "15" and _yuan(setl["hifp_pay"]) == _yuan("4500.00")
        # 焦作市人民医院 is not the responsible hospital of this recognition
        local = ok(other.call("2201", {"data": {"psn_no": "P004", "begntime": "2023-08-08", "med_type": "15"}}))
        local_id = local["data"]["mdtrt_id"]
        ok(other.upload_outpatient_fees([fee_row(local_id, "1", "X002", "100.00", cnt=1, pric="100.00")]))
        _refused(other.call("2207", {"data": {"mdtrt_id": local_id, "psn_no": "P004"}}), "SPECIAL_DRUG_WRONG_HOSPITAL")
    finally:
        hospital.close()
        other.close()


def test_b11_a_pharmacys_settlements_clear_as_41_in_its_answer_and_in_3201(demo_ctx, server):
    """清算类别 41 药店购药: a 2102's setlinfo says so, and the pharmacy's 3201 totals its settlements under 41
    (not 11, although med_type 15 is an outpatient class)."""
    _prepare(demo_ctx)
    shop = client_for(server, DUAL)
    try:
        setl = ok(shop.call("2102", _purchase()))["setlinfo"]
        assert setl["clr_type"] == "41" and setl["fixmedins_type"] == "2"
        today = date.today().isoformat()  # 3201 dates a settlement by when it was processed
        totals = {"medfee_sumamt": setl["medfee_sumamt"], "fund_pay_sumamt": setl["fund_pay_sumamt"],
                  "fixmedins_setl_cnt": 1, "acct_pay": "0.00"}
        as_pharmacy = ok(shop.reconcile_totals(today, today, clr_type="41", **totals))
        assert as_pharmacy["stmtinfo"]["stmt_rslt"] == "0", as_pharmacy
        as_outpatient = ok(shop.reconcile_totals(today, today, clr_type="11", **totals))
        assert as_outpatient["stmt_totlrslt"]["ours"]["fixmedins_setl_cnt"] == 0
    finally:
        shop.close()


def test_b11_a_clerk_records_a_recognition_over_the_api_and_the_pharmacy_then_settles(demo_ctx, server):
    """POST /api/special-drugs/recognitions (the insured region's clerk): before it the 2102 is refused
    (SPECIAL_DRUG_NOT_RECOGNIZED), after it settles; the person lists it; a pharmacy as 责任医院 and a drug outside the
    region's 特药 list are refused with INVALID_INPUT, another region's clerk with FORBIDDEN."""
    import httpx

    file_filing(demo_ctx, "P004", "referral", "410100", "2023-08-01", "王小")
    for username, admdvs in (("clerk-jiaozuo", "410800"), ("clerk-wuhan", "420100")):
        users.create_user(demo_ctx, username=username, password="demo-clerk-password", role="agency", admdvs=admdvs)
    shop = client_for(server, DUAL)

    def login(username: str, password: str) -> httpx.Client:
        token = httpx.post(f"{server.url}/api/login", json={"username": username, "password": password})
        assert token.status_code == 200, token.text
        return httpx.Client(base_url=server.url, timeout=30,
                            headers={"Authorization": f"Bearer {token.json()['access_token']}"})

    body = {"psn_no": "P004", "med_list_codg": "X002", "fixmedins_code": ZHENGZHOU_HOSPITAL, "doctor_code": "D001",
            "begndate": "2023-08-01", "dise_codg": "C80"}
    try:
        _refused(shop.call("2102", _purchase()), "SPECIAL_DRUG_NOT_RECOGNIZED")
        with login("clerk-wuhan", "demo-clerk-password") as other, login("clerk-jiaozuo", "demo-clerk-password") as clerk:
            assert other.post("/api/special-drugs/recognitions", json=body).json()["code"] == "FORBIDDEN"
            pharmacy_as_hospital = clerk.post("/api/special-drugs/recognitions", json={**body, "fixmedins_code": DUAL})
            assert pharmacy_as_hospital.status_code == 422 and pharmacy_as_hospital.json()["code"] == "INVALID_INPUT"
            not_listed = clerk.post("/api/special-drugs/recognitions", json={**body, "med_list_codg": "X007"})
            assert not_listed.status_code == 422 and "特药目录" in not_listed.json()["message"]
            recorded = clerk.post("/api/special-drugs/recognitions", json=body)
            assert recorded.status_code == 201, recorded.text
            assert {k: recorded.json()[k] for k in ("psn_no", "med_list_codg", "fixmedins_code", "doctor_code",
                                                    "begndate", "enddate", "status")} == {
                "psn_no": "P004", "med_list_codg": "X002", "fixmedins_code": ZHENGZHOU_HOSPITAL, "doctor_code": "D001",
                "begndate": "2023-08-01", "enddate": None, "status": "active"}
            listed = clerk.get("/api/persons/P004/special-drug-recognitions").json()["recognitions"]
            assert [r["recognition_id"] for r in listed] == [recorded.json()["recognition_id"]]
        assert ok(shop.call("2102", _purchase()))["setlinfo"]["med_type"] == "15"
    finally:
        shop.close()
