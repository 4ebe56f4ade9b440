"""Server-rendered pages on the FastAPI app: login, person portal, hospital desk, agency console,
supervision and statistics. ``register(app)`` adds the signed session, the static files and the routes."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from yidi.api.auth import password_principal, signing_key
from yidi.domain.errors import YidiError
from yidi.services.users import revoke_sessions
from yidi.web import admin, agency, desk, oversight, person, public
from yidi.web.core import ROLE_HOME, WEB_DIR, PageRoute, csrf_token, ctx_of, current_user, form, redirect, render

router = APIRouter(route_class=PageRoute)
SESSION_HOURS = 8


@router.get("/login")
def login_form(request: Request, next: str = ""):
    return render(request, "login.html", next=next, username="")


def _safe_next(url: str) -> str:
    """Only local paths: never redirect to another site after login."""
    return url if url.startswith("/") and not url.startswith("//") else ""


@router.post("/login")
def login(request: Request):
    values = form(request)
    try:
        principal = password_principal(request, ctx_of(request), values.get("username", ""),
                                       values.get("password", ""))
    except YidiError as exc:
        return render(request, "login.html", status_code=exc.http_status, next=values.get("next", ""),
                      username=values.get("username", ""),
                      error="用户名或密码错误" if exc.code == "LOGIN_FAILED" else exc.full_message())
    request.session.clear()
    request.session["username"] = principal.username
    request.session["sv"] = principal.session_version
    request.state.principal = principal
    csrf_token(request)  # a fresh token for the new session
    return redirect(_safe_next(values.get("next", "")) or ROLE_HOME[principal.role])


@router.post("/logout")
def logout(request: Request):
    user = current_user(request)
    if user is not None:  # server-side: a copy of this cookie no longer works either
        revoke_sessions(ctx_of(request), user.username)
    request.session.clear()
    return redirect("/")


def register(app: FastAPI) -> None:
    # The same key as /api tokens: YIDI_SECRET_KEY, or a random one when it is unset — never the
    # published development default, which would let anyone forge a session cookie.
    app.add_middleware(SessionMiddleware, secret_key=signing_key().hex(), session_cookie="yidi_session",
                       max_age=SESSION_HOURS * 3600, same_site="lax")
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    for module_router in (router, public.router, person.router, desk.router, agency.router, oversight.router,
                          admin.router):
        app.include_router(module_router, include_in_schema=False)


__all__ = ["register"]
