"""`yidi user …`: an operator's account actions (services/users.py). Each ends every page session and /api token
the user holds (server-side revocation, issue 13)."""

from __future__ import annotations

import typer
from rich.console import Console

user_app = typer.Typer(help="用户账号 / user accounts", no_args_is_help=True)
out = Console()


def _run(action) -> None:
    from yidi.cli import _context, _fail
    from yidi.domain.errors import YidiError

    ctx = _context()
    try:
        action(ctx)
    except YidiError as exc:
        _fail(exc)
    finally:
        ctx.engine.dispose()


@user_app.command("password")
def password(username: str, new_password: str = typer.Option(..., prompt=True, hide_input=True,
                                                              confirmation_prompt=True)) -> None:
    """重置密码 / set a new password; the user's sessions and tokens end."""
    from yidi.services import users

    _run(lambda ctx: users.change_password(ctx, username, new_password))
    out.print(f"password of {username} changed; their sessions and tokens are revoked")


@user_app.command("disable")
def disable(username: str) -> None:
    """停用账号 / disable a user: no login, and every session and token ends now."""
    from yidi.services import users

    _run(lambda ctx: users.set_active(ctx, username, False))
    out.print(f"{username} disabled; their sessions and tokens are revoked")


@user_app.command("enable")
def enable(username: str) -> None:
    """启用账号 / enable a disabled user again (they log in anew)."""
    from yidi.services import users

    _run(lambda ctx: users.set_active(ctx, username, True))
    out.print(f"{username} enabled")


@user_app.command("logout")
def logout(username: str) -> None:
    """注销会话 / end every session and token of a user (e.g. a lost phone)."""
    from yidi.services import users

    _run(lambda ctx: users.revoke_sessions(ctx, username))
    out.print(f"every session and token of {username} is revoked")
