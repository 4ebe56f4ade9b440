"""One call from request to answer: authentication, the envelope, then the transaction — a write once per msgid
(the business write and the stored answer commit together), a read answered fresh.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from yidi.api import ratelimit
from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.interface import authentication as fsi_auth
from yidi.interface.authentication import authenticate
from yidi.interface.dispatch import TRANSACTIONS, WRITE_INFNOS
from yidi.interface.envelope import Call, envelope, parse_call, stamp_text
from yidi.interface.output import now_text
from yidi.logs import exception_line, get_logger
from yidi.services import idempotency, ops, replay_guard, transactions
from yidi.services.context import AppContext

log = get_logger("yidi.fsi")


def content_digest(call: Call) -> str:
    """What "the same body" means: the transaction, institution and input (not inf_time or a re-signed header)."""
    canonical = json.dumps([call.infno, call.fixmedins_code, call.input], ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
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
            with ctx.unit_of_work() as session:
                if seen is not None:
                    replay_guard.record_in(ctx, session, seen, window)
                output = TRANSACTIONS[call.infno](idempotency.bound_context(ctx, session), call)
                response = envelope(call.msgid, call.admdvs, call.refmsg_time, output=output)
                idempotency.record(session, msgid=call.msgid, fixmedins_code=call.fixmedins_code,
                                   infno=call.infno, digest=digest, response=response)
            return response
        except IntegrityError:
            pass  # the msgid is taken: answer from the stored message below
        except YidiError as exc:
            if exc.code == "REQUEST_REPLAYED":
                raise
            if seen is not None:
                replay_guard.first_sight(ctx, seen, window)
            with ctx.unit_of_work() as session:
                replay = idempotency.lookup(session, call.msgid, digest, call.fixmedins_code)
            if replay is not None:
                return replay.response
            raise
        if seen is not None:
            if not replay_guard.first_sight(ctx, seen, window):
                raise YidiError("REQUEST_REPLAYED", {})
            seen = None
        with ctx.unit_of_work() as session:
            replay = idempotency.lookup(session, call.msgid, digest, call.fixmedins_code)
        if replay is not None:
            return replay.response
    raise YidiError("SERVICE_UNAVAILABLE", {"detail": "并发冲突，请用同一 msgid 重试"})


def run_read(ctx: AppContext, call: Call, seen: str) -> dict | bytes:
    """A transaction that changes nothing, run in one database transaction with the record of its signed
    request (no transaction of its own for the replay guard); a refused read is recorded on its own."""
    try:
        with ctx.unit_of_work() as session:
            replay_guard.record_in(ctx, session, seen, get_settings().sign_window_seconds)
            return TRANSACTIONS[call.infno](idempotency.bound_context(ctx, session), call)
    except YidiError as exc:
        if exc.code != "REQUEST_REPLAYED":
            fsi_auth.not_replayed(ctx, seen)
        raise


def handle_call(ctx: AppContext, headers: dict[str, str], body: bytes,
                path_infno: str | None) -> tuple[int, dict | bytes]:
    """(HTTP status, envelope). Business refusals are HTTP 200 with infcode -1, as HIS software expects;
    authentication failures are 401/403 (with the same envelope), an oversized body 413."""
    arrived = datetime.now()
    received, refmsg_time = now_text(arrived), stamp_text(arrived)
    settings = get_settings()
    admdvs = ""
    msgid = ""
    if len(body) > settings.max_body_bytes:
        return 413, envelope(msgid, admdvs, refmsg_time,
                             error=invalid("body", f"报文超过 {settings.max_body_bytes} 字节"))
    try:
        cred = authenticate(ctx, headers, body, record=False)
        admdvs = cred.admdvs
        seen = fsi_auth.replay_key(headers)
        try:
            call = parse_call(body, path_infno, cred, received, refmsg_time)
            if not fsi_auth.name_matches(headers, call.infno):
                raise YidiError("AUTH_FAILED", {"detail": "_api_name 与 infno 不符"})
        except YidiError:
            fsi_auth.not_replayed(ctx, seen)  # a replayed malformed request is a replay too
            raise
        msgid = call.msgid
        ratelimit.check_fsi(ctx, cred.access_key)  # issue 9: token bucket per access key
        if call.infno in WRITE_INFNOS:
            if call.infno in ops.DEFERRABLE_INFNOS:
                try:  # I2: queue when the insured region is out; drain when it is back
                    ops.before_settlement(ctx, call)
                except YidiError:
                    fsi_auth.not_replayed(ctx, seen)
                    raise
            return 200, run_write(ctx, call, seen)  # the request is recorded in the write's own transaction
        output = run_read(ctx, call, seen)
        if isinstance(output, bytes):  # 9102 文件下载: the file itself, as platforms answer it
            return 200, output
        return 200, envelope(msgid, admdvs, refmsg_time, output=output)
    except YidiError as exc:
        return (exc.http_status if exc.spec.category == "auth" else 200), envelope(msgid, admdvs, refmsg_time, error=exc)
    except Exception as exc:  # noqa: BLE001 - a fault is answered with a coded reason, never a bare 500
        # One bounded line with a reference, never a traceback with locals (logs.py).
        ref = uuid.uuid4().hex[:12]
        log.error("fsi.fault", ref=ref, infno=path_infno, error=exception_line(exc))
        fault = YidiError("SERVICE_UNAVAILABLE", {"detail": f"系统故障，参考号 {ref}"})
        return 200, envelope(msgid, admdvs, refmsg_time, error=fault)
