"""Reference data: regions, institutions, persons, credentials, users (load, look up, validate)."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import CredentialRow, InstitutionRow, PersonRow, RegionRow, UserRow
from yidi.adapters.orm_pharmacy import DualChannelDrugRow
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import MoneyFormatError, yuan_to_fen
from yidi.domain.regions import is_valid_admdvs, province_of
from yidi.services.context import AppContext
from yidi.services.scope import RegionScope

DEMO_DATA = Path(str(resources.files("yidi.demo") / "data" / "reference.yaml"))

_CERTNO = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def certno_problem(certno: str) -> str | None:
    """GB 11643 resident ID: 18 characters, a real birth date, and (for real numbers) the check digit.

    The baseline's demo numbers do not carry valid check digits, so the check digit is reported but
    only the format and the birth date are enforced (documented in docs/policy-readings.md).
    """
    certno = (certno or "").strip().upper()
    if not _CERTNO.match(certno):
        return "证件号码应为18位（最后一位可为X）"
    try:
        date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))
    except ValueError:
        return "证件号码中的出生日期无效"
    return None


def certno_checksum_ok(certno: str) -> bool:
    total = sum(int(c) * w for c, w in zip(certno[:17], _WEIGHTS))
    return _CHECK[total % 11] == certno[17].upper()


def mask_certno(certno: str) -> str:
    return f"{certno[:6]}********{certno[-4:]}" if len(certno) >= 10 else "****"


def load_reference(ctx: AppContext, path: Path = DEMO_DATA, *, persons: bool = True) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    with ctx.unit_of_work() as session:
        for region in data["regions"]:
            session.merge(RegionRow(admdvs=region["admdvs"], name=region["name"], province=province_of(region["admdvs"])))
        session.flush()
        for inst in data["institutions"]:
            session.merge(InstitutionRow(**inst))
        session.flush()
        for entry in data.get("dual_channel_drugs", []):  # B11 双通道 pharmacies (orm_pharmacy)
            session.merge(DualChannelDrugRow(**entry))
        if persons:
            for person in data["persons"]:
                session.merge(PersonRow(**person | {"acct_balc": yuan_to_fen(person.get("acct_balc", 0))}))
        if data.get("demo_credentials"):
            for inst in data["institutions"]:
                code = inst["fixmedins_code"]
                session.merge(CredentialRow(access_key=f"demo-{code}", fixmedins_code=code,
                                            secret=f"demo-secret-{code}", algorithm="HMAC-SM3", demo_only=True))
    loaded: dict[str, Any] = data
    return loaded


def add_person(session: Session, *, psn_no: str, name: str, certno: str, insuplc_admdvs: str, insutype: str,
               insu_status: str = "active", acct_balc: str | int = 0) -> PersonRow:
    """A person; ``acct_balc`` is the personal account balance in yuan (职工 only, B9)."""
    problem = certno_problem(certno)
    if problem:
        raise invalid("certno", problem)
    require_region(session, insuplc_admdvs, "insuplc_admdvs")
    if insutype not in ("310", "390"):
        raise invalid("insutype", "应为 310 职工 或 390 居民")
    try:
        balance = yuan_to_fen(acct_balc)
    except MoneyFormatError as exc:
        raise invalid("acct_balc", str(exc)) from None
    if balance < 0 or (balance and insutype != "310"):
        raise invalid("acct_balc", "个人账户余额不能为负数；城乡居民（390）没有个人账户")
    row = PersonRow(psn_no=psn_no, name=name, certno=certno.upper(), insuplc_admdvs=insuplc_admdvs,
                    insutype=insutype, insu_status=insu_status, acct_balc=balance)
    session.add(row)
    return row


def get_person(session: Session, psn_no: str, *, for_update: bool = False) -> PersonRow:
    stmt = select(PersonRow).where(PersonRow.psn_no == psn_no)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise YidiError("UNKNOWN_PERSON", {"key": psn_no})
    return row


def find_person_by_certno(session: Session, certno: str) -> PersonRow:
    row = session.scalars(select(PersonRow).where(PersonRow.certno == (certno or "").strip().upper())).first()
    if row is None:
        raise YidiError("UNKNOWN_PERSON", {"key": mask_certno(certno or "")})
    return row


def get_institution(session: Session, code: str) -> InstitutionRow:
    row = session.get(InstitutionRow, code) if code else None
    if row is None or not row.networked:
        raise YidiError("UNKNOWN_INSTITUTION", {"key": code})
    return row


def require_region(session: Session, admdvs: str, field_name: str = "mdtrtarea_admvs") -> RegionRow:
    """A region code the directory knows; otherwise INVALID_INPUT naming the field (out of range)."""
    row = session.get(RegionRow, admdvs) if is_valid_admdvs(admdvs or "") else None
    if row is None:
        raise invalid(field_name, f"行政区划代码 {admdvs!r} 不在目录中，请使用6位代码（如 110000 北京市、410100 郑州市）")
    return row


def list_regions(ctx: AppContext) -> list[dict[str, Any]]:
    with ctx.unit_of_work() as session:
        return [{"admdvs": r.admdvs, "name": r.name, "province": r.province}
                for r in session.scalars(select(RegionRow).order_by(RegionRow.admdvs))]


def list_institutions(ctx: AppContext, *, admdvs: str | None = None, level: int | None = None) -> list[dict[str, Any]]:
    """Networked institutions (F2: a filing covers every one of them in the filed city or province).
    A province code covers its cities."""
    if admdvs is not None and not is_valid_admdvs(admdvs):
        raise YidiError("UNKNOWN_REGION", {"key": admdvs})
    if level is not None and level not in (1, 2, 3):
        raise invalid("level", "医院等级应为 1、2 或 3")
    with ctx.unit_of_work() as session:
        stmt = select(InstitutionRow).where(InstitutionRow.networked.is_(True)).order_by(InstitutionRow.fixmedins_code)
        if admdvs:
            stmt = stmt.where(RegionScope(admdvs).where(InstitutionRow.admdvs))
        if level is not None:
            stmt = stmt.where(InstitutionRow.level == level)
        return [{"fixmedins_code": r.fixmedins_code, "name": r.name, "admdvs": r.admdvs, "level": r.level,
                 "kind": r.kind} for r in session.scalars(stmt)]


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow)))
