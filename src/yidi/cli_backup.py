"""`yidi backup` / `yidi restore`: a whole database to one file and back (services/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from yidi.cli_guard import refuse
from yidi.domain.errors import YidiError

err = Console(stderr=True)


def backup(target: Path = typer.Argument(..., help="备份文件（新文件），如 /var/backups/yidi/yidi-20240301.dump"),
           database_url: Optional[str] = typer.Option(None, help="默认 YIDI_DATABASE_URL")) -> None:
    """备份数据库 / back up the whole database (PostgreSQL: pg_dump; SQLite: online backup API)."""
    from yidi.config import get_settings
    from yidi.services.backup import backup as run_backup

    try:
        result = run_backup(database_url or get_settings().database_url, target)
    except YidiError as exc:
        refuse(exc)
    err.print(f"backup written: {result.path} ({result.kind}, {result.size} bytes)")


def restore(source: Path = typer.Argument(..., help="yidi backup 生成的备份文件"),
            database_url: Optional[str] = typer.Option(None, help="恢复到的数据库（默认 YIDI_DATABASE_URL；"
                                                       "PostgreSQL 须先建好空库）"),
            replace: bool = typer.Option(False, help="目标库已有数据时仍然覆盖")) -> None:
    """恢复数据库 / restore a backup into an empty database; then run `yidi verify` on it."""
    from yidi.config import get_settings
    from yidi.services.backup import restore as run_restore

    url = database_url or get_settings().database_url
    try:
        kind = run_restore(source, url, replace=replace)
    except YidiError as exc:
        refuse(exc)
    err.print(f"restored {source} ({kind}); check it with: YIDI_DATABASE_URL=… yidi verify")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
