"""The audit log's hash chain, kept apart from the log itself (services/audit.py explains why).

``audit_seals`` is append-only like ``audit_log`` (triggers refuse UPDATE and DELETE, migration audit_0001):
one row per sealed audit row, in seal order (``seq``), each hash covering the previous one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class AuditSealRow(Base):
    __tablename__ = "audit_seals"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # chain order
    audit_id: Mapped[int] = mapped_column(Integer, ForeignKey("audit_log.id"), unique=True)  # sealed once
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(DateTime)
