"""Hostile input against the OpenAPI of every /api endpoint (schemathesis), over real HTTP.

Schemathesis generates both conforming and non-conforming requests from the app's own schema (bounded number of
examples per operation). Logged in as the 焦作 agency clerk, so requests reach past authentication. For every
case: never a 5xx, and a refused request (4xx) changes nothing — the rows of every table that a request could
write are counted before and after.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from tests.support.live_server import live_server
from yidi.adapters import orm
from yidi.api.app import create_app
from yidi.services.context import AppContext
from yidi.services.demo import load_demo

pytestmark = pytest.mark.timeout(600)
TABLES = [orm.FilingRow, orm.VisitRow, orm.SettlementRow, orm.UsageRow, orm.MessageRow, orm.AuditRow,
          orm.JournalEntryRow, orm.UserRow]


@pytest.fixture(scope="module")
def hostile_target(tmp_path_factory):
    ctx = AppContext.from_url(f"sqlite:///{tmp_path_factory.mktemp('hostile')}/yidi.db", demo_mode=True)
    load_demo(ctx)
    with live_server(create_app(ctx)) as base:
        token = httpx.post(base + "/api/login", json={"username": "clerk-jiaozuo", "password": "demo-clerk"})
        yield ctx, base, token.json()["access_token"]
    ctx.engine.dispose()


def counts(ctx) -> dict[str, int]:
    with ctx.unit_of_work() as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def test_v1_no_5xx_and_refusals_change_nothing(hostile_target):
    ctx, base, token = hostile_target
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # /fsi takes signed envelopes, not the schema's shapes: tests/api/test_fsi_fuzz.py and test_hostile_input.py
    operations = [op for op in operations if not op.path.startswith("/fsi/")]
    assert len(operations) >= 20
    seen: dict[str, int] = {}
    for operation in operations:
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def one(case):
            before = counts(ctx)
            response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            label = f"{case.method} {case.path}"
            seen[label] = seen.get(label, 0) + 1
            assert response.status_code < 500, (label, case.query, case.body, response.text[:300])
            if response.status_code >= 400:
                assert counts(ctx) == before, (label, response.status_code)
                body = response.json()
                assert body.get("code") and body.get("message"), body  # coded, in Chinese, no stack trace

        one()
    assert len(seen) == len(operations)
