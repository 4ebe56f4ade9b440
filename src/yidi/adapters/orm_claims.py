"""零星报销 applications (S4) and their attachments: what the person submitted and what the clerk decided."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class ManualClaimRow(Base):
    """One claim from submission to payment. ``setl_id`` is set when the approval booked the settlement."""

    __tablename__ = "manual_claims"
    claim_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), index=True)
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), index=True)  # whose clerk reviews it
    fixmedins_code: Mapped[str] = mapped_column(String(20))
    mdtrt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a visit the hospital uploaded
    med_type: Mapped[str] = mapped_column(String(4))
    dise_codg: Mapped[str | None] = mapped_column(String(20), nullable=True)
    begntime: Mapped[date] = mapped_column(Date)
    endtime: Mapped[date] = mapped_column(Date)
    items: Mapped[list] = mapped_column(JSON)  # [{code, amount (fen), qty, price (fen)|None}]
    emergency: Mapped[bool] = mapped_column(default=False)
    trauma_no_third_party: Mapped[bool | None] = mapped_column(nullable=True)
    visit_key: Mapped[str] = mapped_column(String(200), index=True)
    bank_name: Mapped[str] = mapped_column(String(60))
    bank_account: Mapped[str] = mapped_column(String(30))
    account_name: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12), index=True)  # domain.claims.ClaimStatus
    submitted_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    submitted_by: Mapped[str] = mapped_column(String(60))
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    setl_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    paid_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    payment_ref: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class ClaimAttachmentRow(Base):
    """An invoice or fee-list file, stored in the database with the claim (one transaction, one backup)."""

    __tablename__ = "manual_claim_attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(24), ForeignKey("manual_claims.claim_id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # domain.claims.AttachmentKind
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
