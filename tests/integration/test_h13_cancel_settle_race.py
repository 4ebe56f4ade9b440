"""Issue 13: a cancel (2305) and a settle (2304) of the same visit at the same moment, on real threads over real
HTTP. Before, they locked the visit, the person and the settlement in opposite orders; PostgreSQL broke the
deadlock by killing one, and the hospital read "参保地系统暂时不可用". Now both lock visit → person → settlement,
and a transaction the database still ends as a conflict's loser is run again inside the server
(services/transactions.py). Whatever the order, every answer is a business answer and the books stay right.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import select

from tests.api.test_fsi_support import client_for, ok, serving
from yidi.adapters.orm import SettlementRow
from yidi.client import fee_row
from yidi.services.demo import load_demo
from yidi.services.verify import verify

ROUNDS = 12


def _at_once(*calls):
    """Run the calls on threads released together; their answers in order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        answers[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_h13_cancel_and_settle_of_the_same_visit_at_once_never_answer_unavailable(ctx):
    ctx.demo_mode = True
    load_demo(ctx)  # P001: long-term filing for 北京
    day = date.today() - timedelta(days=2)
    with serving(ctx) as server:
        # three terminals of one hospital: disjoint msgid sequences
        setup, canceller, settler = (client_for(server, seq_range=(k * 3000, (k + 1) * 3000)) for k in range(3))
        outcomes = []
        for _ in range(ROUNDS):
            mdtrt_id = ok(setup.admit("P001", "21", day.isoformat(), insutype="310"))["result"]["mdtrt_id"]
            ok(setup.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X004", "3000.00", cnt=1, pric="3000.00")]))
            ok(setup.discharge(mdtrt_id, day.isoformat()))
            setl_id = ok(setup.settle_inpatient(mdtrt_id))["setlinfo"]["setl_id"]
            cancel, settle = _at_once(lambda: canceller.cancel_inpatient_settlement(setl_id, mdtrt_id, "P001"),
                                      lambda: settler.settle_inpatient(mdtrt_id))
            assert cancel["infcode"] == 0, cancel["err_msg"]
            assert settle["infcode"] == 0 or settle["err_msg"].startswith("DUPLICATE_CLAIM"), settle["err_msg"]
            outcomes.append("settled again" if settle["infcode"] == 0 else "duplicate")
            # two cancels of one settlement at once: exactly one takes effect
            if settle["infcode"] == 0:
                again = settle["output"]["setlinfo"]["setl_id"]
                first, second = _at_once(lambda: canceller.cancel_inpatient_settlement(again, mdtrt_id, "P001"),
                                         lambda: settler.cancel_inpatient_settlement(again, mdtrt_id, "P001"))
                codes = sorted("ok" if a["infcode"] == 0 else a["err_msg"].split("：")[0] for a in (first, second))
                assert codes == ["SETTLEMENT_ALREADY_CANCELLED", "ok"], codes
    report = verify(ctx)
    assert report.ok, report.problems
    with ctx.unit_of_work() as session:
        assert session.scalars(select(SettlementRow).where(SettlementRow.status == "settled")).all() == []
    assert len(outcomes) == ROUNDS
