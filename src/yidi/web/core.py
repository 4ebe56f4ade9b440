"""What every page shares: templates, the signed session, CSRF, who is logged in, error pages.

- Sessions: Starlette's SessionMiddleware (a cookie signed with itsdangerous, secret = settings.secret_key).
  The session holds only the username, the user's session version and the CSRF token; the role and region are
  read from the users table on every request, and a session of an older version (after logout, a password change
  or disabling the user) is no longer accepted — revocation is server-side, not up to the browser.
- CSRF: one random token per session, put in a hidden field of every form and checked on every POST
  (``PageRoute``) with a constant-time comparison. The token is renewed at login.
- Errors: a ``YidiError`` raised by a service becomes an error page with the code, cause and hint,
  with its HTTP status (never a 500); a page that needs a login redirects to /login.
"""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Callable

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from yidi.domain.errors import YidiError
from yidi.domain.filing import TYPE_NAMES, FilingType
from yidi.services.context import AppContext
from yidi.services.reference import mask_certno
from yidi.services.users import Principal, get_principal
from yidi.wording import (BASIS_NAMES, CHANNEL_NAMES, COVERAGE_NAMES, INSU_STATUS_NAMES, INSUTYPE_NAMES, KIND_NAMES,
                          LEVEL_NAMES, MED_TYPE_NAMES, ROLE_NAMES, SETTLEMENT_STATUS_NAMES, STATUS_NAMES,
                          VISIT_STATUS_NAMES, ATTACHMENT_NAMES, CLAIM_STATUS_NAMES, for_people,
                          money_text)

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

ROLE_HOME = {"person": "/person", "hospital": "/desk", "agency": "/agency", "supervisor": "/supervision",
             "admin": "/admin"}


def institution_kind(institution) -> str:
    """What an institution is, in words: a pharmacy, a hospital, or what its name says it is
    (社区卫生服务中心, 卫生院, 诊所 … are not 医院)."""
    if getattr(institution, "kind", "") == "pharmacy":
        return "定点药店"
    name = getattr(institution, "name", "") or ""
    for word in ("社区卫生服务中心", "社区卫生服务站", "卫生院", "卫生室", "诊所", "门诊部", "医院"):
        if word in name:
            return word
    return "医疗机构"


templates.env.filters.update({
    "yuan": money_text,
    "mask": mask_certno,
    "status_name": lambda s: STATUS_NAMES.get(s, s),
    "setl_status_name": lambda s: SETTLEMENT_STATUS_NAMES.get(s, s),
    "visit_status_name": lambda s: VISIT_STATUS_NAMES.get(s, s),
    "basis_name": lambda s: BASIS_NAMES.get(s, s),
    "channel_name": lambda s: CHANNEL_NAMES.get(s, s),
    "med_type_name": lambda s: MED_TYPE_NAMES.get(s, s),
    "kind_name": lambda s: KIND_NAMES.get(s, s),
    "claim_status_name": lambda s: CLAIM_STATUS_NAMES.get(s, s),
    "attachment_name": lambda s: ATTACHMENT_NAMES.get(s, s),
    "type_name": lambda s: TYPE_NAMES.get(FilingType(s), s) if s in FilingType.__members__.values() else s,
    "coverage_name": lambda s: COVERAGE_NAMES.get(s, s),
    "role_name": lambda s: ROLE_NAMES.get(s, s),
    "insutype_name": lambda s: INSUTYPE_NAMES.get(s, s),
    "insu_status_name": lambda s: INSU_STATUS_NAMES.get(s, s),
    "level_name": lambda n: LEVEL_NAMES.get(int(n), f"{n}级") if str(n).isdigit() else str(n),
    "institution_kind": institution_kind,
})


class LoginRequired(Exception):
    pass


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def ctx_of(request: Request) -> AppContext:
    return request.app.state.ctx


def current_user(request: Request) -> Principal | None:
    """The session's user, if the session is still valid server-side: the user exists, is active, and the
    session's version is the user's current one (logout, a password change or disabling ends it)."""
    if "principal" not in request.state._state:
        username = request.session.get("username")
        principal = None
        if username:
            principal = get_principal(ctx_of(request), username, int(request.session.get("sv", 0)))
            if principal is None:
                request.session.clear()  # revoked: the browser's cookie is replaced by an empty session
        request.state.principal = principal
    return request.state.principal


def require(request: Request, *roles: str) -> Principal:
    """The logged-in user, who must have one of ``roles``; otherwise a redirect to the login page."""
    principal = current_user(request)
    if principal is None:
        raise LoginRequired()
    principal.require_role(*roles)
    return principal


def form(request: Request) -> dict:
    """The POSTed form (parsed and CSRF-checked by PageRoute) as a dict of stripped strings."""
    data = getattr(request.state, "form", None)
    return {key: (value.strip() if isinstance(value, str) else value) for key, value in (data or {}).items()}


def form_list(request: Request, key: str) -> list[str]:
    data = getattr(request.state, "form", None)
    return [str(v).strip() for v in data.getlist(key)] if data is not None else []


def form_files(request: Request, key: str) -> list:
    """The files uploaded under ``key`` (multipart forms); empty file inputs are left out."""
    data = getattr(request.state, "form", None)
    return [v for v in (data.getlist(key) if data is not None else []) if hasattr(v, "file") and v.filename]


def kept_rows(request: Request) -> dict[str, list[str]]:
    """The fee rows as typed (code, quantity, amount), to put back on the form after a refusal."""
    return {key: form_list(request, key) for key in ("code", "qty", "amount")}


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("user", current_user(request))
    context.setdefault("today", date.today())
    if isinstance(context.get("problem"), YidiError):  # refusals read in the person's terms
        context["problem"] = for_people(context["problem"])
    context["csrf_token"] = csrf_token(request)
    context["request"] = request
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


class PageRoute(APIRoute):
    """Every page route: CSRF check on POST, and errors rendered as pages rather than JSON."""

    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                if request.method == "POST":
                    data = await request.form()
                    sent = str(data.get("csrf_token", ""))
                    expected = request.session.get("csrf", "")
                    if not expected or not secrets.compare_digest(sent, expected):
                        return render(request, "error.html", status_code=403, code="CSRF",
                                      message="页面已过期或请求来源不明（CSRF 校验失败）",
                                      hint="请返回上一页刷新后重新提交。")
                    request.state.form = data
                return await original(request)
            except LoginRequired:
                return redirect(f"/login?next={request.url.path}")
            except YidiError as exc:
                shown = for_people(exc)
                return render(request, "error.html", status_code=exc.http_status, code=shown.code,
                              message=shown.message, hint=shown.hint)

        return handler
