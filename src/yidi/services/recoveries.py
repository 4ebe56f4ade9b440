"""Supervision recoveries and fines (C5, seed 001 六).

"跨省异地就医监管追回的医保基金、扣款等按原渠道返回参保地账户，行政处罚、协议违约金等由就医地医保部门按规定处理。"

Both are deducted from what the treatment region owes the hospital (Dr 应付医疗机构:{fixmedins_code}).
- ``recovery`` (追回基金、扣款): the treatment region passes the money back the way it came, into the
  insured region's fiscal account, where it is fund income (Cr 基金追回收入 on the insured region).
- ``fine`` (行政处罚、协议违约金): stays with the treatment region (Cr 罚没及违约金收入 on the treatment region).

Called by the supervision pages; one transaction; the recovered total of a settlement never exceeds
the fund money it paid.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidi.adapters.orm import JournalEntryRow, PostingRow, SettlementRow
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan
from yidi.services import audit, ledger
from yidi.services.context import AppContext

KINDS = ("recovery", "fine")


def recovery_lines(row: SettlementRow, amount_fen: int, kind: str) -> list[tuple[str, int]]:
    insured, treatment = row.insuplc_admdvs, row.mdtrtarea_admvs
    hospital = ledger.account(treatment, "应付医疗机构", row.fixmedins_code)
    if kind == "fine":
        return [(hospital, amount_fen), (ledger.account(treatment, "罚没及违约金收入"), -amount_fen)]
    return [
        (hospital, amount_fen),
        (ledger.account(treatment, "财政专户存款"), -amount_fen),  # passed back along the original channel
        (ledger.account(insured, "财政专户存款"), amount_fen),
        (ledger.account(insured, "基金追回收入"), -amount_fen),
    ]


def recovered_fen(session: Session, setl_id: str) -> int:
    """What has already been recovered (not fined) for this settlement."""
    stmt = (select(func.coalesce(func.sum(PostingRow.amount_fen), 0))
            .join(JournalEntryRow, JournalEntryRow.entry_id == PostingRow.entry_id)
            .where(JournalEntryRow.kind == "recovery", JournalEntryRow.ref == setl_id,
                   PostingRow.account.like("%:基金追回收入")))
    return -int(session.execute(stmt).scalar_one())


def record_recovery(ctx: AppContext, setl_id: str, amount_fen: int, kind: str = "recovery", *,
                    on: date | None = None, actor: str = "system", memo: str = "") -> str:
    with ctx.unit_of_work() as session:
        return post_recovery(session, setl_id, amount_fen, kind, on=on, actor=actor, memo=memo)


def post_recovery(session: Session, setl_id: str, amount_fen: int, kind: str = "recovery", *, on: date | None = None,
                  actor: str = "system", memo: str = "") -> str:
    """The recovery inside the caller's transaction (e.g. closing a supervision lead books it atomically)."""
    if kind not in KINDS:
        raise invalid("kind", "应为 recovery（追回基金、扣款）或 fine（行政处罚、协议违约金）")
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise invalid("amount", "金额应大于0")
    row = session.scalars(select(SettlementRow).where(SettlementRow.setl_id == setl_id).with_for_update()).first()
    if row is None:
        raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
    if row.status != "settled":
        raise YidiError("SETTLEMENT_NOT_CLEARABLE", {"setl_id": setl_id})
    if kind == "recovery":
        total = recovered_fen(session, setl_id) + amount_fen
        if total > ledger.cleared_amount(row):
            raise YidiError("RECOVERY_EXCEEDS", {"setl_id": setl_id, "total": fen_to_yuan(total),
                                                 "fund": fen_to_yuan(ledger.cleared_amount(row))})
    entry_id = ledger.new_entry_id("V")
    ledger.post(session, entry_id, kind, setl_id, on or date.today(), recovery_lines(row, amount_fen, kind),
                memo=memo or ("监管追回，按原渠道返回参保地" if kind == "recovery" else "行政处罚/协议违约金，归就医地"))
    audit.record(session, actor, f"funds.{kind}", setl_id, {"amount": fen_to_yuan(amount_fen), "entry": entry_id})
    return entry_id
