"""/api filings over real HTTP: the app served by uvicorn on 127.0.0.1 (a free port, in a thread) on SQLite
with the demo data, driven with httpx. Persons file, list, view, change and cancel their own filings;
clerks search, approve and reject inside their region; every refusal is a coded Chinese error."""

from __future__ import annotations

import time
from datetime import date, timedelta

import httpx
from dateutil.relativedelta import relativedelta
import numpy as np
import pytest

from tests.support.live_server import live_server
from yidi.api.app import create_app
from yidi.api.auth import issue_token
from yidi.services.context import AppContext
from yidi.services.demo import load_demo


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    ctx = AppContext.from_url(f"sqlite:///{tmp_path_factory.mktemp('api')}/yidi.db", demo_mode=True)
    load_demo(ctx)
    with live_server(create_app(ctx)) as url:
        yield url
    ctx.engine.dispose()


def _login(base_url: str, username: str, password: str) -> httpx.Client:
    response = httpx.post(f"{base_url}/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture(scope="module")
def p005(base_url):
    with _login(base_url, "P005", "demo-person") as client:
        yield client


@pytest.fixture(scope="module")
def p001(base_url):
    with _login(base_url, "P001", "demo-person") as client:
        yield client


@pytest.fixture(scope="module")
def p002(base_url):
    with _login(base_url, "P002", "demo-person") as client:
        yield client


@pytest.fixture(scope="module")
def clerk_jiaozuo(base_url):
    with _login(base_url, "clerk-jiaozuo", "demo-clerk") as client:
        yield client


@pytest.fixture(scope="module")
def clerk_wuhan(base_url):
    with _login(base_url, "clerk-wuhan", "demo-clerk") as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["message"] and body["hint"]
    return body


def _count(client: httpx.Client) -> int:
    return client.get("/api/filings").json()["count"]


# ---------------------------------------------------------------- login ----
def test_login_returns_an_expiring_bearer_token(base_url):
    response = httpx.post(f"{base_url}/api/login", json={"username": "P005", "password": "demo-person"})
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "person" and body["psn_no"] == "P005"
    assert body["expires_at"] - time.time() == pytest.approx(body["expires_in"], abs=60)
    me = httpx.get(f"{base_url}/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "P005"


def test_login_refusals_are_coded(base_url):
    body = _error(httpx.post(f"{base_url}/api/login", json={"username": "P005", "password": "wrong"}),
                  401, "LOGIN_FAILED")
    assert "用户名或密码错误" in body["message"]
    _error(httpx.post(f"{base_url}/api/login", json={"username": "nobody", "password": "x"}), 401, "LOGIN_FAILED")
    _error(httpx.post(f"{base_url}/api/login", json={"username": "P005"}), 422, "INVALID_INPUT")
    _error(httpx.post(f"{base_url}/api/login", content=b"not json"), 422, "INVALID_INPUT")


def test_api_needs_a_valid_unexpired_token(base_url):
    _error(httpx.get(f"{base_url}/api/filings"), 401, "LOGIN_REQUIRED")
    token, _ = issue_token("P005")
    payload, _, signature = token.partition(".")
    forged, _ = issue_token("P001")
    for bad in (f"{payload}.{signature[:-2]}AA", f"{forged.partition('.')[0]}.{signature}", "garbage", "a.b"):
        _error(httpx.get(f"{base_url}/api/filings", headers={"Authorization": f"Bearer {bad}"}), 401,
               "LOGIN_REQUIRED")
    expired, _ = issue_token("P005", now=time.time() - 9 * 3600)
    body = _error(httpx.get(f"{base_url}/api/filings", headers={"Authorization": f"Bearer {expired}"}), 401,
                  "LOGIN_REQUIRED")
    assert "过期" in body["message"]
    assert httpx.get(f"{base_url}/api/filings", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_http_basic_works_for_scripts(base_url):
    assert httpx.get(f"{base_url}/api/filings", auth=("clerk-wuhan", "demo-clerk")).status_code == 200
    _error(httpx.get(f"{base_url}/api/filings", auth=("clerk-wuhan", "nope")), 401, "LOGIN_FAILED")


# ---------------------------------------------------------------- the person's journey ----
def test_f4_f5_f6_person_files_lists_changes_and_cancels(p005):
    today = date.today()
    filed = p005.post("/api/filings", json={"type": "other_temporary", "basis": "proof", "mdtrtarea_admvs": "110000",
                                            "begndate": today.isoformat(), "channel": "app"})
    assert filed.status_code == 201, filed.text
    filing = filed.json()
    assert (filing["psn_no"], filing["status"], filing["apply_date"], filing["category"]) == (
        "P005", "active", today.isoformat(), "temporary")  # 武汉: online filings take effect at once (F4)
    assert date.fromisoformat(filing["enddate"]) == today + relativedelta(months=6) - timedelta(days=1)
    listed = p005.get("/api/filings").json()
    assert filing["filing_id"] in [f["filing_id"] for f in listed["filings"]]
    assert {f["psn_no"] for f in listed["filings"]} == {"P005"}

    changed = p005.post(f"/api/filings/{filing['filing_id']}/change",
                        json={"date": today.isoformat(), "proof": False, "mdtrtarea_admvs": "310000"})
    assert changed.status_code == 200, changed.text
    successor = changed.json()
    assert (successor["mdtrtarea_admvs"], successor["replaces"], successor["enddate"]) == (
        "310000", filing["filing_id"], filing["enddate"])
    old = p005.get(f"/api/filings/{filing['filing_id']}").json()
    assert (old["status"], old["replaced_by"]) == ("changed", successor["filing_id"])
    assert [e["event"] for e in old["history"]] == ["applied", "changed"]
    assert old["history"][0]["actor"] == "P005"

    cancelled = p005.post(f"/api/filings/{successor['filing_id']}/cancel",
                          json={"date": (today + timedelta(days=1)).isoformat(), "proof": False})
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["enddate"] == today.isoformat()
    history = p005.get(f"/api/filings/{successor['filing_id']}/history").json()["history"]
    assert [e["event"] for e in history] == ["applied", "cancelled"]
    _error(p005.post(f"/api/filings/{successor['filing_id']}/cancel", json={"date": today.isoformat()}),
           409, "FILING_NOT_ACTIVE")


def test_f3_commitment_needs_the_tick_and_a_signature(p005):
    text = p005.get("/api/commitment-text", params={"mdtrtarea_admvs": "370100"}).json()
    assert "个人承诺书" in text["text"] and "孙一" in text["text"] and "济南市" in text["text"]
    body = {"type": "long_term_resident", "basis": "commitment", "mdtrtarea_admvs": "370100",
            "begndate": date.today().isoformat(), "commitment_signature": "孙一"}
    before = _count(p005)
    _error(p005.post("/api/filings", json=body), 422, "COMMITMENT_NOT_SIGNED")
    _error(p005.post("/api/filings", json={**body, "commitment_signed": True, "commitment_signature": ""}), 422,
           "COMMITMENT_NOT_SIGNED")
    assert _count(p005) == before
    signed = p005.post("/api/filings", json={**body, "commitment_signed": True})
    assert signed.status_code == 201 and signed.json()["basis"] == "commitment" and signed.json()["enddate"] is None
    # F6: 湖北 sets no time limit on change/cancel (seed 002 二(一), F-R15): P005 (武汉) changes at once without
    # proof. (Until issue 15 this expected FILING_CHANGE_NEEDS_PROOF — the 6-month lock is 焦作's and 德州's.)
    changed = p005.post(f"/api/filings/{signed.json()['filing_id']}/change",
                        json={"date": date.today().isoformat(), "mdtrtarea_admvs": "110000"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["mdtrtarea_admvs"] == "110000" and changed.json()["basis"] == "commitment"


def test_person_sees_and_touches_only_own_filings(p005, p001, base_url):
    mine = p001.get("/api/filings").json()["filings"]
    assert mine and {f["psn_no"] for f in mine} == {"P001"}
    other = mine[0]["filing_id"]
    _error(p005.get(f"/api/filings/{other}"), 404, "NOT_FOUND")
    _error(p005.get(f"/api/filings/{other}/history"), 404, "NOT_FOUND")
    _error(p005.post(f"/api/filings/{other}/cancel", json={"date": date.today().isoformat(), "proof": True}),
           404, "NOT_FOUND")
    _error(p005.get("/api/filings", params={"psn_no": "P001"}), 403, "FORBIDDEN")
    _error(p005.post("/api/filings", json={"psn_no": "P001", "type": "referral", "basis": "proof",
                                           "mdtrtarea_admvs": "110000", "begndate": date.today().isoformat()}),
           403, "FORBIDDEN")
    _error(p005.get("/api/filings/pending"), 403, "FORBIDDEN")
    _error(p005.post(f"/api/filings/{other}/approve"), 403, "FORBIDDEN")
    _error(p005.get("/api/commitment-text", params={"mdtrtarea_admvs": "110000", "psn_no": "P001"}), 403,
           "FORBIDDEN")


def test_f4_persons_file_online_and_today_only(p002):
    base = {"type": "referral", "basis": "proof", "mdtrtarea_admvs": "420100", "begndate": date.today().isoformat()}
    before = _count(p002)
    body = _error(p002.post("/api/filings", json={**base, "channel": "window"}), 422, "INVALID_INPUT")
    assert "channel" in body["message"]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    _error(p002.post("/api/filings", json={**base, "apply_date": yesterday}), 422, "INVALID_INPUT")
    assert _count(p002) == before
    filing = p002.post("/api/filings", json={**base, "channel": "mini_program"}).json()
    body = _error(p002.post(f"/api/filings/{filing['filing_id']}/cancel", json={"date": yesterday}), 422,
                  "INVALID_INPUT")
    assert "date" in body["message"]


@pytest.mark.parametrize("change, field", [
    ({"begndate": "2023-02-30"}, "begndate"),
    ({"begndate": "2023/06/01"}, "begndate"),
    ({"begndate": 1685577600}, "begndate"),
    ({"type": "long_stay"}, "type"),
    ({"basis": None}, "basis"),
    ({"mdtrtarea_admvs": "11000"}, "mdtrtarea_admvs"),
    ({"channel": "fax"}, "channel"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_invalid_input_naming_the_field(p002, change, field):
    body = {"type": "other_temporary", "basis": "proof", "mdtrtarea_admvs": "310000",
            "begndate": date.today().isoformat(), **change}
    before = _count(p002)
    error = _error(p002.post("/api/filings", json=body), 422, "INVALID_INPUT")
    assert field in error["message"]
    assert _count(p002) == before


def test_validation_messages_are_chinese(p002):
    missing = _error(p002.post("/api/filings", json={"basis": "proof"}), 422, "INVALID_INPUT")
    assert "type" in missing["message"] and "必填" in missing["message"]
    wrong = _error(p002.post("/api/filings", json={"type": "x", "basis": "proof", "mdtrtarea_admvs": "310000",
                                                  "begndate": "2023-06-01"}), 422, "INVALID_INPUT")
    assert "取值无效" in wrong["message"] and "other_temporary" in wrong["message"]
    date_error = _error(p002.post("/api/filings", json={"type": "referral", "basis": "proof",
                                                       "mdtrtarea_admvs": "310000", "begndate": "2023-6-1"}),
                        422, "INVALID_INPUT")
    assert "YYYY-MM-DD" in date_error["message"] and "Value error" not in date_error["message"]


def test_unknown_region_and_insured_region_are_refused(p002):
    base = {"type": "other_temporary", "basis": "proof", "begndate": date.today().isoformat()}
    _error(p002.post("/api/filings", json={**base, "mdtrtarea_admvs": "810000"}), 422, "INVALID_INPUT")
    error = _error(p002.post("/api/filings", json={**base, "mdtrtarea_admvs": "371400"}), 422, "INVALID_INPUT")
    assert "参保地" in error["message"]
    _error(p002.get("/api/filings/BA0000"), 404, "NOT_FOUND")


# ---------------------------------------------------------------- the clerk's work ----
def test_f4_jiaozuo_online_filing_waits_for_the_clerk(p001, clerk_jiaozuo, clerk_wuhan):
    today = date.today()
    filing = p001.post("/api/filings", json={"type": "referral", "basis": "proof", "mdtrtarea_admvs": "420100",
                                             "begndate": today.isoformat(), "channel": "app"}).json()
    due = np.busday_offset(np.datetime64(today), 2, roll="backward").astype(object)  # 2 working days
    assert (filing["status"], filing["approve_due_date"]) == ("pending", due.isoformat())

    queue = clerk_jiaozuo.get("/api/filings/pending").json()
    assert filing["filing_id"] in [f["filing_id"] for f in queue["filings"]]
    assert [f["apply_date"] for f in queue["filings"]] == sorted(f["apply_date"] for f in queue["filings"])
    assert all(f["overdue"] is False for f in queue["filings"] if f["filing_id"] == filing["filing_id"])
    assert filing["filing_id"] not in [f["filing_id"] for f in clerk_wuhan.get("/api/filings/pending").json()["filings"]]
    _error(clerk_wuhan.post(f"/api/filings/{filing['filing_id']}/approve"), 404, "NOT_FOUND")
    _error(clerk_wuhan.get("/api/filings/pending", params={"insuplc_admdvs": "410800"}), 403, "FORBIDDEN")

    body = _error(clerk_jiaozuo.post(f"/api/filings/{filing['filing_id']}/reject", json={"reason": ""}), 422,
                  "INVALID_INPUT")
    assert "reason" in body["message"]
    approved = clerk_jiaozuo.post(f"/api/filings/{filing['filing_id']}/approve", json={"reason": "材料齐全"})
    assert approved.json()["status"] == "active"
    _error(clerk_jiaozuo.post(f"/api/filings/{filing['filing_id']}/reject", json={"reason": "迟到的驳回"}), 409,
           "FILING_ALREADY_DECIDED")
    history = clerk_jiaozuo.get(f"/api/filings/{filing['filing_id']}/history").json()["history"]
    assert [(e["event"], e["actor"]) for e in history] == [("applied", "P001"), ("approved", "clerk-jiaozuo")]


def test_f4_clerk_rejects_with_a_reason(p001, clerk_jiaozuo):
    filing = p001.post("/api/filings", json={"type": "other_temporary", "basis": "proof", "mdtrtarea_admvs": "370100",
                                             "begndate": date.today().isoformat(), "channel": "web"}).json()
    rejected = clerk_jiaozuo.post(f"/api/filings/{filing['filing_id']}/reject", json={"reason": "就医地信息不全"})
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "就医地信息不全")
    assert p001.get(f"/api/filings/{filing['filing_id']}").json()["status_name"] == "未通过"


def test_clerk_searches_inside_the_region_only(clerk_jiaozuo, clerk_wuhan):
    found = clerk_jiaozuo.get("/api/filings", params={"certno": "410802195501011234"}).json()["filings"]
    assert found and {f["psn_no"] for f in found} == {"P001"}
    assert clerk_wuhan.get("/api/filings", params={"certno": "410802195501011234"}).json()["count"] == 0
    everything = clerk_jiaozuo.get("/api/filings").json()["filings"]
    assert {f["insuplc_admdvs"] for f in everything} == {"410800"}
    by_status = clerk_jiaozuo.get("/api/filings", params={"status": "active", "psn_no": "P004"}).json()["filings"]
    assert by_status and all(f["status"] == "active" and f["psn_no"] == "P004" for f in by_status)
    _error(clerk_jiaozuo.get("/api/filings", params={"insuplc_admdvs": "420100"}), 403, "FORBIDDEN")
    _error(clerk_jiaozuo.get("/api/filings", params={"status": "open"}), 422, "INVALID_INPUT")
    body = _error(clerk_jiaozuo.get("/api/filings", params={"certno": "4108021955"}), 422, "INVALID_INPUT")
    assert "certno" in body["message"] and "18位" in body["message"]


def test_clerk_files_for_a_person_of_the_region_only(clerk_wuhan):
    base = {"type": "referral", "basis": "proof", "mdtrtarea_admvs": "410100", "begndate": "2023-03-01",
            "apply_date": "2023-03-01", "channel": "window"}
    _error(clerk_wuhan.post("/api/filings", json={**base, "psn_no": "P001"}), 403, "FORBIDDEN")
    filed = clerk_wuhan.post("/api/filings", json={**base, "psn_no": "P003"})
    assert filed.status_code == 201, filed.text
    assert (filed.json()["apply_date"], filed.json()["enddate"], filed.json()["channel_name"]) == (
        "2023-03-01", "2023-08-31", "经办窗口")
    _error(clerk_wuhan.post("/api/filings", json={**base, "psn_no": "P003", "apply_date": "2999-01-01"}), 422,
           "INVALID_INPUT")


def test_supervisor_reads_everywhere_writes_nothing(base_url):
    with _login(base_url, "supervisor", "demo-super") as supervisor:
        filings = supervisor.get("/api/filings").json()["filings"]
        assert {"410800", "420100"} <= {f["insuplc_admdvs"] for f in filings}
        _error(supervisor.post(f"/api/filings/{filings[0]['filing_id']}/cancel",
                               json={"date": date.today().isoformat(), "proof": True}), 403, "FORBIDDEN")


def test_hospital_desk_uses_the_interface_not_the_filing_api(base_url):
    with _login(base_url, "desk-beijing", "demo-desk") as desk:
        _error(desk.get("/api/filings"), 403, "FORBIDDEN")
        assert desk.get("/api/institutions").status_code == 200


# ---------------------------------------------------------------- reference ----
def test_f2_regions_and_networked_institutions(p005):
    regions = {r["admdvs"]: r["name"] for r in p005.get("/api/regions").json()["regions"]}
    assert regions["410800"] == "焦作市" and regions["110000"] == "北京市"
    henan = p005.get("/api/institutions", params={"admdvs": "410000"}).json()["institutions"]
    assert {i["admdvs"] for i in henan} == {"410100", "410800"}
    tertiary = p005.get("/api/institutions", params={"admdvs": "410000", "level": 3}).json()["institutions"]
    assert {i["fixmedins_code"] for i in tertiary} == {"H41010000001", "H41080000001"}
    _error(p005.get("/api/institutions", params={"level": 4}), 422, "INVALID_INPUT")
    _error(p005.get("/api/institutions", params={"admdvs": "abc"}), 422, "INVALID_INPUT")
