"""Helpers for the funds tests (C1–C5): real filings and settlements through the services."""

from __future__ import annotations

from datetime import date

from yidi.domain.catalog import FeeItem
from yidi.services.filings import FileCommand, file_filing
from yidi.services.settlements import SettleCommand, cancel, settle

# person → (treatment area filed, hospital there). 410800 焦作 → 北京, 371400 德州 → 上海,
# 420100 武汉 → 北京, 410800 焦作 → 410100 郑州 (same province, cross-city).
ROUTES = {
    "P001": ("110000", "H11000000001"),
    "P002": ("310000", "H31000000001"),
    "P003": ("110000", "H11000000002"),
    "P004": ("410100", "H41010000001"),
}


def file_all(ctx, begndate: date = date(2023, 1, 2)) -> None:
    for psn_no, (area, _) in ROUTES.items():
        file_filing(ctx, FileCommand(psn_no=psn_no, filing_type="long_term_resident", basis="proof",
                                     mdtrtarea_admvs=area, begndate=begndate, apply_date=begndate, channel="window"))


def settle_at(ctx, psn_no: str, day: date, amount_fen: int = 500_000, *, local: bool = False) -> str:
    """An inpatient stay of one day; ``local`` settles at the person's home-city hospital instead."""
    hospital = "H41080000001" if local else ROUTES[psn_no][1]
    view = settle(ctx, SettleCommand(psn_no=psn_no, fixmedins_code=hospital, med_type="21", begntime=day,
                                     endtime=day, items=(FeeItem(code="X004", amount_fen=amount_fen),),
                                     setl_date=day))  # history replayed: settled on the day of discharge
    return view.setl_id


def cancel_on(ctx, setl_id: str, day: date, *, reversal: bool = False) -> None:
    cancel(ctx, setl_id, on=day, reversal=reversal)
