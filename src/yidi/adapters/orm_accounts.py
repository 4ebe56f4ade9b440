"""Two-person confirmation of money movements (issue 19): one user asks, a different one approves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class ApprovalRow(Base):
    """A request to move money (C1 prepayment confirm, C2 clearing of the country) and its approval."""

    __tablename__ = "money_approvals"
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    action: Mapped[str] = mapped_column(String(40))  # prepayment.confirm / clearing.run
    params: Mapped[dict] = mapped_column(JSON)
    initiator: Mapped[str] = mapped_column(String(60))
    initiated_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending / done / withdrawn
    approver: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[str] = mapped_column(String(200), default="")
