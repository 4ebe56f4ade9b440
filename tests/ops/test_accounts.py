"""`yidi user …` and `yidi credential …` on SQLite and PostgreSQL, checked over real HTTP: a disabled user cannot
log in, a reset password works, an issued key signs hospital calls outside demo mode, a rotated or revoked one
stops, secrets are encrypted at rest and never reach the audit log (issue 19)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.api.test_fsi_support import serving
from tests.ops.test_backup_restore import url_of
from yidi.adapters.orm import AuditRow, CredentialRow
from yidi.cli import app
from yidi.client import HospitalClient
from yidi.config import get_settings
from yidi.services.context import AppContext

ZHANG_CERT = "410802195501011234"


@pytest.fixture
def cli(ctx, monkeypatch):
    monkeypatch.setenv("YIDI_DATABASE_URL", url_of(ctx))
    monkeypatch.delenv("YIDI_CREDENTIAL_KEY", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(app, list(args), input=stdin)

    yield run
    get_settings.cache_clear()


def login(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/login", json={"username": username, "password": password})


def audit_actions(ctx) -> list[tuple[str, str, str]]:
    with ctx.unit_of_work() as session:
        return [(r.actor, r.action, r.target) for r in session.scalars(select(AuditRow).order_by(AuditRow.id))]


def test_user_add_list_disable_reset_password(ctx, cli):
    added = cli("user", "add", "clerk-zz", "--role", "agency", "--admdvs", "410800", "--display-name", "焦作新经办")
    assert added.exit_code == 0, added.output
    password = added.stdout.strip().splitlines()[-1]
    assert len(password) >= 10
    assert cli("user", "add", "clerk-zz", "--role", "agency", "--admdvs", "410800").exit_code == 2  # ALREADY_EXISTS
    no_region = cli("user", "add", "clerk-yy", "--role", "agency")
    assert no_region.exit_code == 2 and "区划" in no_region.output
    assert "clerk-zz" in cli("user", "list").stdout
    with serving(ctx) as server:
        assert login(server.url, "clerk-zz", password).status_code == 200
        assert cli("user", "disable", "clerk-zz").exit_code == 0
        assert login(server.url, "clerk-zz", password).status_code == 401
        assert "已停用" in cli("user", "list").stdout
        assert cli("user", "disable", "clerk-zz", "--enable").exit_code == 0
        reset = cli("user", "reset-password", "clerk-zz", "--password-stdin", stdin="a-new-password-123\n")
        assert reset.exit_code == 0 and "a-new-password-123" not in reset.stdout
        assert login(server.url, "clerk-zz", password).status_code == 401
        assert login(server.url, "clerk-zz", "a-new-password-123").status_code == 200
        short = cli("user", "reset-password", "clerk-zz", "--password-stdin", stdin="short\n")
        assert short.exit_code == 2 and "INVALID_INPUT" in short.output
    actions = [(action, target) for actor, action, target in audit_actions(ctx) if actor.startswith("cli:")]
    assert actions == [("user.add", "clerk-zz"), ("user.disable", "clerk-zz"), ("user.enable", "clerk-zz"),
                       ("user.reset_password", "clerk-zz")]
    with ctx.unit_of_work() as session:
        details = json.dumps([r.details for r in session.scalars(select(AuditRow))], ensure_ascii=False)
    assert password not in details and "a-new-password-123" not in details


def _secret(result) -> tuple[str, str]:
    lines = dict(line.split("=", 1) for line in result.stdout.strip().splitlines() if "=" in line)
    return lines["access_key"], lines["secret"]


def _person_info(url: str, access_key: str, secret: str) -> dict:
    client = HospitalClient(url, access_key, secret, "H11000000001")
    try:
        return client.person_info("02", ZHANG_CERT)
    finally:
        client.close()


def test_credential_issue_rotate_revoke_over_real_calls(ctx, cli):
    issued = cli("credential", "issue", "H11000000001")
    assert issued.exit_code == 0, issued.output
    access_key, secret = _secret(issued)
    with ctx.unit_of_work() as session:
        row = session.get(CredentialRow, access_key)
        assert row.secret == "" and secret not in row.secret_encrypted and row.secret_encrypted.startswith("gAAAA")
    url = url_of(ctx)

    def call(key: str, with_secret: str) -> dict:
        fresh = AppContext.from_url(url, migrate=False)  # a new server process, not in demo mode, nothing cached
        assert fresh.demo_mode is False
        try:
            with serving(fresh) as server:
                return _person_info(server.url, key, with_secret)
        finally:
            fresh.engine.dispose()

    assert call(access_key, secret)["infcode"] == 0
    rotated = cli("credential", "rotate", access_key)
    assert rotated.exit_code == 0
    same_key, new_secret = _secret(rotated)
    assert same_key == access_key and new_secret != secret
    assert call(access_key, secret)["err_msg"].startswith("AUTH_FAILED")
    assert call(access_key, new_secret)["infcode"] == 0
    listed = cli("credential", "list", "H11000000001").stdout
    assert new_secret not in listed and "有效" in listed
    assert cli("credential", "revoke", access_key).exit_code == 0
    assert call(access_key, new_secret)["err_msg"].startswith("AUTH_FAILED")
    assert cli("credential", "rotate", access_key).exit_code == 2  # a revoked key is not rotated back to life
    assert cli("credential", "issue", "H99999999999").exit_code == 2
    assert [a for _, a, _ in audit_actions(ctx) if a.startswith("credential.")] == [
        "credential.issue", "credential.rotate", "credential.revoke"]
    with ctx.unit_of_work() as session:
        details = json.dumps([r.details for r in session.scalars(select(AuditRow))])
    assert secret not in details and new_secret not in details


def test_credential_key_rotation_keeps_secrets_readable(ctx, cli, monkeypatch):
    from yidi.services import credentials

    first, second = credentials.new_key(), credentials.new_key()
    monkeypatch.setenv("YIDI_CREDENTIAL_KEY", first)
    get_settings.cache_clear()
    access_key, secret = _secret(cli("credential", "issue", "H11000000001"))
    monkeypatch.setenv("YIDI_CREDENTIAL_KEY", f"{second},{first}")  # new key first, old still decrypts
    get_settings.cache_clear()
    assert cli("credential", "rekey").exit_code == 0
    monkeypatch.setenv("YIDI_CREDENTIAL_KEY", second)  # the old key dropped
    get_settings.cache_clear()
    with ctx.unit_of_work() as session:
        assert credentials.secret_of(session.get(CredentialRow, access_key)) == secret
    monkeypatch.setenv("YIDI_CREDENTIAL_KEY", first)  # a key that never encrypted it: unreadable, refused
    get_settings.cache_clear()
    with ctx.unit_of_work() as session:
        assert credentials.secret_of(session.get(CredentialRow, access_key)) == ""
    # a rekey with such a key names the credentials it cannot read instead of failing the others
    readable_key, _ = _secret(cli("credential", "issue", "H41080000001"))  # under `first`
    monkeypatch.setenv("YIDI_CREDENTIAL_KEY", f"{credentials.new_key()},{first}")  # `second` forgotten
    get_settings.cache_clear()
    partial = cli("credential", "rekey")
    assert partial.exit_code == 1 and access_key in partial.output and readable_key not in partial.output
