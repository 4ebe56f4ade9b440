"""Issue 13, access: four attacks that worked, each replayed over real HTTP on SQLite and PostgreSQL.

- the estimate with ``psn_no`` showed anyone a person's filings and usage;
- password guessing through HTTP Basic on /api was not limited, and every attempt cost an argon2 hash;
- a supervisor ran the monthly clearing from the pages;
- a session cookie (and a token) still worked after logout.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
from argon2 import PasswordHasher

from tests.api.test_fsi_support import serving
from yidi.config import get_settings
from yidi.services import accounts, clearing, users, visits
from yidi.services.demo import load_demo

BILL = {"fixmedins_code": "H11000000001", "med_type": "21", "begntime": "2024-03-01", "endtime": "2024-03-05",
        "items": [{"code": "X004", "amount": "1000.00"}]}


@pytest.fixture
def demo(ctx):
    load_demo(ctx)
    return ctx


def page_login(base: str, username: str, password: str) -> httpx.Client:
    """A browser-like client logged in through the login form (CSRF token included)."""
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})
    assert answer.status_code == 303 and "/login" not in answer.headers["location"], answer.text[:300]
    return client


def csrf_of(client: httpx.Client, page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text).group(1)


def test_h13_estimate_naming_a_person_needs_that_person_or_the_treating_hospital(demo):
    body = {"psn_no": "P001", **BILL}
    with serving(demo) as server:
        url = f"{server.url}/api/benefit/estimate"
        anonymous = httpx.post(url, json=body)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "LOGIN_REQUIRED"
        assert "filing_id" not in anonymous.text and "hifp_pay" not in anonymous.text
        assert httpx.post(url, json=body, auth=("P002", "demo-person")).json()["code"] == "FORBIDDEN"
        assert httpx.post(url, json=body, auth=("clerk-wuhan", "demo-clerk")).status_code == 403
        assert httpx.post(url, json=body, auth=("desk-beijing", "demo-desk")).status_code == 403  # not treating P001
        own = httpx.post(url, json=body, auth=("P001", "demo-person"))
        assert own.status_code == 200 and own.json()["filing_id"]  # the person sees their own filing
        visits.register(demo, fixmedins_code="H11000000001", psn_no="P001", med_type="21",
                        begntime=date.today() - timedelta(days=1))
        assert httpx.post(url, json=body, auth=("desk-beijing", "demo-desk")).status_code == 200  # now treating
        assert httpx.post(url, json=body, auth=("desk-shanghai", "demo-desk")).status_code == 403
        profile = {"insuplc_admdvs": "410800", "insutype": "310", "filing_type": "retired_relocated", **BILL}
        assert httpx.post(url, json=profile).status_code == 200  # anonymous with a profile: still open to all


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting its work (a spy: every hash and verify is still computed)."""

    calls = 0

    def hash(self, *args, **kwargs):
        CountingHasher.calls += 1
        return super().hash(*args, **kwargs)

    def verify(self, *args, **kwargs):
        CountingHasher.calls += 1
        return super().verify(*args, **kwargs)


@pytest.fixture
def three_failures(monkeypatch):
    monkeypatch.setenv("YIDI_LOGIN_FAILURES_PER_MINUTE", "3")
    get_settings.cache_clear()
    monkeypatch.setattr(users, "_hasher", CountingHasher())
    yield
    get_settings.cache_clear()


def test_h13_password_guessing_through_http_basic_is_limited_like_the_login_form(demo, three_failures):
    with serving(demo) as server:
        me = f"{server.url}/api/me"
        wrong = [httpx.get(me, auth=("clerk-jiaozuo", f"guess-{n}")).status_code for n in range(3)]
        assert wrong == [401, 401, 401]
        CountingHasher.calls = 0
        refused = [httpx.get(me, auth=("clerk-jiaozuo", guess)) for guess in ("guess-4", "demo-clerk")]
        assert [r.status_code for r in refused] == [429, 429]  # even the right password, once the budget is spent
        assert refused[1].json()["code"] == "RATE_LIMITED"
        assert CountingHasher.calls == 0  # a refused attempt costs no argon2 hash
        # the same budget as the login form and /api/login: a spent budget there is spent here too
        assert httpx.post(f"{server.url}/api/login", json={"username": "clerk-jiaozuo",
                                                             "password": "demo-clerk"}).status_code == 429
        # the manual-claim endpoint's Basic login is under the same budget
        claim = httpx.post(f"{server.url}/api/claims/manual", json={**BILL, "psn_no": "P001"},
                           auth=("clerk-jiaozuo", "demo-clerk"))
        assert claim.status_code == 429
        assert httpx.get(me, auth=("clerk-wuhan", "demo-clerk")).status_code == 200  # another user is not locked


def test_h13_supervisor_cannot_run_the_monthly_clearing_from_the_pages(demo):
    with serving(demo) as server:
        supervisor = page_login(server.url, "supervisor", "demo-super")
        page = supervisor.get("/agency/funds")
        assert page.status_code == 200 and 'action="/agency/funds/run"' not in page.text  # no button either
        answer = supervisor.post("/agency/funds/run", data={"month": "2024-01",
                                                            "csrf_token": csrf_of(supervisor, "/agency/funds")})
        assert answer.status_code == 403 and "FORBIDDEN" in answer.text
        assert clearing.list_runs(demo) == []  # nothing was run
        # the country's clearing is asked for by one provincial clerk and approved by another (issue 19)
        henan = page_login(server.url, "clerk-henan", "demo-clerk")
        asked = henan.post("/agency/funds/run", data={"month": "2024-01",
                                                      "csrf_token": csrf_of(henan, "/agency/funds")})
        assert asked.status_code == 303 and clearing.list_runs(demo) == []
        from yidi.services import approvals

        request_id = approvals.list_requests(demo)[0].request_id
        reviewer = page_login(server.url, "reviewer-henan", "demo-clerk")
        approved = reviewer.post(f"/agency/funds/approvals/{request_id}/approve",
                                 data={"csrf_token": csrf_of(reviewer, "/agency/funds")})
        assert approved.status_code == 303
        assert [run["actor"] for run in clearing.list_runs(demo)] == ["clerk-henan+reviewer-henan"]


def test_h13_sessions_and_tokens_are_revoked_on_logout_password_change_and_disable(demo):
    with serving(demo) as server:
        # logout: the copied cookie of the logged-out session no longer opens the pages
        browser = page_login(server.url, "P001", "demo-person")
        stolen = dict(browser.cookies)
        token = httpx.post(f"{server.url}/api/login", json={"username": "P001", "password": "demo-person"}).json()
        bearer = {"authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(f"{server.url}/api/me", headers=bearer).status_code == 200
        assert browser.post("/logout", data={"csrf_token": csrf_of(browser, "/person")}).status_code == 303
        replay = httpx.get(f"{server.url}/person", cookies=stolen, follow_redirects=False)
        assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
        assert httpx.get(f"{server.url}/api/me", headers=bearer).status_code == 401  # tokens end with it

        # /api/logout ends the token itself
        token = httpx.post(f"{server.url}/api/login", json={"username": "P001", "password": "demo-person"}).json()
        bearer = {"authorization": f"Bearer {token['access_token']}"}
        assert httpx.post(f"{server.url}/api/logout", headers=bearer).status_code == 200
        assert httpx.get(f"{server.url}/api/me", headers=bearer).json()["code"] == "LOGIN_REQUIRED"

        # a password change ends every earlier session and token; the new password works
        browser = page_login(server.url, "P002", "demo-person")
        token = httpx.post(f"{server.url}/api/login", json={"username": "P002", "password": "demo-person"}).json()
        bearer = {"authorization": f"Bearer {token['access_token']}"}
        changed = httpx.post(f"{server.url}/api/password", headers=bearer,
                             json={"old_password": "demo-person", "new_password": "a-new-passphrase"})
        assert changed.status_code == 200, changed.text
        assert httpx.get(f"{server.url}/api/me", headers=bearer).status_code == 401
        assert browser.get("/person").status_code == 303
        assert httpx.get(f"{server.url}/api/me", auth=("P002", "a-new-passphrase")).status_code == 200

        # disabling a user ends their sessions at once and refuses their password
        desk = page_login(server.url, "desk-beijing", "demo-desk")
        assert desk.get("/desk").status_code == 200
        accounts.set_active(demo, "desk-beijing", False, actor="admin-test")
        assert desk.get("/desk").status_code == 303
        assert httpx.get(f"{server.url}/api/me", auth=("desk-beijing", "demo-desk")).status_code == 401


def test_h13_cli_disables_a_user_and_their_live_session_ends(tmp_path, monkeypatch):
    """`yidi user disable` (an operator's action, a separate process's view of the same database) ends a
    session that is open in a browser at that moment."""
    from typer.testing import CliRunner

    from yidi.cli import app
    from yidi.services.context import AppContext

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("YIDI_DATABASE_URL", url)
    get_settings.cache_clear()
    ctx = AppContext.from_url(url)
    try:
        load_demo(ctx)
        with serving(ctx) as server:
            browser = page_login(server.url, "clerk-wuhan", "demo-clerk")
            assert browser.get("/agency").status_code == 200
            result = CliRunner().invoke(app, ["user", "disable", "clerk-wuhan"])
            assert result.exit_code == 0, result.output
            assert browser.get("/agency").status_code == 303
            assert CliRunner().invoke(app, ["user", "disable", "nobody"]).exit_code == 2
    finally:
        ctx.engine.dispose()
        get_settings.cache_clear()
