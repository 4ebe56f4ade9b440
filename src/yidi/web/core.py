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
from yidi.domain.money import fen_to_yuan
from yidi.services.context import AppContext
from yidi.services.reference import mask_certno
from yidi.services.users import Principal, get_principal

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

STATUS_NAMES = {"pending": "待审核", "active": "有效", "rejected": "未通过", "changed": "已变更", "cancelled": "已取消",
                "settled": "已结算", "reversed": "已冲正", "open": "待处理",
                "assigned": "协查中", "closed": "已办结", "applied": "提交申请", "approved": "审核通过",
                "terminated_and_refiled": "终止并重新备案"}
BASIS_NAMES = {"proof": "证明材料", "commitment": "个人承诺"}
CHANNEL_NAMES = {"app": "国家医保服务平台APP", "mini_program": "小程序", "web": "网上办事大厅", "phone": "电话",
                 "window": "经办窗口", "hospital_desk": "医院医保服务站", "township": "便民服务中心"}
MED_TYPE_NAMES = {"11": "普通门诊", "14": "门诊慢特病", "21": "普通住院", "22": "外伤住院", "23": "转外诊治住院"}
# A settlement (and a visit) is 撤销, a filing 取消: the same status word reads differently in Chinese.
SETTLEMENT_STATUS_NAMES = {"settled": "已结算", "cancelled": "已撤销", "reversed": "已冲正"}
VISIT_STATUS_NAMES = {"registered": "在院", "discharged": "已出院", "settled": "已结算", "cancelled": "已撤销"}
KIND_NAMES = {"direct": "直接结算", "manual": "零星报销"}
CLAIM_STATUS_NAMES = {"submitted": "待审核", "approved": "审核通过（待转账）", "rejected": "已驳回", "paid": "已转账",
                      "reversed": "已冲正"}
ATTACHMENT_NAMES = {"invoice": "发票", "fee_list": "费用清单"}
COVERAGE_NAMES = {"local": "参保地就医", "long_term_at_filed_place": "长期异地居住人员在备案地就医",
                  "long_term_back_home": "长期异地居住人员回参保地就医"}
ROLE_NAMES = {"person": "参保人", "hospital": "医院医保办", "agency": "经办机构", "supervisor": "监管"}
ROLE_HOME = {"person": "/person", "hospital": "/desk", "agency": "/agency", "supervisor": "/supervision"}


def _yuan(value) -> str:
    return fen_to_yuan(int(value)) if isinstance(value, int) else str(value)


templates.env.filters.update({
    "yuan": _yuan,
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


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("user", current_user(request))
    context.setdefault("today", date.today())
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
                return render(request, "error.html", status_code=exc.http_status, code=exc.code,
                              message=exc.message, hint=exc.hint)

        return handler
