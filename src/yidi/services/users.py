"""Users of the pages and /api: who they are, their role and the region they act for.

Roles: person (their own filings and settlements), hospital (their institution), agency (their
insured region; a province code covers its cities), supervisor (supervision across regions).
Passwords are argon2 hashes. Session/token mechanics live in the api/web layers; the checks here.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from yidi.adapters.orm import UserRow
from yidi.domain.errors import YidiError
from yidi.domain.regions import area_covers
from yidi.services.context import AppContext

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

    def can_act_for_region(self, admdvs: str) -> bool:
        """Agency/supervisor scope: their own region, or every city of their province code."""
        if self.role == "supervisor" and self.admdvs is None:
            return True
        return self.admdvs is not None and area_covers(self.admdvs, admdvs)

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
    return Principal(row.username, row.role, row.admdvs, row.psn_no, row.fixmedins_code, row.display_name)


def authenticate(ctx: AppContext, username: str, password: str) -> Principal:
    with ctx.unit_of_work() as session:
        row = session.get(UserRow, username or "")
        if row is None or not row.active:  # a disabled account (services/accounts.py) is refused like a wrong password
            _hasher.hash(password or "x")  # same cost whether or not the user exists
            raise YidiError("LOGIN_FAILED", {"detail": "用户名或密码错误"})
        try:
            _hasher.verify(row.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            raise YidiError("LOGIN_FAILED", {"detail": "用户名或密码错误"}) from None
        return principal_of(row)


def get_principal(ctx: AppContext, username: str) -> Principal | None:
    with ctx.unit_of_work() as session:
        row = session.get(UserRow, username)
        return principal_of(row) if row is not None and row.active else None


def create_user(ctx: AppContext, *, username: str, password: str, role: str, admdvs: str | None = None,
                psn_no: str | None = None, fixmedins_code: str | None = None, display_name: str = "") -> Principal:
    if role not in ROLES:
        raise YidiError("INVALID_INPUT", {"field": "role", "detail": f"（应为 {'/'.join(ROLES)}）"})
    with ctx.unit_of_work() as session:
        row = UserRow(username=username, password_hash=hash_password(password), role=role, admdvs=admdvs,
                      psn_no=psn_no, fixmedins_code=fixmedins_code, display_name=display_name)
        session.add(row)
        return principal_of(row)
