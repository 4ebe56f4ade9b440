"""Federation clearing tables (issue 17).

On every province node: ``event_outbox`` — each cross-province settlement event (settled / cancelled / reversed)
written in the same transaction as the business write, published to JetStream afterwards and marked sent after the
stream's acknowledgement, so an event can never be lost after the local commit.

On the hub: ``hub_settlements`` — the national 清分 ledger built from both sides' events, one row per side and
settlement (the latest state), and ``hub_events`` — every event id the hub has applied, written in the same
transaction as the row it changed, so a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class EventOutboxRow(Base):
    __tablename__ = "event_outbox"
    # publish order; BIGINT on PostgreSQL (a busy node writes millions a year), INTEGER on SQLite (its rowid)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)  # Nats-Msg-Id: <side>:<setl_id>:<status>
    subject: Mapped[str] = mapped_column(String(40))  # events.<side>.<province> (the federation prefix is added)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)


class HubSettlementRow(Base):
    """One side's view of one cross-province settlement, as the hub received it."""

    __tablename__ = "hub_settlements"
    side: Mapped[str] = mapped_column(String(10), primary_key=True)  # insured / treatment
    setl_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(60))  # the hospital's msgid (the request id across nodes)
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))  # settled / cancelled / reversed
    insuplc_admdvs: Mapped[str] = mapped_column(String(6))
    mdtrtarea_admvs: Mapped[str] = mapped_column(String(6))
    insured_province: Mapped[str] = mapped_column(String(6), index=True)
    treatment_province: Mapped[str] = mapped_column(String(6), index=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20))
    setl_date: Mapped[date] = mapped_column(Date, index=True)
    cancelled_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)  # fen
    fund_pay_sumamt: Mapped[int] = mapped_column(BigInteger)  # fen
    acct_pay: Mapped[int] = mapped_column(BigInteger)  # fen
    updated_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class HubEventRow(Base):
    __tablename__ = "hub_events"
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    stream_seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
