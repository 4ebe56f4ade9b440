"""9001 签到 / 9002 签退: a sign_no for the operator's session, recorded in the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

from yidi.interface.envelope import Call
from yidi.interface.fields import section
from yidi.services import audit
from yidi.services.context import AppContext


def t9001(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "signIn", "data")
    opter_no = data.text("opter_no", required=False) or ""
    sign_no = f"{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().int % 10**16:016d}"  # 30 digits, as platforms issue
    audit.record_event(ctx, call.actor, "fsi.sign_in", sign_no, {"opter_no": opter_no})
    return {"signinoutb": {"sign_time": call.received, "sign_no": sign_no}}


def t9002(ctx: AppContext, call: Call) -> dict:
    data = section(call.input, "signOut", "data")
    sign_no = data.text("sign_no", max_len=60)
    audit.record_event(ctx, call.actor, "fsi.sign_out", sign_no, {})
    return {"signoutoutb": {"sign_time": call.received, "sign_no": sign_no}}
