"""Degraded mode (I2) on the interface's side: a 2304/2207 queued while the person's insured region is out, and
the drain that replays queued messages once the region is back.

The windows and the queue are services/ops.py's. The drain lives here because it replays each queued message
through the interface's own write path (``execution.run_write``): its answer is stored under the original msgid, so
the hospital resends that msgid and receives the settlement, exactly once. ``yidi ops drain`` runs ``drain``;
an ordinary settlement call runs ``before_settlement``, which drains first when a region is back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yidi.domain.errors import YidiError
from yidi.interface.envelope import Call
from yidi.interface.execution import run_write
from yidi.interface.output import now_text
from yidi.logs import get_logger
from yidi.services import ops
from yidi.services.context import AppContext

log = get_logger("yidi.ops")

AUTO_DRAIN_BATCH = 50  # queued messages settled by one ordinary call after an outage (the rest: next call / drain)


def before_settlement(ctx: AppContext, call: Call, now: datetime | None = None) -> None:
    """Run before a deferrable call (2304/2207). Settles queued messages whose region is back; then, if this
    person's insured region is out, queues this message and raises SERVICE_UNAVAILABLE."""
    now = now or datetime.now()
    if ops.drain_due(ctx, now):
        drain(ctx, limit=AUTO_DRAIN_BATCH, now=now)
    ops.queue_if_region_out(ctx, msgid=call.msgid, fixmedins_code=call.fixmedins_code, infno=call.infno,
                            input_data=call.input, admdvs=call.admdvs, actor=call.actor, now=now)


def drain(ctx: AppContext, *, limit: int | None = None, now: datetime | None = None,
          progress=None) -> ops.DrainReport:
    """Settle queued messages whose insured region is available now, oldest first. Safe to run anywhere, any
    number of times, concurrently: each replay is idempotent on its msgid."""
    now = now or datetime.now()
    ops.invalidate(ctx)
    report = ops.DrainReport()
    rows = ops.queued(ctx)
    for row in rows:
        if limit is not None and report.settled + report.refused + report.settled_elsewhere >= limit:
            break
        if ops.outage_for(ctx, row.insuplc_admdvs, now) is not None:
            continue
        call = Call(infno=row.infno, msgid=row.msgid, fixmedins_code=row.fixmedins_code,
                    admdvs=row.request.get("admdvs", ""), input=row.request.get("input"),
                    actor=row.request.get("actor", "ops:drain"), received=now_text())
        try:
            response = run_write(ctx, call)
            state, result = "settled", (response.get("output") or {}).get("setlinfo", {}).get("setl_id", "")
        except YidiError as exc:
            state = "settled_elsewhere" if exc.code in ("DUPLICATE_CLAIM", "MESSAGE_REVERSED") else "refused"
            result = f"{exc.code}：{exc.full_message()}"[:200]
        except Exception as exc:  # noqa: BLE001 - the database went away mid-drain: stop, keep the rest queued
            log.warning("ops.drain_interrupted", error=repr(exc)[:200])
            break
        ops.finish_queued(ctx, row.id, state, result)
        setattr(report, state, getattr(report, state) + 1)
        report.details.append({"id": row.id, "mdtrt_id": row.mdtrt_id, "msgid": row.msgid, "state": state,
                               "result": result})
        if progress is not None:
            progress()
    report.still_queued = len(rows) - report.settled - report.refused - report.settled_elsewhere
    ops.invalidate(ctx)
    return report


def replay_message(ctx: AppContext, message: dict[str, Any]) -> dict[str, Any]:
    """Run a queued hospital message through the interface's own write path, so its answer is stored under the
    original msgid (a resend of that msgid then receives it). ``message``: infno, msgid, fixmedins_code, admdvs,
    input, actor (and refmsg_time, when the queue kept it). The federation's JetStream work queue
    (federation/deferred.py) replays with it."""
    call = Call(infno=message["infno"], msgid=message["msgid"], fixmedins_code=message["fixmedins_code"],
                admdvs=message.get("admdvs", ""), input=message.get("input"),
                actor=message.get("actor", "ops:drain"), received=now_text(),
                **({"refmsg_time": message["refmsg_time"]} if message.get("refmsg_time") else {}))
    return run_write(ctx, call)
