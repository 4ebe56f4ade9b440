"""One call from request to answer: size limit → gateway signature (interface/authentication.py) → envelope checks
and the access key's binding to one institution and its region (interface/envelope.py) → rate limit → the
transaction (interface/dispatch.py), run as a write or a read (interface/execution.py). Every refusal is an
envelope with ``infcode`` -1 and an ``err_msg`` that starts with the error code; bad input never becomes a 500
and never changes data.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from yidi.api import ratelimit
from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.interface import authentication, deferred
from yidi.interface.authentication import authenticate
from yidi.interface.dispatch import TRANSACTIONS
from yidi.interface.envelope import envelope, parse_call, stamp_text
from yidi.interface.execution import run_read, run_write
from yidi.interface.output import now_text
from yidi.logs import exception_line, get_logger
from yidi.services import ops
from yidi.services.context import AppContext

log = get_logger("yidi.fsi")


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
        seen = authentication.replay_key(headers)
        try:
            call = parse_call(body, path_infno, cred, received, refmsg_time, transactions=TRANSACTIONS)
            if not authentication.name_matches(headers, call.infno):
                raise YidiError("AUTH_FAILED", {"detail": "_api_name 与 infno 不符"})
        except YidiError:
            authentication.not_replayed(ctx, seen)  # a replayed malformed request is a replay too
            raise
        msgid = call.msgid
        ratelimit.check_fsi(ctx, cred.access_key)  # issue 9: token bucket per access key
        transaction = TRANSACTIONS[call.infno]
        if transaction.writes:
            if transaction.deferrable:
                try:  # I2: queue when the insured region is out; drain when it is back
                    deferred.before_settlement(ctx, call)
                except YidiError:
                    authentication.not_replayed(ctx, seen)
                    raise
                # federation: an insured node that does not answer → the JetStream work queue (services/ops.py)
                return 200, ops.settle_or_defer(ctx, call, lambda: run_write(ctx, call, seen))
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
