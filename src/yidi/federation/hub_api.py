"""The hub's clearing API over NATS, and the nodes' way to read it.

``hub.clear`` {month, actor, accept_differences} → the national statement (runs 清分 once; a repeat answers the
stored one); ``hub.statement`` {month} → the stored statement (NOT_FOUND before the run); ``hub.prepayment``
{year, confirm, actor} → C1 lines per province pair. In production only the national operator's NATS user may
publish to ``hub.clear`` / ``hub.prepayment`` (NATS account permissions, docs/federation.md); nodes read
``hub.statement`` for their agencies' pages and API (GET /api/funds/federation/clearing/{month}).

A statement travels as fen integers (``to_wire``) and is rebuilt as the same ``ClearingStatement`` on the node, so
the node's funds scoping (services/funds_scope.py: an agency sees only its region's part) applies unchanged.
"""

from __future__ import annotations

from datetime import date

from yidi.domain.clearing import FlowAmount
from yidi.domain.errors import YidiError
from yidi.federation import hub_clearing, messages
from yidi.services import clearing
from yidi.services.context import AppContext


def to_wire(statement: clearing.ClearingStatement) -> dict:
    return {"month": statement.month, "period_end": statement.period_end.isoformat(), "replayed": statement.replayed,
            "watermark": statement.watermark_posting_id, "region_names": statement.region_names,
            "flows": [[f.insuplc_admdvs, f.mdtrtarea_admvs, f.current_count, f.current_fen, f.adjustment_count,
                       f.adjustment_fen] for f in statement.flows]}


def from_wire(body: dict) -> clearing.ClearingStatement:
    return clearing.ClearingStatement(body["month"], date.fromisoformat(body["period_end"]),
                                      [FlowAmount(*flow) for flow in body["flows"]], body["watermark"],
                                      replayed=body["replayed"], region_names=body["region_names"])


def handlers(ctx: AppContext, consumer) -> dict:
    def clear(body: dict) -> dict:
        statement = hub_clearing.clear(ctx, body["month"], actor=body.get("actor") or "national",
                                       accept_differences=bool(body.get("accept_differences")), consumer=consumer)
        return to_wire(statement)

    def statement(body: dict) -> dict:
        found = clearing.get_statement(ctx, body["month"])
        if found is None:
            raise YidiError("NOT_FOUND", {"what": "全国清分单（中心尚未清分该月）", "key": body["month"]})
        return to_wire(found)

    def prepayment(body: dict) -> dict:
        year = int(body["year"])
        lines = (hub_clearing.confirm_prepayment(ctx, year, actor=body.get("actor") or "national")
                 if body.get("confirm") else hub_clearing.prepayment_plan(ctx, year))
        return {"year": year, "lines": [line.to_dict() for line in lines]}

    return {"clear": clear, "statement": statement, "prepayment": prepayment}


def hub_statement(link, month: str) -> clearing.ClearingStatement:
    """The hub's national statement of ``month``, asked by a node (``ctx.federation``)."""
    from yidi.federation.bridge import NoResponder

    try:
        answer = link.bridge.request(link.names.hub("statement"), {"month": month}, timeout=link.timeout)
    except NoResponder:
        raise YidiError("SERVICE_UNAVAILABLE", {"detail": "中心节点无应答，无法取得全国清分单"}) from None
    return from_wire(messages.raise_refusal(answer))
