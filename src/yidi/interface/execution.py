"""Running one parsed call: a write once per msgid (the business write and the stored answer commit together; a
resend gets the stored answer), a read answered fresh in one database transaction with the record of its signed
request.
"""

from __future__ import annotations

from yidi.config import get_settings
from yidi.domain.errors import YidiError
from yidi.interface import authentication
from yidi.interface.dispatch import TRANSACTIONS
from yidi.interface.envelope import Call, canonical_json, envelope
from yidi.services import idempotency, replay_guard, transactions
from yidi.services.context import AppContext


def content_digest(call: Call) -> str:
    """What "the same body" means: the transaction, institution and input (not inf_time or a re-signed header)."""
    # the same text as canonical_json([infno, fixmedins_code, input]) (a JSON array is its items joined by ","),
    # so digests stored before the input was serialised once still match a resend
    input_text = call.input_text or canonical_json(call.input)
    canonical = f"[{canonical_json(call.infno)},{canonical_json(call.fixmedins_code)},{input_text}]"
    return idempotency.body_digest(canonical.encode())


def run_write(ctx: AppContext, call: Call, seen: str | None = None) -> dict:
    """``_write_once``, run again from the start when the database ended it as the loser of a deadlock or a
    serialisation conflict (e.g. a 2305 and a 2304 of the same visit at once; services/transactions.py)."""
    return transactions.retrying(lambda: _write_once(ctx, call, seen), what=call.infno)


def _write_once(ctx: AppContext, call: Call, seen: str | None = None) -> dict:
    """Do the transaction and store its answer under the msgid — one database transaction.

    The message row (primary key msgid) is inserted at the end, with the answer, so a new message costs one
    statement. A msgid seen before makes that insert fail: the whole transaction (business write included)
    is rolled back and the answer comes from the stored message (same content) or the call is refused
    (MSGID_CONFLICT / MESSAGE_REVERSED). A refusal raised while a concurrent copy of the same message was
    committing is answered from that copy too, so every copy of one message gets the same answer.
    ``seen`` (the signed request's replay key) is recorded first, in the same transaction; when the
    transaction does not commit it is recorded on its own, so a replayed request is refused either way."""
    digest = content_digest(call)
    window = get_settings().sign_window_seconds
    for _attempt in range(2):
        try:
            return idempotency.write_once(
                ctx, msgid=call.msgid, fixmedins_code=call.fixmedins_code, infno=call.infno, digest=digest,
                seen=seen, window_seconds=window,
                answer=lambda bound: envelope(call.msgid, call.admdvs, call.refmsg_time,
                                              output=TRANSACTIONS[call.infno].handler(bound, call)))
        except idempotency.MsgidTaken:
            pass  # the msgid is taken: answer from the stored message below
        except YidiError as exc:
            if exc.code == "REQUEST_REPLAYED":
                raise
            # the refused transaction recorded nothing: record the request now (a replay is refused here even when
            # its refusal came before its first statement, which the replay record rides along with)
            if seen is not None and not replay_guard.first_sight(ctx, seen, window):
                raise YidiError("REQUEST_REPLAYED", {}) from None
            replay = idempotency.stored_answer(ctx, call.msgid, digest, call.fixmedins_code)
            if replay is not None:
                return replay.response
            raise
        if seen is not None:
            if not replay_guard.first_sight(ctx, seen, window):
                raise YidiError("REQUEST_REPLAYED", {})
            seen = None
        replay = idempotency.stored_answer(ctx, call.msgid, digest, call.fixmedins_code)
        if replay is not None:
            return replay.response
    raise YidiError("SERVICE_UNAVAILABLE", {"detail": "并发冲突，请用同一 msgid 重试"})


def run_read(ctx: AppContext, call: Call, seen: str) -> dict | bytes:
    """A transaction that changes nothing, run in one database transaction with the record of its signed
    request (no transaction of its own for the replay guard); a refused read is recorded on its own."""
    try:
        return idempotency.read_recorded(ctx, seen=seen, window_seconds=get_settings().sign_window_seconds,
                                         answer=lambda bound: TRANSACTIONS[call.infno].handler(bound, call))
    except YidiError as exc:
        if exc.code != "REQUEST_REPLAYED":
            authentication.not_replayed(ctx, seen)
        raise
