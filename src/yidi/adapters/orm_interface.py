"""Tables of the hospital interface itself (issue 18, issue 13): requests already seen (replay guard),
files exchanged by 9101/9102, clearing applications (3203) and the treatment side's confirmations of
清分 (3261/3262)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base, Money


class SeenRequestRow(Base):
    """One signed request already answered: the TIF nonce or the CSB signature, kept for twice the clock window.
    The primary key makes "seen once" hold across worker processes and nodes sharing the database."""

    __tablename__ = "interface_seen_requests"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    seen_at: Mapped[int] = mapped_column(Integer, index=True)  # Unix seconds


class InterfaceFileRow(Base):
    """A file uploaded by 9101 (e.g. 3202's settlement details) or produced for 9102 (3202's result)."""

    __tablename__ = "interface_files"
    file_qury_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    dld_endtime: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class ClearingApplicationRow(Base):
    """3203 清算申请: the institution's declared totals for a period and clearing type; 3204 withdraws it."""

    __tablename__ = "interface_clearing_applications"
    clr_appy_evt_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), index=True)
    clr_optins: Mapped[str] = mapped_column(String(6))
    clr_type: Mapped[str] = mapped_column(String(10))
    setlym: Mapped[str] = mapped_column(String(6))
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date] = mapped_column(Date)
    psntime: Mapped[int] = mapped_column(Integer)
    medfee_sumamt: Mapped[int] = mapped_column(Money)
    fund_appy_sum: Mapped[int] = mapped_column(Money)
    acct_pay: Mapped[int] = mapped_column(Money)
    cash_payamt: Mapped[int] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(12))  # applied / withdrawn
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class ClearingConfirmationRow(Base):
    """3261 清分确认 of one settlement by the treating institution; 3262 rolls it back (status)."""

    __tablename__ = "interface_clearing_confirmations"
    setl_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), index=True)
    clr_ym: Mapped[str] = mapped_column(String(6), index=True)
    fund_pay_sumamt: Mapped[int] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(12))  # confirmed / rolled_back
    updated_at: Mapped[datetime] = mapped_column(DateTime)
