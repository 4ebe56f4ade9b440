"""Supervision tables (V1–V3, C5): leads found by the rules and the 协查 investigations on them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class LeadRow(Base):
    """A suspicious finding with its evidence. ``fingerprint`` makes re-running the rules idempotent."""

    __tablename__ = "supervision_leads"
    lead_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(String(40), index=True)
    rule_ids: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    psn_no: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    fixmedins_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), index=True)
    mdtrtarea_admvs: Mapped[str] = mapped_column(String(6), index=True)
    setl_ids: Mapped[list] = mapped_column(JSON)
    evidence: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), index=True)  # open / assigned / closed
    found_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class InvestigationRow(Base):
    """协查: one region asks another to look into a lead; the outcome and any recovered amount (C5)."""

    __tablename__ = "supervision_investigations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_leads.lead_id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(60))
    requesting_admdvs: Mapped[str] = mapped_column(String(6))
    assigned_admdvs: Mapped[str] = mapped_column(String(6), index=True)
    assigned_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # confirmed / unfounded
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    recovered_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    recovery_setl_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
