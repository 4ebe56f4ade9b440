"""The insured node's answers to the treatment nodes (参保地 side).

``settle`` and ``cancel`` are idempotent on the request id the treatment node sends (the hospital's msgid, end to
end): the settlement (or its reversal) — usage, fund liability in the ledger, audit — and the stored answer commit
in ONE transaction (services.idempotency, as for the hospital interface). A resend, a NATS redelivery or a second
copy racing the first gets the stored answer; a different request under a taken id is MSGID_CONFLICT.
"""

from __future__ import annotations

from datetime import date
from typing import Callable

from sqlalchemy.exc import IntegrityError

from yidi.adapters.orm import SettlementRow

from yidi.domain.errors import YidiError
from yidi.federation import events, messages
from yidi.logs import get_logger
from yidi.services import idempotency, settlements
from yidi.services.context import AppContext
from yidi.services.filings import filings_of
from yidi.services.reference import find_person_by_certno
from yidi.services.settlements import person_row

log = get_logger("yidi.federation")


def identify(ctx: AppContext, body: dict) -> dict:
    """1101 from another province: the person and their filings (nothing else of them leaves this node)."""
    with ctx.unit_of_work() as session:
        person = find_person_by_certno(session, body["certno"])
        return {"person": messages.encode_person(person),
                "filings": [messages.encode_filing(f) for f in filings_of(session, person.psn_no)]}


def person(ctx: AppContext, body: dict) -> dict:
    """What a treatment node's desk keeps of a visiting person (its visitor copy, for 2401 and the answers)."""
    with ctx.unit_of_work() as session:
        row = person_row(session, body["psn_no"])
        return {"person": messages.encode_person(row)}


def presettle(ctx: AppContext, body: dict) -> dict:
    fields, row = settlements.presettle_with_person(ctx, messages.decode_command(body["cmd"]))
    return {"fields": fields, "person": messages.encode_person(row)}


def settle(ctx: AppContext, body: dict) -> dict:
    cmd = messages.decode_command(body["cmd"])

    def work(bound: AppContext) -> dict:
        view, row = settlements.settle_with_person(bound, cmd)
        with bound.unit_of_work() as session:  # the clearing event, in this same transaction (the outbox)
            settled = session.get(SettlementRow, view.setl_id)
            events.record(session, events.INSURED, settled)
        # setl_date: both sides date the settlement alike (the treatment node must not take its own clock's day
        # at midnight — clearing counts a settlement in the month of this date, on both sides)
        return {"setl_id": view.setl_id, "status": view.status, "kind": view.kind, "fields": view.row_fields,
                "person": messages.encode_person(row), "setl_date": settled.setl_date.isoformat()}

    return _once(ctx, body, cmd.fixmedins_code, "F2304", work)


def cancel(ctx: AppContext, body: dict) -> dict:
    def work(bound: AppContext) -> dict:
        view = settlements.cancel(bound, body["setl_id"], date.fromisoformat(body["on"]) if body.get("on") else None,
                                  reversal=bool(body["reversal"]), actor=body["actor"],
                                  fixmedins_code=body["fixmedins_code"])
        with bound.unit_of_work() as session:
            row = session.get(SettlementRow, view.setl_id)
            events.record(session, events.INSURED, row)
            return {"setl_id": row.setl_id, "status": row.status, "cancelled_on": row.cancelled_on.isoformat()}

    return _once(ctx, body, body["fixmedins_code"], "F2305", work)


def _once(ctx: AppContext, body: dict, fixmedins_code: str, kind: str, work: Callable[[AppContext], dict]) -> dict:
    """Do ``work`` and store its answer under the request id, in one transaction; answer a repeat from the store."""
    request_id, digest = body["request_id"], messages.digest({k: v for k, v in body.items() if k != "request_id"})
    for _attempt in range(2):
        try:
            with ctx.unit_of_work() as session:
                replay = idempotency.lookup(session, request_id, digest, fixmedins_code)
                if replay is not None:
                    return replay.response
                answer = work(idempotency.bound_context(ctx, session))
                idempotency.record(session, msgid=request_id, fixmedins_code=fixmedins_code, infno=kind,
                                   digest=digest, response=answer)
            return answer
        except IntegrityError:
            continue  # a concurrent copy of this request committed first: answer from it
        except YidiError:  # e.g. DUPLICATE_CLAIM because that copy just committed: the same answer as it got
            with ctx.unit_of_work() as session:
                replay = idempotency.lookup(session, request_id, digest, fixmedins_code)
            if replay is not None:
                return replay.response
            raise
    with ctx.unit_of_work() as session:
        replay = idempotency.lookup(session, request_id, digest, fixmedins_code)
    if replay is None:
        raise YidiError("SERVICE_UNAVAILABLE", {"detail": "并发冲突，请用同一 msgid 重试"})
    return replay.response


HANDLERS: dict[str, Callable[[AppContext, dict], dict]] = {
    "identify": identify, "person": person, "presettle": presettle, "settle": settle, "cancel": cancel,
}


def answer(ctx: AppContext, op: str, body: dict) -> dict:
    """Run one request; a coded refusal becomes an answer, a fault is logged and answered SERVICE_UNAVAILABLE."""
    try:
        return HANDLERS[op](ctx, body)
    except YidiError as exc:
        return messages.refusal(exc)
    except Exception:  # noqa: BLE001 - the treatment node gets a coded answer, never silence
        log.exception("federation.insured_fault", op=op)
        return messages.refusal(YidiError("SERVICE_UNAVAILABLE", {"detail": "参保地节点故障"}))
