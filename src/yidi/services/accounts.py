"""User accounts, as an administrator manages them: add, list, disable, reset a password (issue 19).

Who acts: the ``yidi user …`` command (the operator on the server, recorded as ``cli:<login name>``) or an
administrator (role ``admin``) on /admin. A regional administrator (``admdvs`` set) manages accounts in their
region only; a national one (``admdvs`` empty) every account. Every change is written to the audit log in the
same transaction; passwords are argon2 hashes and never logged. A temporary password is generated when none
is given and shown once.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import InstitutionRow, PersonRow, UserRow
from yidi.domain.errors import YidiError, invalid
from yidi.services import audit, users
from yidi.services.context import AppContext
from yidi.services.reference import require_region
from yidi.services.scope import admin_scope
from yidi.services.users import ROLES, Principal, hash_password

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,59}$")
MIN_PASSWORD = 10


# An account to create has exactly a principal's fields: who will log in, with which role and scope.
NewUser = Principal


def temporary_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise invalid("password", f"密码至少 {MIN_PASSWORD} 个字符")


def _in_scope(admin_admdvs: str | None, admdvs: str | None) -> bool:
    return admin_scope(admin_admdvs).covers(admdvs)


def add_user(ctx: AppContext, new: NewUser, password: str | None, *, actor: str,
             admin_admdvs: str | None = None) -> str:
    """Create an account; returns its password (the one given, or a generated temporary one)."""
    if not USERNAME.match(new.username or ""):
        raise invalid("username", "2–60 个字母、数字或 _ . @ -，以字母或数字开头")
    if new.role not in ROLES:
        raise invalid("role", f"应为 {'/'.join(ROLES)}")
    password = password or temporary_password()
    _check_password(password)
    with ctx.unit_of_work() as session:
        if session.get(UserRow, new.username) is not None:
            raise YidiError("ALREADY_EXISTS", {"what": "用户", "key": new.username})
        admdvs, psn_no, code = new.admdvs or None, new.psn_no or None, new.fixmedins_code or None
        if new.role == "person":
            person = session.get(PersonRow, psn_no or "")
            if person is None:
                raise YidiError("UNKNOWN_PERSON", {"key": psn_no or ""})
            admdvs = person.insuplc_admdvs
        elif new.role == "hospital":
            institution = session.get(InstitutionRow, code or "")
            if institution is None:
                raise YidiError("UNKNOWN_INSTITUTION", {"key": code or ""})
            admdvs = institution.admdvs
        elif admdvs:
            require_region(session, admdvs, "admdvs")
        elif new.role == "agency":
            raise invalid("admdvs", "经办机构账号须指定区划（市或省代码）")
        if not _in_scope(admin_admdvs, admdvs):
            raise YidiError("FORBIDDEN", {"detail": f"无权在区域 {admdvs or '全国'} 开设账号"})
        session.add(UserRow(username=new.username, password_hash=hash_password(password), role=new.role,
                            admdvs=admdvs, psn_no=psn_no if new.role == "person" else None,
                            fixmedins_code=code if new.role == "hospital" else None,
                            display_name=new.display_name or new.username, active=True))
        audit.record(session, actor, "user.add", new.username, {"role": new.role, "admdvs": admdvs or ""})
    return password


def _user(session: Session, username: str, admin_admdvs: str | None) -> UserRow:
    row = session.get(UserRow, username or "")
    if row is None or not _in_scope(admin_admdvs, row.admdvs):
        raise YidiError("NOT_FOUND", {"what": "用户", "key": username})
    return row


def set_active(ctx: AppContext, username: str, active: bool, *, actor: str, admin_admdvs: str | None = None) -> None:
    """Disable (or enable again) an account: a disabled user cannot log in and their sessions and tokens
    stop working at the next request (users.get_principal)."""
    with ctx.unit_of_work() as session:
        row = _user(session, username, admin_admdvs)
        if row.username == actor.removeprefix("admin:") and not active:
            raise YidiError("FORBIDDEN", {"detail": "不能停用自己的账号"})
        if row.active != active:
            row.active = active
            users.end_sessions(row)
            audit.record(session, actor, "user.enable" if active else "user.disable", username, {})


def reset_password(ctx: AppContext, username: str, password: str | None, *, actor: str,
                   admin_admdvs: str | None = None) -> str:
    password = password or temporary_password()
    _check_password(password)
    with ctx.unit_of_work() as session:
        row = _user(session, username, admin_admdvs)
        row.password_hash = hash_password(password)
        users.end_sessions(row)
        audit.record(session, actor, "user.reset_password", username, {})
    return password


def list_accounts(ctx: AppContext, *, role: str | None = None, admin_admdvs: str | None = None) -> list[dict[str, Any]]:
    with ctx.unit_of_work() as session:
        stmt = select(UserRow).order_by(UserRow.role, UserRow.username)
        if role:
            stmt = stmt.where(UserRow.role == role)
        return [{"username": r.username, "role": r.role, "admdvs": r.admdvs, "psn_no": r.psn_no,
                 "fixmedins_code": r.fixmedins_code, "display_name": r.display_name, "active": r.active}
                for r in session.scalars(stmt) if _in_scope(admin_admdvs, r.admdvs)]
