"""The deferred queue (I2) of a federation node: a JetStream work-queue stream.

When the insured node of a 2304/2207 does not answer (no responders: it is not running; or no answer within the
timeout), the treatment node rolls its transaction back — nothing half-written — and publishes the whole hospital
message to ``YIDI_<fed>_DEFERRED`` on ``yidi.<fed>.deferred.<treatment NN>.<insured NN>`` with the message's msgid as
``Nats-Msg-Id``, then answers the hospital SERVICE_UNAVAILABLE saying the settlement is queued and that a resend of
the same msgid will get the result. A resend while the node is still down publishes the same msgid again: the
stream's duplicate window drops it. A planned outage of the insured region (I2, services/ops.py) queues here too on
a federation node (one embedded node keeps its ``deferred_settlements`` table).

Each treatment node drains its own messages with a durable pull consumer (``drain-<NN>``, filter
``yidi.<fed>.deferred.<NN>.*``; several processes of one node share it). A message is replayed through the
interface's own write path (interface.deferred.replay_message), so its answer is stored under the original msgid, and
acknowledged only after that transaction — which comes after the insured node's commit — has committed:

- settled, or refused for a business reason (e.g. the visit was settled another way, or a 2601 reversed the msgid
  meanwhile): ack — the stream removes it (WorkQueue retention);
- the insured node still does not answer, NATS is down, the database failed, or the planned outage window that
  queued it (``yidi ops outage add``, services/ops.py) is not over: nak with a delay — redelivered later;
- the process dies before its ack: redelivered after ``ack_wait``; the replay is answered from the stored message.

Exactly once therefore rests on the databases (msgid stored with the business write on both nodes); the duplicate
window and the work-queue retention only keep the queue small.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig

from yidi.domain.errors import YidiError
from yidi.federation.bridge import Bridge
from yidi.federation.subjects import Names
from yidi.logs import get_logger
from yidi.services.context import AppContext

log = get_logger("yidi.federation.deferred")

DUPLICATE_WINDOW_SECONDS = 24 * 3600.0  # a resend of a queued msgid within a day adds nothing to the stream
RETRY_SECONDS = 5.0  # redelivery delay while the insured node is still unreachable
MAX_ACK_PENDING = 16  # messages of one node in flight at once (across its processes)


@dataclass(frozen=True)
class Queued:
    seq: int  # the stream's sequence number: the hospital's queue number
    duplicate: bool  # this msgid was already queued (a resend)


class DeferredQueue:
    def __init__(self, ctx: AppContext, bridge: Bridge, names: Names, province: str, *, ack_wait: float = 60.0,
                 retry_seconds: float = RETRY_SECONDS):
        self.ctx = ctx
        self.bridge = bridge
        self.names = names
        self.province = province
        self.ack_wait = ack_wait
        self.retry_seconds = retry_seconds

    # -------------------------------------------------------------------- the stream --
    def ensure_stream(self) -> None:
        """Create the federation's stream (idempotent: every node does it at start with the same configuration)."""
        config = StreamConfig(name=self.names.deferred_stream, subjects=[f"{self.names.prefix}.deferred.>"],
                              retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE,
                              duplicate_window=DUPLICATE_WINDOW_SECONDS)
        self.bridge.run(self.bridge.js.add_stream(config))

    def defer(self, call, insured_province: str, *, insuplc_admdvs: str | None = None) -> Queued:
        """Publish the hospital's message (``call``: the interface's Call) durably; the PubAck is the proof.
        ``insuplc_admdvs``: the person's insured region when a planned outage window (services/ops.py) queued it —
        the consumer then waits for the window's end."""
        if not self.bridge.connected:
            raise ConnectionError("NATS disconnected")
        body = {"infno": call.infno, "msgid": call.msgid, "fixmedins_code": call.fixmedins_code,
                "admdvs": call.admdvs, "input": call.input, "actor": call.actor,
                "refmsg_time": getattr(call, "refmsg_time", ""), "insuplc_admdvs": insuplc_admdvs}
        subject = f"{self.names.prefix}.deferred.{self.province}.{insured_province}"
        ack = self.bridge.run(self.bridge.js.publish(
            subject, json.dumps(body, ensure_ascii=False).encode(), timeout=5,
            headers={"Nats-Msg-Id": call.msgid}), timeout=10)
        log.info("federation.settlement_deferred", msgid=call.msgid, insured=insured_province, seq=ack.seq,
                 duplicate=bool(ack.duplicate))
        return Queued(ack.seq, bool(ack.duplicate))

    # ------------------------------------------------------------------ the consumer --
    def start(self) -> "DeferredQueue":
        self.ensure_stream()
        self.bridge.start_loop(self._drain_forever)
        return self

    async def _drain_forever(self) -> None:
        js = self.bridge.js
        config = ConsumerConfig(durable_name=f"drain-{self.province}", ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait, max_deliver=-1,
                                max_ack_pending=MAX_ACK_PENDING,
                                filter_subject=f"{self.names.prefix}.deferred.{self.province}.*")
        subscription = None
        try:
            while True:
                try:
                    if subscription is None:
                        subscription = await js.pull_subscribe(config.filter_subject, durable=config.durable_name,
                                                               stream=self.names.deferred_stream, config=config)
                    messages = await subscription.fetch(1, timeout=5)
                except asyncio.CancelledError:
                    raise
                except nats.errors.TimeoutError:
                    continue  # nothing queued
                except Exception as exc:  # noqa: BLE001 - NATS down or restarting: try again shortly
                    log.info("federation.deferred_fetch_failed", error=repr(exc)[:200])
                    await asyncio.sleep(1)
                    continue
                for message in messages:
                    await self._settle_one(message)
        finally:
            if subscription is not None:  # stopping: the connection's drain must not wait on this inbox
                try:
                    await asyncio.wait_for(subscription.unsubscribe(), 5)
                except Exception:  # noqa: BLE001 - already gone with the connection
                    pass

    async def _settle_one(self, message) -> None:
        body = json.loads(message.data)
        done = await self.bridge.in_pool(self.replay, body)
        try:
            if done:
                await message.ack_sync(timeout=5)  # after the commit; a lost ack means one harmless replay
            else:
                await message.nak(delay=self.retry_seconds)
        except Exception as exc:  # noqa: BLE001 - NATS went away: the message is redelivered after ack_wait
            log.info("federation.deferred_ack_failed", msgid=body.get("msgid"), error=repr(exc)[:200])
        if not done:
            await asyncio.sleep(self.retry_seconds)  # the insured node is still away: do not spin on the queue

    def replay(self, body: dict) -> bool:
        """Settle one queued message through the interface's write path. True when it is finished (settled or
        refused for good), False when it must wait (insured node or NATS still away, database failure)."""
        from yidi.interface import deferred  # the interface's write path (it imports this package's users)
        from yidi.services import ops

        if body.get("insuplc_admdvs") and ops.outage_for(self.ctx, body["insuplc_admdvs"]) is not None:
            return False  # queued by a planned outage window that is not over yet
        try:
            deferred.replay_message(self.ctx, body)
        except YidiError as exc:
            if exc.code in ("SERVICE_UNAVAILABLE", "NATS_UNAVAILABLE", "CONCURRENT_CONFLICT"):
                return False
            log.info("federation.deferred_refused", msgid=body.get("msgid"), code=exc.code)
            return True
        except Exception as exc:  # noqa: BLE001 - e.g. the database is away: keep it queued
            log.warning("federation.deferred_replay_failed", msgid=body.get("msgid"), error=repr(exc)[:200])
            return False
        log.info("federation.deferred_settled", msgid=body.get("msgid"))
        return True

    def pending(self) -> int:
        """Messages of this node still in the queue (the stream keeps only unacknowledged ones)."""
        async def count() -> int:
            info = await self.bridge.js.consumer_info(self.names.deferred_stream, f"drain-{self.province}")
            return info.num_pending + info.num_ack_pending

        return self.bridge.run(count())
