"""Backups and restores of a whole database, with the tools each database ships.

- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot taken in one transaction while the server
  keeps serving) and ``pg_restore`` into an existing, empty database. The client tools must be at least the
  server's major version (Debian: ``apt-get install postgresql-client``).
- SQLite: Python's ``sqlite3`` online backup API, page by page, consistent while the server keeps writing;
  the backup is itself a SQLite file. A restore copies it back the same way.

A restore refuses a target that already holds yidi tables unless told to replace them, so that a mistyped URL
never overwrites a live database. After a restore, ``yidi verify`` on the copy checks the ledger, usage,
claims and the audit chain (docs/operations.md).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect

from yidi.adapters.database import make_engine
from yidi.domain.errors import YidiError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    kind: str  # "postgresql" / "sqlite"
    size: int


def _failed(detail: str) -> YidiError:
    return YidiError("BACKUP_FAILED", {"detail": detail[:300]})


def _libpq_url(url: str) -> str:
    """The URL pg_dump/pg_restore understand (no SQLAlchemy driver suffix)."""
    return "postgresql://" + url.split("://", 1)[1] if url.startswith(("postgresql+", "postgres://")) else url


def _sqlite_path(url: str) -> str:
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        raise _failed("内存数据库无法备份")
    return path


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise _failed(f"未找到 {name}（Debian: apt-get install postgresql-client）")
    return found


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise _failed(f"{Path(command[0]).name}：{result.stderr.strip() or result.returncode}")


def _sqlite_copy(source: str | Path, target: str | Path) -> None:
    """SQLite's online backup API, page by page: consistent while others write the source (only read here)."""
    reader, writer = sqlite3.connect(source), sqlite3.connect(target)
    try:
        with writer:
            reader.backup(writer)
    finally:
        writer.close()
        reader.close()


def backup(url: str, target: Path) -> BackupResult:
    """Write a consistent backup of the database at ``url`` to ``target`` (a new file)."""
    target = Path(target)
    if target.exists():
        raise _failed(f"{target} 已存在（不覆盖已有备份，请换一个文件名）")
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        _sqlite_copy(_sqlite_path(url), target)
        target.chmod(0o600)  # personal data: readable by the service account only
        return BackupResult(target, "sqlite", target.stat().st_size)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}",
          f"--dbname={_libpq_url(url)}"])
    target.chmod(0o600)
    return BackupResult(target, "postgresql", target.stat().st_size)


def _kind_of(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise _failed(f"{path} 不是 yidi backup 生成的备份文件")


def _has_tables(url: str) -> bool:
    engine = make_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def restore(source: Path, url: str, *, replace: bool = False) -> str:
    """Restore the backup ``source`` into the database at ``url``; returns the kind. The target must be
    empty (a new database) unless ``replace``."""
    source = Path(source)
    if not source.is_file():
        raise _failed(f"备份文件 {source} 不存在")
    kind = _kind_of(source)
    target_kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    if kind != target_kind:
        raise _failed(f"{kind} 备份不能恢复到 {target_kind} 数据库")
    if kind == "sqlite":
        path = Path(_sqlite_path(url))
        if path.exists() and path.stat().st_size and _has_tables(url) and not replace:
            raise _failed(f"目标数据库 {path} 已有数据（确需覆盖请加 --replace）")
        path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, path)
        return kind
    if _has_tables(url) and not replace:
        raise _failed("目标数据库已有数据表（请恢复到新建的空数据库；确需覆盖请加 --replace）")
    command = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               f"--dbname={_libpq_url(url)}"]
    if replace:
        command[1:1] = ["--clean", "--if-exists"]
    _run([*command, str(source)])
    return kind
