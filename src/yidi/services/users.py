"""Users of the pages and /api: who they are, their role and the region they act for.

Roles: person (their own filings and settlements), hospital (their institution), agency (their
insured region; a province code covers its cities), supervisor (supervision across regions).
Passwords are argon2 hashes. Session/token mechanics live in the api/web layers; the checks here.
Revocation is server-side: each user row has a ``session_version`` that every page session and /api token
carries; ``revoke_sessions`` (logout), ``change_password`` and accounts.set_active/reset_password increment it, and a
session or token of an older version — or of a disabled user — is no longer accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from argon2 import PasswordHasher
from sqlalchemy.orm import Session
from argon2.exceptions import InvalidHashError, VerificationError

from yidi.adapters.orm import UserRow
from yidi.domain.errors import YidiError
from yidi.services.context import AppContext
from yidi.services.scope import scope_of

ROLES = ("person", "hospital", "agency", "supervisor", "admin")  # admin: accounts and credentials (/admin)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    admdvs: str | None = None
    psn_no: str | None = None
    fixmedins_code: str | None = None
    display_name: str = ""
    session_version: int = 0  # what a session or token must carry to be valid (see the module docstring)

    def can_act_for_region(self, admdvs: str) -> bool:
        """Agency/supervisor scope: their own region, or every city of their province code."""
        return scope_of(self).covers(admdvs)

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise YidiError("FORBIDDEN", {"detail": f"需要角色 {'/'.join(roles)}"})

    def require_region(self, admdvs: str) -> None:
        if not self.can_act_for_region(admdvs):
            raise YidiError("FORBIDDEN", {"detail": f"无权处理区域 {admdvs} 的业务"})

    def require_person(self, psn_no: str) -> None:
        if self.role == "person" and self.psn_no != psn_no:
            raise YidiError("FORBIDDEN", {"detail": "只能查看和办理本人业务"})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def principal_of(row: UserRow) -> Principal:
    return Principal(row.username, row.role, row.admdvs, row.psn_no, row.fixmedins_code, row.display_name,
                     row.session_version or 0)


def authenticate(ctx: AppContext, username: str, password: str) -> Principal:
    if "\x00" in (username or "") or "\x00" in (password or ""):
        raise YidiError("CONTROL_CHARACTER", {"where": "用户名或密码"})  # never reaches the database
    with ctx.unit_of_work() as session:
        row = session.get(UserRow, username or "")
        if row is None or row.active is False:
            _hasher.hash(password or "x")  # same cost whether or not the user exists (or is disabled)
            raise YidiError("LOGIN_FAILED", {"detail": "用户名或密码错误"})
        try:
            _hasher.verify(row.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            raise YidiError("LOGIN_FAILED", {"detail": "用户名或密码错误"}) from None
        principal = on_this_node(ctx, principal_of(row))
        if principal is None:
            raise YidiError("FORBIDDEN", {"detail": f"该账号所属地区 {row.admdvs} 不由本省节点管理，"
                                                    "请到该地区所在省的节点登录"})
        return principal


def get_principal(ctx: AppContext, username: str, session_version: int | None = None) -> Principal | None:
    """The active user ``username``; None when absent, disabled, or (given ``session_version``) when the
    session or token was issued under another version, i.e. revoked."""
    with ctx.unit_of_work() as session:
        row = session.get(UserRow, username)
        if row is None or row.active is False:
            return None
        if session_version is not None and session_version != (row.session_version or 0):
            return None
        return on_this_node(ctx, principal_of(row))


def on_this_node(ctx: AppContext, principal: Principal) -> Principal | None:
    """On a province node of a federation a clerk or supervisor acts for what the node owns: a national account
    is narrowed to the node's province, and an account of another province acts for nothing here (None) — so no
    page or API shows the desk copies of visitors insured elsewhere. On one node: unchanged."""
    federation = ctx.federation
    if federation is None or principal.role not in ("agency", "supervisor"):
        return principal
    if principal.admdvs is None:
        return replace(principal, admdvs=f"{federation.province}0000")
    return principal if federation.owns(principal.admdvs) else None


def end_sessions(row: UserRow) -> None:
    """Every page session and /api token issued to ``row`` before now stops working (in the caller's transaction)."""
    row.session_version = (row.session_version or 0) + 1


def _user(session: Session, username: str) -> UserRow:
    row = session.get(UserRow, username)
    if row is None:
        raise YidiError("NOT_FOUND", {"what": "用户", "key": username})
    return row


def revoke_sessions(ctx: AppContext, username: str) -> None:
    """Logout: every page session and /api token of this user ends now."""
    with ctx.unit_of_work() as session:
        row = session.get(UserRow, username)
        if row is not None:
            end_sessions(row)


def change_password(ctx: AppContext, username: str, new_password: str) -> None:
    """A new argon2 hash; every session and token issued before ends."""
    if len(new_password or "") < 8:
        raise YidiError("INVALID_INPUT", {"field": "password", "detail": "（至少8个字符）"})
    with ctx.unit_of_work() as session:
        row = _user(session, username)
        row.password_hash = hash_password(new_password)
        end_sessions(row)



def create_user(ctx: AppContext, *, username: str, password: str, role: str, admdvs: str | None = None,
                psn_no: str | None = None, fixmedins_code: str | None = None, display_name: str = "") -> Principal:
    if role not in ROLES:
        raise YidiError("INVALID_INPUT", {"field": "role", "detail": f"（应为 {'/'.join(ROLES)}）"})
    with ctx.unit_of_work() as session:
        row = UserRow(username=username, password_hash=hash_password(password), role=role, admdvs=admdvs,
                      psn_no=psn_no, fixmedins_code=fixmedins_code, display_name=display_name)
        session.add(row)
        return principal_of(row)
