"""Shared set-up for the supervision tests: real filings and real settlements through the services."""

from __future__ import annotations

from datetime import date

from yidi.domain.catalog import FeeItem
from yidi.services.filings import FileCommand, file_filing
from yidi.services.settlements import SettleCommand, settle


def file_p001_beijing(ctx) -> None:
    file_filing(ctx, FileCommand(psn_no="P001", filing_type="retired_relocated", basis="commitment",
                                 mdtrtarea_admvs="110000", begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10),
                                 channel="window", commitment_signature="张三"))


def stay(ctx, begin: date, end: date, *, hospital: str = "H11000000001", kind: str = "direct",
         dise: str | None = "I21.0", amount_fen: int = 800_000, psn_no: str = "P001", med_type: str = "21"):
    return settle(ctx, SettleCommand(psn_no=psn_no, fixmedins_code=hospital, med_type=med_type, begntime=begin,
                                     endtime=end, items=(FeeItem("X007", amount_fen),), dise_codg=dise, kind=kind,
                                     setl_date=end))  # history replayed: settled on the day of discharge
