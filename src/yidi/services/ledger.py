"""Double-entry ledger (C1–C5): every entry sums to zero, nothing is ever updated or deleted.

An account is ``{admdvs}:{科目}[:{counterparty}]``, e.g. ``410800:异地清算应付:110000``. The chart of
accounts (docs/funds.md) is ``CHART`` below: each 科目 has a class (基金 / 经费) and a normal side.
Amounts are integer fen; debit > 0, credit < 0.

Invariants, checked here in code on every ``post`` and again by the database on PostgreSQL
(migration funds_0001: a deferred constraint trigger sums each entry at commit; UPDATE/DELETE on
postings and journal_entries are refused by triggers on both PostgreSQL and SQLite):
- each entry balances (sum of its postings = 0);
- an entry never mixes the medical-insurance fund (基金) with the agency's operating budget (经费):
  bank fees are paid from 经费 and never from the fund (C3);
- corrections are new entries (a cancellation or 冲正 posts the mirror of the settlement entry).

A direct settlement in another region books (the insured region I owes, the treatment region T advances):
- I: Dr 统筹基金支出 (+ 个人账户支出) / Cr 异地清算应付:T (cleared monthly, C2)
- T: Dr 异地清算应收:I / Cr 应付医疗机构:{fixmedins_code}
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.orm import JournalEntryRow, PostingRow, SettlementRow
from yidi.services.context import AppContext


@dataclass(frozen=True)
class AccountSpec:
    name: str  # 科目
    group: str  # 基金 (the insurance fund) or 经费 (the agency's own budget)
    category: str  # 资产 / 负债 / 收入 / 支出 / 往来
    meaning: str


FUND = "基金"
BUDGET = "经费"

CHART: dict[str, AccountSpec] = {spec.name: spec for spec in [
    AccountSpec("财政专户存款", FUND, "资产", "基金在财政专户（社会保障基金财政专户）中的存款"),
    AccountSpec("统筹基金支出", FUND, "支出", "参保地统筹基金为结算承担的支出（含职工统筹、居民统筹等）"),
    AccountSpec("个人账户支出", FUND, "支出", "参保地个人账户为结算承担的支出"),
    AccountSpec("异地清算应付", FUND, "往来", "清算往来：参保地欠就医地的异地结算资金，按月清算（C2）"),
    AccountSpec("异地清算应收", FUND, "往来", "清算往来：就医地向参保地应收的已垫付资金，按月清算（C2）"),
    AccountSpec("应付医疗机构", FUND, "负债", "应付定点医药机构的结算款（就医地或本地）"),
    AccountSpec("应付参保人", FUND, "负债", "零星报销应付参保人员的款项"),
    AccountSpec("预付金", FUND, "资产", "暂付款项：参保地（省）拨付给就医地（省）的年度预付金（C1）"),
    AccountSpec("暂收预付金", FUND, "负债", "暂收款项：就医地（省）收到的参保地预付金（C1、C3）"),
    AccountSpec("利息收入", FUND, "收入", "预付金在就医地财政专户中产生的利息，归就医地所有（C3）"),
    AccountSpec("基金追回收入", FUND, "收入", "监管追回的基金、扣款，按原渠道返回参保地（C5）"),
    AccountSpec("罚没及违约金收入", FUND, "收入", "行政处罚、协议违约金，由就医地按规定处理（C5）"),
    AccountSpec("经费存款", BUDGET, "资产", "经办机构工作经费账户"),
    AccountSpec("经费支出", BUDGET, "支出", "经办机构工作经费支出，如银行手续费、票据工本费（C3）"),
]}


class UnbalancedEntry(AssertionError):
    """A programming error: an entry that does not sum to zero never reaches the database."""


class MixedFundEntry(AssertionError):
    """A programming error: one entry touching both the fund (基金) and the agency budget (经费)."""


def account(admdvs: str, name: str, sub: str | None = None) -> str:
    if name not in CHART:
        raise KeyError(f"科目 {name} is not in the chart of accounts")
    return f"{admdvs}:{name}" + (f":{sub}" if sub else "")


def parse_account(account_code: str) -> tuple[str, str, str | None]:
    """``'410800:异地清算应付:110000'`` -> ``('410800', '异地清算应付', '110000')``."""
    parts = account_code.split(":", 2)
    if len(parts) < 2 or parts[1] not in CHART:
        raise KeyError(f"account {account_code!r} is not in the chart of accounts")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def group_of(account_code: str) -> str:
    return CHART[parse_account(account_code)[1]].group


def is_fund_account(account_code: str) -> bool:
    return group_of(account_code) == FUND


def check_lines(entry_id: str, kind: str, lines: list[tuple[str, int]]) -> None:
    if sum(amount for _, amount in lines) != 0:
        raise UnbalancedEntry(f"entry {entry_id} does not balance: {lines}")
    groups = {group_of(code) for code, _ in lines}
    if len(groups) > 1:
        raise MixedFundEntry(f"entry {entry_id} mixes 基金 and 经费 accounts: {lines}")
    if kind == "bank_fee" and groups - {BUDGET}:
        raise MixedFundEntry(f"entry {entry_id}: bank fees are never paid from the fund (C3): {lines}")


def post(session: Session, entry_id: str, kind: str, ref: str, on: date, lines: list[tuple[str, int]],
         memo: str = "") -> None:
    """Append one balanced entry. Zero lines are dropped; two lines on one account are kept apart."""
    lines = [(code, int(amount)) for code, amount in lines if amount != 0]
    check_lines(entry_id, kind, lines)
    session.add(JournalEntryRow(entry_id=entry_id, kind=kind, ref=ref, on_date=on, memo=memo))
    session.flush()
    session.add_all([PostingRow(entry_id=entry_id, account=code, amount_fen=amount) for code, amount in lines])
    session.flush()


@dataclass(frozen=True)
class Entry:
    entry_id: str
    kind: str
    ref: str
    on: date
    lines: list[tuple[str, int]]
    memo: str = ""


def post_many(session: Session, entries: list[Entry]) -> None:
    """Append many balanced entries with two bulk INSERTs (a clearing month has ~10⁵ flows).
    Each entry is checked exactly like ``post``."""
    if not entries:
        return
    journal, postings = [], []
    for entry in entries:
        lines = [(code, int(amount)) for code, amount in entry.lines if amount != 0]
        check_lines(entry.entry_id, entry.kind, lines)
        journal.append({"entry_id": entry.entry_id, "kind": entry.kind, "ref": entry.ref, "on_date": entry.on,
                        "memo": entry.memo})
        postings += [{"entry_id": entry.entry_id, "account": code, "amount_fen": amount} for code, amount in lines]
    if len(entries) == 1 and hot_sql.on_postgresql(session):  # a settlement's entry: queued with its use case's writes
        hot_sql.INSERT_JOURNAL_ENTRY.queue(session, journal[0])
        hot_sql.INSERT_POSTING_LINES.queue(session, {"entry_id": journal[0]["entry_id"],
                                                     "account": [line["account"] for line in postings],
                                                     "amount_fen": [line["amount_fen"] for line in postings]})
        return
    # adapters/hot_sql.py's INSERTs on the session's connection: the ORM bulk path cost ~3x as much CPU
    hot_sql.INSERT_JOURNAL_ENTRY.run_many(session, journal)
    hot_sql.INSERT_POSTING.run_many(session, postings)


def new_entry_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20].upper()}"


def cleared_amount(row: SettlementRow) -> int:
    """What the insured region owes for one settlement: every fund share the hospital advanced
    (统筹基金 ``fund_pay_sumamt`` + 个人账户 ``acct_pay``; the national interface keeps them apart)."""
    return row.fund_pay_sumamt + (row.acct_pay or 0)


class SettlementForLedger(Protocol):
    """What a settlement's ledger entry reads of it: a SettlementRow, or the values settlements._write has just
    inserted (read like one)."""

    @property
    def kind(self) -> str: ...
    @property
    def psn_no(self) -> str: ...
    @property
    def fixmedins_code(self) -> str: ...
    @property
    def insuplc_admdvs(self) -> str: ...
    @property
    def mdtrtarea_admvs(self) -> str: ...
    @property
    def fund_pay_sumamt(self) -> int: ...
    @property
    def acct_pay(self) -> int | None: ...


def settlement_lines(row: SettlementForLedger) -> list[tuple[str, int]]:
    fund, acct = row.fund_pay_sumamt, row.acct_pay or 0
    insured, treatment = row.insuplc_admdvs, row.mdtrtarea_admvs
    expense = [(account(insured, "统筹基金支出"), fund), (account(insured, "个人账户支出"), acct)]
    total = fund + acct
    if row.kind == "manual":  # 零星报销: the insured region pays the person directly
        return [*expense, (account(insured, "应付参保人", row.psn_no), -total)]
    if insured == treatment:
        return [*expense, (account(insured, "应付医疗机构", row.fixmedins_code), -total)]
    return [
        *expense,
        (account(insured, "异地清算应付", treatment), -total),
        (account(treatment, "异地清算应收", insured), total),
        (account(treatment, "应付医疗机构", row.fixmedins_code), -total),
    ]


def post_settlement(session: Session, row: SettlementRow) -> None:
    post(session, f"S-{row.setl_id}", "settlement", row.setl_id, row.setl_date, settlement_lines(row))


def post_reversal(session: Session, row: SettlementRow, on: date) -> None:
    mirror = [(code, -amount) for code, amount in settlement_lines(row)]
    post(session, f"R-{row.setl_id}", "reversal" if row.status == "reversed" else "cancel", row.setl_id, on, mirror)


def trial_balance(session: Session) -> int:
    """Sum of every posting; zero when the ledger balances."""
    return int(session.execute(select(func.coalesce(func.sum(PostingRow.amount_fen), 0))).scalar_one())


def unbalanced_entries(session: Session) -> list[str]:
    stmt = (select(PostingRow.entry_id).group_by(PostingRow.entry_id)
            .having(func.sum(PostingRow.amount_fen) != 0))
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class LedgerCheck:
    """The ledger's own check: the trial balance (zero when it balances) and any entry that does not."""

    trial_balance_fen: int
    unbalanced_entries: tuple[str, ...]


def check(ctx: AppContext) -> LedgerCheck:
    """Trial balance and unbalanced entries, read in one transaction (the agency's reconciliation page)."""
    with ctx.unit_of_work() as session:
        return LedgerCheck(trial_balance(session), tuple(unbalanced_entries(session)))


def verify_books(ctx: AppContext) -> tuple[list[str], int]:
    """(problems found by ``verify``, trial balance in fen), read in one transaction (``yidi clearing verify``)."""
    with ctx.unit_of_work() as session:
        return verify(session), trial_balance(session)


def balance(session: Session, account_code: str, *, until: date | None = None) -> int:
    """Balance of one account (debit positive), optionally only entries dated on or before ``until``."""
    stmt = select(func.coalesce(func.sum(PostingRow.amount_fen), 0)).where(PostingRow.account == account_code)
    if until is not None:
        stmt = stmt.join(JournalEntryRow, JournalEntryRow.entry_id == PostingRow.entry_id).where(
            JournalEntryRow.on_date <= until)
    return int(session.execute(stmt).scalar_one())


def balances(session: Session, prefix: str = "") -> dict[str, int]:
    stmt = (select(PostingRow.account, func.sum(PostingRow.amount_fen)).group_by(PostingRow.account)
            .order_by(PostingRow.account))
    if prefix:
        stmt = stmt.where(PostingRow.account.startswith(prefix))
    return {code: int(total) for code, total in session.execute(stmt)}


def verify(session: Session) -> list[str]:
    """The checks PostgreSQL enforces by triggers, run anywhere (SQLite included): a list of problems."""
    # (An entry without postings is legitimate: a settlement the fund paid nothing for is still recorded.)
    problems = [f"分录 {entry_id} 借贷不平衡" for entry_id in unbalanced_entries(session)]
    by_entry: dict[str, tuple[str, list[tuple[str, int]]]] = {}
    rows = session.execute(select(JournalEntryRow.entry_id, JournalEntryRow.kind, PostingRow.account,
                                  PostingRow.amount_fen)
                           .join(PostingRow, PostingRow.entry_id == JournalEntryRow.entry_id))
    for entry_id, kind, code, amount in rows:
        by_entry.setdefault(entry_id, (kind, []))[1].append((code, amount))
    for entry_id, (kind, lines) in by_entry.items():
        try:
            check_lines(entry_id, kind, lines)
        except KeyError as exc:
            problems.append(f"分录 {entry_id} 使用了科目表以外的科目：{exc}")
        except (UnbalancedEntry, MixedFundEntry) as exc:
            if "does not balance" not in str(exc):
                problems.append(f"分录 {entry_id}：{exc}")
    return problems
