"""Issue 13, secrets and availability: a NUL character in any text field is refused at the edge with a code,
and a fault logs one bounded line with a reference — never a traceback with locals, never a secret.

The attack: ``psn_no`` / ``mdtrt_id`` / ``setl_id`` / the login username holding U+0000 reached PostgreSQL, failed
there, and was answered after seconds while a traceback of thousands of lines with local variables was written —
``Settings(secret_key=…)`` and hospital secrets included. Over real HTTP, on SQLite and PostgreSQL; the logging
test runs the server as a separate process and reads everything it wrote.
"""

from __future__ import annotations

import base64
import json
import re
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest
from sqlalchemy import text

from tests.api.test_fsi_support import client_for, row_counts, serving
from tests.fault.server import ServerProcess, demo_context, fresh_pg_database, uploaded_stays
from yidi.services.demo import load_demo

NUL = "\x00"
SECRET_KEY = "S3CRET-signing-key-that-must-never-be-logged"
ESTIMATE = {"fixmedins_code": "H11000000001", "med_type": "21", "begntime": "2024-03-01", "endtime": "2024-03-05",
            "items": [{"code": "X004", "amount": "1000.00"}]}


def _coded(answer: httpx.Response, code: str = "CONTROL_CHARACTER") -> None:
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["code"] == code


def _fsi_refused(envelope: dict, code: str = "CONTROL_CHARACTER") -> None:
    assert envelope["infcode"] == -1 and envelope["err_msg"].startswith(code), envelope["err_msg"]


def nul_attacks(base: str) -> None:
    """Every door a NUL was tried at; each must answer CONTROL_CHARACTER (nothing reaches the database)."""
    his = client_for(type("S", (), {"url": base})())
    _fsi_refused(his.person_info("02", f"41080219550101{NUL}234"))  # 1101 certno
    _fsi_refused(his.admit(f"P001{NUL}", "21", "2024-03-01", insutype="310"))  # 2401 psn_no
    _fsi_refused(his.settle_inpatient(f"MD{NUL}1", "P001", endtime="2024-03-05"))  # 2304 mdtrt_id
    _fsi_refused(his.cancel_inpatient_settlement(f"SL{NUL}", "MD1", "P001"))  # 2305 setl_id
    # ``input`` sent as a JSON string (some vendors do): the NUL is one escape level deeper
    envelope = his.envelope("2304", {})
    envelope["input"] = json.dumps({"mdtrtinfo": {"mdtrt_id": f"MD{NUL}", "psn_no": "P001"}})
    _fsi_refused(his.send(envelope))
    # … and so is a deeply nested input: the same depth guard as a body
    envelope["input"] = "[" * 5000 + "]" * 5000
    _fsi_refused(his.send(envelope), "PAYLOAD_TOO_LARGE")
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as http:
        _coded(http.post("/api/login", json={"username": f"P001{NUL}", "password": "demo-person"}))
        _coded(http.post("/api/benefit/estimate", json={"psn_no": f"P{NUL}1", **ESTIMATE}))
        basic = base64.b64encode(f"P001{NUL}:demo-person".encode()).decode()
        _coded(http.get("/api/me", headers={"authorization": f"Basic {basic}"}))
        _coded(http.get("/api/filings", params={"certno": f"41{NUL}"}))
        _coded(http.get("/api/filings/F%001"))  # percent-encoded in the path
        _coded(http.get("/hospitals", params={"admdvs": NUL}))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text).group(1)
        _coded(http.post("/login", data={"username": f"P001{NUL}", "password": "x", "csrf_token": csrf}))
        # the six characters backslash-u-0-0-0-0 are text, not a NUL: not refused for that
        assert http.post("/api/login", json={"username": "P001\\u0000", "password": "x"}).json()["code"] == \
            "LOGIN_FAILED"


def test_h13_nul_in_any_text_field_is_refused_at_the_edge(ctx):
    ctx.demo_mode = True
    load_demo(ctx)
    before = row_counts(ctx)
    with serving(ctx) as server:
        nul_attacks(server.url)
        assert row_counts(ctx) == before
        assert client_for(server).sign_in()["infcode"] == 0  # the server is still answering everyone


@contextmanager
def _database(kind: str, tmp_path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/server.db"
    else:
        with fresh_pg_database() as url:
            yield url


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_h13_a_fault_logs_one_bounded_line_with_a_reference_and_no_secret(kind, tmp_path):
    with _database(kind, tmp_path) as url:
        ctx = demo_context(url)
        (mdtrt_id, endtime), = uploaded_stays(ctx, 1)
        log_file = tmp_path / "server.log"
        server = ServerProcess(url, YIDI_LOG_LEVEL="INFO", YIDI_SECRET_KEY=SECRET_KEY).start(log_file)
        try:
            nul_attacks(server.url)
            # a real fault: the tables a settlement and a filing list use are gone
            with ctx.engine.begin() as connection:
                connection.execute(text("ALTER TABLE usage RENAME TO usage_gone"))
                connection.execute(text("ALTER TABLE filings RENAME TO filings_gone"))
            fault = client_for(server).settle_inpatient(mdtrt_id, "P001", endtime=endtime)
            api_fault = httpx.get(server.url + "/api/filings", auth=("clerk-jiaozuo", "demo-clerk"))
        finally:
            server.stop()
            ctx.engine.dispose()
    assert fault["infcode"] == -1
    ref = re.search(r"参考号 ([0-9a-f]{12})", fault["err_msg"]).group(1)
    assert api_fault.status_code == 500 and api_fault.json()["code"] == "SYSTEM_ERROR"
    api_ref = re.search(r"参考号 ([0-9a-f]{12})", api_fault.json()["message"]).group(1)
    logged = log_file.read_text()
    for secret in (SECRET_KEY, "demo-secret-", "Settings(", "Traceback", "locals"):
        assert secret not in logged, f"{secret!r} written to the log"
    fault_lines = [line for line in logged.splitlines() if ref in line]
    assert len(fault_lines) == 1 and "fsi.fault" in fault_lines[0] and "usage" in fault_lines[0]
    assert len([line for line in logged.splitlines() if api_ref in line]) == 1
    assert max(len(line) for line in logged.splitlines()) < 2000  # every line bounded
    assert "CONTROL_CHARACTER" not in logged or len(logged.splitlines()) < 200


def test_h13_secrets_are_types_that_do_not_print(monkeypatch):
    """The settings' signing key and a hospital's credential secret print as ********** (repr, str, f-strings),
    so a log line or a traceback that shows them gives nothing away."""
    from pydantic import SecretStr

    from yidi.interface.authentication import Credential
    from yidi.config import Settings

    monkeypatch.setenv("YIDI_SECRET_KEY", SECRET_KEY)
    settings = Settings()
    assert settings.secret_key.get_secret_value() == SECRET_KEY
    assert SECRET_KEY not in repr(settings) and SECRET_KEY not in f"{settings}"
    credential = Credential("demo-H1", "H1", "110000", SecretStr("demo-secret-H1"), "HMAC-SM3", True)
    assert "demo-secret-H1" not in repr(credential) and "demo-secret-H1" not in f"{credential}"


@pytest.mark.parametrize("content_type, body, refused", [
    (b"application/json", b'{"psn_no": "P\\u0000"}', True),
    (b"application/json", b'{"psn_no": "P\\\\u0000"}', False),  # an escaped backslash, then the text u0000
    (b"text/plain", b' \n{"input": "{\\"a\\": \\"\\\\u0000\\"}"}', False),  # decoded later, where it is checked
    (b"application/x-www-form-urlencoded", b"username=P001%00&password=x", True),
    (b"multipart/form-data; boundary=AbC",
     b'--AbC\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\x00y\r\n--AbC--\r\n', True),
    (b"multipart/form-data; boundary=AbC",  # a file part may hold any bytes
     b'--AbC\r\nContent-Disposition: form-data; name="f"; filename="i.pdf"\r\n\r\n\x00\x01\r\n--AbC--\r\n', False),
])
def test_h13_the_edge_guard_reads_each_body_kind(content_type, body, refused):
    from yidi.api.guards import refusal

    scope = {"path": "/x", "query_string": b"", "headers": [(b"content-type", content_type)]}
    found = refusal(scope, body)
    assert (found is not None and found.code == "CONTROL_CHARACTER") is refused
