"""Double-entry postings for settlements (C1–C3 build on these). Every entry sums to zero.

Accounts are ``{admdvs}:{name}``. A direct settlement in another region books:
- insured region: Dr 统筹基金支出 / Cr 异地清算应付 (owed to the treatment province, cleared monthly, C2)
- treatment region: Dr 异地清算应收 / Cr 应付医疗机构:{fixmedins_code} (advanced to the hospital)
A cancellation or 冲正 posts the mirror entry; nothing is ever updated or deleted.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidi.adapters.orm import JournalEntryRow, PostingRow, SettlementRow


class UnbalancedEntry(AssertionError):
    pass


def post(session: Session, entry_id: str, kind: str, ref: str, on: date, lines: list[tuple[str, int]],
         memo: str = "") -> None:
    lines = [(account, amount) for account, amount in lines if amount != 0]
    if sum(amount for _, amount in lines) != 0:
        raise UnbalancedEntry(f"entry {entry_id} does not balance: {lines}")
    session.add(JournalEntryRow(entry_id=entry_id, kind=kind, ref=ref, on_date=on, memo=memo))
    session.flush()
    for account, amount in lines:
        session.add(PostingRow(entry_id=entry_id, account=account, amount_fen=amount))


def settlement_lines(row: SettlementRow) -> list[tuple[str, int]]:
    fund = row.fund_pay_sumamt
    insured, treatment = row.insuplc_admdvs, row.mdtrtarea_admvs
    if row.kind == "manual":  # 零星报销: the insured region pays the person directly
        return [(f"{insured}:统筹基金支出", fund), (f"{insured}:应付参保人:{row.psn_no}", -fund)]
    if insured == treatment:
        return [(f"{insured}:统筹基金支出", fund), (f"{insured}:应付医疗机构:{row.fixmedins_code}", -fund)]
    return [
        (f"{insured}:统筹基金支出", fund),
        (f"{insured}:异地清算应付", -fund),
        (f"{treatment}:异地清算应收", fund),
        (f"{treatment}:应付医疗机构:{row.fixmedins_code}", -fund),
    ]


def post_settlement(session: Session, row: SettlementRow) -> None:
    post(session, f"S-{row.setl_id}", "settlement", row.setl_id, row.setl_date, settlement_lines(row))


def post_reversal(session: Session, row: SettlementRow, on: date) -> None:
    mirror = [(account, -amount) for account, amount in settlement_lines(row)]
    post(session, f"R-{row.setl_id}", "reversal" if row.status == "reversed" else "cancel", row.setl_id, on, mirror)


def trial_balance(session: Session) -> int:
    """Sum of every posting; zero when the ledger balances."""
    return int(session.scalar(select(func.coalesce(func.sum(PostingRow.amount_fen), 0))))


def unbalanced_entries(session: Session) -> list[str]:
    stmt = (select(PostingRow.entry_id).group_by(PostingRow.entry_id)
            .having(func.sum(PostingRow.amount_fen) != 0))
    return list(session.scalars(stmt))
