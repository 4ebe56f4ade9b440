"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

SQLite: foreign keys on, WAL, and every transaction begins IMMEDIATE so that two writers
serialise instead of both reading a stale year-to-date total (caps can never be exceeded).
PostgreSQL: settlement takes ``SELECT … FOR UPDATE`` on the person row for the same guarantee.
"""

from __future__ import annotations

import select
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from yidi.adapters import hot_sql

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(connection):  # pragma: no cover
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", _refuse_dropped_connection)
    return engine


def _refuse_dropped_connection(dbapi_connection, _record, _proxy) -> None:
    """A pooled PostgreSQL connection the server has dropped is replaced at checkout, without a round trip.

    When PostgreSQL ends a backend (restart, ``pg_terminate_backend``, idle timeout) it sends a FATAL message
    and closes the socket, so the idle connection's socket turns readable; an idle connection that is fine
    has nothing to read (we use no LISTEN). Raising DisconnectionError makes the pool discard it and check
    out another (SQLAlchemy's documented checkout-event ping). This replaces ``pool_pre_ping``, which spent
    a ``SELECT 1`` round trip on every checkout (4 per settlement flow). What it cannot see — a silently
    lost network path — is handled optimistically: the statement fails with a disconnect error, SQLAlchemy
    invalidates the whole pool, the call answers SERVICE_UNAVAILABLE and the hospital's resend with the
    same msgid is idempotent.
    """
    if dbapi_connection.closed:
        raise exc.DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise exc.DisconnectionError("PostgreSQL closed the connection while it was idle in the pool")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    sessions = sessionmaker(engine, expire_on_commit=False)
    hot_sql.install_flush_events(sessions)  # queued hot-path writes go out before anything else and before commit
    return sessions


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Run Alembic migrations on this engine. Each area (funds, interface, …) may add its own branch of
    revisions off 0001, so the target is every head."""
    command.upgrade(alembic_config(engine), revision)
