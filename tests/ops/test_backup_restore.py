"""`yidi backup` / `yidi restore` round trip on SQLite and PostgreSQL, through the command line, ending with
`yidi verify` green on the restored copy (issue 19). The PostgreSQL copy goes into a uniquely named database
that the test creates and drops."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from tests.conftest import PG_ADMIN_URL
from tests.services.test_verify import _settle_p001
from yidi.adapters.orm import AuditRow, PersonRow, PostingRow, SettlementRow
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.settlements import cancel


def yidi(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "YIDI_DATABASE_URL": url}
    env.pop("YIDI_ENV", None)
    return subprocess.run([sys.executable, "-m", "yidi.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def url_of(ctx: AppContext) -> str:
    return ctx.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")


def counts(url: str) -> dict[str, int]:
    other = AppContext.from_url(url, migrate=False)
    try:
        with other.unit_of_work() as session:
            return {row.__tablename__: session.scalar(select(func.count()).select_from(row))
                    for row in (PersonRow, SettlementRow, PostingRow, AuditRow)}
    finally:
        other.engine.dispose()


@contextmanager
def fresh_database(ctx: AppContext, tmp_path: Path):
    """An empty database of the same kind as ``ctx``: a new SQLite file, or a uniquely named PostgreSQL
    database dropped afterwards."""
    if not ctx.is_postgres:
        yield f"sqlite:///{tmp_path}/restored.db"
        return
    name = f"yidi_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_restore_round_trip_ends_with_verify_green(ctx, tmp_path):
    view = _settle_p001(ctx)
    cancel(ctx, view.setl_id, date(2023, 3, 11))  # a cancel: reversing postings too
    with ctx.unit_of_work() as session:
        audit.seal(session)
    source_url = url_of(ctx)
    before = counts(source_url)
    assert before["settlements"] == 1 and before["postings"] > 0
    dump = tmp_path / ("yidi.dump" if ctx.is_postgres else "yidi-backup.db")

    made = yidi("backup", str(dump), url=source_url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_size > 0 and dump.stat().st_mode & 0o077 == 0  # personal data: owner only
    again = yidi("backup", str(dump), url=source_url, cwd=tmp_path)
    assert again.returncode == 2 and "BACKUP_FAILED" in again.stderr  # never overwrites a backup

    with fresh_database(ctx, tmp_path) as target_url:
        restored = yidi("restore", str(dump), url=target_url, cwd=tmp_path)
        assert restored.returncode == 0, restored.stderr
        assert counts(target_url) == before
        checked = yidi("verify", url=target_url, cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "FAIL" not in checked.stdout and "audit" in checked.stdout
        # a second restore into the now non-empty copy is refused unless --replace
        refused = yidi("restore", str(dump), url=target_url, cwd=tmp_path)
        assert refused.returncode == 2 and "--replace" in refused.stderr
        replaced = yidi("restore", str(dump), "--replace", url=target_url, cwd=tmp_path)
        assert replaced.returncode == 0, replaced.stderr
        assert counts(target_url) == before


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    result = yidi("restore", str(junk), url=f"sqlite:///{tmp_path}/x.db", cwd=tmp_path)
    assert result.returncode == 2 and "BACKUP_FAILED" in result.stderr and "Traceback" not in result.stderr


def test_restore_of_a_missing_file_says_so(tmp_path):
    result = yidi("restore", str(tmp_path / "nothing-here.dump"), url=f"sqlite:///{tmp_path}/x.db", cwd=tmp_path)
    assert result.returncode == 2 and "不存在" in result.stderr
