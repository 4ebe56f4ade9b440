"""Tables for funds (C1–C4): clearing runs and their lines, prepayments.

Ledger postings live in journal_entries/postings (adapters/orm.py); these tables keep what a run
decided so that re-running a month returns the same statement and posts nothing new (C2).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class ClearingRunRow(Base):
    """One monthly clearing (清算期), keyed by month: a second run of the month finds this row."""

    __tablename__ = "clearing_runs"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2024-03"
    period_end: Mapped[date] = mapped_column(Date)
    # The highest postings.id when the run read the data: later settlement/cancel entries are
    # exactly what changed since (used by finance reconciliation to name the settlements that differ).
    watermark_posting_id: Mapped[int] = mapped_column(BigInteger)
    current_count: Mapped[int] = mapped_column(Integer)
    current_fen: Mapped[int] = mapped_column(BigInteger)
    adjustment_count: Mapped[int] = mapped_column(Integer)
    adjustment_fen: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class ClearingLineRow(Base):
    """One insured city → treatment city flow of a run (清分到市); provinces are roll-ups of these."""

    __tablename__ = "clearing_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7), ForeignKey("clearing_runs.month"), index=True)
    insuplc_admdvs: Mapped[str] = mapped_column(String(6))
    mdtrtarea_admvs: Mapped[str] = mapped_column(String(6))
    insured_province: Mapped[str] = mapped_column(String(6))
    treatment_province: Mapped[str] = mapped_column(String(6))
    current_count: Mapped[int] = mapped_column(Integer)
    current_fen: Mapped[int] = mapped_column(BigInteger)  # 当月结算
    adjustment_count: Mapped[int] = mapped_column(Integer)
    adjustment_fen: Mapped[int] = mapped_column(BigInteger)  # 以前月份已清算、本月撤销/冲正（负数）
    net_fen: Mapped[int] = mapped_column(BigInteger)  # 本月应清算 = current + adjustment
    entry_id: Mapped[str] = mapped_column(String(48))
    __table_args__ = (UniqueConstraint("month", "insuplc_admdvs", "mdtrtarea_admvs", name="uq_clearing_line_flow"),)


class PrepaymentRow(Base):
    """Annual prepayment (预付金) of one flow, confirmed once per year (C1)."""

    __tablename__ = "prepayments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    payer_admdvs: Mapped[str] = mapped_column(String(6))  # insured side (province for cross-province flows)
    payee_admdvs: Mapped[str] = mapped_column(String(6))  # treatment side
    q4_total_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # 核定额度
    previous_fen: Mapped[int] = mapped_column(BigInteger)
    adjustment_fen: Mapped[int] = mapped_column(BigInteger)  # 调整额度 = amount − previous
    entry_id: Mapped[str | None] = mapped_column(String(48), nullable=True)
    confirmed_by: Mapped[str] = mapped_column(String(60))
    confirmed_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("year", "payer_admdvs", "payee_admdvs", name="uq_prepayment_flow_year"),)
