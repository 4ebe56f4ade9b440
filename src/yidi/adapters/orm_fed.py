"""Federation tables (issue 16): what a node keeps of a settlement whose person is insured in another province,
and the hub's national person index."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base
from yidi.domain.money import yuan_to_fen


class TreatmentSettlementRow(Base):
    """The treatment node's side of a cross-province settlement: what its hospital is owed and what it
    answered the HIS. The insured node holds the settlement itself (usage, fund liability, trace); this row
    carries the insured node's ``setl_id`` and answer so that 2305/2208/2601 and reconciliation find it here."""

    __tablename__ = "treatment_settlements"
    setl_id: Mapped[str] = mapped_column(String(24), primary_key=True)  # the insured node's settlement id
    request_id: Mapped[str] = mapped_column(String(60), unique=True)  # the msgid the insured node stored it under
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))  # settled / cancelled / reversed
    psn_no: Mapped[str] = mapped_column(String(30), index=True)  # no foreign key: the person lives elsewhere
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), index=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20), ForeignKey("institutions.fixmedins_code"), index=True)
    mdtrtarea_admvs: Mapped[str] = mapped_column(String(6))
    mdtrt_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    insutype: Mapped[str] = mapped_column(String(3))
    med_type: Mapped[str] = mapped_column(String(4))
    begntime: Mapped[date] = mapped_column(Date)
    endtime: Mapped[date] = mapped_column(Date)
    setl_date: Mapped[date] = mapped_column(Date, index=True)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)  # fen
    fund_pay_sumamt: Mapped[int] = mapped_column(BigInteger)  # fen: payable to the hospital by the insured side
    psn_part_amt: Mapped[int] = mapped_column(BigInteger)  # fen
    hifp_pay: Mapped[int] = mapped_column(BigInteger)  # fen
    acct_pay: Mapped[int] = mapped_column(BigInteger, default=0)  # fen (personal account: not used, as on one node)
    answer: Mapped[dict] = mapped_column(JSON)  # the insured node's row fields, as the HIS was answered
    cancelled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


def _answered_fen(name: str) -> property:
    return property(lambda row: yuan_to_fen(row.answer[name]), doc=f"{name} in fen, as the insured node answered")


def _answered(name: str) -> property:
    return property(lambda row: row.answer.get(name))


# The rest of a settlement's columns, read from the insured node's answer, so that the interface's answers
# (2305/2208's refund slip) read this row like a SettlementRow.
for _name in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "first_selfpay",
              "act_pay_dedc", "pool_prop_selfpay"):
    setattr(TreatmentSettlementRow, _name, _answered_fen(_name))
for _column, _key in (("coverage_context", "coverage"), ("filing_id", "filing_id"),
                      ("policy_version", "policy_version"), ("catalog_version", "catalog_version")):
    setattr(TreatmentSettlementRow, _column, _answered(_key))
TreatmentSettlementRow.ratio_bp = property(
    lambda row: int(Decimal(str(row.answer["ratio"]).rstrip("%")) * 100), doc="the ratio in basis points")
TreatmentSettlementRow.msgid = property(lambda row: row.request_id, doc="the hospital's msgid (request id)")


class PersonIndexRow(Base):
    """The hub's national person index: certificate number / person number → insured region. Nothing else of
    the person leaves the insured node."""

    __tablename__ = "person_index"
    certno: Mapped[str] = mapped_column(String(18), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), unique=True)
    insuplc_admdvs: Mapped[str] = mapped_column(String(6), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
