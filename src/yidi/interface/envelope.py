"""The interface's envelope: the request's fields checked (``parse_call`` → ``Call``) and the answer's envelope.

A msgid is 1–30 printable ASCII characters, unique per institution (``msgid_key``); the access key names one
institution and its region, and the envelope must agree with it; ``input`` may be an object or a JSON string.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from yidi.api import guards
from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.interface.authentication import Credential
from yidi.interface.fields import Fields
from yidi.logs import get_logger

if TYPE_CHECKING:
    from yidi.interface.dispatch import Transaction

log = get_logger("yidi.fsi")

ENVELOPE_FIELDS = {"infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info",
                   "cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code",
                   "fixmedins_name", "sign_no", "input", "enctype"}
INFVERS = {"V1.0", "1.0", "1", "V1", "v1.0"}
MSGID_MAX = 30
ERR_MSG_MAX = 200


def msgid_key(fixmedins_code: str, msgid: str) -> str:
    """The idempotency key of a message: vendors write msgids in several styles (``H…yyyyMMddHHmmss0001``,
    ``yyMMddHHmmss-0001``, …) and they are unique only per institution, so a msgid that does not start with
    the institution's code is keyed under it."""
    return msgid if msgid.startswith(fixmedins_code) else f"{fixmedins_code}:{msgid}"


def read_msgid(fields: Fields, key: str) -> str:
    """A msgid is 1–30 printable ASCII characters; anything else cannot be one."""
    raw = fields.data.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise invalid(fields.name(key), "缺少该字段")
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise invalid(fields.name(key), "应为文本")
    text = str(raw).strip()
    if len(text) > MSGID_MAX:
        raise invalid(fields.name(key), f"超过 {MSGID_MAX} 个字符")
    if not all(" " <= ch <= "~" for ch in text):
        raise invalid(fields.name(key), "只能包含可打印的 ASCII 字符")
    return text


@dataclass
class Call:
    """One authenticated, well-formed call."""

    infno: str
    msgid: str  # the idempotency key (msgid_key): the msgid as sent, scoped to the institution when needed
    fixmedins_code: str
    admdvs: str  # the institution's (treatment) region
    input: Any
    actor: str
    received: str  # yyyy-MM-dd HH:mm:ss, e.g. the settlement time
    refmsg_time: str = ""  # yyyyMMddHHmmssSSS, when the call arrived (the envelope's refmsg_time)
    # the input as canonical JSON (sorted keys, compact), serialised once by the parser for both its size limit
    # and the content digest (execution.content_digest); "" when the Call was built elsewhere (a queued replay)
    input_text: str = ""


def stamp_text(moment: datetime | None = None) -> str:
    """yyyyMMddHHmmssSSS, the interface's refmsg_time / respond_time."""
    moment = moment or datetime.now()
    return f"{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"


def envelope(call_msgid: str, admdvs: str, refmsg_time: str, *, output: Any = None,
             error: YidiError | None = None) -> dict:
    """The answer's envelope. ``inf_refmsgid``: 30 digits (region + yyyyMMddHHmmss + 10 random digits)."""
    err_msg = ""
    if error is not None:
        err_msg = f"{error.code}：{error.full_message()}"[:ERR_MSG_MAX]
    region = admdvs if len(admdvs) == 6 and admdvs.isdigit() else "000000"
    return {"infcode": 0 if error is None else -1,
            "inf_refmsgid": f"{region}{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().int % 10**10:010d}",
            "refmsg_time": refmsg_time or stamp_text(), "respond_time": stamp_text(), "err_msg": err_msg,
            "output": output if error is None else {}, "warn_msg": None, "cainfo": None, "signtype": None,
            "enctype": None}


def parse_call(body: bytes, path_infno: str | None, cred: Credential, received: str, refmsg_time: str = "", *,
               transactions: Mapping[str, Transaction]) -> Call:
    """The envelope checked against the caller's credential; ``transactions`` is the table of known infnos
    (interface/dispatch.py, passed in: the table's handlers take the ``Call`` made here)."""
    settings = get_settings()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid("body", "不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise invalid("body", "应为 JSON 对象")
    env = Fields(data, "")
    infno = env.text("infno", required=path_infno is None, max_len=8) or path_infno
    if path_infno is not None and infno != path_infno:
        raise invalid("infno", f"与路径中的交易编号 {path_infno} 不符")
    if infno not in transactions:
        raise YidiError("UNKNOWN_INFNO", {"infno": infno})
    extra = sorted(set(data) - ENVELOPE_FIELDS)
    if extra:
        log.info("fsi.extra_envelope_fields", fields=extra[:20], infno=infno)
    msgid = read_msgid(env, "msgid")
    code = env.text("fixmedins_code", max_len=20)
    if code != cred.fixmedins_code:
        raise YidiError("FORBIDDEN", {"detail": f"access key 只能代表机构 {cred.fixmedins_code}"})
    area = env.text("mdtrtarea_admvs", max_len=6)
    if area != cred.admdvs:
        raise YidiError("FORBIDDEN", {"detail": f"机构 {cred.fixmedins_code} 的就医地为 {cred.admdvs}"})
    infver = env.text("infver", required=False)
    if infver is not None and infver not in INFVERS:
        raise invalid("infver", "接口版本应为 V1.0")
    raw_input = data.get("input")
    # 9101 carries a file (bytes as numbers or Base64): only the body limit applies to it
    max_chars = settings.max_body_bytes if transactions[infno].file_input else settings.max_input_chars
    if raw_input is None:
        raise invalid("input", "缺少该字段")
    if isinstance(raw_input, str):  # some vendors send input as a JSON string
        if len(raw_input) > max_chars:
            raise invalid("input", f"超过 {max_chars} 个字符")
        refused = guards.json_text_refusal(raw_input.encode("utf-8", "surrogatepass"))  # the body's guards, again
        if refused is not None:
            raise refused
        try:
            raw_input = json.loads(raw_input)
        except ValueError:
            raise invalid("input", "不是有效的 JSON") from None
    if not isinstance(raw_input, dict):
        raise invalid("input", "应为 JSON 对象")
    # sorted keys change the order, not the length: the limit reads the same text the content digest hashes
    input_text = canonical_json(raw_input)
    if len(input_text) > max_chars:
        raise invalid("input", f"超过 {max_chars} 个字符")
    opter = (env.text("opter", required=False, max_len=30) or "")
    return Call(infno=infno, msgid=msgid_key(code, msgid), fixmedins_code=code, admdvs=area, input=raw_input,
                actor=f"fsi:{code}:{opter}"[:60], received=received, refmsg_time=refmsg_time,
                input_text=input_text)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: one text per value, whatever order a vendor sent its keys in."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
