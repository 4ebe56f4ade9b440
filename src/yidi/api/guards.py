"""Request guards applied before any router: body size, JSON nesting depth and NUL characters.

Python's json parser recurses, so a body of 100,000 nested brackets would raise RecursionError
deep inside a handler (a 500). The depth check below rejects such bodies first with a coded error.

A NUL character (U+0000) is never part of a certificate number, an id, a username or a name, and PostgreSQL
cannot store it in a text column: let through, it failed deep in the database after seconds of work. So
``refusal`` refuses it at the edge, for every route of both doors (``BodyGuard`` for /api and the pages,
``InterfaceGateway`` for /fsi): in the path, the query string, a JSON body (``\\u0000`` or a raw byte), a
form post (``%00``) and the text parts of a multipart form (file parts may hold any bytes). The interface's
``input`` sent as a JSON *string* is checked again when it is decoded (``json_text_refusal``).
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yidi.domain.errors import YidiError

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# \u0000 preceded by an even number of backslashes (``\\u0000`` is the six characters, not a NUL).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_JSON_START = re.compile(rb"\s*[\[{]")


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


def _nul(where: str) -> YidiError:
    return YidiError("CONTROL_CHARACTER", {"where": where})


def target_refusal(scope: Scope) -> YidiError | None:
    """CONTROL_CHARACTER when the path or the query string carries a NUL (raw or ``%00``)."""
    if "\x00" in scope.get("path", ""):
        return _nul("路径")
    query = scope.get("query_string", b"") or b""
    if b"\x00" in query or b"%00" in query:
        return _nul("查询参数")
    return None


def _multipart_text_has_nul(body: bytes, content_type: bytes) -> bool:
    """A NUL in a text part of a multipart form; file parts (with a filename) may hold any bytes."""
    boundary = re.split(rb"(?i)boundary=", content_type, maxsplit=1)[-1].split(b";")[0].strip().strip(b'"') \
        if b"boundary=" in content_type.lower() else b""
    if not boundary:
        return b"\x00" in body
    for part in body.split(b"--" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        if b"filename=" not in head.lower() and (b"\x00" in content or b"\x00" in head):
            return True
    return False


def json_text_refusal(text: bytes) -> YidiError | None:
    """The JSON guards for one JSON text: nesting depth, then NUL (escaped or raw)."""
    refusal = too_deep(text)
    if refusal is None and (b"\x00" in text or (b"\\u0000" in text and _JSON_NUL.search(text))):
        refusal = _nul("JSON 文本")
    return refusal


def refusal(scope: Scope, body: bytes) -> YidiError | None:
    """The edge's one decision on a whole request (path, query, body), before any handler or the database.
    Costs one pass over the body with C-speed ``bytes`` searches."""
    found = target_refusal(scope)
    if found is not None or not body:
        return found
    raw_type = dict(scope.get("headers") or []).get(b"content-type", b"") or b""
    content_type = raw_type.lower()
    if b"json" in content_type or _JSON_START.match(body):
        return json_text_refusal(body)
    if b"multipart/" in content_type:  # the boundary is case-sensitive: taken from the header as sent
        return _nul("表单") if _multipart_text_has_nul(body, raw_type) else None
    if b"\x00" in body or b"%00" in body:
        return _nul("表单" if b"form" in content_type else "请求体")
    return None


class BodyGuard:
    """Pure ASGI middleware: buffers the body (bounded) and refuses it by ``refusal`` (size, depth, NUL);
    requests without a body are checked for NUL in the path and query string."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: frozenset[str] = frozenset(),
                 upload_max_bytes: int = 0):
        self.app = app
        self.max_bytes = max_bytes
        # The few routes that carry files (the 零星报销 attachments) may send more; their handlers check each file.
        self.upload_paths = upload_paths
        self.upload_max_bytes = max(upload_max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            found = target_refusal(scope)
            if found is not None:
                await _reject(scope, send, found)
                return
            await self.app(scope, receive, send)
            return
        limit = self.upload_max_bytes if scope.get("path") in self.upload_paths else self.max_bytes
        body = await read_body(scope, receive, limit)
        if body is None:
            return
        found = body if isinstance(body, YidiError) else refusal(scope, body)
        if found is not None:
            await _reject(scope, send, found)
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
        from yidi.interface.envelope import envelope, stamp_text

        body = envelope("", "", stamp_text(), error=error)
    else:
        body = error.to_dict()
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": error.http_status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
