"""Federation tests run against the machine's real NATS server (YIDI_NATS_URL, default nats://127.0.0.1:4222).

In CI (CI=true) an unreachable server is a failure, as for PostgreSQL (tests/conftest.py); elsewhere these tests
skip with one line saying how to start one. Every federation a test builds has its own random id, so runs sharing
one NATS server never see each other's subjects, and it deletes its KV bucket when it ends.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from yidi.federation.bridge import DEFAULT_URL, HOW_TO_START, reachable
from yidi.federation.local import LocalFederation
from yidi.services.context import AppContext
from yidi.services.scenario import _migrated_template

NATS_URL = os.environ.get("YIDI_NATS_URL", DEFAULT_URL)


@pytest.fixture(scope="session")
def nats_url() -> str:
    if not reachable(NATS_URL):
        if IN_CI:
            pytest.fail(f"CI requires NATS with JetStream at {NATS_URL}")
        pytest.skip(f"federation tests skipped: no NATS at {NATS_URL}. {HOW_TO_START}")
    return NATS_URL


def sqlite_maker(folder: Path):
    """``make_ctx`` for LocalFederation: a fresh migrated SQLite database per role, in demo mode."""
    def make(name: str) -> AppContext:
        database = folder / f"{name}.db"
        shutil.copyfile(_migrated_template(), database)
        return AppContext.from_url(f"sqlite:///{database}", migrate=False, demo_mode=True)
    return make


@pytest.fixture
def federation(nats_url, tmp_path):
    with LocalFederation(sqlite_maker(tmp_path), url=nats_url, demo=True) as fed:
        yield fed
