"""What crosses a border, as JSON: settle commands, answers and coded refusals.

Money stays integer fen; dates are ISO text; a refusal travels as its code and parameters, so the treatment node
raises the very ``YidiError`` the insured node raised and the HIS reads the same ``err_msg`` as on one node.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from yidi.domain.catalog import FeeItem
from yidi.domain.errors import YidiError
from yidi.domain.filing import Filing
from yidi.services.settlements import PERSON_KEYS, SettleCommand


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def encode_command(cmd: SettleCommand) -> dict:
    body = asdict(cmd)
    body["begntime"], body["endtime"] = cmd.begntime.isoformat(), cmd.endtime.isoformat()
    body["setl_date"] = cmd.setl_date.isoformat() if cmd.setl_date else None
    body["items"] = [{"code": i.code, "amount_fen": i.amount_fen, "qty": str(i.qty), "price_fen": i.price_fen,
                      "name": i.name} for i in cmd.items]
    return body


def decode_command(body: dict) -> SettleCommand:
    items = tuple(FeeItem(code=i["code"], amount_fen=int(i["amount_fen"]), qty=Decimal(i["qty"]),
                          price_fen=i["price_fen"], name=i["name"]) for i in body["items"])
    return SettleCommand(**{**body, "begntime": _day(body["begntime"]), "endtime": _day(body["endtime"]),
                            "setl_date": _day(body["setl_date"]) if body.get("setl_date") else None,
                            "items": items})


def digest(body: dict) -> str:
    """What "the same request" means for the insured node's idempotency record."""
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def encode_person(person) -> dict:
    return {key: getattr(person, key) for key in PERSON_KEYS}


def decode_person(body: dict) -> SimpleNamespace:
    """Read like a PersonRow / settlements.PERSON_COLUMNS row."""
    return SimpleNamespace(**body)


def encode_filing(filing: Filing) -> dict:
    return {key: (value.value if hasattr(value, "value") else value.isoformat() if isinstance(value, date) else value)
            for key, value in asdict(filing).items()}


def decode_filing(body: dict) -> Filing:
    from yidi.domain.filing import Basis, Channel, FilingStatus, FilingType

    kinds = {"filing_type": FilingType, "basis": Basis, "channel": Channel, "status": FilingStatus}
    values: dict[str, Any] = {}
    for key, value in body.items():
        if value is not None and key in kinds:
            values[key] = kinds[key](value)
        elif value is not None and key in _FILING_DATES:
            values[key] = date.fromisoformat(value)
        else:
            values[key] = value
    return Filing(**values)


_FILING_DATES = {"begndate", "enddate", "apply_date", "approve_due_date"}


def refusal(exc: YidiError) -> dict:
    return {"error": {"code": exc.code, "params": exc.params}}


def raise_refusal(answer: dict) -> dict:
    """The answer, or the insured node's refusal raised here as the same coded error."""
    if "error" in answer:
        raise YidiError(answer["error"]["code"], answer["error"]["params"])
    return answer


# ------------------------------------------------------------------------------ manual claims (S4) --
def encode_claim_command(cmd, files: list[dict]) -> dict:
    """A manual_claims.SubmitCommand without its file contents: ``files`` names each attachment's object in the
    federation's object store (``{object, sha256, kind, filename, content_type}``) — a request/reply message
    stays far below NATS's payload limit whatever the attachments weigh."""
    body = {key: value for key, value in asdict(cmd).items() if key not in ("attachments", "items")}
    for key in ("submitted_on", "begntime", "endtime"):
        body[key] = body[key].isoformat() if body[key] else None
    body["items"] = [{"code": i.code, "amount_fen": i.amount_fen, "qty": str(i.qty), "price_fen": i.price_fen,
                      "name": i.name} for i in cmd.items]
    body["files"] = files
    return body


def decode_claim_command(body: dict, contents: list[bytes]):
    from yidi.services.manual_claims import Attachment, SubmitCommand

    items = tuple(FeeItem(code=i["code"], amount_fen=int(i["amount_fen"]), qty=Decimal(i["qty"]),
                          price_fen=i["price_fen"], name=i["name"]) for i in body["items"])
    attachments = tuple(Attachment(f["kind"], f["filename"], f["content_type"], content)
                        for f, content in zip(body["files"], contents))
    values = {key: value for key, value in body.items() if key != "files"}
    return SubmitCommand(**{**values, "items": items, "attachments": attachments,
                            "submitted_on": _day(body["submitted_on"]), "begntime": _day(body["begntime"]),
                            "endtime": _day(body["endtime"])})


def decode_claim(body: dict):
    """The insured node's stored claim (manual_claims.Claim.to_dict) as a Claim."""
    from yidi.domain.money import yuan_to_fen
    from yidi.services.manual_claims import AttachmentInfo, Claim

    days = {"begntime", "endtime", "submitted_on", "due_date", "decided_on", "paid_on"}
    values = {key: (_day(value) if key in days else value) for key, value in body.items()
              if key not in ("kind", "attachments")}
    values["medfee_sumamt"] = yuan_to_fen(body["medfee_sumamt"])
    values["attachments"] = tuple(AttachmentInfo(a["id"], a["kind"], a["filename"], a["content_type"], a["size"],
                                                 a["sha256"]) for a in body["attachments"])
    return Claim(**values)
