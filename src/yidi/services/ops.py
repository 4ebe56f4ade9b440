"""Degraded mode (I2): planned outages of insured regions and the deferred-settlement queue.

When the insured region's side is unavailable (a planned outage night, or an incident an operator records
with ``yidi ops outage add``), a 2304/2207 for a person insured there cannot be settled: the answer is a
clear SERVICE_UNAVAILABLE saying the visit is queued and what to do, and the message is kept whole in
``deferred_settlements``. When service returns, ``yidi ops drain`` — or, automatically, the next settlement
call any hospital makes — replays each queued message through the interface's own write path
(interface/deferred.py drains; this module keeps the windows and the queue and never calls the interface), so
its answer is stored under the original msgid: the hospital resends that msgid and receives the settlement,
exactly once. Nothing is lost: every queued row ends ``settled``, ``refused`` (the
replay got a business refusal, e.g. the registration was cancelled meanwhile; the code is kept) or
``settled_elsewhere`` (the visit was settled another way, e.g. a manual claim).

On a province node of a federation (docs/federation.md) the queue is the node's JetStream work-queue stream
instead of the table (federation/deferred.py): a planned outage window queues there, and so does a 2304/2207 whose
insured node does not answer (``settle_or_defer``); the node's consumer replays each message with
``interface.deferred.replay_message`` — the same write path — and acknowledges it only after the commit.

Cost on the hot path: each process keeps its view of outage windows and of "is anything queued" for
``settings.ops_cache_seconds``; with no outage and an empty queue a settlement pays no query here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Callable, Protocol

from sqlalchemy import select

from yidi.adapters.orm import MessageRow, PersonRow, VisitRow
from yidi.adapters.orm_ops import DeferredSettlementRow, RegionStatusRow
from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.domain.regions import area_covers
from yidi.logs import get_logger
from yidi.services.context import AppContext

log = get_logger("yidi.ops")



@dataclass(frozen=True)
class Outage:
    id: int
    admdvs: str
    starts_at: datetime
    ends_at: datetime
    reason: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "admdvs": self.admdvs, "from": f"{self.starts_at:%Y-%m-%d %H:%M}",
                "to": f"{self.ends_at:%Y-%m-%d %H:%M}", "reason": self.reason}


@dataclass
class _View:
    """A process's cached view: windows not yet over, and the regions that have queued messages."""

    loaded: float = -1e18
    outages: list[Outage] = field(default_factory=list)
    queued_regions: set[str] = field(default_factory=set)


_VIEW_LOCK = threading.Lock()


def _of(row: RegionStatusRow) -> Outage:
    return Outage(row.id, row.admdvs, row.starts_at, row.ends_at, row.reason)


def invalidate(ctx: AppContext) -> None:
    ctx.__dict__.pop("_ops_view", None)


def _view(ctx: AppContext, now: datetime) -> _View:
    view: _View = ctx.__dict__.get("_ops_view") or _View()
    if time.monotonic() - view.loaded < get_settings().ops_cache_seconds:
        return view
    with _VIEW_LOCK:
        with ctx.unit_of_work() as session:
            outages = [_of(r) for r in session.scalars(select(RegionStatusRow).where(RegionStatusRow.ends_at > now))]
            queued = set(session.scalars(select(DeferredSettlementRow.insuplc_admdvs).distinct()
                                         .where(DeferredSettlementRow.state == "queued")))
        view = _View(time.monotonic(), outages, queued)
        ctx.__dict__["_ops_view"] = view
    return view


def outage_for(ctx: AppContext, insuplc_admdvs: str, now: datetime | None = None) -> Outage | None:
    """The window that makes this insured region unavailable now (a province-wide window covers its cities)."""
    now = now or datetime.now()
    return next((o for o in _view(ctx, now).outages if o.active(now) and area_covers(o.admdvs, insuplc_admdvs)),
                None)


# ------------------------------------------------------------------ outage windows --
def add_outage(ctx: AppContext, admdvs: str, starts_at: datetime, ends_at: datetime, *, reason: str = "",
               actor: str = "ops") -> Outage:
    if not (admdvs.isdigit() and len(admdvs) == 6):
        raise invalid("region", "应为6位行政区划代码")
    if ends_at <= starts_at:
        raise invalid("to", "结束时间应晚于开始时间")
    with ctx.unit_of_work() as session:
        row = RegionStatusRow(admdvs=admdvs, starts_at=starts_at, ends_at=ends_at, reason=reason[:200],
                              created_by=actor[:60])
        session.add(row)
        session.flush()
        outage = _of(row)
    invalidate(ctx)
    log.info("ops.outage_added", admdvs=admdvs, starts_at=str(starts_at), ends_at=str(ends_at))
    return outage


def list_outages(ctx: AppContext, *, include_past: bool = False, now: datetime | None = None) -> list[Outage]:
    now = now or datetime.now()
    with ctx.unit_of_work() as session:
        stmt = select(RegionStatusRow).order_by(RegionStatusRow.starts_at, RegionStatusRow.id)
        if not include_past:
            stmt = stmt.where(RegionStatusRow.ends_at > now)
        return [_of(r) for r in session.scalars(stmt)]


def clear_outages(ctx: AppContext, admdvs: str | None = None, *, now: datetime | None = None) -> int:
    """End now every current or future window (of one region, or all). History is kept: ends_at becomes now,
    and a window that had not started yet ends where it starts."""
    now = (now or datetime.now()).replace(microsecond=0)
    with ctx.unit_of_work() as session:
        stmt = select(RegionStatusRow).where(RegionStatusRow.ends_at > now)
        if admdvs:
            stmt = stmt.where(RegionStatusRow.admdvs == admdvs)
        rows = list(session.scalars(stmt))
        for row in rows:
            row.ends_at = max(row.starts_at, now)
    invalidate(ctx)
    return len(rows)


# ------------------------------------------------------------------ the queue --
def _mdtrt_id_of(input_data: Any) -> str | None:
    if not isinstance(input_data, dict):
        return None
    for name in ("mdtrtinfo", "data"):
        section = input_data.get(name)
        mdtrt_id = section.get("mdtrt_id") if isinstance(section, dict) else None
        if isinstance(mdtrt_id, str):
            return mdtrt_id[:40]
    return None


def drain_due(ctx: AppContext, now: datetime) -> bool:
    """Messages are queued for a region whose outage is over (the interface then drains before answering)."""
    view = _view(ctx, now)
    return bool(view.queued_regions) and any(outage_for(ctx, region, now) is None for region in view.queued_regions)


def queue_if_region_out(ctx: AppContext, *, msgid: str, fixmedins_code: str, infno: str, input_data: Any,
                        admdvs: str, actor: str, now: datetime) -> None:
    """Before a settlement message (2304/2207) is run: if this person's insured region is out, keep the message
    whole in the queue (once per msgid, one queued message per visit) and raise SERVICE_UNAVAILABLE saying so."""
    if not any(o.active(now) for o in _view(ctx, now).outages):
        return
    mdtrt_id = _mdtrt_id_of(input_data)
    if mdtrt_id is None:
        return  # malformed: the transaction itself refuses it with the field named
    # a federation node queues in JetStream, not the table
    stream: DeferredStream | None = getattr(ctx.federation, "deferred", None)
    with ctx.unit_of_work() as session:
        region = session.scalar(select(PersonRow.insuplc_admdvs).join(VisitRow, VisitRow.psn_no == PersonRow.psn_no)
                                .where(VisitRow.mdtrt_id == mdtrt_id,
                                       VisitRow.fixmedins_code == fixmedins_code))
        outage = outage_for(ctx, region, now) if region else None
        if region is None or outage is None or session.get(MessageRow, msgid) is not None:
            return  # region up, unknown visit (refused downstream), or a resend of a processed message
    if stream is not None:  # the message whole, as the interface's Call carries it
        _defer_in_stream(stream, SimpleNamespace(infno=infno, msgid=msgid, fixmedins_code=fixmedins_code,
                                                 admdvs=admdvs, input=input_data, actor=actor),
                         region, outage)
    with ctx.unit_of_work() as session:
        queued = session.scalars(select(DeferredSettlementRow).where(
            (DeferredSettlementRow.msgid == msgid)
            | ((DeferredSettlementRow.mdtrt_id == mdtrt_id) & (DeferredSettlementRow.state == "queued")))).first()
        if queued is None:
            queued = DeferredSettlementRow(
                mdtrt_id=mdtrt_id, msgid=msgid, fixmedins_code=fixmedins_code, infno=infno,
                insuplc_admdvs=region, reason=f"参保地 {outage.admdvs} 停机 {outage.to_dict()['from']}"
                                              f"～{outage.to_dict()['to']} {outage.reason}"[:200],
                request={"input": input_data, "admdvs": admdvs, "actor": actor},
                queued_at=now.replace(microsecond=0), state="queued", result="")
            session.add(queued)
            session.flush()
            log.info("ops.settlement_deferred", mdtrt_id=mdtrt_id, msgid=msgid, admdvs=region)
        queue_no, first_msgid = queued.id, queued.msgid
    ctx.__dict__.get("_ops_view", _View()).queued_regions.add(region)
    raise YidiError("SERVICE_UNAVAILABLE", {
        "detail": f"参保地{region}停机至{outage.ends_at:%m-%d %H:%M}；本次结算已排队（第{queue_no}号），恢复后自动结算，"
                  f"届时用原报文ID {first_msgid} 重发即得结果"})


class QueuedMessage(Protocol):
    """A settlement message kept whole in a queue: the interface's Call (interface/envelope.py), or the same
    fields as ``queue_if_region_out`` builds them."""

    @property
    def msgid(self) -> str: ...


class _Queued(Protocol):
    @property
    def seq(self) -> int: ...  # the stream's sequence number: the hospital's queue number


class DeferredStream(Protocol):
    """A federation node's JetStream work queue (federation/deferred.py DeferredQueue)."""

    def defer(self, call: QueuedMessage, insured_province: str, *,
              insuplc_admdvs: str | None = None) -> _Queued: ...


def _defer_in_stream(stream: DeferredStream, call: QueuedMessage, region: str, outage: Outage) -> None:
    """A federation node's planned-outage queue: the node's JetStream work queue (federation/deferred.py), whose
    consumer replays the message once the window is over."""
    window = f"停机至{outage.ends_at:%m-%d %H:%M}"
    try:
        queued = stream.defer(call, region[:2], insuplc_admdvs=region)
    except Exception as failure:  # noqa: BLE001 - NATS away too: nothing queued, nothing written
        log.warning("ops.defer_failed", msgid=call.msgid, error=repr(failure)[:200])
        raise YidiError("SERVICE_UNAVAILABLE", {
            "detail": f"参保地{region}{window}，且结算无法排队（NATS 不可用）；请恢复后用原报文ID {call.msgid} 重发"}) from None
    raise YidiError("SERVICE_UNAVAILABLE", {
        "detail": f"参保地{region}{window}；本次结算已排队（第{queued.seq}号），恢复后自动结算，"
                  f"届时用原报文ID {call.msgid} 重发即得结果"})


# ------------------------------------------------------------------------ the drain --
@dataclass
class DrainReport:
    settled: int = 0
    refused: int = 0
    settled_elsewhere: int = 0
    still_queued: int = 0  # region still out, or the database failed mid-drain
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"settled": self.settled, "refused": self.refused, "settled_elsewhere": self.settled_elsewhere,
                "still_queued": self.still_queued, "details": self.details}


def queued(ctx: AppContext, *, state: str | None = "queued") -> list[DeferredSettlementRow]:
    with ctx.unit_of_work() as session:
        stmt = select(DeferredSettlementRow).order_by(DeferredSettlementRow.id)
        if state:
            stmt = stmt.where(DeferredSettlementRow.state == state)
        return list(session.scalars(stmt))


def finish_queued(ctx: AppContext, queue_id: int, state: str, result: str) -> None:
    """A queued message replayed: ``settled``, ``refused`` or ``settled_elsewhere`` (first outcome kept)."""
    with ctx.unit_of_work() as session:
        stored = session.get(DeferredSettlementRow, queue_id)
        if stored is not None and stored.state == "queued":
            stored.state, stored.result, stored.done_at = state, result, datetime.now().replace(microsecond=0)


# ------------------------------------------------- federation: the JetStream work queue --
def settle_or_defer(ctx: AppContext, call: QueuedMessage, settle: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``settle()`` (the 2304/2207's write); on a federation node whose insured node does not answer, queue the
    whole message in the node's JetStream work queue (federation/deferred.py) and answer SERVICE_UNAVAILABLE saying
    so. Nothing of the failed attempt was written (its transaction rolled back); the queue settles it exactly once
    when the node is back, and the hospital's resend of the same msgid then gets the stored answer."""
    try:
        return settle()
    except YidiError as exc:
        province = getattr(exc, "insured_province", None)
        queue: DeferredStream | None = getattr(ctx.federation, "deferred", None)
        if province is None or queue is None:
            raise
        try:
            queued = queue.defer(call, province)
        except Exception as failure:  # noqa: BLE001 - JetStream unavailable too: the plain answer, nothing queued
            log.warning("ops.defer_failed", msgid=call.msgid, error=repr(failure)[:200])
            raise YidiError("SERVICE_UNAVAILABLE", {
                "detail": f"参保地 {province}0000 无应答，且结算无法排队（NATS 不可用）；请稍后用原报文ID "
                          f"{call.msgid} 重发"}) from None
        raise YidiError("SERVICE_UNAVAILABLE", {
            "detail": f"{exc.params.get('detail', '')}；本次结算已排队"
                      f"（第{queued.seq}号），该节点恢复后自动结算，届时用原报文ID {call.msgid} 重发即得结果"}) from None
