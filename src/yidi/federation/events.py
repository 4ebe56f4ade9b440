"""Settlement events: what both sides of a cross-province settlement tell the hub, for national 清分 (C2).

Each side writes an event in the SAME database transaction as its business write (the outbox, ``event_outbox``):
- the insured node (参保地) when it settles or reverses (federation/insured.py);
- the treatment node (就医地) when it records its side or marks it reversed (federation/node.py).
A publisher thread per node then publishes the unsent rows, in the order they were written, to the JetStream stream
``YIDI_<fed>_SETTLEMENTS`` with ``Nats-Msg-Id`` = the event id, and marks a row sent only after the stream has
acknowledged it. A crash between the commit and the publish leaves the row unsent: it is published when the node
is back. A crash between the acknowledgement and the mark publishes it again: the stream's duplicate window drops
it, and after the window the hub's ``hub_events`` table does (services are idempotent on the event id).

Event id = ``<side>:<setl_id>:<status>`` — stable, so a republish is recognised; a settlement has at most two
events per side (settled, then cancelled or reversed). An event carries the side's whole row, so the hub can apply
events in any order.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yidi.adapters.orm_fedclear import EventOutboxRow
from yidi.domain.regions import province_of
from yidi.federation.bridge import Bridge
from yidi.federation.subjects import Names
from yidi.logs import get_logger
from yidi.services.context import AppContext

log = get_logger("yidi.federation.events")

INSURED, TREATMENT = "insured", "treatment"
SIDES = (INSURED, TREATMENT)
# Stream limits (docs/federation.md "Streams and retention"). The stream is the way to the hub, not the record: the
# hub's database is (backed up like every node's). 45 days cover a month, its clearing and a hub rebuilt from the
# stream within that window; at national volume that is about 45 × 0.6 GB.
MAX_AGE_SECONDS = 45 * 24 * 3600
DUPLICATE_WINDOW_SECONDS = 24 * 3600  # a node down for up to a day republishes into the window: dropped by NATS


def stream_name(names: Names) -> str:
    return f"YIDI_{names.federation}_SETTLEMENTS".replace("-", "_")


def events_subject(names: Names, side: str = "*", province: str = "*") -> str:
    return f"{names.prefix}.events.{side}.{province}"


def cleared_kind(kind: str) -> bool:
    return kind == "direct"  # manual reimbursements (零星报销) never leave the insured region's fund


def _payload(side: str, row) -> dict:
    return {"side": side, "setl_id": row.setl_id, "msgid": row.msgid or "", "kind": row.kind, "status": row.status,
            "insuplc_admdvs": row.insuplc_admdvs, "mdtrtarea_admvs": row.mdtrtarea_admvs,
            "fixmedins_code": row.fixmedins_code, "setl_date": row.setl_date.isoformat(),
            "cancelled_on": row.cancelled_on.isoformat() if row.cancelled_on else None,
            "medfee_sumamt": int(row.medfee_sumamt), "fund_pay_sumamt": int(row.fund_pay_sumamt),
            "acct_pay": int(row.acct_pay or 0)}


def record(session: Session, side: str, row) -> EventOutboxRow | None:
    """Add the event of ``row``'s current state to the outbox, in the caller's transaction. ``row`` is the insured
    side's ``SettlementRow`` or the treatment side's ``TreatmentSettlementRow`` (the same columns). Nothing for a
    settlement that stays inside one province or that clearing does not move; the same event twice is one row."""
    if province_of(row.insuplc_admdvs) == province_of(row.mdtrtarea_admvs) or not cleared_kind(row.kind):
        return None
    event_id = f"{side}:{row.setl_id}:{row.status}"
    if session.scalar(select(EventOutboxRow.id).where(EventOutboxRow.event_id == event_id)) is not None:
        return None  # already recorded (e.g. a repeated reversal answered from the store)
    province = (row.insuplc_admdvs if side == INSURED else row.mdtrtarea_admvs)[:2]
    outbox = EventOutboxRow(event_id=event_id, subject=f"events.{side}.{province}", payload=_payload(side, row))
    session.add(outbox)
    return outbox


def pending_count(ctx: AppContext) -> int:
    with ctx.unit_of_work() as session:
        return len(session.scalars(select(EventOutboxRow.id).where(EventOutboxRow.sent_at.is_(None))).all())


async def ensure_stream(bridge: Bridge, names: Names) -> None:
    """Create the events stream if it is not there (the hub and every node call this: whoever starts first)."""
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    try:
        await bridge.js.stream_info(stream_name(names))
        return
    except NotFoundError:
        pass
    config = StreamConfig(name=stream_name(names), subjects=[f"{names.prefix}.events.>"],
                          retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, discard=DiscardPolicy.OLD,
                          max_age=MAX_AGE_SECONDS, duplicate_window=DUPLICATE_WINDOW_SECONDS, num_replicas=1)
    try:
        await bridge.js.add_stream(config)
    except Exception:  # noqa: BLE001 - created meanwhile by another process: fine if it is there now
        await bridge.js.stream_info(stream_name(names))


def delete_stream(bridge: Bridge, names: Names) -> None:
    bridge.run(bridge.js.delete_stream(stream_name(names)))


class OutboxPublisher:
    """Publishes a node's unsent events in order and marks them sent after JetStream's acknowledgement."""

    BATCH = 500

    def __init__(self, ctx: AppContext, bridge: Bridge, names: Names, *, interval: float = 0.2):
        self.ctx = ctx
        self.bridge = bridge
        self.names = names
        self.interval = interval
        self._lock = threading.Lock()  # the thread and an explicit publish_pending() never interleave
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream_ready = False

    def start(self) -> "OutboxPublisher":
        self._thread = threading.Thread(target=self._run, name=f"outbox-{self.names.federation}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.publish_pending()
            except Exception as exc:  # noqa: BLE001 - NATS or the database away: the rows wait, we try again
                log.warning("federation.outbox_retry", error=str(exc)[:200])
                sent = 0
            if sent < self.BATCH:
                self._stop.wait(self.interval)

    def publish_pending(self) -> int:
        """Publish up to BATCH unsent events; returns how many were acknowledged and marked."""
        with self._lock:
            if not self._stream_ready:
                self.bridge.run(ensure_stream(self.bridge, self.names))
                self._stream_ready = True
            with self.ctx.unit_of_work() as session:
                rows = session.execute(select(EventOutboxRow.id, EventOutboxRow.event_id, EventOutboxRow.subject,
                                              EventOutboxRow.payload).where(EventOutboxRow.sent_at.is_(None))
                                       .order_by(EventOutboxRow.id).limit(self.BATCH)).all()
            if not rows:
                return 0
            acked = self.bridge.run(self._publish(rows), timeout=60)
            if acked:
                with self.ctx.unit_of_work() as session:
                    session.execute(update(EventOutboxRow).where(EventOutboxRow.id.in_(acked))
                                    .values(sent_at=datetime.now().replace(microsecond=0)))
            return len(acked)

    async def _publish(self, rows) -> list[int]:
        """Publish in order, pipelined (all sends, then all acknowledgements); stop at the first failure so that
        what is marked sent is a prefix that the stream has."""
        futures = []
        for outbox_id, event_id, subject, payload in rows:
            data = json.dumps(payload, ensure_ascii=False).encode()
            futures.append((outbox_id, asyncio.ensure_future(self.bridge.js.publish(
                f"{self.names.prefix}.{subject}", data, headers={"Nats-Msg-Id": event_id}, timeout=10))))
        acked = []
        failed = False
        for outbox_id, future in futures:
            try:
                await future
            except Exception as exc:  # noqa: BLE001 - not acknowledged: stays unsent, published again later
                if not failed:
                    log.warning("federation.outbox_publish_failed", error=str(exc)[:200])
                failed = True
                continue
            if not failed:
                acked.append(outbox_id)
        return acked


def decode(payload: dict) -> dict:
    """An event's fields as Python values (dates)."""
    out = dict(payload)
    out["setl_date"] = date.fromisoformat(payload["setl_date"])
    out["cancelled_on"] = date.fromisoformat(payload["cancelled_on"]) if payload.get("cancelled_on") else None
    return out
