"""Shared fixtures: real databases, never mocks.

``ctx`` runs a test on SQLite (a fresh file) and on PostgreSQL (a uniquely named database created
for this test session and dropped at its end; tables emptied between tests). PostgreSQL comes from
YIDI_TEST_POSTGRES_URL (default: this machine's server). In CI (CI=true) an unreachable server is a
failure; elsewhere PostgreSQL tests skip with one line saying how to enable them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from yidi.adapters.orm import Base
from yidi.services.context import AppContext
from yidi.services.reference import load_reference

PG_ADMIN_URL = os.environ.get("YIDI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SKIP_LINE = ("PostgreSQL tests skipped: no server at YIDI_TEST_POSTGRES_URL "
             f"({PG_ADMIN_URL}); start PostgreSQL or set YIDI_TEST_POSTGRES_URL to enable them")


def _pg_connect(url: str, **kwargs):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5, **kwargs)


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for this test session (created, then dropped)."""
    try:
        admin = _pg_connect(PG_ADMIN_URL)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL at {PG_ADMIN_URL}: {exc}")
        pytest.skip(SKIP_LINE)
    name = f"yidi_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def pg_context(pg_database_url):
    ctx = AppContext.from_url(pg_database_url)
    yield ctx
    ctx.engine.dispose()


def _truncate(ctx: AppContext) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with ctx.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ctx(request, tmp_path: Path):
    """An AppContext with the baseline reference data (regions, institutions, demo persons)."""
    if request.param == "sqlite":
        context = AppContext.from_url(f"sqlite:///{tmp_path}/yidi.db")
        load_reference(context)
        yield context
        context.engine.dispose()
    else:
        context = request.getfixturevalue("pg_context")
        _truncate(context)
        load_reference(context)
        yield context


@pytest.fixture
def sqlite_ctx(tmp_path: Path):
    context = AppContext.from_url(f"sqlite:///{tmp_path}/yidi.db")
    load_reference(context)
    yield context
    context.engine.dispose()


@pytest.fixture
def policy():
    from yidi.policy.loader import load_policy_book

    return load_policy_book()
