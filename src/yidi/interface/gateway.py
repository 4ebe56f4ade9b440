"""The hospital interface's front door: ``POST /fsi/api/*`` answered before FastAPI's router.

Every hospital call is one small signed POST, the hot path of the whole system (issue 5: hundreds of
complete settlements a second on two cores). FastAPI's router, dependency resolution and the pages'
session/CSRF middleware cost ~0.5 ms of CPU per call (measured: 15.8 → 13.7 ms per four-call flow) and
do nothing for it: the interface has its own authentication (interface/authentication.py), its own envelope
and its own error shape. So this pure-ASGI layer sits outermost and serves those paths itself — the same guards
as ``BodyGuard`` (size, JSON depth, NUL: ``guards.refusal``) and the same ``calls.handle_call`` — and passes
every other request to the application untouched. The FastAPI routes in interface/router.py stay declared for the OpenAPI document and
use the same ``answer``.

The call runs on the event loop when several worker processes serve (``calls_run_inline``), else in a
worker thread; the audit chain is sealed after the answer is sent, at most once a second per process
(services/audit.py).
"""

from __future__ import annotations

import json
import time

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from yidi.api import metrics
from yidi.api.guards import read_body, refusal
from yidi.config import get_settings
from yidi.interface.calls import handle_call
from yidi.interface.envelope import envelope, stamp_text
from yidi.domain.errors import YidiError
from yidi.services import audit
from yidi.services.context import AppContext

PATH_PREFIX = "/fsi/api/"
ANY_INFNO_PATHS = {"/fsi/api/call", "/fsi/api/rsfComIfsService/callService"}
_JSON_HEADERS = [(b"content-type", b"application/json")]
_FILE_HEADERS = [(b"content-type", b"application/octet-stream")]


def path_infno(path: str) -> str | None:
    """The infno a path names: ``/fsi/api/2304`` → "2304"; the generic paths → None (taken from the body)."""
    return None if path in ANY_INFNO_PATHS else path[len(PATH_PREFIX):]


def served_here(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path = scope["path"]
    infno = path[len(PATH_PREFIX):]
    return path in ANY_INFNO_PATHS or (path.startswith(PATH_PREFIX) and infno != "" and "/" not in infno)


def render(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def calls_run_inline() -> bool:
    """Where a call runs. With several worker processes (``YIDI_SERVER_WORKERS`` ≥ 2, set by ``yidi serve
    --workers N``) each process runs its calls one at a time on its own event loop: the processes give the
    concurrency, and there is no hand-off to a thread and no contention for the GIL between threads
    (measured: ~40 % more complete flows/s with 3 such workers than with 2 threaded ones, docs/benchmarks.md).
    A single process (embedded default, tests) runs them in the thread pool instead, so that its pages stay
    responsive while a call waits for the database."""
    return get_settings().server_workers >= 2


async def answer(ctx: AppContext, headers: dict[str, str], body: bytes, infno: str | None) -> tuple[int, bytes]:
    """(HTTP status, response body) for one call (see ``calls_run_inline`` for where it runs). A file
    (9102 文件下载) is answered as its bytes, everything else as the JSON envelope."""
    started = time.perf_counter()
    if calls_run_inline():
        status, payload = handle_call(ctx, headers, body, infno)
    else:
        status, payload = await run_in_threadpool(handle_call, ctx, headers, body, infno)
    rendered = payload if isinstance(payload, bytes) else render(payload)
    metrics.observe_call(infno or headers.get("_api_name"), payload if isinstance(payload, dict) else {"infcode": 0},
                         time.perf_counter() - started)
    return status, rendered


def is_file(payload: bytes) -> bool:
    return not payload.startswith(b"{")


class InterfaceGateway:
    """Pure ASGI: serves ``POST /fsi/api/*`` with ``calls.handle_call``; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, ctx: AppContext, max_bytes: int):
        self.app, self.ctx, self.max_bytes = app, ctx, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not served_here(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(scope, receive, self.max_bytes)
        if body is None:  # client went away
            return
        refused = body if isinstance(body, YidiError) else refusal(scope, body)
        if refused is not None:
            status, payload = refused.http_status, render(envelope("", "", stamp_text(), error=refused))
        else:
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
            status, payload = await answer(self.ctx, headers, body, path_infno(scope["path"]))
        kind = _FILE_HEADERS if is_file(payload) else _JSON_HEADERS
        await send({"type": "http.response.start", "status": status,
                    "headers": [*kind, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
        if audit.seal_due(self.ctx):  # after the answer is out: nobody waits for it
            await run_in_threadpool(audit.seal_pass, self.ctx)
