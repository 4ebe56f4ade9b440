"""``yidi verify --federation``: each node's own checks, the hub's, and the two-sided comparison of cross-province
settlements per month and province pair (C4 across nodes: 账账相符 between the insured side, the treatment side and
the hub's 清分 data).

Four views of every cross-province direct settlement, compared per month (of settlement) and province pair:
  参保地节点  — the insured node's ``settlements``;           就医地节点 — the treatment node's ``treatment_settlements``;
  中心·参保地 — the hub's rows from the insured side's events; 中心·就医地 — … from the treatment side's events.
The figures (records, settled count and sum, cancelled count and sum, medical fees) must be equal in all four. Where
they are not, the records of that month and pair are fetched from the four and every settlement on which they
disagree is listed with its setl_id and msgid — a difference is reported, never hidden. Only figures cross NATS for
the pairs that agree; records only for the pairs that do not.

Nodes and hub answer over NATS (``node.<NN>.verify`` · ``.clearing_totals`` · ``.clearing_rows`` and
``hub.verify`` · ``hub.clearing_totals`` · ``hub.clearing_rows`` · ``hub.clearing_state``): no database is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from yidi.adapters.orm import SettlementRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan
from yidi.federation import events, hub_clearing, messages
from yidi.federation.bridge import Bridge, NoResponder
from yidi.federation.subjects import Names
from yidi.logs import get_logger
from yidi.services.context import AppContext
from yidi.services.verify import verify as own_verify

log = get_logger("yidi.federation.verify")
VERIFY_TIMEOUT = 300.0  # a node's own checks read its whole database

SOURCES = ("insured_node", "treatment_node", "hub_insured", "hub_treatment")
LABELS = {"insured_node": "参保地节点", "treatment_node": "就医地节点", "hub_insured": "中心·参保地事件",
          "hub_treatment": "中心·就医地事件"}


def _report_dict(report) -> dict:
    return {"checks": report.checks, "problems": report.problems, "notes": report.notes}


# ------------------------------------------------------------------------------------------ node answers --
def _insured_where(province: str):
    from sqlalchemy import func

    return (func.substr(SettlementRow.insuplc_admdvs, 1, 2) == province,)


def node_handlers(ctx: AppContext, province: str) -> dict:
    def verify(body: dict) -> dict:
        answer = _report_dict(own_verify(ctx, seal=bool(body.get("seal", True))))
        answer["notes"]["events_unsent"] = str(events.pending_count(ctx))
        return answer

    def totals(_body: dict) -> dict:
        with ctx.unit_of_work() as session:
            return {"insured": hub_clearing.figures_of(session, SettlementRow, *_insured_where(province)),
                    "treatment": hub_clearing.figures_of(session, TreatmentSettlementRow)}

    def rows(body: dict) -> dict:
        with ctx.unit_of_work() as session:
            if body["side"] == events.INSURED:
                return {"rows": hub_clearing.rows_of(session, SettlementRow, body["key"], *_insured_where(province))}
            return {"rows": hub_clearing.rows_of(session, TreatmentSettlementRow, body["key"])}

    return {"verify": verify, "clearing_totals": totals, "clearing_rows": rows}


def hub_handlers(ctx: AppContext, consumer) -> dict:
    def verify(body: dict) -> dict:
        answer = _report_dict(own_verify(ctx, seal=bool(body.get("seal", True))))
        answer["notes"]["events_unapplied"] = str(consumer.pending()) if consumer else "?"
        return answer

    def state(body: dict) -> dict:
        return {"month": body["month"], "cleared": hub_clearing.cleared(ctx, body["month"])}

    return {"verify": verify, "clearing_totals": lambda _body: hub_clearing.hub_totals(ctx),
            "clearing_rows": lambda body: {"rows": hub_clearing.hub_rows(ctx, body["side"], body["key"])},
            "clearing_state": state}


def _answer(handler, body: dict) -> dict:
    try:
        return handler(body)
    except YidiError as exc:
        return messages.refusal(exc)
    except Exception:  # noqa: BLE001 - the asker gets a coded answer, never silence
        log.exception("federation.verify_fault")
        return messages.refusal(YidiError("SERVICE_UNAVAILABLE", {"detail": "核对请求处理失败"}))


def serve(bridge: Bridge, subject_of, handlers: dict, queue: str) -> None:
    for op, handler in handlers.items():
        bridge.serve(subject_of(op), partial(_answer, handler), queue=queue)


# ------------------------------------------------------------------------------------------- comparison --
@dataclass
class FederationReport:
    parts: dict[str, dict] = field(default_factory=dict)  # "hub" / province → its own checks (or "error")
    pairs: dict[str, dict] = field(default_factory=dict)  # month|insured|treatment → source → figures
    differences: list[dict] = field(default_factory=list)  # per settlement: key, setl_id, msgid, views
    problems: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"ok": self.ok, "parts": self.parts, "pairs": self.pairs, "differences": self.differences,
                "problems": self.problems, "notes": self.notes}


def _ask(bridge: Bridge, subject: str, body: dict) -> dict:
    return messages.raise_refusal(bridge.request(subject, body, timeout=VERIFY_TIMEOUT))


def _shown(figures: dict | None) -> str:
    if figures is None:
        return "无法取得"
    return (f"{figures['settled']} 笔 {fen_to_yuan(figures['settled_fen'])} 元"
            + (f"，撤销 {figures['cancelled']} 笔 {fen_to_yuan(figures['cancelled_fen'])} 元" if figures["cancelled"] else ""))


def _view(row: dict | None) -> str:
    return "缺失" if row is None else f"{row['status']} {fen_to_yuan(row['fen'])} 元"


def verify_federation(bridge: Bridge, names: Names, provinces: list[str], *, seal: bool = True) -> FederationReport:
    report = FederationReport()
    totals: dict[str, dict | None] = {}
    for part, prefix in [("hub", None)] + [(p, names.node_prefix(p)) for p in provinces]:
        subject = (lambda op: names.hub(op)) if prefix is None else (lambda op, prefix=prefix: f"{prefix}.{op}")
        label = "中心" if part == "hub" else f"节点 {part}"
        try:
            own = _ask(bridge, subject("verify"), {"seal": seal})
            totals[part] = _ask(bridge, subject("clearing_totals"), {})
        except (NoResponder, YidiError) as exc:
            report.parts[part] = {"error": str(exc)}
            report.problems.append(f"{label}: 无应答（{exc}）")
            totals[part] = None
            continue
        report.parts[part] = own
        report.problems += [f"{label}: {problem}" for problem in own["problems"]]
        for name, note in own["notes"].items():
            if name.startswith("events_"):
                report.notes[f"{part}.{name}"] = note
    if any(note not in ("0", "?") for name, note in report.notes.items()):
        report.notes["in_flight"] = "有事件尚未送达或处理：相应差异可能只是在途，稍后再核对"

    def source_totals(part: str | None, side: str) -> dict | None:
        return None if part is None or totals.get(part) is None else totals[part][side]

    keys = set()
    for part, answer in totals.items():
        if answer is not None:
            for side in events.SIDES:
                keys |= set(answer[side])
    for key in sorted(keys):
        _month, insured, treatment = key.split("|")
        where = {"insured_node": (insured[:2], events.INSURED), "treatment_node": (treatment[:2], events.TREATMENT),
                 "hub_insured": ("hub", events.INSURED), "hub_treatment": ("hub", events.TREATMENT)}
        figures = {}
        for source, (part, side) in where.items():
            known = source_totals(part if part in totals else None, side)
            figures[source] = None if known is None else known.get(key, dict.fromkeys(hub_clearing.FIGURES, 0))
        report.pairs[key] = figures
        if len({str(sorted(f.items())) if f else None for f in figures.values()}) == 1:
            continue
        report.problems.append(f"{key.replace('|', ' ', 1).replace('|', '→')}: " + " · ".join(
            f"{LABELS[s]} {_shown(figures[s])}" for s in SOURCES))
        _list_settlements(bridge, names, report, key, where, totals)
    return report


def _list_settlements(bridge, names, report, key, where, totals) -> None:
    views: dict[str, dict | None] = {}
    for source, (part, side) in where.items():
        if totals.get(part) is None:
            views[source] = None
            continue
        subject = names.hub("clearing_rows") if part == "hub" else f"{names.node_prefix(part)}.clearing_rows"
        try:
            views[source] = _ask(bridge, subject, {"side": side, "key": key})["rows"]
        except (NoResponder, YidiError) as exc:  # gone since its figures came: listed as unknown, not hidden
            report.problems.append(f"  {key}: {LABELS[source]} 的明细无法取得（{exc}）")
            views[source] = None
    known = {s: rows for s, rows in views.items() if rows is not None}
    for setl_id in sorted(set().union(*[set(rows) for rows in known.values()])):
        seen = {s: rows.get(setl_id) for s, rows in known.items()}
        if len({str(sorted(v.items())) if v else None for v in
                ({k: x for k, x in (v or {}).items() if k != "msgid"} for v in seen.values())}) == 1:
            continue
        msgid = next((v["msgid"] for v in seen.values() if v and v["msgid"]), "")
        report.differences.append({"key": key, "setl_id": setl_id, "msgid": msgid, "views": seen})
        report.problems.append(f"  {key.split('|')[0]} setl_id {setl_id} msgid {msgid}: " + " · ".join(
            f"{LABELS[s]} {_view(v)}" for s, v in seen.items()))
