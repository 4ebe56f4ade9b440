"""系统管理员 pages (/admin): the same account and credential operations as `yidi user …` and
`yidi credential …` (services/accounts.py, services/credentials.py), scoped to the administrator's region.

A generated password or secret is shown once, in the answer to the POST that made it (never stored in the
session or a redirect URL)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from yidi.services import accounts, credentials
from yidi.services.users import ROLES
from yidi.web.core import PageRoute, ctx_of, form, redirect, render, require

router = APIRouter(route_class=PageRoute)


def _admin(request: Request):
    return require(request, "admin")


def _page(request: Request, principal, **shown):
    ctx = ctx_of(request)
    response = render(request, "admin/index.html", roles=ROLES,
                      users=accounts.list_accounts(ctx, admin_admdvs=principal.admdvs),
                      keys=credentials.list_credentials(ctx, admin_admdvs=principal.admdvs), **shown)
    response.headers["cache-control"] = "no-store"  # a shown password or secret stays out of caches
    return response


@router.get("/admin")
def admin_home(request: Request):
    return _page(request, _admin(request))


@router.post("/admin/users")
def admin_add_user(request: Request):
    principal = _admin(request)
    values = form(request)
    new = accounts.NewUser(values.get("username", ""), values.get("role", ""), values.get("admdvs") or None,
                           values.get("psn_no") or None, values.get("fixmedins_code") or None,
                           values.get("display_name", ""))
    password = accounts.add_user(ctx_of(request), new, None, actor=principal.username, admin_admdvs=principal.admdvs)
    return _page(request, principal, shown_password=(new.username, password))


@router.post("/admin/users/{username}/disable")
def admin_disable_user(request: Request, username: str):
    principal = _admin(request)
    accounts.set_active(ctx_of(request), username, False, actor=principal.username, admin_admdvs=principal.admdvs)
    return redirect("/admin")


@router.post("/admin/users/{username}/enable")
def admin_enable_user(request: Request, username: str):
    principal = _admin(request)
    accounts.set_active(ctx_of(request), username, True, actor=principal.username, admin_admdvs=principal.admdvs)
    return redirect("/admin")


@router.post("/admin/users/{username}/reset-password")
def admin_reset_password(request: Request, username: str):
    principal = _admin(request)
    password = accounts.reset_password(ctx_of(request), username, None, actor=principal.username,
                                       admin_admdvs=principal.admdvs)
    return _page(request, principal, shown_password=(username, password))


@router.post("/admin/credentials")
def admin_issue_credential(request: Request):
    principal = _admin(request)
    values = form(request)
    issued = credentials.issue(ctx_of(request), values.get("fixmedins_code", ""), actor=principal.username,
                               algorithm=values.get("algorithm") or "HMAC-SM3", admin_admdvs=principal.admdvs)
    return _page(request, principal, shown_secret=issued)


@router.post("/admin/credentials/{access_key}/rotate")
def admin_rotate_credential(request: Request, access_key: str):
    principal = _admin(request)
    issued = credentials.rotate(ctx_of(request), access_key, actor=principal.username, admin_admdvs=principal.admdvs)
    return _page(request, principal, shown_secret=issued)


@router.post("/admin/credentials/{access_key}/revoke")
def admin_revoke_credential(request: Request, access_key: str):
    principal = _admin(request)
    credentials.revoke(ctx_of(request), access_key, actor=principal.username, admin_admdvs=principal.admdvs)
    return redirect("/admin")
