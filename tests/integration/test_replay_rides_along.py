"""A replayed signed request is refused on both databases, whichever way its first copy went.

On PostgreSQL the replay record no longer has a statement of its own: it rides along with the transaction's first
hot statement (adapters/hot_sql.py ``ride_along``), so the refusal arrives as that statement's key violation and is
recognised by its table (services/replay_guard.py ``is_replay``). These run the calls through ``handle_call``, the
whole per-call path without HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date

from tests.api.test_fsi_support import row_counts
from yidi.client import HospitalClient
from yidi.interface import calls
from yidi.interface.signing import signed_headers
from yidi.services.context import AppContext

CODE = "H11000000001"
TODAY = date.today().isoformat()


def _signed(infno: str, input_data: dict) -> tuple[dict[str, str], bytes]:
    client = HospitalClient("http://unused", f"demo-{CODE}", f"demo-secret-{CODE}", CODE)
    body = json.dumps(client.envelope(infno, input_data)).encode()
    return signed_headers(infno=infno, body=body, access_key=client.access_key, secret=client.secret), body


def _code(ctx: AppContext, headers: dict[str, str], body: bytes, infno: str) -> str:
    _status, answer = calls.handle_call(ctx, headers, body, infno)
    return "OK" if answer["infcode"] == 0 else answer["err_msg"].split("：", 1)[0]


def test_a_replayed_write_is_refused_and_changes_nothing(ctx: AppContext) -> None:
    ctx.demo_mode = True
    headers, body = _signed("2201", {"data": {"psn_no": "P001", "begntime": TODAY}})
    assert _code(ctx, headers, body, "2201") == "OK"
    before = row_counts(ctx)
    assert _code(ctx, headers, body, "2201") == "REQUEST_REPLAYED"
    assert row_counts(ctx) == before


def test_a_replayed_read_is_refused(ctx: AppContext) -> None:
    ctx.demo_mode = True
    headers, body = _signed("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "410802195501011234"}})
    assert _code(ctx, headers, body, "1101") == "OK"
    assert _code(ctx, headers, body, "1101") == "REQUEST_REPLAYED"


def test_a_write_refused_before_its_first_statement_is_remembered(ctx: AppContext) -> None:
    """The first copy never reached the database (its input was refused), so its record never rode anywhere:
    it is recorded on its own, and the replay is refused as a replay."""
    ctx.demo_mode = True
    headers, body = _signed("2201", {"data": {"psn_no": "P001", "begntime": "not a date"}})
    assert _code(ctx, headers, body, "2201") == "INVALID_INPUT"
    before = row_counts(ctx)
    assert _code(ctx, headers, body, "2201") == "REQUEST_REPLAYED"
    assert row_counts(ctx) == before


def test_a_write_refused_by_the_database_is_remembered(ctx: AppContext) -> None:
    ctx.demo_mode = True
    headers, body = _signed("2201", {"data": {"psn_no": "NOBODY", "begntime": TODAY}})
    assert _code(ctx, headers, body, "2201") == "UNKNOWN_PERSON"
    assert _code(ctx, headers, body, "2201") == "REQUEST_REPLAYED"
