"""Two-person confirmation where money moves (C1 prepayment confirm, C2 clearing of the country): one
authenticated user asks, a different one approves; a city clerk may not clear the country (issue 19).
Services on SQLite and PostgreSQL, the command line, and the funds page over real HTTP."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.api.test_fsi_support import serving
from tests.ops.test_accounts import cli  # noqa: F401
from tests.services._funds import file_all, settle_at
from yidi.adapters.orm import AuditRow, JournalEntryRow
from yidi.adapters.orm_funds import ClearingRunRow, PrepaymentRow
from yidi.domain.errors import YidiError
from yidi.services import approvals
from yidi.services.accounts import NewUser, add_user
from yidi.services.demo import load_demo
from yidi.services.users import authenticate

PASSWORD = "province-pass-1"


def users(ctx) -> dict:
    for username, admdvs in (("prov-a", "410000"), ("prov-b", "420000"), ("city-c", "410800")):
        add_user(ctx, NewUser(username, "agency", admdvs), PASSWORD, actor="test")
    return {name: authenticate(ctx, name, PASSWORD) for name in ("prov-a", "prov-b", "city-c")}


def entries(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(JournalEntryRow))


def test_clearing_of_the_country_needs_a_second_person(ctx):
    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    settle_at(ctx, "P002", date(2024, 3, 4))
    who = users(ctx)
    with pytest.raises(YidiError) as city:
        approvals.request(ctx, who["city-c"], "clearing.run", {"month": "2024-03"})
    assert city.value.code == "FORBIDDEN"
    asked = approvals.request(ctx, who["prov-a"], "clearing.run", {"month": "2024-03"})
    assert approvals.request(ctx, who["prov-a"], "clearing.run", {"month": "2024-03"}).request_id == asked.request_id
    before = entries(ctx)
    with pytest.raises(YidiError) as same:
        approvals.approve(ctx, who["prov-a"], asked.request_id)
    assert same.value.code == "APPROVAL_SAME_PERSON"
    with pytest.raises(YidiError) as city_approves:
        approvals.approve(ctx, who["city-c"], asked.request_id)
    assert city_approves.value.code == "FORBIDDEN"
    assert entries(ctx) == before  # nothing moved
    statement = approvals.approve(ctx, who["prov-b"], asked.request_id)
    assert statement.month == "2024-03" and statement.flows
    assert entries(ctx) > before
    with ctx.unit_of_work() as session:
        assert session.get(ClearingRunRow, "2024-03").actor == "prov-a+prov-b"
        actions = [(r.actor, r.action) for r in session.scalars(select(AuditRow).where(
            AuditRow.action.like("approval.%")).order_by(AuditRow.id))]
    assert actions == [("prov-a", "approval.request"), ("prov-b", "approval.approve")]
    with pytest.raises(YidiError) as again:
        approvals.approve(ctx, who["prov-b"], asked.request_id)
    assert again.value.code == "APPROVAL_NOT_PENDING"
    with pytest.raises(YidiError) as bad_month:
        approvals.request(ctx, who["prov-a"], "clearing.run", {"month": "2024-13"})
    assert bad_month.value.code == "INVALID_INPUT"


def test_prepayment_confirm_needs_a_second_person(ctx):
    file_all(ctx)
    settle_at(ctx, "P001", date(2023, 11, 3))
    who = users(ctx)
    asked = approvals.request(ctx, who["prov-b"], "prepayment.confirm", {"year": 2024})
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(PrepaymentRow)) == 0
    approvals.withdraw(ctx, who["prov-b"], asked.request_id)
    with pytest.raises(YidiError):
        approvals.approve(ctx, who["prov-a"], asked.request_id)
    asked = approvals.request(ctx, who["prov-b"], "prepayment.confirm", {"year": 2024})
    lines = approvals.approve(ctx, who["prov-a"], asked.request_id)
    assert lines and all(line.confirmed for line in lines)
    with ctx.unit_of_work() as session:
        assert {row.confirmed_by for row in session.scalars(select(PrepaymentRow))} == {"prov-b+prov-a"}


def test_cli_asks_and_another_user_approves(ctx, cli):  # noqa: F811
    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    users(ctx)
    unsigned = cli("clearing", "run", "--month", "2024-03")
    assert unsigned.exit_code == 2 and "--user" in unsigned.output
    runner = CliRunner(env={"COLUMNS": "200"})
    from yidi.cli import app

    wrong = runner.invoke(app, ["clearing", "run", "--month", "2024-03", "--user", "prov-a"], input="nope\n")
    assert wrong.exit_code == 2 and "LOGIN_FAILED" in wrong.output
    asked = runner.invoke(app, ["clearing", "run", "--month", "2024-03", "--user", "prov-a"], input=f"{PASSWORD}\n")
    assert asked.exit_code == 0, asked.output
    request_id = asked.stdout.strip().splitlines()[-1]
    assert request_id in runner.invoke(app, ["clearing", "requests"]).stdout
    self_approval = runner.invoke(app, ["clearing", "approve", request_id, "--user", "prov-a"], input=f"{PASSWORD}\n")
    assert self_approval.exit_code == 2 and "APPROVAL_SAME_PERSON" in self_approval.output
    done = runner.invoke(app, ["clearing", "approve", request_id, "--user", "prov-b", "--json"], input=f"{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert '"month": "2024-03"' in done.stdout
    assert runner.invoke(app, ["clearing", "prepay", "--year", "2024", "--confirm"]).exit_code == 2


class Browser:
    def __init__(self, url: str, username: str, password: str):
        self.http = httpx.Client(base_url=url, follow_redirects=False)
        answer = self.http.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self._csrf()})
        assert answer.status_code == 303 and "login" not in answer.headers["location"]
        self.csrf = self._csrf()  # login renews the token

    def _csrf(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.http.get("/login").text).group(1)

    def post(self, path: str, **data) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **data})


def test_funds_page_two_people_over_http(ctx):
    load_demo(ctx)
    file_all(ctx)
    settle_at(ctx, "P001", date(2024, 3, 3))
    with serving(ctx) as server:
        city = Browser(server.url, "clerk-jiaozuo", "demo-clerk")
        refused = city.post("/agency/funds/run", month="2024-03")
        assert refused.status_code == 403 and "FORBIDDEN" in refused.text
        first = Browser(server.url, "clerk-henan", "demo-clerk")
        assert first.post("/agency/funds/run", month="2024-03").status_code == 303
        request_id = approvals.list_requests(ctx)[0].request_id
        page = first.http.get("/agency/funds").text
        assert request_id in page and f"approve-{request_id}" not in page and "待他人复核" in page
        same = first.post(f"/agency/funds/approvals/{request_id}/approve")
        assert same.status_code == 403 and "APPROVAL_SAME_PERSON" in same.text
        with ctx.unit_of_work() as session:
            assert session.get(ClearingRunRow, "2024-03") is None
        second = Browser(server.url, "reviewer-henan", "demo-clerk")
        assert f"approve-{request_id}" in second.http.get("/agency/funds").text
        assert second.post(f"/agency/funds/approvals/{request_id}/approve").status_code == 303
        with ctx.unit_of_work() as session:
            assert session.get(ClearingRunRow, "2024-03").actor == "clerk-henan+reviewer-henan"
        assert "已执行" in second.http.get("/agency/funds").text
