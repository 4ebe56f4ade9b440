"""`yidi user …` and `yidi credential …`: accounts and hospital access keys, from the server's shell.

The operator running these is recorded in the audit log as ``cli:<login name>``. A generated password or a
secret is printed once, on stdout (everything else goes to stderr), so it can be piped to a password store.
"""

from __future__ import annotations

import getpass
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from yidi.cli_guard import refuse
from yidi.domain.errors import YidiError

user_app = typer.Typer(help="用户账号 / user accounts: add, list, disable, reset-password", no_args_is_help=True)
credential_app = typer.Typer(help="医院接口密钥 / hospital access keys: issue, rotate, revoke, list",
                             no_args_is_help=True)
err = Console(stderr=True)
out = Console()


def operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _context():
    from yidi.cli import _context as context

    return context()


def _fail(exc: YidiError) -> None:
    refuse(exc)


def _password_from_stdin(flag: bool) -> str | None:
    return sys.stdin.readline().rstrip("\n") if flag else None


def _show_once(password: str, given: bool) -> None:
    """A generated password goes to stdout once (pipe it to a password store); one the operator gave, never."""
    if not given:
        err.print("临时密码（只显示这一次）：")
        print(password)


@user_app.command("add")
def user_add(username: str,
             role: str = typer.Option(..., help="person / hospital / agency / supervisor / admin"),
             admdvs: Optional[str] = typer.Option(None, help="区划（经办、监管、管理员；省代码覆盖全省）"),
             psn_no: Optional[str] = typer.Option(None, help="参保人账号：人员编号"),
             fixmedins_code: Optional[str] = typer.Option(None, help="医院账号：定点机构编码"),
             display_name: str = typer.Option("", help="显示名称"),
             password_stdin: bool = typer.Option(False, help="从标准输入读密码（否则生成临时密码并显示一次）")) -> None:
    """开设账号 / add a user."""
    from yidi.services.accounts import NewUser, add_user

    ctx = _context()
    try:
        password = add_user(ctx, NewUser(username, role, admdvs, psn_no, fixmedins_code, display_name),
                            _password_from_stdin(password_stdin), actor=operator())
    except YidiError as exc:
        _fail(exc)
    err.print(f"user {username} ({role}) added")
    _show_once(password, password_stdin)


@user_app.command("list")
def user_list(role: Optional[str] = typer.Option(None)) -> None:
    """账号列表 / list users."""
    from yidi.services.accounts import list_accounts

    table = Table(title="用户账号")
    for column in ("username", "role", "admdvs", "psn_no / fixmedins_code", "name", "state"):
        table.add_column(column)
    for user in list_accounts(_context(), role=role):
        table.add_row(user["username"], user["role"], user["admdvs"] or "全国",
                      user["psn_no"] or user["fixmedins_code"] or "", user["display_name"],
                      "有效" if user["active"] else "[red]已停用[/red]")
    out.print(table)


@user_app.command("disable")
def user_disable(username: str, enable: bool = typer.Option(False, "--enable", help="重新启用")) -> None:
    """停用账号 / disable a user (--enable to enable again)."""
    from yidi.services.accounts import set_active

    try:
        set_active(_context(), username, enable, actor=operator())
    except YidiError as exc:
        _fail(exc)
    err.print(f"user {username} {'enabled' if enable else 'disabled'}")


@user_app.command("logout")
def user_logout(username: str) -> None:
    """注销会话 / end every page session and /api token of a user now (e.g. a lost phone)."""
    from yidi.services import users

    try:
        users.revoke_sessions(_context(), username)
    except YidiError as exc:
        _fail(exc)
    err.print(f"every session and token of {username} is revoked")


@user_app.command("reset-password")
def user_reset_password(username: str, password_stdin: bool = typer.Option(False)) -> None:
    """重置密码 / reset a password (a temporary one is generated and shown once)."""
    from yidi.services.accounts import reset_password

    try:
        password = reset_password(_context(), username, _password_from_stdin(password_stdin), actor=operator())
    except YidiError as exc:
        _fail(exc)
    err.print(f"password of {username} reset")
    _show_once(password, password_stdin)


def _print_issued(issued) -> None:
    err.print(f"{issued.fixmedins_code}: access key and secret ({issued.algorithm}); the secret is shown only now")
    print(f"access_key={issued.access_key}")
    print(f"secret={issued.secret}")


@credential_app.command("issue")
def credential_issue(fixmedins_code: str, algorithm: str = typer.Option("HMAC-SM3", help="HMAC-SM3 / HMAC-SHA1")) -> None:
    """发放接口密钥 / issue an access key + secret to a hospital (secret shown once)."""
    from yidi.services import credentials

    try:
        _print_issued(credentials.issue(_context(), fixmedins_code, actor=operator(), algorithm=algorithm))
    except YidiError as exc:
        _fail(exc)


@credential_app.command("rotate")
def credential_rotate(access_key: str) -> None:
    """更换密钥 / a new secret for an access key (the old one stops working within 30 s)."""
    from yidi.services import credentials

    try:
        _print_issued(credentials.rotate(_context(), access_key, actor=operator()))
    except YidiError as exc:
        _fail(exc)


@credential_app.command("revoke")
def credential_revoke(access_key: str) -> None:
    """吊销密钥 / revoke an access key."""
    from yidi.services import credentials

    try:
        credentials.revoke(_context(), access_key, actor=operator())
    except YidiError as exc:
        _fail(exc)
    err.print(f"{access_key} revoked")


@credential_app.command("list")
def credential_list(fixmedins_code: Optional[str] = typer.Argument(None)) -> None:
    """已发放的密钥（不含密钥本身）/ issued access keys (never their secrets)."""
    from yidi.services import credentials

    table = Table(title="医院接口密钥")
    for column in ("access_key", "fixmedins_code", "institution", "algorithm", "issued_at", "state"):
        table.add_column(column)
    for row in credentials.list_credentials(_context(), fixmedins_code=fixmedins_code):
        table.add_row(row["access_key"], row["fixmedins_code"], row["institution"], row["algorithm"],
                      str(row["issued_at"] or ""), "有效" if row["active"] else f"已吊销 {row['revoked_at']}")
    out.print(table)


@credential_app.command("new-key")
def credential_new_key() -> None:
    """生成 YIDI_CREDENTIAL_KEY / print a new Fernet key for YIDI_CREDENTIAL_KEY."""
    from yidi.services.credentials import new_key

    print(new_key())


@credential_app.command("rekey")
def credential_rekey() -> None:
    """用新密钥重新加密 / re-encrypt every secret under the first key of YIDI_CREDENTIAL_KEY."""
    from yidi.services.credentials import rekey

    try:
        count, unreadable = rekey(_context(), actor=operator())
    except YidiError as exc:
        _fail(exc)
    err.print(f"{count} secret(s) re-encrypted under the first key of YIDI_CREDENTIAL_KEY")
    if unreadable:
        err.print(f"[red]{len(unreadable)} secret(s) no configured key can read[/red] (encrypted under a key no longer "
                  f"in YIDI_CREDENTIAL_KEY; issue new ones): {', '.join(unreadable)}")
    raise typer.Exit(1 if any("已吊销" not in key for key in unreadable) else 0)
