"""`yidi verify`: invariants any operator can check against a live database (read-only).

- the ledger balances: every journal entry sums to zero, and so does the whole ledger;
- every settled settlement has its ledger entry, every cancelled/reversed one its mirror;
- year-to-date usage equals the sum of fund payments of settled claims per person, year and cap;
- no visit has two paid claims;
- no settlement pays past its cap;
- no settlement is dated before the care it pays, or after the day it was recorded;
- every 零星报销 claim agrees with its settlement (approved/paid: settled; reversed: reversed; else none);
- the audit log's hash chain is intact: every sealed row still hashes to its seal. ``verify`` first seals
  what is not sealed yet (services/audit.py; the only write it makes, ``seal=False`` to skip it) and
  notes how many rows still await a seal (rows committed while it ran).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from yidi.adapters.orm import JournalEntryRow, SettlementRow, UsageRow
from yidi.services import audit, ledger, manual_claims
from yidi.services.context import AppContext


@dataclass
class VerifyReport:
    checks: dict[str, str] = field(default_factory=dict)  # name -> "ok" or the problem
    problems: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # name -> information that is not a problem

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, name: str, problems: list[str]) -> None:
        self.checks[name] = "ok" if not problems else f"{len(problems)} problem(s)"
        self.problems += [f"{name}: {problem}" for problem in problems]


def seal_audit_log(ctx: AppContext) -> int:
    """A full sealing pass (every unsealed audit row, in batches); returns how many were sealed."""
    total = 0
    while True:
        with ctx.unit_of_work() as session:
            sealed = audit.seal(session, full=True)
        total += sealed
        if sealed < audit.SEAL_BATCH:
            return total


def verify(ctx: AppContext, *, limit: int = 50, seal: bool = True) -> VerifyReport:
    report = VerifyReport()
    if seal:
        report.notes["audit_sealed_now"] = str(seal_audit_log(ctx))
    with ctx.unit_of_work() as session:
        unbalanced = ledger.unbalanced_entries(session)
        total = ledger.trial_balance(session)
        report.add("ledger_balanced", [f"entry {entry} does not sum to zero" for entry in unbalanced[:limit]]
                   + ([f"ledger total is {total}, not 0"] if total else []))

        entries = {row.entry_id for row in session.scalars(select(JournalEntryRow).where(
            JournalEntryRow.kind.in_(("settlement", "cancel", "reversal"))))}
        missing = []
        for setl_id, status in session.execute(select(SettlementRow.setl_id, SettlementRow.status)):
            if f"S-{setl_id}" not in entries:
                missing.append(f"settlement {setl_id} has no ledger entry")
            if status != "settled" and f"R-{setl_id}" not in entries:
                missing.append(f"{status} settlement {setl_id} has no reversing entry")
            if len(missing) >= limit:
                break
        report.add("settlements_posted", missing)

        expected: dict[tuple[str, int, str], int] = {}
        stmt = (select(SettlementRow.psn_no, SettlementRow.cap_year, SettlementRow.cap_key,
                       func.sum(SettlementRow.hifp_pay))
                .where(SettlementRow.status == "settled")
                .group_by(SettlementRow.psn_no, SettlementRow.cap_year, SettlementRow.cap_key))
        for psn_no, year, cap_key, amount in session.execute(stmt):
            expected[(psn_no, year, cap_key)] = int(amount or 0)
        actual = {(row.psn_no, row.year, row.cap_key): row.used_fen for row in session.scalars(select(UsageRow))}
        usage_problems = [
            f"usage {key} is {actual.get(key, 0)} but settled fund payments sum to {expected.get(key, 0)}"
            for key in sorted(set(expected) | set(actual), key=str)
            if actual.get(key, 0) != expected.get(key, 0)
        ]
        report.add("usage_matches_settlements", usage_problems[:limit])

        duplicates = session.execute(
            select(SettlementRow.visit_key, func.count()).where(SettlementRow.status == "settled")
            .group_by(SettlementRow.visit_key).having(func.count() > 1)).all()
        report.add("one_paid_claim_per_visit", [f"visit {key} paid {count} times" for key, count in duplicates[:limit]])

        # A settlement is dated by the server clock when it is made: care after that date, or a settlement date
        # after the day it was recorded, means a date was taken from the caller (services/clock.py).
        misdated = session.execute(
            select(SettlementRow.setl_id, SettlementRow.begntime, SettlementRow.endtime, SettlementRow.setl_date,
                   SettlementRow.created_at)
            .where((SettlementRow.endtime > SettlementRow.setl_date) | (SettlementRow.begntime > SettlementRow.setl_date)
                   | (SettlementRow.setl_date > func.date(SettlementRow.created_at)))
            .limit(limit * 4)).all()
        report.add("settlement_dates", [
            f"settlement {setl_id} dated {setl_date} (recorded {created_at:%Y-%m-%d}) for care {begntime}–{endtime}"
            for setl_id, begntime, endtime, setl_date, created_at in misdated
            if endtime > setl_date or begntime > setl_date or setl_date > created_at.date() + timedelta(days=1)
        ][:limit])

        over = [f"usage {row.psn_no}/{row.year}/{row.cap_key} negative: {row.used_fen}"
                for row in session.scalars(select(UsageRow).where(UsageRow.used_fen < 0).limit(limit))]
        report.add("usage_non_negative", over)

        report.add("manual_claims_booked", manual_claims.consistency_problems(session, limit))

        chain_ok, rows, broken = audit.verify_chain(session)
        report.add("audit_chain", [] if chain_ok else [f"hash chain broken at row {broken} (of {rows} checked)"])
        report.notes["audit_rows_sealed"] = str(rows)
        report.notes["audit_rows_awaiting_seal"] = str(audit.unsealed_count(session))
    return report


@dataclass(frozen=True)
class ChainCheck:
    """The audit log's hash chain: intact or not, sealed rows checked, the first broken row, rows awaiting a seal."""

    ok: bool
    checked: int
    broken: int | None
    waiting: int


def check_audit_chain(ctx: AppContext) -> ChainCheck:
    """Recompute every sealed row's hash in chain order (``yidi audit verify``), in one transaction."""
    with ctx.unit_of_work() as session:
        ok, checked, broken = audit.verify_chain(session)
        return ChainCheck(ok, checked, broken, audit.unsealed_count(session))
