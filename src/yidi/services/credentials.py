"""Hospital interface credentials (access key + secret): issue, rotate, revoke, list — and their encryption.

The interface checks an HMAC signature computed with the secret (interface/signing.py), so the server must be able
to read the secret back: it is *encrypted* at rest, not hashed. Encryption is Fernet (AES-128-CBC +
HMAC-SHA256, from the cryptography package) with the key(s) in ``YIDI_CREDENTIAL_KEY``: comma-separated
Fernet keys, the first encrypts and every one decrypts, so a key is rotated by putting the new key first,
running ``yidi credential rekey`` and then dropping the old key. Without the setting (development only:
production refuses to start, config.production_problems) the key is derived from ``YIDI_SECRET_KEY``.

A secret is shown once, when issued or rotated; it is never logged or written to the audit log. Demo
credentials (``demo_only``) keep their published plain secrets in ``secret``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import CredentialRow, InstitutionRow
from yidi.config import get_settings, secret_text
from yidi.domain.credentials import ALGORITHMS
from yidi.domain.errors import YidiError, invalid
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.scope import admin_scope


def cipher() -> MultiFernet:
    settings = get_settings()
    keys = [key.strip() for key in secret_text(settings.credential_key).split(",") if key.strip()]
    if not keys:
        derived = hashlib.sha256(b"yidi-credential-key:" + secret_text(settings.secret_key).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise invalid("YIDI_CREDENTIAL_KEY", "应为逗号分隔的 Fernet 密钥（yidi credential new-key 生成）") from None


def new_key() -> str:
    """A fresh Fernet key for YIDI_CREDENTIAL_KEY."""
    return Fernet.generate_key().decode()


def secret_of(row: CredentialRow) -> str:
    """The plain secret the HMAC check needs (decrypted; demo rows keep theirs in ``secret``)."""
    if not row.secret_encrypted:
        return row.secret
    try:
        return cipher().decrypt(row.secret_encrypted.encode()).decode()
    except InvalidToken:
        # encrypted under a key no longer configured: the credential cannot be used (refused as AUTH_FAILED)
        return ""


@dataclass(frozen=True)
class Credential:
    """An active credential as the interface checks a signature with it (interface/authentication.py)."""

    access_key: str
    fixmedins_code: str
    admdvs: str  # the institution's region
    secret: SecretStr  # never printed (repr, logs): read with .get_secret_value() where a signature is checked
    algorithm: str
    demo_only: bool


def active_credential(ctx: AppContext, access_key: str) -> Credential | None:
    """The active credential with this access key, its secret decrypted ("" when no configured key reads
    it); None when the key is unknown or revoked."""
    with ctx.unit_of_work() as session:
        found = session.execute(select(CredentialRow, InstitutionRow.admdvs)
                                .join(InstitutionRow, InstitutionRow.fixmedins_code == CredentialRow.fixmedins_code)
                                .where(CredentialRow.access_key == access_key, CredentialRow.active.is_(True))).first()
    if found is None:
        return None
    row, admdvs = found
    return Credential(row.access_key, row.fixmedins_code, admdvs, SecretStr(secret_of(row)), row.algorithm,
                      row.demo_only)


@dataclass(frozen=True)
class Issued:
    access_key: str
    secret: str  # shown once
    fixmedins_code: str
    algorithm: str


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _scope(session: Session, admin_admdvs: str | None, fixmedins_code: str) -> InstitutionRow:
    institution = session.get(InstitutionRow, fixmedins_code or "")
    if institution is None:
        raise YidiError("UNKNOWN_INSTITUTION", {"key": fixmedins_code})
    if not admin_scope(admin_admdvs).covers(institution.admdvs):
        raise YidiError("FORBIDDEN", {"detail": f"无权管理区域 {institution.admdvs} 的机构密钥"})
    return institution


def issue(ctx: AppContext, fixmedins_code: str, *, actor: str, algorithm: str = "HMAC-SM3",
          admin_admdvs: str | None = None) -> Issued:
    if algorithm not in ALGORITHMS:
        raise invalid("algorithm", f"应为 {'、'.join(ALGORITHMS)}")
    access_key = f"{fixmedins_code}-{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    with ctx.unit_of_work() as session:
        _scope(session, admin_admdvs, fixmedins_code)
        session.add(CredentialRow(access_key=access_key, fixmedins_code=fixmedins_code, secret="",
                                  secret_encrypted=cipher().encrypt(secret.encode()).decode(), algorithm=algorithm,
                                  demo_only=False, active=True, issued_at=_now()))
        audit.record(session, actor, "credential.issue", access_key,
                     {"fixmedins_code": fixmedins_code, "algorithm": algorithm})
    return Issued(access_key, secret, fixmedins_code, algorithm)


def _get(session: Session, access_key: str, admin_admdvs: str | None) -> CredentialRow:
    row = session.get(CredentialRow, access_key or "")
    if row is None or row.demo_only:
        raise YidiError("NOT_FOUND", {"what": "接口密钥", "key": access_key})
    _scope(session, admin_admdvs, row.fixmedins_code)
    return row


def rotate(ctx: AppContext, access_key: str, *, actor: str, admin_admdvs: str | None = None) -> Issued:
    """A new secret for the same access key; the old secret stops working (each server process within
    fsi.CREDENTIAL_TTL seconds). For a switch without a gap, issue a second key, move the HIS, revoke the first."""
    secret = secrets.token_urlsafe(32)
    with ctx.unit_of_work() as session:
        row = _get(session, access_key, admin_admdvs)
        if not row.active:
            raise YidiError("NOT_FOUND", {"what": "有效的接口密钥", "key": access_key})
        row.secret_encrypted = cipher().encrypt(secret.encode()).decode()
        row.issued_at = _now()
        audit.record(session, actor, "credential.rotate", access_key, {"fixmedins_code": row.fixmedins_code})
        return Issued(access_key, secret, row.fixmedins_code, row.algorithm)


def revoke(ctx: AppContext, access_key: str, *, actor: str, admin_admdvs: str | None = None) -> None:
    with ctx.unit_of_work() as session:
        row = _get(session, access_key, admin_admdvs)
        if row.active:
            row.active = False
            row.revoked_at = _now()
            audit.record(session, actor, "credential.revoke", access_key, {"fixmedins_code": row.fixmedins_code})


def list_credentials(ctx: AppContext, *, fixmedins_code: str | None = None,
                     admin_admdvs: str | None = None) -> list[dict[str, Any]]:
    """Issued credentials (never their secrets), in the administrator's region."""
    with ctx.unit_of_work() as session:
        stmt = (select(CredentialRow, InstitutionRow.name, InstitutionRow.admdvs)
                .join(InstitutionRow, InstitutionRow.fixmedins_code == CredentialRow.fixmedins_code)
                .where(CredentialRow.demo_only.is_(False)).order_by(CredentialRow.fixmedins_code,
                                                                     CredentialRow.access_key))
        if fixmedins_code:
            stmt = stmt.where(CredentialRow.fixmedins_code == fixmedins_code)
        return [{"access_key": row.access_key, "fixmedins_code": row.fixmedins_code, "institution": name,
                 "admdvs": admdvs, "algorithm": row.algorithm, "active": row.active, "issued_at": row.issued_at,
                 "revoked_at": row.revoked_at}
                for row, name, admdvs in session.execute(stmt)
                if admin_scope(admin_admdvs).covers(admdvs)]


def rekey(ctx: AppContext, *, actor: str) -> tuple[int, list[str]]:
    """Re-encrypt every issued secret under the first YIDI_CREDENTIAL_KEY (after putting a new key first).
    Returns (re-encrypted, access keys no configured key can read). Drop an old key only when the second
    list holds no active key: those credentials would stop working."""
    fernet = cipher()
    count, unreadable = 0, []
    with ctx.unit_of_work() as session:
        for row in session.scalars(select(CredentialRow).where(CredentialRow.secret_encrypted != "")
                                   .order_by(CredentialRow.access_key)):
            try:
                row.secret_encrypted = fernet.rotate(row.secret_encrypted.encode()).decode()
                count += 1
            except InvalidToken:
                unreadable.append(row.access_key + ("" if row.active else "（已吊销）"))
        audit.record(session, actor, "credential.rekey", "*", {"count": count, "unreadable": len(unreadable)})
    return count, unreadable
