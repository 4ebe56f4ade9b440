"""Request guards applied before any router: body size and JSON nesting depth.

Python's json parser recurses, so a body of 100,000 nested brackets would raise RecursionError
deep inside a handler (a 500). The depth check below rejects such bodies first with a coded error.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yidi.domain.errors import YidiError

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _STRING.sub(b'""', body):
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> bytes | YidiError | None:
    """The whole request body; PAYLOAD_TOO_LARGE as soon as it (or its declared length) passes ``max_bytes``,
    without reading further; None when the client went away."""
    declared = dict(scope.get("headers") or []).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > max_bytes:
        return YidiError("PAYLOAD_TOO_LARGE", {"detail": f"超过 {max_bytes} 字节"})
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return YidiError("PAYLOAD_TOO_LARGE", {"detail": f"超过 {max_bytes} 字节"})
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def too_deep(body: bytes) -> YidiError | None:
    if json_depth_exceeds(body):
        return YidiError("PAYLOAD_TOO_LARGE", {"detail": f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层"})
    return None


class BodyGuard:
    """Pure ASGI middleware: buffers the body (bounded) and refuses oversize or too-deep JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: frozenset[str] = frozenset(),
                 upload_max_bytes: int = 0):
        self.app = app
        self.max_bytes = max_bytes
        # The few routes that carry files (the 零星报销 attachments) may send more; their handlers check each file.
        self.upload_paths = upload_paths
        self.upload_max_bytes = max(upload_max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.upload_max_bytes if scope.get("path") in self.upload_paths else self.max_bytes
        body = await read_body(scope, receive, limit)
        if body is None:
            return
        if isinstance(body, YidiError):
            await _reject(scope, send, body)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if b"json" in content_type or body[:1] in (b"{", b"["):
            refusal = too_deep(body)
            if refusal is not None:
                await _reject(scope, send, refusal)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _reject(scope: Scope, send: Send, error: YidiError) -> None:
    """The refusal in the caller's own dialect: the interface envelope on /fsi, ``{code, message}`` elsewhere."""
    if scope.get("path", "").startswith("/fsi/"):
        from yidi.api.fsi import envelope, now_text

        body = envelope("", "", now_text(), error=error)
    else:
        body = error.to_dict()
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": error.http_status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
