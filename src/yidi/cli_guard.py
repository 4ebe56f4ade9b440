"""No command shows a traceback: every failure is one coded Chinese line on stderr and exit 2.

Exit codes of every `yidi` command: 0 done; 1 it ran and found a problem (a mismatch, a difference, a
broken chain — each command says which); 2 it could not do what was asked (a refused input, an unknown
region, an impossible date, a file that cannot be read or written). ``guard(app)`` wraps every command
and group callback of a Typer app, so a command written later is covered too.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import uuid
from datetime import date
from pathlib import Path
from typing import Callable

import click
import typer
from rich.console import Console
from rich.markup import escape

from yidi.domain.errors import YidiError, invalid
from yidi.wording import for_people

err = Console(stderr=True)


def refuse(exc: YidiError) -> None:
    """Print a refusal for the person at the terminal (no field paths, no English words) and exit 2."""
    shown = for_people(exc)
    err.print(f"[red]{shown.code}[/red] {escape(shown.message)}。{escape(shown.hint)}", soft_wrap=True)
    raise typer.Exit(2)


def parse_day(text: str, option: str) -> date:
    """A date option (YYYY-MM-DD); a malformed or impossible date is INVALID_INPUT naming the option."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise invalid(option, f"没有 {text} 这一天，请核对月份和日期") from None
        raise invalid(option, f"“{text}”不是日期，请按 年-月-日 填写，如 2024-03-01") from None


def known_region(ctx, code: str) -> str:
    """A region code the directory knows; otherwise UNKNOWN_REGION (said as 未知地区)."""
    from yidi.services.directory import require_known_region

    return require_known_region(ctx, code)


OS_REASONS = {13: "没有权限", 1: "没有权限", 2: "文件或目录不存在", 21: "这是一个目录", 20: "路径中有一段不是目录",
              28: "磁盘空间不足", 30: "文件系统只读"}


def _os_refusal(exc: OSError, path: object = None) -> YidiError:
    reason = OS_REASONS.get(exc.errno or 0, "系统拒绝读写")
    return YidiError("FILE_ACCESS", {"path": str(path if path is not None else (exc.filename or "")), "reason": reason})


def writable(path: Path, *, directory: bool = False) -> Path:
    """Check, before any work, that ``path`` (a file, or a directory with ``directory``) can be written."""
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".yidi-probe-"):
            pass
        if not directory and path.is_dir():
            raise IsADirectoryError(21, "is a directory", str(path))
    except OSError as exc:
        raise _os_refusal(exc, path) from None
    return path


def readable(path: Path, *, directory: bool = False) -> Path:
    """Check, before any work, that ``path`` (a file, or a directory with ``directory``) can be read."""
    try:
        if directory and path.is_dir():
            next(path.iterdir(), None)
        else:
            with path.open("rb"):
                pass
    except OSError as exc:
        raise _os_refusal(exc, path) from None
    return path


def _guarded(callback: Callable) -> Callable:
    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException, click.exceptions.Exit, KeyboardInterrupt):
            raise
        except YidiError as exc:
            refuse(exc)
        except OSError as exc:
            refuse(_os_refusal(exc))
        except Exception as exc:  # noqa: BLE001 - the last line of defence: a reference, never a traceback
            if type(exc).__name__.endswith(("IOException", "IOError", "PermissionException")):  # DuckDB, Arrow
                refuse(YidiError("FILE_ACCESS", {"path": "", "reason": "读写失败"}))
            ref = uuid.uuid4().hex[:12]
            if os.environ.get("YIDI_DEBUG"):
                err.print_exception()
            refuse(YidiError("SYSTEM_ERROR", {"ref": f"{ref}，{type(exc).__name__}"}))

    return run


def guard(app: typer.Typer) -> typer.Typer:
    for info in app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "__wrapped__", None):
            info.callback = _guarded(info.callback)
    if app.registered_callback is not None and app.registered_callback.callback is not None:
        app.registered_callback.callback = _guarded(app.registered_callback.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard(group.typer_instance)
    return app
