"""C5: supervision recoveries and deductions go back to the insured region's account; fines stay with
the treatment region (seed 001 六)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.services._funds import cancel_on, file_all, settle_at
from yidi.adapters.orm import PostingRow, SettlementRow
from yidi.domain.errors import YidiError
from yidi.services import ledger
from yidi.services.recoveries import record_recovery


def _postings(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(PostingRow))


def test_c5_recovery_goes_back_to_the_insured_region_and_a_fine_stays_with_the_treatment_region(ctx):
    file_all(ctx)
    setl_id = settle_at(ctx, "P001", date(2024, 3, 3))  # 焦作 insured, treated at 北京 H11000000001
    with ctx.unit_of_work() as session:
        fund = ledger.cleared_amount(session.get(SettlementRow, setl_id))
    recovery = record_recovery(ctx, setl_id, 10_000, "recovery", on=date(2024, 6, 1))
    fine = record_recovery(ctx, setl_id, 50_000, "fine", on=date(2024, 6, 1))
    with ctx.unit_of_work() as session:
        lines = dict(session.execute(select(PostingRow.account, PostingRow.amount_fen)
                                     .where(PostingRow.entry_id == recovery)).all())
        assert lines == {"110000:应付医疗机构:H11000000001": 10_000, "110000:财政专户存款": -10_000,
                         "410800:财政专户存款": 10_000, "410800:基金追回收入": -10_000}
        fined = dict(session.execute(select(PostingRow.account, PostingRow.amount_fen)
                                     .where(PostingRow.entry_id == fine)).all())
        assert fined == {"110000:应付医疗机构:H11000000001": 50_000, "110000:罚没及违约金收入": -50_000}
        assert ledger.balance(session, "410800:罚没及违约金收入") == 0  # nothing of the fine reaches 焦作
        assert ledger.verify(session) == []
    # recoveries for one settlement never exceed what the fund paid for it
    record_recovery(ctx, setl_id, fund - 10_000, "recovery")
    before = _postings(ctx)
    with pytest.raises(YidiError) as caught:
        record_recovery(ctx, setl_id, 1, "recovery")
    assert caught.value.code == "RECOVERY_EXCEEDS"
    assert _postings(ctx) == before


def test_c5_bad_input_is_refused_and_changes_nothing(ctx):
    file_all(ctx)
    setl_id = settle_at(ctx, "P002", date(2024, 3, 3))
    before = _postings(ctx)
    for args, code in (((setl_id, 100, "refund"), "INVALID_INPUT"), ((setl_id, 0, "recovery"), "INVALID_INPUT"),
                       ((setl_id, -5, "fine"), "INVALID_INPUT"), (("SLNOPE", 100, "recovery"), "SETTLEMENT_NOT_FOUND")):
        with pytest.raises(YidiError) as caught:
            record_recovery(ctx, *args)
        assert caught.value.code == code
    cancel_on(ctx, setl_id, date(2024, 3, 4))
    after_cancel = _postings(ctx)
    with pytest.raises(YidiError) as caught:
        record_recovery(ctx, setl_id, 100, "recovery")
    assert caught.value.code == "SETTLEMENT_NOT_CLEARABLE"
    assert _postings(ctx) == after_cancel > before
