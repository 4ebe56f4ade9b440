"""Annual prepayment (C1), prepayment interest and bank fees (C3).

C1: by the end of January, each insured → treatment flow's prepayment is 2 × the monthly average of the
previous year's Q4 settled fund amounts (cross-province flows at province level). ``plan`` shows the new
amount against the current one; ``confirm`` stores it and posts the adjustment once per year:
  payer: Dr 预付金:{payee} / Cr 财政专户存款      payee: Dr 财政专户存款 / Cr 暂收预付金:{payer}
A negative adjustment (a smaller prepayment) is the same entry with the signs turned: money goes back.

C3: interest that the prepayment earns in the treatment side's fiscal account belongs to the treatment
region (Dr 财政专户存款 / Cr 利息收入, both on the payee). Bank fees and bill costs are paid from the
agency's operating budget (经费), never from the fund: the ledger refuses a fee entry that touches a
fund account (services/ledger.check_lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from sqlalchemy import select

from yidi.adapters import analytics
from yidi.adapters.orm_funds import PrepaymentRow
from yidi.domain.clearing import allocate, prepayment_amount, prepayment_flow, previous_q4
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import fen_to_yuan
from yidi.services import audit, ledger
from yidi.services.context import AppContext


@dataclass
class PrepaymentLine:
    payer_admdvs: str
    payee_admdvs: str
    q4_count: int
    q4_total_fen: int
    amount_fen: int  # 核定额度 = 2 × Q4 monthly average
    previous_fen: int  # 当前预付金
    confirmed: bool = False
    # The payer province's share per insured city (预收省内各统筹地区), in proportion to their Q4 amounts.
    city_shares: dict[str, int] = field(default_factory=dict)

    @property
    def adjustment_fen(self) -> int:
        return self.amount_fen - self.previous_fen

    def to_dict(self) -> dict[str, Any]:
        return {"payer_admdvs": self.payer_admdvs, "payee_admdvs": self.payee_admdvs, "q4_count": self.q4_count,
                "q4_total": fen_to_yuan(self.q4_total_fen), "amount": fen_to_yuan(self.amount_fen),
                "previous": fen_to_yuan(self.previous_fen), "adjustment": fen_to_yuan(self.adjustment_fen),
                "confirmed": self.confirmed,
                "city_shares": {city: fen_to_yuan(share) for city, share in self.city_shares.items()}}


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise invalid("year", "年度应为四位数字，如 2024")


Progress = analytics.Progress


def _q4_city_totals(ctx: AppContext, year: int, progress: Progress | None = None) -> list[tuple[str, str, int, int]]:
    start, end = previous_q4(year)
    duck = analytics.connect()
    try:
        with ctx.engine.connect() as connection, connection.begin():
            analytics.load_settlements(duck, connection, start, end, progress=progress, phase="读取上年第四季度结算")
        return analytics.q4_totals(duck, start, end)
    finally:
        duck.close()


def plan(ctx: AppContext, year: int, progress: Progress | None = None, q4_totals: Callable[..., Any] | None = None) -> list[PrepaymentLine]:
    """Every flow's prepayment for ``year`` and its adjustment against the current prepayment. ``q4_totals(ctx,
    year, progress)``: where the Q4 figures come from — this database's settlements, or the hub's events."""
    _check_year(year)
    flows: dict[tuple[str, str], PrepaymentLine] = {}
    city_weights: dict[tuple[str, str], dict[str, int]] = {}
    for insured, treatment, count, total in (q4_totals or _q4_city_totals)(ctx, year, progress):
        key = prepayment_flow(insured, treatment)
        line = flows.setdefault(key, PrepaymentLine(key[0], key[1], 0, 0, 0, 0))
        line.q4_count += count
        line.q4_total_fen += total
        weights = city_weights.setdefault(key, {})
        weights[insured] = weights.get(insured, 0) + total
    with ctx.unit_of_work() as session:
        rows = session.scalars(select(PrepaymentRow).where(PrepaymentRow.year <= year)
                               .order_by(PrepaymentRow.year)).all()
    previous: dict[tuple[str, str], int] = {}
    this_year: dict[tuple[str, str], PrepaymentRow] = {}
    for row in rows:  # ordered by year: the last one before ``year`` is the current prepayment
        key = (row.payer_admdvs, row.payee_admdvs)
        if row.year == year:
            this_year[key] = row
        else:
            previous[key] = row.amount_fen
    for key in previous:  # a flow that had a prepayment but no Q4 settlements goes back to zero
        flows.setdefault(key, PrepaymentLine(key[0], key[1], 0, 0, 0, 0))
    for key, line in flows.items():
        line.amount_fen = prepayment_amount(line.q4_total_fen)
        line.previous_fen = previous.get(key, 0)
        line.city_shares = allocate(line.amount_fen, city_weights.get(key, {}))
        confirmed = this_year.get(key)
        if confirmed is not None:  # already confirmed this year: show what was confirmed
            line.confirmed = True
            line.q4_total_fen, line.amount_fen, line.previous_fen = (confirmed.q4_total_fen, confirmed.amount_fen,
                                                                     confirmed.previous_fen)
    return [flows[key] for key in sorted(flows)]


def prepayment_lines(payer: str, payee: str, adjustment_fen: int) -> list[tuple[str, int]]:
    return [
        (ledger.account(payer, "预付金", payee), adjustment_fen),
        (ledger.account(payer, "财政专户存款"), -adjustment_fen),
        (ledger.account(payee, "财政专户存款"), adjustment_fen),
        (ledger.account(payee, "暂收预付金", payer), -adjustment_fen),
    ]


def confirm(ctx: AppContext, year: int, *, actor: str = "system", on: date | None = None,
            progress: Progress | None = None, q4_totals: Callable[..., Any] | None = None) -> list[PrepaymentLine]:
    """Store and post every flow's adjustment for ``year``; flows already confirmed are left alone."""
    lines = plan(ctx, year, progress, q4_totals)
    on = on or date.today()
    with ctx.unit_of_work() as session:
        for line in lines:
            if line.confirmed:
                continue
            exists = session.scalars(select(PrepaymentRow).where(
                PrepaymentRow.year == year, PrepaymentRow.payer_admdvs == line.payer_admdvs,
                PrepaymentRow.payee_admdvs == line.payee_admdvs)).first()
            if exists is not None:
                continue
            entry_id = None
            if line.adjustment_fen != 0:
                entry_id = f"P-{year}-{line.payer_admdvs}-{line.payee_admdvs}"
                ledger.post(session, entry_id, "prepayment", f"{year}", on,
                            prepayment_lines(line.payer_admdvs, line.payee_admdvs, line.adjustment_fen),
                            memo=f"{year}年度预付金调整 {line.payer_admdvs}→{line.payee_admdvs}")
            session.add(PrepaymentRow(year=year, payer_admdvs=line.payer_admdvs, payee_admdvs=line.payee_admdvs,
                                      q4_total_fen=line.q4_total_fen, amount_fen=line.amount_fen,
                                      previous_fen=line.previous_fen, adjustment_fen=line.adjustment_fen,
                                      entry_id=entry_id, confirmed_by=actor, confirmed_on=on))
            line.confirmed = True
        audit.record(session, actor, "prepayment.confirm", str(year), {"flows": len(lines)})
    return lines


def list_prepayments(ctx: AppContext, year: int | None = None) -> list[dict[str, Any]]:
    with ctx.unit_of_work() as session:
        stmt = select(PrepaymentRow).order_by(PrepaymentRow.year.desc(), PrepaymentRow.payer_admdvs,
                                              PrepaymentRow.payee_admdvs)
        if year is not None:
            stmt = stmt.where(PrepaymentRow.year == year)
        return [{"year": row.year, "payer_admdvs": row.payer_admdvs, "payee_admdvs": row.payee_admdvs,
                 "q4_total": fen_to_yuan(row.q4_total_fen), "amount": fen_to_yuan(row.amount_fen),
                 "previous": fen_to_yuan(row.previous_fen), "adjustment": fen_to_yuan(row.adjustment_fen),
                 "entry_id": row.entry_id, "confirmed_by": row.confirmed_by,
                 "confirmed_on": row.confirmed_on.isoformat()} for row in session.scalars(stmt)]


def _positive(amount_fen: int, field_name: str) -> None:
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise invalid(field_name, "金额应大于0")


def record_interest(ctx: AppContext, payer_admdvs: str, payee_admdvs: str, amount_fen: int, *,
                    on: date | None = None, actor: str = "system") -> str:
    """预付金利息 (C3): books to the treatment side (payee) of a flow that has a prepayment."""
    _positive(amount_fen, "amount")
    with ctx.unit_of_work() as session:
        prepaid = session.scalars(select(PrepaymentRow).where(PrepaymentRow.payer_admdvs == payer_admdvs,
                                                              PrepaymentRow.payee_admdvs == payee_admdvs)).first()
        if prepaid is None:
            raise YidiError("NOT_FOUND", {"what": "预付金流向", "key": f"{payer_admdvs}→{payee_admdvs}"})
        entry_id = ledger.new_entry_id("I")
        ledger.post(session, entry_id, "interest", f"{payer_admdvs}-{payee_admdvs}", on or date.today(), [
            (ledger.account(payee_admdvs, "财政专户存款"), amount_fen),
            (ledger.account(payee_admdvs, "利息收入"), -amount_fen),
        ], memo=f"预付金利息 {payer_admdvs}→{payee_admdvs}，归就医地所有")
        audit.record(session, actor, "prepayment.interest", entry_id, {"amount": fen_to_yuan(amount_fen)})
        return entry_id


def record_bank_fee(ctx: AppContext, admdvs: str, amount_fen: int, *, on: date | None = None, memo: str = "",
                    actor: str = "system") -> str:
    """银行手续费、票据工本费 (C3): paid from the agency's 经费, never from the fund."""
    _positive(amount_fen, "amount")
    with ctx.unit_of_work() as session:
        entry_id = ledger.new_entry_id("F")
        ledger.post(session, entry_id, "bank_fee", admdvs, on or date.today(), [
            (ledger.account(admdvs, "经费支出", "银行手续费"), amount_fen),
            (ledger.account(admdvs, "经费存款"), -amount_fen),
        ], memo=memo or "划拨异地就医资金的银行手续费（经费列支，不得在基金中列支）")
        audit.record(session, actor, "funds.bank_fee", entry_id, {"amount": fen_to_yuan(amount_fen)})
        return entry_id
