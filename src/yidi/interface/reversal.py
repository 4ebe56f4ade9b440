"""2601 冲正交易: an earlier message of this institution reversed exactly once (services/visits.py)."""

from __future__ import annotations

from yidi.domain.errors import invalid
from yidi.interface.envelope import Call, msgid_key, read_msgid
from yidi.interface.fields import section
from yidi.services import visits
from yidi.services.context import AppContext


def t2601(ctx: AppContext, call: Call) -> dict:
    from yidi.interface.dispatch import WRITE_INFNOS  # at call time: the table imports this module

    data = section(call.input, "data")
    omsgid = msgid_key(call.fixmedins_code, read_msgid(data, "omsgid"))  # only your own messages, past or future
    if omsgid == call.msgid:
        raise invalid(data.name("omsgid"), "不能冲正本报文自身")
    oinfno = data.code("oinfno", tuple(sorted(WRITE_INFNOS)))
    psn_no = data.text("psn_no", required=False, max_len=30) or ""  # optional: where the person is insured
    return {"result": visits.reverse_message(ctx, fixmedins_code=call.fixmedins_code, omsgid=omsgid, oinfno=oinfno,
                                             actor=call.actor, psn_no=psn_no)}
