"""B9/B10 under concurrency: terminals settling one person at once never pay past the cap.

Real threads, each with its own database connection from the pool, settle different stays of one person
whose remaining annual cap is small. On PostgreSQL the person row is locked FOR UPDATE; on SQLite every
write transaction begins IMMEDIATE. Either way: total fund paid ≤ what was left, and usage == the sum paid.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from datetime import date, timedelta

from sqlalchemy import select

from tests.api.test_fsi_support import file_filing
from yidi.adapters.orm import SettlementRow, UsageRow
from yidi.domain.errors import YidiError
from yidi.services import ledger, settlements, visits
from yidi.services.reference import get_institution, get_person

BEIJING = "H11000000001"
THREADS = 8
LEFT_FEN = 3_000_00  # 3000 yuan left under the cap; each stay alone would get 9435 yuan


def _cap_fen(ctx) -> tuple[int, str]:
    from yidi.domain.catalog import FeeItem

    cmd = settlements.SettleCommand(psn_no="P001", fixmedins_code=BEIJING, med_type="21", begntime=date(2023, 3, 1),
                                    endtime=date(2023, 3, 10), items=(FeeItem("X007", 800000),))
    with ctx.unit_of_work() as session:
        result, _ = settlements.compute(ctx, session, cmd, get_person(session, "P001"),
                                        get_institution(session, BEIJING))
    return result.cap_fen, str(result.cap_key)


def test_b9_concurrent_settlements_never_pay_past_the_cap(ctx):
    file_filing(ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    cap_fen, cap_key = _cap_fen(ctx)
    with ctx.unit_of_work() as session:
        session.add(UsageRow(psn_no="P001", year=2023, cap_key=cap_key, used_fen=cap_fen - LEFT_FEN))
    stays = []
    for n in range(THREADS):
        begin = date(2023, 3, 1) + timedelta(days=3 * n)
        visit = visits.register(ctx, fixmedins_code=BEIJING, psn_no="P001", med_type="21", begntime=begin)
        visits.discharge(ctx, fixmedins_code=BEIJING, mdtrt_id=visit.mdtrt_id, endtime=begin + timedelta(days=2))
        visits.upload_fees(ctx, fixmedins_code=BEIJING, mdtrt_id=visit.mdtrt_id, lines=[
            visits.FeeLine("1", "X007", 800000, cnt=Decimal(1)),
            visits.FeeLine("2", "X004", 400000, cnt=Decimal(1))])
        stays.append((visit.mdtrt_id, begin + timedelta(days=2)))

    barrier = threading.Barrier(THREADS)
    paid: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def terminal(mdtrt_id: str, endtime: date) -> None:
        barrier.wait()
        try:
            outcome = visits.settle(ctx, fixmedins_code=BEIJING, mdtrt_id=mdtrt_id, endtime=endtime)
            with lock:
                paid.append(int(outcome.fields["hifp_pay"].replace(".", "")))
        except YidiError as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc.code)

    threads = [threading.Thread(target=terminal, args=stay) for stay in stays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert len(paid) == THREADS
    assert sum(paid) <= LEFT_FEN
    assert sum(paid) == LEFT_FEN  # the stays together exhaust exactly what was left
    with ctx.unit_of_work() as session:
        used = session.scalars(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001",
                                                               UsageRow.cap_key == cap_key)).one()
        settled = session.scalars(select(SettlementRow.hifp_pay).where(SettlementRow.status == "settled")).all()
        assert used == cap_fen - LEFT_FEN + sum(settled)
        assert sum(settled) == sum(paid)
        assert ledger.trial_balance(session) == 0 and not ledger.unbalanced_entries(session)
