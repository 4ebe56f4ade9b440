"""What the hospital desk pages read (医院医保办): the institution's open visits, one visit with its fee lines
and settlements. The desk's actions are services.visits' use cases; this module only reads, and answers
frozen values, never ORM rows. A visit of another institution does not exist for the desk (VISIT_NOT_FOUND).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from yidi.adapters.hot_sql import VisitRecord
from yidi.adapters.orm import FeeDetailRow, PersonRow, SettlementRow, VisitRow
from yidi.domain.errors import YidiError
from yidi.services.access import TREATING_STATES
from yidi.services.context import AppContext
from yidi.services.directory import PersonCard, person_card
from yidi.services.settlement_reads import SettlementLine, settlement_line

# A visit that can still take fees and be settled (admitted, or discharged and not settled).
OPEN_STATES = TREATING_STATES


class VisitCard(VisitRecord):
    """One visit (就诊) as the desk lists it: the hot path's visit record (the visits table's columns), immutable."""

    __slots__ = ()

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


def _visit(row: VisitRow) -> VisitCard:
    return VisitCard._make(getattr(row, name) for name in VisitRecord._fields)


@dataclass(frozen=True)
class FeeLineCard:
    """One uploaded fee-detail line (费用明细); ``active`` is false once withdrawn (2302/2205)."""

    feedetl_sn: str
    med_list_codg: str
    name: str
    cnt: str  # exact decimal text
    pric_fen: int | None
    det_item_fee_sumamt_fen: int
    fee_ocur_time: date | None
    active: bool


@dataclass(frozen=True)
class VisitDetail:
    visit: VisitCard
    person: PersonCard
    fees: tuple[FeeLineCard, ...]  # standing lines, in upload order
    revoked: tuple[FeeLineCard, ...]  # withdrawn lines, in upload order
    settlements: tuple[SettlementLine, ...]  # the first made first


def open_visits(ctx: AppContext, fixmedins_code: str, *, limit: int = 50) -> list[VisitCard]:
    """The institution's visits still open, the latest admission first."""
    with ctx.unit_of_work() as session:
        return [_visit(row) for row in session.scalars(select(VisitRow).where(
            VisitRow.fixmedins_code == fixmedins_code, VisitRow.state.in_(OPEN_STATES))
            .order_by(VisitRow.begntime.desc(), VisitRow.created_at.desc()).limit(limit))]


def visit_detail(ctx: AppContext, fixmedins_code: str, mdtrt_id: str) -> VisitDetail:
    """One visit of the institution with its person, fee lines and settlements; VISIT_NOT_FOUND otherwise."""
    with ctx.unit_of_work() as session:
        row = session.get(VisitRow, mdtrt_id)
        if row is None or row.fixmedins_code != fixmedins_code:
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": mdtrt_id})
        owner = session.get(PersonRow, row.psn_no)
        if owner is None:
            raise YidiError("UNKNOWN_PERSON", {"key": row.psn_no})
        lines = [FeeLineCard(f.feedetl_sn, f.med_list_codg, f.name, f.cnt, f.pric_fen, f.det_item_fee_sumamt_fen,
                             f.fee_ocur_time, f.active)
                 for f in session.scalars(select(FeeDetailRow).where(FeeDetailRow.mdtrt_id == mdtrt_id)
                                          .order_by(FeeDetailRow.id))]
        settled = tuple(settlement_line(s) for s in session.scalars(
            select(SettlementRow).where(SettlementRow.mdtrt_id == mdtrt_id).order_by(SettlementRow.created_at)))
        return VisitDetail(_visit(row), person_card(owner), tuple(f for f in lines if f.active),
                           tuple(f for f in lines if not f.active), settled)


def fee_lines_taken(ctx: AppContext, mdtrt_id: str) -> int:
    """How many fee-detail numbers the visit has used (withdrawn lines keep theirs), to number the next ones."""
    with ctx.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(FeeDetailRow)
                                  .where(FeeDetailRow.mdtrt_id == mdtrt_id)) or 0)
