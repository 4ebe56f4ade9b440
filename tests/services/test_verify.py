"""`yidi verify` finds what is wrong and passes what is right (real databases, real services)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from yidi.adapters.orm import UsageRow
from yidi.domain.catalog import FeeItem
from yidi.services.filings import FileCommand, file_filing
from yidi.services.settlements import SettleCommand, cancel, settle
from yidi.services.verify import verify


def _settle_p001(ctx, day: int = 10):
    file_filing(ctx, FileCommand(psn_no="P001", filing_type="retired_relocated", basis="commitment",
                                 mdtrtarea_admvs="110000", begndate=date(2023, 1, 10), apply_date=date(2023, 1, 10),
                                 channel="window", commitment_signature="张三"))
    return settle(ctx, SettleCommand(psn_no="P001", fixmedins_code="H11000000001", med_type="21",
                                     begntime=date(2023, 3, 1), endtime=date(2023, 3, day),
                                     items=(FeeItem("X007", 800000), FeeItem("X004", 400000))))


def test_s3_verify_passes_after_settle_and_cancel(ctx):
    view = _settle_p001(ctx)
    assert view.row_fields["hifp_pay"] == "9435.00"
    cancel(ctx, view.setl_id, date(2023, 3, 11))
    report = verify(ctx)
    assert report.ok, report.problems


def test_s3_verify_detects_usage_drift(ctx):
    _settle_p001(ctx)
    with ctx.unit_of_work() as session:
        session.execute(update(UsageRow).values(used_fen=UsageRow.used_fen + 1))
    report = verify(ctx)
    assert not report.ok
    assert report.checks["usage_matches_settlements"] != "ok"
