"""Special drugs (特药) and 双通道 pharmacies (B11, seed 004): which pharmacy dispenses which 特药 under the
双通道 arrangement, and which person is recognised (认定) for which 特药.

A pharmacy is an institution of kind ``pharmacy`` (定点零售药店, the interface's fixmedins_type 2) in
``institutions``; a hospital is kind ``hospital`` (定点医疗机构, fixmedins_type 1).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class DualChannelDrugRow(Base):
    """A pharmacy designated as a 双通道 pharmacy for one 特药 (by med_list_codg), from ``begndate``."""

    __tablename__ = "dual_channel_drugs"
    fixmedins_code: Mapped[str] = mapped_column(String(20), ForeignKey("institutions.fixmedins_code"),
                                                primary_key=True)
    med_list_codg: Mapped[str] = mapped_column(String(40), primary_key=True)
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(Text, default="")


class SpecialDrugRecognitionRow(Base):
    """特药待遇认定: the insured region recognises a person for one 特药, with the responsible hospital (责任医院)
    and doctor (责任医师) whose prescriptions a 双通道 pharmacy may fill (docs/policy-readings.md B-R28)."""

    __tablename__ = "special_drug_recognitions"
    recognition_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), index=True)
    med_list_codg: Mapped[str] = mapped_column(String(40))
    dise_codg: Mapped[str] = mapped_column(String(20), default="")
    fixmedins_code: Mapped[str] = mapped_column(String(20))  # 责任医院 (a hospital)
    doctor_code: Mapped[str] = mapped_column(String(30))  # 责任医师
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active / revoked
    actor: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
