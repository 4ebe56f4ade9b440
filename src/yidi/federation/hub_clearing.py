"""National 清分 at the hub, built from both sides' settlement events (C1, C2, C4 across nodes).

- ``EventConsumer``: a durable pull consumer (``hub-clearing``) on the events stream. Each fetched batch is applied
  to ``hub_settlements`` in ONE hub transaction together with its event ids (``hub_events``); the messages are
  acknowledged only after that commit. A redelivery (the hub died after the commit, before the ack) finds its event
  id and changes nothing; a batch that fails is not acknowledged and comes again after ``ack_wait``.
- ``clear(ctx, month)``: the month's flows (insured city → treatment city, cross-province) from the insured side's
  events with the single node's clearing rule (adapters/analytics.CLEARING_SQL), compared with the treatment side's;
  equal → stored and posted as the national clearing run (services/clearing.run_clearing, province-pair transfers);
  different → CLEARING_SIDES_DIFFER listing the pairs, unless the operator accepts the insured side's figures.
- ``prepayment_plan`` / ``confirm_prepayment``: C1 per province pair from the insured side's Q4 events.
- ``totals`` / ``rows``: counts and sums per month and province pair of each side (for ``yidi verify --federation``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from datetime import date

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError

from yidi.adapters import analytics
from yidi.adapters.orm import PostingRow
from yidi.adapters.orm_fedclear import HubEventRow, HubSettlementRow
from yidi.domain.clearing import FlowAmount, month_bounds, previous_q4
from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan
from yidi.domain.regions import province_of
from yidi.federation import events
from yidi.federation.bridge import Bridge
from yidi.federation.subjects import Names
from yidi.logs import get_logger
from yidi.services import audit, clearing, prepayment
from yidi.services.context import AppContext

log = get_logger("yidi.federation.hub_clearing")

DURABLE = "hub-clearing"
FINAL = ("cancelled", "reversed")  # a settlement's last state on a side; "settled" never overwrites it


# ------------------------------------------------------------------------------------------ applying events --
def apply_events(ctx: AppContext, batch: list[tuple[str, int, dict]]) -> int:
    """Apply (event id, stream sequence, payload) in one transaction; returns how many were new. A batch that
    collides with a concurrent hub process (the same event id committed meanwhile) is retried one by one."""
    try:
        return _apply(ctx, batch)
    except IntegrityError:
        return sum(_apply_one_safely(ctx, item) for item in batch)


def _apply_one_safely(ctx: AppContext, item) -> int:
    try:
        return _apply(ctx, [item])
    except IntegrityError:
        return 0  # applied by another hub process


def _apply(ctx: AppContext, batch) -> int:
    ids = [event_id for event_id, _seq, _payload in batch]
    with ctx.unit_of_work() as session:
        seen = set(session.scalars(select(HubEventRow.event_id).where(HubEventRow.event_id.in_(ids))))
        new = 0
        for event_id, seq, payload in batch:
            if event_id in seen:
                continue
            seen.add(event_id)
            new += 1
            session.add(HubEventRow(event_id=event_id, stream_seq=seq))
            event = events.decode(payload)
            row = session.get(HubSettlementRow, (event["side"], event["setl_id"]))
            if row is None:
                session.add(HubSettlementRow(
                    side=event["side"], setl_id=event["setl_id"], msgid=event["msgid"], kind=event["kind"],
                    status=event["status"], insuplc_admdvs=event["insuplc_admdvs"],
                    mdtrtarea_admvs=event["mdtrtarea_admvs"], insured_province=province_of(event["insuplc_admdvs"]),
                    treatment_province=province_of(event["mdtrtarea_admvs"]), fixmedins_code=event["fixmedins_code"],
                    setl_date=event["setl_date"], cancelled_on=event["cancelled_on"],
                    medfee_sumamt=event["medfee_sumamt"], fund_pay_sumamt=event["fund_pay_sumamt"],
                    acct_pay=event["acct_pay"]))
                session.flush()  # a second event of the same settlement in this batch finds the row
            elif event["status"] in FINAL:  # events may arrive in any order: the final state wins
                row.status, row.cancelled_on = event["status"], event["cancelled_on"]
    return new


class EventConsumer:
    """The hub's durable pull consumer, run on the hub's bridge loop."""

    def __init__(self, ctx: AppContext, bridge: Bridge, names: Names, *, batch: int = 256,
                 max_ack_pending: int = 4096, ack_wait: float = 30.0):
        self.ctx = ctx
        self.bridge = bridge
        self.names = names
        self.batch = batch
        self.max_ack_pending = max_ack_pending
        self.ack_wait = ack_wait
        self._stopping = False
        self._task = None
        self.applied = 0

    def start(self) -> "EventConsumer":
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        self.bridge.run(events.ensure_stream(self.bridge, self.names))
        config = ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                                ack_wait=self.ack_wait, max_ack_pending=self.max_ack_pending, max_deliver=-1)
        self._sub = self.bridge.run(self.bridge.js.pull_subscribe(
            f"{self.names.prefix}.events.>", durable=DURABLE,
            stream=events.stream_name(self.names), config=config))
        self._task = asyncio.run_coroutine_threadsafe(self._consume(), self.bridge.loop)
        return self

    async def _consume(self) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                msgs = await self._sub.fetch(self.batch, timeout=1)
            except (NatsTimeout, asyncio.TimeoutError):
                continue  # nothing to fetch within the second
            except Exception as exc:  # noqa: BLE001 - NATS away or restarting: wait and fetch again
                if self._stopping:
                    return
                log.warning("federation.hub_fetch_retry", error=repr(exc)[:200])
                await asyncio.sleep(0.5)
                continue
            batch = [((msg.headers or {}).get("Nats-Msg-Id") or _event_id(json.loads(msg.data)),
                      msg.metadata.sequence.stream, json.loads(msg.data)) for msg in msgs]
            try:
                self.applied += await loop.run_in_executor(None, apply_events, self.ctx, batch)
            except Exception:  # noqa: BLE001 - not committed: not acknowledged, redelivered after ack_wait
                log.exception("federation.hub_apply_failed")
                for msg in msgs:
                    await _quietly(msg.nak(delay=1))
                continue
            for msg in msgs:  # only now: the hub's commit holds them
                await _quietly(msg.ack())

    def pending(self) -> int:
        """Events in the stream the hub has not applied and acknowledged yet."""
        info = self.bridge.run(self.bridge.js.consumer_info(events.stream_name(self.names), DURABLE))
        return int(info.num_pending) + int(info.num_ack_pending)

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            try:
                self._task.result(timeout=5)
            except Exception:  # noqa: BLE001 - the loop is going away anyway
                log.exception("federation.hub_consumer_stopped")
            self._task = None
            try:  # a pull subscription left open would hold the connection's drain
                self.bridge.run(self._sub.unsubscribe(), timeout=5)
            except Exception:  # noqa: BLE001 - the connection is already gone
                pass


def _event_id(payload: dict) -> str:
    return f"{payload['side']}:{payload['setl_id']}:{payload['status']}"


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception:  # noqa: BLE001 - an ack lost is a redelivery, which the hub's event ids absorb
        pass


# ------------------------------------------------------------------------------------------------ 清分 --
def _load_side(duck, ctx: AppContext, side: str, start: date, end: date) -> None:
    """The side's rows touching [start, end] into DuckDB table ``settlements`` (the columns analytics uses)."""
    columns = [HubSettlementRow.setl_id, HubSettlementRow.kind, HubSettlementRow.status,
               HubSettlementRow.insuplc_admdvs, HubSettlementRow.mdtrtarea_admvs, HubSettlementRow.fixmedins_code,
               cast(HubSettlementRow.setl_date, String), cast(HubSettlementRow.cancelled_on, String),
               HubSettlementRow.fund_pay_sumamt, HubSettlementRow.acct_pay]
    duck.execute(analytics.DDL)
    with ctx.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=100_000).execute(
            select(*columns).where(HubSettlementRow.side == side, or_(
                HubSettlementRow.setl_date.between(start, end), HubSettlementRow.cancelled_on.between(start, end))))
        for rows in result.partitions(100_000):
            chunk = analytics._chunk_arrays(rows)  # noqa: F841 - DuckDB scans the local name `chunk`
            duck.execute(f"INSERT INTO settlements SELECT {', '.join(analytics.COLUMNS)} FROM chunk")


def side_flows(ctx: AppContext, month: str, side: str) -> list[FlowAmount]:
    """The month's flows as one side's events tell them, by the single node's clearing rule."""
    start, end = month_bounds(month)
    duck = analytics.connect()
    try:
        _load_side(duck, ctx, side, start, end)
        return [FlowAmount(*row) for row in analytics.clearing_flows(duck, start, end)]
    finally:
        duck.close()


def flow_differences(insured: list[FlowAmount], treatment: list[FlowAmount]) -> list[str]:
    """Each insured city → treatment city flow on which the two sides disagree, in words."""
    by_side = [{(f.insuplc_admdvs, f.mdtrtarea_admvs): f for f in flows} for flows in (insured, treatment)]
    out = []
    for key in sorted(set(by_side[0]) | set(by_side[1])):
        a, b = (side.get(key) for side in by_side)
        figures = [(f.current_count, f.current_fen, f.adjustment_count, f.adjustment_fen) if f else (0, 0, 0, 0)
                   for f in (a, b)]
        if figures[0] != figures[1]:
            out.append(f"{key[0]}→{key[1]} 参保地 {figures[0][0]} 笔 {fen_to_yuan(figures[0][1] + figures[0][3])} 元 / "
                       f"就医地 {figures[1][0]} 笔 {fen_to_yuan(figures[1][1] + figures[1][3])} 元")
    return out


def clear(ctx: AppContext, month: str, *, actor: str = "system", today: date | None = None,
          accept_differences: bool = False, consumer: EventConsumer | None = None) -> clearing.ClearingStatement:
    """The national 清分 of ``month`` from the events (idempotent per month, as on one node). With a running
    consumer, refuses while events wait in the stream: a month is cleared on everything that was sent."""
    month_bounds(month)
    existing = clearing.get_statement(ctx, month)
    if existing is not None:
        return existing
    if consumer is not None and (pending := consumer.pending()):
        raise YidiError("CLEARING_EVENTS_PENDING", {"month": month, "pending": pending})
    insured = side_flows(ctx, month, events.INSURED)
    differences = flow_differences(insured, side_flows(ctx, month, events.TREATMENT))
    if differences and not accept_differences:
        raise YidiError("CLEARING_SIDES_DIFFER", {"month": month, "detail": "；".join(differences)[:300]})

    def compute(ctx_: AppContext, month_: str, _progress) -> tuple[list[FlowAmount], int]:
        with ctx_.unit_of_work() as session:
            watermark = int(session.scalar(select(func.coalesce(func.max(PostingRow.id), 0))))
        return insured, watermark

    statement = clearing.run_clearing(ctx, month, actor=actor, today=today, compute=compute)
    if differences and not statement.replayed:
        with ctx.unit_of_work() as session:
            audit.record(session, actor, "clearing.accepted_differences", month, {"differences": differences[:50]})
    return statement


def cleared(ctx: AppContext, month: str) -> bool:
    return clearing.get_statement(ctx, month) is not None


# ---------------------------------------------------------------------------------------------- C1 预付 --
def q4_totals_from_events(ctx: AppContext, year: int, _progress=None) -> list[tuple[str, str, int, int]]:
    start, end = previous_q4(year)
    duck = analytics.connect()
    try:
        _load_side(duck, ctx, events.INSURED, start, end)
        return analytics.q4_totals(duck, start, end)
    finally:
        duck.close()


def prepayment_plan(ctx: AppContext, year: int) -> list[prepayment.PrepaymentLine]:
    """C1 per province pair (insured province → treatment province) from the insured side's Q4 events."""
    return prepayment.plan(ctx, year, q4_totals=q4_totals_from_events)


def confirm_prepayment(ctx: AppContext, year: int, *, actor: str) -> list[prepayment.PrepaymentLine]:
    return prepayment.confirm(ctx, year, actor=actor, q4_totals=q4_totals_from_events)


# ------------------------------------------------------------------------- figures for the two-sided check --
FIGURES = ("records", "settled", "settled_fen", "cancelled", "cancelled_fen", "medfee_fen")


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def pair_key(month: str, insured_province: str, treatment_province: str) -> str:
    return f"{month}|{insured_province}|{treatment_province}"


def figures_of(session, table, *where) -> dict[str, dict[str, int]]:
    """Counts and sums per month (of settlement) and province pair, for any table with a settlement's columns
    (``settlements`` at the insured node, ``treatment_settlements`` at the treatment node, ``hub_settlements``).
    Amount = what clearing moves: fund_pay_sumamt + acct_pay; medfee is the settled records' total."""
    settled = table.status == "settled"
    ins, trt = func.substr(table.insuplc_admdvs, 1, 2), func.substr(table.mdtrtarea_admvs, 1, 2)
    stmt = (select(table.setl_date, ins, trt, settled, func.count(),
                   func.coalesce(func.sum(table.fund_pay_sumamt + func.coalesce(table.acct_pay, 0)), 0),
                   func.coalesce(func.sum(table.medfee_sumamt), 0))
            .where(table.kind == "direct", ins != trt, *where).group_by(table.setl_date, ins, trt, settled))
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for day, a, b, is_settled, count, amount, medfee in session.execute(stmt):
        figures = out[pair_key(month_of(day), f"{a}0000", f"{b}0000")]
        figures["records"] += int(count)
        if is_settled:
            figures["settled"] += int(count)
            figures["settled_fen"] += int(amount)
            figures["medfee_fen"] += int(medfee)
        else:
            figures["cancelled"] += int(count)
            figures["cancelled_fen"] += int(amount)
    return dict(out)


def rows_of(session, table, key: str, *where) -> dict[str, dict]:
    """Every record of one month and province pair: setl_id → msgid, status, amount."""
    month, insured_province, treatment_province = key.split("|")
    start, end = month_bounds(month)
    stmt = select(table).where(table.kind == "direct", table.setl_date.between(start, end),
                               func.substr(table.insuplc_admdvs, 1, 2) == insured_province[:2],
                               func.substr(table.mdtrtarea_admvs, 1, 2) == treatment_province[:2], *where)
    return {row.setl_id: {"msgid": row.msgid or "", "status": row.status,
                          "fen": int(row.fund_pay_sumamt) + int(row.acct_pay or 0),
                          "medfee_fen": int(row.medfee_sumamt)} for row in session.scalars(stmt)}


def hub_totals(ctx: AppContext) -> dict:
    with ctx.unit_of_work() as session:
        return {side: figures_of(session, HubSettlementRow, HubSettlementRow.side == side) for side in events.SIDES}


def hub_rows(ctx: AppContext, side: str, key: str) -> dict[str, dict]:
    with ctx.unit_of_work() as session:
        return rows_of(session, HubSettlementRow, key, HubSettlementRow.side == side)
