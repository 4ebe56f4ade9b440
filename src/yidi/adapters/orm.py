"""SQLAlchemy 2 tables. Money columns are BIGINT fen; dates are DATE; history tables are append-only.

The same metadata runs on SQLite (embedded default) and PostgreSQL; Alembic migrations are
generated from it (adapters/migrations).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, func, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


Money = BigInteger


class RegionRow(Base):
    __tablename__ = "regions"
    admdvs: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    province: Mapped[str] = mapped_column(String(6))


class InstitutionRow(Base):
    __tablename__ = "institutions"
    fixmedins_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    admdvs: Mapped[str] = mapped_column(String(6), ForeignKey("regions.admdvs"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    networked: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(20), default="hospital")  # hospital / pharmacy (B11 双通道)


class PersonRow(Base):
    __tablename__ = "persons"
    psn_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    certno: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), ForeignKey("regions.admdvs"), index=True)
    insutype: Mapped[str] = mapped_column(String(3))
    insu_status: Mapped[str] = mapped_column(String(10), default="active")  # active / suspended / ended
    acct_balc: Mapped[int] = mapped_column(Money, default=0)  # 个人账户余额 (fen)
    # Row version: settlement locks the person row, so concurrent settlements serialise per person.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)


class FilingRow(Base):
    __tablename__ = "filings"
    filing_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), index=True)
    insuplc_admdvs: Mapped[str] = mapped_column(String(6))
    filing_type: Mapped[str] = mapped_column(String(30))
    basis: Mapped[str] = mapped_column(String(12))
    mdtrtarea_admvs: Mapped[str] = mapped_column(String(6), index=True)
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date | None] = mapped_column(Date, nullable=True)
    apply_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), index=True)
    approve_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    replaces: Mapped[str | None] = mapped_column(String(32), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    commitment_text: Mapped[str] = mapped_column(Text, default="")  # the signed text (F3)
    commitment_signature: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class FilingEventRow(Base):
    """Append-only history of a filing: who, when, why (never updated or deleted)."""

    __tablename__ = "filing_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filing_id: Mapped[str] = mapped_column(String(32), ForeignKey("filings.filing_id"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(60))
    on_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class VisitRow(Base):
    """A stay or an outpatient visit registered by a hospital (2401 / 2201)."""

    __tablename__ = "visits"
    mdtrt_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), index=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), ForeignKey("institutions.fixmedins_code"), index=True)
    med_type: Mapped[str] = mapped_column(String(4))
    begntime: Mapped[date] = mapped_column(Date)
    endtime: Mapped[date | None] = mapped_column(Date, nullable=True)
    dise_codg: Mapped[str | None] = mapped_column(String(20), nullable=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    trauma_no_third_party: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # registered / discharged / settled / cancelled
    mdtrt_cert_type: Mapped[str] = mapped_column(String(4), default="02")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class FeeDetailRow(Base):
    __tablename__ = "fee_details"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(String(40), ForeignKey("visits.mdtrt_id"), index=True)
    feedetl_sn: Mapped[str] = mapped_column(String(40))
    init_feedetl_sn: Mapped[str | None] = mapped_column(String(40), nullable=True)
    med_list_codg: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100), default="")
    cnt: Mapped[str] = mapped_column(String(20))  # exact decimal text
    pric_fen: Mapped[int | None] = mapped_column(Money, nullable=True)
    det_item_fee_sumamt_fen: Mapped[int] = mapped_column(Money)
    fee_ocur_time: Mapped[date | None] = mapped_column(Date, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # false after 2302/2205 撤销
    __table_args__ = (Index("ix_fee_details_visit_sn", "mdtrt_id", "feedetl_sn"),)


class SettlementRow(Base):
    __tablename__ = "settlements"
    setl_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # direct / manual
    status: Mapped[str] = mapped_column(String(12), index=True)  # settled / cancelled / reversed
    visit_key: Mapped[str] = mapped_column(String(200), index=True)  # one paid claim per visit (S4, V3)
    mdtrt_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), index=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), index=True)
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), index=True)
    mdtrtarea_admvs: Mapped[str] = mapped_column(String(6), index=True)
    insutype: Mapped[str] = mapped_column(String(3))
    med_type: Mapped[str] = mapped_column(String(4))
    dise_codg: Mapped[str | None] = mapped_column(String(20), nullable=True)
    begntime: Mapped[date] = mapped_column(Date)
    endtime: Mapped[date] = mapped_column(Date)
    setl_date: Mapped[date] = mapped_column(Date, index=True)
    hospital_level: Mapped[int] = mapped_column(Integer)
    coverage_context: Mapped[str] = mapped_column(String(40))
    temporary_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    filing_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    medfee_sumamt: Mapped[int] = mapped_column(Money)
    fulamt_ownpay_amt: Mapped[int] = mapped_column(Money)
    overlmt_selfpay: Mapped[int] = mapped_column(Money)
    preselfpay_amt: Mapped[int] = mapped_column(Money)
    inscp_scp_amt: Mapped[int] = mapped_column(Money)
    first_selfpay: Mapped[int] = mapped_column(Money)
    act_pay_dedc: Mapped[int] = mapped_column(Money)
    hifp_pay: Mapped[int] = mapped_column(Money)
    pool_prop_selfpay: Mapped[int] = mapped_column(Money)
    fund_pay_sumamt: Mapped[int] = mapped_column(Money)
    psn_part_amt: Mapped[int] = mapped_column(Money)
    acct_pay: Mapped[int] = mapped_column(Money, default=0)
    ratio_bp: Mapped[int] = mapped_column(Integer)
    cap_key: Mapped[str] = mapped_column(String(40))
    cap_year: Mapped[int] = mapped_column(Integer)
    policy_version: Mapped[str] = mapped_column(String(40))
    catalog_version: Mapped[str] = mapped_column(String(40))
    review_flag: Mapped[str] = mapped_column(String(40), default="")  # e.g. trauma (B8)
    trace: Mapped[list] = mapped_column(JSON)
    splits: Mapped[list] = mapped_column(JSON, default=list)
    msgid: Mapped[str | None] = mapped_column(String(60), nullable=True)
    cancelled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    __table_args__ = (
        # At most one paid claim per visit, enforced by the database even under concurrency (S4, V3).
        Index("uq_settlements_paid_visit", "visit_key", unique=True,
              sqlite_where=func.coalesce(status, "") == "settled",
              postgresql_where=func.coalesce(status, "") == "settled"),
    )


class UsageRow(Base):
    """Year-to-date fund payments per person, calendar year and cap (B9, B10, baseline step 8)."""

    __tablename__ = "usage"
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    cap_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    used_fen: Mapped[int] = mapped_column(Money, default=0)


class JournalEntryRow(Base):
    """One balanced ledger transaction (TigerBeetle-style: append-only; corrections are new entries)."""

    __tablename__ = "journal_entries"
    entry_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # settlement / cancel / reversal / prepayment / clearing / recovery …
    ref: Mapped[str] = mapped_column(String(60), index=True)  # setl_id, clearing id …
    on_date: Mapped[date] = mapped_column(Date, index=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class PostingRow(Base):
    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(48), ForeignKey("journal_entries.entry_id"), index=True)
    account: Mapped[str] = mapped_column(String(80), index=True)  # e.g. "410800:统筹基金"
    amount_fen: Mapped[int] = mapped_column(Money)  # debit > 0, credit < 0; each entry sums to zero


class MessageRow(Base):
    """Idempotency on msgid: the first response to a message is stored and replayed (S3)."""

    __tablename__ = "messages"
    msgid: Mapped[str] = mapped_column(String(60), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), index=True)
    infno: Mapped[str] = mapped_column(String(8))
    body_sha256: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict] = mapped_column(JSON)
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class AuditRow(Base):
    """Append-only audit log of every write; each row chains the hash of the one before (verifiable)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(80))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class CredentialRow(Base):
    """Hospital interface credentials: an access key bound to one institution (and so one region)."""

    __tablename__ = "credentials"
    access_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), ForeignKey("institutions.fixmedins_code"), index=True)
    secret: Mapped[str] = mapped_column(String(128))
    algorithm: Mapped[str] = mapped_column(String(16), default="HMAC-SM3")  # or HMAC-SHA1 (compatibility)
    demo_only: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Issued credentials keep the secret encrypted (services/credentials.py, Fernet); ``secret`` then stays
    # empty. The HMAC check needs the secret itself, so it is encrypted, not hashed.
    secret_encrypted: Mapped[str] = mapped_column(Text, default="", server_default="")
    issued_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UserRow(Base):
    """People who log in to the pages and /api: person, hospital, agency, supervisor; scoped to a region."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(60), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2
    role: Mapped[str] = mapped_column(String(20))
    admdvs: Mapped[str | None] = mapped_column(String(6), nullable=True)  # region scope
    psn_no: Mapped[str | None] = mapped_column(String(30), nullable=True)
    fixmedins_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    display_name: Mapped[str] = mapped_column(String(60), default="")
    # Every page session and /api token carries the version it was issued under; logout, a password change
    # or disabling the user increments it, which ends them all at once (services/users.py).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
from yidi.adapters import orm_web  # noqa: E402,F401
from yidi.adapters import orm_funds  # noqa: E402,F401
from yidi.adapters import orm_ops  # noqa: E402,F401
from yidi.adapters import orm_audit  # noqa: E402,F401
from yidi.adapters import orm_fed  # noqa: E402,F401
from yidi.adapters import orm_fedclear  # noqa: E402,F401
from yidi.adapters import orm_interface  # noqa: E402,F401
from yidi.adapters import orm_accounts  # noqa: E402,F401
from yidi.adapters import orm_mapping  # noqa: E402,F401
from yidi.adapters import orm_claims  # noqa: E402,F401
from yidi.adapters import orm_pharmacy  # noqa: E402,F401
