"""Agency vs finance reconciliation for one clearing month (C4: 账账相符、账款相符).

Three comparisons, each naming what differs:
1. 对明细账 (settlements vs ledger): every settlement that touches the month has its settlement entry
   with exactly the expected postings, and a cancelled/冲正 one also its mirror entry dated on the
   cancellation day — and a settled one has none. Differences name the settlement.
2. 对清算单 (settlement totals vs the stored clearing statement): the month is aggregated again from the
   settlements and compared flow by flow with what the run cleared. Where a flow differs, the
   settlements whose ledger entries were written after the run (above its watermark) and that fall in
   the month are exactly the ones that changed since: late settlements or back-dated cancellations.
3. 对总账 / 账款 (clearing statement vs ledger transfers): each cleared flow's transfer entry moved exactly
   the cleared amount out of the insured city's 清算往来 and into the treatment city's, and no clearing
   entry of the month lacks a statement line.

(Reconciliation with hospitals, 3201/3202, is the hospital interface's services/reconciliation.py.)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, load_only

from yidi.adapters.orm import JournalEntryRow, PostingRow, SettlementRow
from yidi.domain.clearing import contribution, month_bounds
from yidi.domain.money import fen_to_yuan
from yidi.services import clearing, ledger
from yidi.services.context import AppContext


@dataclass(frozen=True)
class Difference:
    check: str  # 对明细账 / 对清算单 / 对总账
    reason: str
    setl_id: str | None = None
    flow: str | None = None  # "410800→110000"
    expected_fen: int | None = None
    actual_fen: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "reason": self.reason, "setl_id": self.setl_id, "flow": self.flow,
                "expected": None if self.expected_fen is None else fen_to_yuan(self.expected_fen),
                "actual": None if self.actual_fen is None else fen_to_yuan(self.actual_fen)}


@dataclass
class ReconciliationReport:
    month: str
    cleared: bool
    settlements_checked: int = 0
    flows_checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.differences

    @property
    def settlements_that_differ(self) -> list[str]:
        return sorted({d.setl_id for d in self.differences if d.setl_id})

    def to_dict(self) -> dict[str, Any]:
        return {"month": self.month, "cleared": self.cleared, "balanced": self.balanced,
                "settlements_checked": self.settlements_checked, "flows_checked": self.flows_checked,
                "settlements_that_differ": self.settlements_that_differ,
                "differences": [d.to_dict() for d in self.differences]}


def _entry_lines(session: Session, entry_ids: list[str]) -> dict[str, tuple[JournalEntryRow, dict[str, int]]]:
    found: dict[str, tuple[JournalEntryRow, dict[str, int]]] = {}
    for index in range(0, len(entry_ids), 500):
        batch = entry_ids[index:index + 500]
        for entry in session.scalars(select(JournalEntryRow).where(JournalEntryRow.entry_id.in_(batch))):
            found[entry.entry_id] = (entry, defaultdict(int))
        for entry_id, code, amount in session.execute(select(PostingRow.entry_id, PostingRow.account,
                                                             PostingRow.amount_fen)
                                                      .where(PostingRow.entry_id.in_(batch))):
            found[entry_id][1][code] += amount
    return found


def _as_map(lines: list[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for code, amount in lines:
        if amount:
            totals[code] += amount
    return {code: amount for code, amount in totals.items() if amount}


def _check_settlement_entries(session: Session, rows: Sequence[SettlementRow], report: ReconciliationReport) -> None:
    entries = _entry_lines(session, [f"S-{r.setl_id}" for r in rows] + [f"R-{r.setl_id}" for r in rows])
    for row in rows:
        expected = _as_map(ledger.settlement_lines(row))
        posted = entries.get(f"S-{row.setl_id}")
        if posted is None:
            report.differences.append(Difference("对明细账", "结算没有记账分录", row.setl_id,
                                                 expected_fen=ledger.cleared_amount(row), actual_fen=0))
        elif _as_map(list(posted[1].items())) != expected:
            report.differences.append(Difference("对明细账", "记账金额与结算不符", row.setl_id,
                                                 expected_fen=ledger.cleared_amount(row),
                                                 actual_fen=sum(v for v in posted[1].values() if v > 0)))
        mirror = entries.get(f"R-{row.setl_id}")
        if row.status == "settled" and mirror is not None:
            report.differences.append(Difference("对明细账", "结算未撤销，但总账有撤销分录", row.setl_id))
        elif row.status != "settled":
            expected_mirror = {code: -amount for code, amount in expected.items()}
            if mirror is None:
                report.differences.append(Difference("对明细账", "已撤销/冲正的结算没有冲销分录", row.setl_id,
                                                     expected_fen=ledger.cleared_amount(row), actual_fen=0))
            elif _as_map(list(mirror[1].items())) != expected_mirror or mirror[0].on_date != row.cancelled_on:
                report.differences.append(Difference("对明细账", "冲销分录的金额或日期与撤销记录不符", row.setl_id))


def _flow_key(insured: str, treatment: str) -> str:
    return f"{insured}→{treatment}"


def reconcile(ctx: AppContext, month: str, insuplc_admdvs: str | None = None) -> ReconciliationReport:
    """``insuplc_admdvs`` limits every check to one insured region's settlements and flows."""
    start, end = month_bounds(month)
    statement = clearing.get_statement(ctx, month)
    if statement is not None and insuplc_admdvs:
        statement.flows = [flow for flow in statement.flows if flow.insuplc_admdvs == insuplc_admdvs]
    report = ReconciliationReport(month=month, cleared=statement is not None)
    # Aggregated before the unit of work opens: on SQLite a second connection would wait for its lock.
    flows_now = clearing.compute_flows(ctx, month)[0] if statement is not None else []
    flows_now = [flow for flow in flows_now if not insuplc_admdvs or flow.insuplc_admdvs == insuplc_admdvs]
    with ctx.unit_of_work() as session:
        rows = session.scalars(select(SettlementRow).options(load_only(*(getattr(SettlementRow, name) for name in (
            "setl_id", "kind", "status", "psn_no", "fixmedins_code", "insuplc_admdvs", "mdtrtarea_admvs",
            "setl_date", "cancelled_on", "fund_pay_sumamt", "acct_pay")))).where(
            or_(SettlementRow.setl_date.between(start, end), SettlementRow.cancelled_on.between(start, end)),
            *([SettlementRow.insuplc_admdvs == insuplc_admdvs] if insuplc_admdvs else []))
            .order_by(SettlementRow.setl_id)).all()
        report.settlements_checked = len(rows)
        _check_settlement_entries(session, rows, report)
        if statement is None:
            return report

        # 2. settlement totals now vs the stored statement
        stored = {(f.insuplc_admdvs, f.mdtrtarea_admvs): f for f in statement.flows}
        now = {(f.insuplc_admdvs, f.mdtrtarea_admvs): f for f in flows_now}
        report.flows_checked = len(set(stored) | set(now))
        changed_refs = set(session.scalars(
            select(JournalEntryRow.ref).join(PostingRow, PostingRow.entry_id == JournalEntryRow.entry_id)
            .where(PostingRow.id > statement.watermark_posting_id,
                   JournalEntryRow.kind.in_(("settlement", "cancel", "reversal")))))
        for key in sorted(set(stored) | set(now)):
            was, is_ = stored.get(key), now.get(key)
            was_fen, is_fen = (was.net_fen if was else 0), (is_.net_fen if is_ else 0)
            if was_fen == is_fen and (was.current_count if was else 0) == (is_.current_count if is_ else 0):
                continue
            report.differences.append(Difference("对清算单", "清算单与结算明细汇总不符", flow=_flow_key(*key),
                                                 expected_fen=is_fen, actual_fen=was_fen))
            for row in rows:
                if ((row.insuplc_admdvs, row.mdtrtarea_admvs) == key and row.kind == "direct"
                        and row.setl_id in changed_refs):
                    part = contribution(row.setl_date, row.cancelled_on, start, end)
                    signed = ledger.cleared_amount(row) * (1 if part == "current" else -1 if part else 0)
                    report.differences.append(Difference(
                        "对清算单", "清算后新增或变更的结算（" + ("当月" if part == "current" else
                                                               "调整" if part else "已不属本月") + "）",
                        setl_id=row.setl_id, flow=_flow_key(*key), expected_fen=signed, actual_fen=None))

        # 3. the statement vs the clearing entries in the ledger
        entries = _entry_lines(session, [clearing.clearing_entry_id(month, *key) for key in stored])
        for key, flow in stored.items():
            entry_id = clearing.clearing_entry_id(month, *key)
            posted = entries.get(entry_id)
            expected = _as_map(clearing.clearing_lines(flow))
            actual = _as_map(list(posted[1].items())) if posted else {}
            if actual != expected:
                payable = ledger.account(key[0], "异地清算应付", key[1])
                report.differences.append(Difference("对总账", "清算划拨分录与清算单不符", flow=_flow_key(*key),
                                                     expected_fen=flow.net_fen, actual_fen=actual.get(payable, 0)))
        orphans = session.scalars(select(JournalEntryRow.entry_id).where(
            JournalEntryRow.kind == "clearing", JournalEntryRow.ref == month,
            JournalEntryRow.entry_id.like(f"C-{month}-{insuplc_admdvs or ''}%"),
            JournalEntryRow.entry_id.not_in([clearing.clearing_entry_id(month, *key) for key in stored] or [""])))
        for entry_id in orphans:
            report.differences.append(Difference("对总账", f"总账有清算分录 {entry_id}，清算单没有对应行"))
    return report
