"""Operations tables (issue 9, I2): planned outage windows of insured regions and the deferred-settlement queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class RegionStatusRow(Base):
    """A window during which an insured region's side is unavailable (planned outage night, or an incident).

    Local time, like every timestamp the interface exchanges. ``ends_at`` is exclusive; clearing an outage
    sets it to now, so the history of windows stays."""

    __tablename__ = "region_status"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    admdvs: Mapped[str] = mapped_column(String(6), index=True)  # a province code covers its cities
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class DeferredSettlementRow(Base):
    """A 2304/2207 that arrived while the person's insured region was out: the message is kept whole so that
    ``yidi ops drain`` (or the next call after the outage) settles it through the interface's own write path,
    storing the answer under the original msgid — the hospital resends that msgid and gets its settlement."""

    __tablename__ = "deferred_settlements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(String(40), index=True)
    msgid: Mapped[str] = mapped_column(String(60), unique=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20))
    infno: Mapped[str] = mapped_column(String(4))
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), index=True)
    request: Mapped[dict] = mapped_column(JSON)  # the message's ``input`` and envelope facts needed to replay it
    reason: Mapped[str] = mapped_column(String(200))
    queued_at: Mapped[datetime] = mapped_column(DateTime)
    # queued → settled (drained) / refused (the replay got a business refusal; result holds the code)
    # / settled_elsewhere (the visit was settled by another message or a manual claim meanwhile)
    state: Mapped[str] = mapped_column(String(20), index=True, default="queued")
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[str] = mapped_column(String(200), default="")
