"""Authentication for /api: ``POST /api/login`` issues a signed bearer token; ``current_principal`` checks it.

Token = ``<payload>.<signature>``: the payload is base64url JSON ``{"sub": username, "exp": unix seconds}``,
the signature HMAC-SHA256 over the payload with ``settings.secret_key`` (stdlib ``hmac``; compared in
constant time). Tokens expire after ``TOKEN_TTL_SECONDS``. The user is looked up again on every request,
so a deleted user's token stops working at once. When ``YIDI_SECRET_KEY`` is left at its development
default, each process signs with a random key instead (tokens then die with the process; set the key
for several workers). Scripts may send HTTP Basic (username + password) instead of a token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from functools import lru_cache

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from yidi.api import ratelimit
from yidi.api.deps import get_ctx
from yidi.config import Settings, get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.logs import get_logger
from yidi.services.context import AppContext
from yidi.services import users
from yidi.services.users import Principal, authenticate, get_principal, revoke_sessions

TOKEN_TTL_SECONDS = 8 * 3600  # one working day
DEV_DEFAULT_KEY = Settings.model_fields["secret_key"].default.get_secret_value()

log = get_logger("yidi.api.auth")
router = APIRouter(prefix="/api", tags=["登录 / auth"])


@lru_cache
def _signing_key(configured: str) -> bytes:
    if configured == DEV_DEFAULT_KEY:
        log.warning("YIDI_SECRET_KEY not set: signing /api tokens with a random per-process key")
        return secrets.token_bytes(32)
    return configured.encode()


def signing_key() -> bytes:
    """The key that signs /api tokens and page sessions."""
    return _signing_key(get_settings().secret_key.get_secret_value())



def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return _b64(hmac.new(signing_key(), payload.encode(), hashlib.sha256).digest())


def issue_token(username: str, *, now: float | None = None, ttl: int = TOKEN_TTL_SECONDS,
                session_version: int = 0) -> tuple[str, int]:
    """A token for ``username`` and its expiry (unix seconds); it carries the user's session version, so that
    logout, a password change or disabling the user revokes it (services/users.py)."""
    expires = int((now if now is not None else time.time()) + ttl)
    claims = {"sub": username, "exp": expires, "sv": session_version}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(payload)}", expires


def token_subject(token: str, *, now: float | None = None) -> str:
    """The username a valid, unexpired token names; LOGIN_REQUIRED otherwise."""
    return token_claims(token, now=now)[0]


def token_claims(token: str, *, now: float | None = None) -> tuple[str, int]:
    """(username, session version) of a valid, unexpired token; LOGIN_REQUIRED otherwise."""
    payload, _, signature = token.partition(".")
    if not payload or not signature or not hmac.compare_digest(signature, _sign(payload)):
        raise YidiError("LOGIN_REQUIRED", {"detail": "令牌无效"})
    try:
        claims = json.loads(_unb64(payload))
        subject, expires, version = str(claims["sub"]), int(claims["exp"]), int(claims.get("sv", 0))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise YidiError("LOGIN_REQUIRED", {"detail": "令牌无效"}) from None
    if expires <= (now if now is not None else time.time()):
        raise YidiError("LOGIN_REQUIRED", {"detail": "令牌已过期"})
    return subject, version


def client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


def password_principal(request: Request, ctx: AppContext, username: str, password: str) -> Principal:
    """The one password check of /api/login, HTTP Basic on /api and the login page. A username + address
    that has spent its failed-attempt budget is refused before any argon2 hash is computed; each failure
    spends one (api/ratelimit.py)."""
    ratelimit.check_login(request.app.state, username, client_host(request))
    try:
        return authenticate(ctx, username, password)
    except YidiError as exc:
        if exc.code == "LOGIN_FAILED":
            ratelimit.login_failed(request.app.state, username, client_host(request))
        raise


def basic_credentials(header_value: str) -> tuple[str, str]:
    """(username, password) of an HTTP Basic ``Authorization`` value; LOGIN_REQUIRED when malformed."""
    try:
        username, _, password = base64.b64decode(header_value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise YidiError("LOGIN_REQUIRED", {"detail": "Basic 认证格式错误"}) from None
    return username, password


def current_principal(request: Request, ctx: AppContext = Depends(get_ctx)) -> Principal:
    """FastAPI dependency: the logged-in user (Bearer token, or HTTP Basic for scripts)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and credentials.strip():
        subject, version = token_claims(credentials.strip())
        principal = get_principal(ctx, subject, version)
        if principal is None:
            raise YidiError("LOGIN_REQUIRED", {"detail": "令牌已注销（已退出登录、改密或账号停用）或用户已不存在"})
        return principal
    if scheme == "basic" and credentials.strip():
        return password_principal(request, ctx, *basic_credentials(credentials))
    raise YidiError("LOGIN_REQUIRED", {"detail": "缺少 Authorization 请求头"})


def optional_principal(request: Request, ctx: AppContext = Depends(get_ctx)) -> Principal | None:
    """FastAPI dependency: the logged-in user when the request carries credentials, else None (anonymous)."""
    if not request.headers.get("authorization", "").strip():
        return None
    return current_principal(request, ctx)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


@router.post("/login", summary="登录，获取令牌 / log in for a bearer token")
async def login(request: Request, ctx: AppContext = Depends(get_ctx)) -> dict:
    """JSON ``{username, password}``, or an OAuth2 password form (so the /docs "Authorize" button works)."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        body = {"username": form.get("username") or "", "password": form.get("password") or ""}
    else:
        try:
            body = await request.json()
        except ValueError:
            raise invalid("body", "应为 JSON：{\"username\": …, \"password\": …}") from None
    try:
        credentials = LoginRequest.model_validate(body)
    except ValueError as exc:
        errors = getattr(exc, "errors", lambda: [])()
        field_name = ".".join(str(p) for p in errors[0]["loc"]) if errors else "body"
        raise invalid(field_name or "body", "必填") from None
    # argon2 costs tens of milliseconds of CPU: off the event loop, so that other requests go on meanwhile
    principal = await run_in_threadpool(password_principal, request, ctx, credentials.username, credentials.password)
    token, expires = issue_token(principal.username, session_version=principal.session_version)
    return {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_TTL_SECONDS, "expires_at": expires,
            **principal_view(principal)}


@router.get("/me", summary="当前用户 / who am I")
def me(principal: Principal = Depends(current_principal)) -> dict:
    return principal_view(principal)


def principal_view(principal: Principal) -> dict:
    return {"username": principal.username, "role": principal.role, "admdvs": principal.admdvs,
            "psn_no": principal.psn_no, "fixmedins_code": principal.fixmedins_code,
            "display_name": principal.display_name}


@router.post("/logout", summary="退出登录：本用户的全部令牌和页面会话失效 / revoke every token and session")
def logout(principal: Principal = Depends(current_principal), ctx: AppContext = Depends(get_ctx)) -> dict:
    revoke_sessions(ctx, principal.username)
    return {"revoked": True}


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


@router.post("/password", summary="修改密码：此前的全部令牌和页面会话失效 / change password")
def change_password(body: PasswordChange, request: Request, principal: Principal = Depends(current_principal),
                    ctx: AppContext = Depends(get_ctx)) -> dict:
    password_principal(request, ctx, principal.username, body.old_password)  # the old password, under the budget
    users.change_password(ctx, principal.username, body.new_password)
    return {"changed": True}


def register(app: FastAPI) -> None:
    app.include_router(router)
