"""Who is calling the hospital interface: the two gateway header families HIS software already sends.

- ``_api_*`` (Alibaba-CSB style, body signed by ``_api_body_sm3``): ``_api_timestamp`` in milliseconds
  (13 digits) or seconds (10 digits, as some provincial gateways send it);
- ``x-tif-*`` (provincial TIF gateways): ``x-tif-paasid`` names the credential (its access key), the token
  is the credential's secret, ``x-tif-timestamp`` is in seconds.

Either way the timestamp must lie within ±``YIDI_SIGN_WINDOW_SECONDS`` and the request must not have been
seen before (services/replay_guard.py: the TIF nonce, or the ``_api_signature``, which covers the timestamp
and the body). Credentials are looked up once per ``CREDENTIAL_TTL`` seconds per process.
"""

from __future__ import annotations

import time

from yidi.interface import signing
from yidi.config import get_settings
from yidi.domain.errors import YidiError
from yidi.services import credentials, replay_guard
from yidi.services.context import AppContext
from yidi.services.credentials import Credential as Credential  # named here too: envelope, tests, bench

CREDENTIAL_TTL = 30.0  # seconds a looked-up key is reused (revocation takes effect within this)
NONCE_MAX = 64


def _credential_cache(ctx: AppContext) -> dict[str, tuple[float, Credential | None]]:
    """Per-context cache (lives and dies with the AppContext, so two databases never share entries)."""
    return ctx.__dict__.setdefault("_fsi_credentials", {})


def credential(ctx: AppContext, access_key: str) -> Credential | None:
    cache = _credential_cache(ctx)
    cached = cache.get(access_key)
    if cached and time.monotonic() - cached[0] < CREDENTIAL_TTL:
        return cached[1]
    found = credentials.active_credential(ctx, access_key)
    if len(cache) > 10_000:
        cache.clear()
    cache[access_key] = (time.monotonic(), found)
    return found


def _failed(detail: str) -> YidiError:
    return YidiError("AUTH_FAILED", {"detail": detail})


def _usable(ctx: AppContext, access_key: str, header: str) -> Credential:
    cred = credential(ctx, access_key)
    if cred is None or not cred.secret.get_secret_value() or (cred.demo_only and not ctx.demo_mode):  # no secret: key not readable
        raise _failed(f"{header} 无效或已停用（演示密钥仅在演示模式下可用）")
    return cred


def _within_window(seconds: float, now: float, header: str) -> None:
    window = get_settings().sign_window_seconds
    if abs(now - seconds) > window:
        raise _failed(f"{header} 超出允许误差±{window}秒")


def _not_replayed(ctx: AppContext, key: str, now: float) -> None:
    if not replay_guard.first_sight(ctx, key, get_settings().sign_window_seconds, now):
        raise YidiError("REQUEST_REPLAYED", {})


def is_tif(headers: dict[str, str]) -> bool:
    return any(headers.get(name) for name in signing.TIF_HEADERS)


def authenticate(ctx: AppContext, headers: dict[str, str], body: bytes, now_ms: int | None = None, *,
                 record: bool = True) -> Credential:
    """The caller's credential, or AUTH_FAILED / REQUEST_REPLAYED. ``record=False`` checks without
    remembering the request: the caller records ``replay_key(headers)`` itself (the interface does it in the
    write's own transaction) or does not need to (benchmarks of the signature path)."""
    now = (now_ms / 1000) if now_ms is not None else time.time()
    if is_tif(headers):
        return _authenticate_tif(ctx, headers, now, record)
    given = {name: headers.get(name, "") for name in (*signing.SIGNED_HEADERS, "_api_signature")}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise _failed(f"缺少请求头 {', '.join(missing)}")
    cred = _usable(ctx, given["_api_access_key"], "_api_access_key")
    stamp = given["_api_timestamp"]
    if not (stamp.isdigit() and len(stamp) in (10, 13)):
        raise _failed("_api_timestamp 应为13位毫秒或10位秒时间戳")
    _within_window(int(stamp) / (1000 if len(stamp) == 13 else 1), now, "_api_timestamp")
    if signing.sm3_hex(body) != given["_api_body_sm3"].lower():
        raise _failed("_api_body_sm3 与报文不符")
    if not signing.signature_matches(cred.secret.get_secret_value(), given, cred.algorithm, given["_api_signature"]):
        raise _failed(f"签名无效（{cred.algorithm}）")
    if record:
        _not_replayed(ctx, replay_key(headers), now)
    return cred


def _authenticate_tif(ctx: AppContext, headers: dict[str, str], now: float, record: bool) -> Credential:
    given = {name: headers.get(name, "").strip() for name in signing.TIF_HEADERS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise _failed(f"缺少请求头 {', '.join(missing)}")
    cred = _usable(ctx, given["x-tif-paasid"], "x-tif-paasid")
    stamp, nonce = given["x-tif-timestamp"], given["x-tif-nonce"]
    if not (stamp.isdigit() and len(stamp) == 10):
        raise _failed("x-tif-timestamp 应为10位秒时间戳")
    _within_window(int(stamp), now, "x-tif-timestamp")
    if len(nonce) > NONCE_MAX or not all(" " < ch <= "~" for ch in nonce):
        raise _failed(f"x-tif-nonce 应为不超过{NONCE_MAX}个可见ASCII字符")
    if not signing.tif_signature_matches(cred.secret.get_secret_value(), stamp, nonce, given["x-tif-signature"]):
        raise _failed("x-tif-signature 无效（SHA-256(timestamp+token+nonce+timestamp)）")
    if record:
        _not_replayed(ctx, replay_key(headers), now)
    return cred


def replay_key(headers: dict[str, str]) -> str:
    """What identifies one signed request: the TIF nonce (per access key) or the ``_api_signature``."""
    if is_tif(headers):
        return f"tif:{headers.get('x-tif-paasid', '').strip()}:{headers.get('x-tif-nonce', '').strip()}"
    return f"api:{headers.get('_api_signature', '')}"


def not_replayed(ctx: AppContext, key: str) -> None:
    """Record a request on its own (reads, refused writes); REQUEST_REPLAYED when it was seen before."""
    _not_replayed(ctx, key, time.time())


def name_matches(headers: dict[str, str], infno: str) -> bool:
    """``_api_name`` is signed and must name the transaction; the TIF family carries no transaction name."""
    return is_tif(headers) or headers.get("_api_name") == infno
