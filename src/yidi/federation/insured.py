"""The insured node's answers to the treatment nodes (参保地 side).

``settle`` and ``cancel`` are idempotent on the request id the treatment node sends (the hospital's msgid, end to
end): the settlement (or its reversal) — usage, fund liability in the ledger, audit — and the stored answer commit
in ONE transaction (services.idempotency, as for the hospital interface). A resend, a NATS redelivery or a second
copy racing the first gets the stored answer; a different request under a taken id is MSGID_CONFLICT.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Callable

from sqlalchemy.exc import IntegrityError

from yidi.adapters.orm import MessageRow, SettlementRow

from yidi.domain.errors import YidiError
from yidi.federation import events, messages
from yidi.logs import get_logger
from yidi.services import audit, idempotency, settlements
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


def claim(ctx: AppContext, body: dict) -> dict:
    """A manual claim (零星报销, S4) entered at a treatment node for a person insured here: submitted here, into this
    region's agency's queue, exactly as on one node. Its files wait in the federation's object store; they are
    read (and checked against the sha256 the treatment node sent) inside the transaction that stores the claim,
    and removed from the store once it committed. Idempotent on the request id: a resend gets the stored claim."""
    from yidi.services import manual_claims

    link = ctx.federation
    files = body["cmd"]["files"]

    def work(bound: AppContext) -> dict:
        contents = []
        for entry in files:
            content = link.bridge.object_get(link.names.claim_files_bucket, entry["object"])
            if hashlib.sha256(content).hexdigest() != entry["sha256"]:
                raise YidiError("SERVICE_UNAVAILABLE", {"detail": "零星报销附件传输不完整，请重新提交"})
            contents.append(content)
        cmd = messages.decode_claim_command(body["cmd"], contents)
        stored = manual_claims.submit(bound, cmd)
        return {"claim": stored.to_dict() | {"submitted_by": stored.submitted_by}}

    answer = _once(ctx, body, body["cmd"]["fixmedins_code"], "FCLAIM", work)
    for entry in files:  # stored with the claim (or an earlier copy's): the store's copy is no longer needed
        try:
            link.bridge.object_delete(link.names.claim_files_bucket, entry["object"])
        except Exception:  # noqa: BLE001 - already removed by an earlier copy; the store's TTL removes the rest
            pass
    return answer


def reverse(ctx: AppContext, body: dict) -> dict:
    """2601 at the treatment node for a settlement message it never recorded (it failed after this node's commit,
    or the message is still on its way here): reverse what this node did under that request id, exactly once.

    - this node settled it: reversed (status reversed, usage given back, mirror ledger entry) under the same key as
      any other reversal of the settlement (``X<setl_id>``); the answer carries the settlement so that the treatment
      node records its side of it (settled, then reversed) — both sides then hold the same settlement;
    - it never arrived: a tombstone takes the request id, so a copy arriving later is refused (MESSAGE_REVERSED)
      instead of settling — the same rule as a 2601 that overtakes its original at the treatment node.
    """
    request_id, code = body["request_id"], body["fixmedins_code"]
    for _attempt in range(2):
        try:
            with ctx.unit_of_work() as session:
                row = session.get(MessageRow, request_id)
                if row is None:
                    session.add(MessageRow(msgid=request_id, fixmedins_code=code, infno="F2304",
                                           body_sha256=idempotency.TOMBSTONE, response={}, reversed=True))
                    session.flush()
                    audit.record(session, body["actor"], "message.reversal", request_id,
                                 {"effect": "never_processed", "from": "treatment node"})
                    return {"rslt": "never_processed"}
                stored = None if row.body_sha256 == idempotency.TOMBSTONE else dict(row.response)
                if row.fixmedins_code != code:
                    raise YidiError("MSGID_CONFLICT", {"msgid": request_id})
            break
        except IntegrityError:
            continue  # the settlement (or another reversal) committed this id meanwhile: read it again
    else:
        raise YidiError("SERVICE_UNAVAILABLE", {"detail": "并发冲突，请用同一 msgid 重试"})
    if stored is None:
        return {"rslt": "never_processed"}
    setl_id = stored["setl_id"]
    with ctx.unit_of_work() as session:
        still_settled = session.get(SettlementRow, setl_id).status == "settled"
    if still_settled:
        cancel(ctx, {"request_id": f"X{setl_id}", "setl_id": setl_id, "on": None, "reversal": True,
                     "actor": body["actor"], "fixmedins_code": code})
    with ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        return {"rslt": "reversed", "answer": stored, "settlement": {
            "setl_id": row.setl_id, "status": row.status, "cancelled_on": row.cancelled_on.isoformat(),
            "psn_no": row.psn_no, "insuplc_admdvs": row.insuplc_admdvs, "fixmedins_code": row.fixmedins_code,
            "mdtrt_id": row.mdtrt_id, "med_type": row.med_type, "begntime": row.begntime.isoformat(),
            "endtime": row.endtime.isoformat(), "setl_date": row.setl_date.isoformat()}}


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
    "claim": claim,
    "reverse": reverse,
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
