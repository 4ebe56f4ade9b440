"""Who may do what — the decisions shared by an /api route and its page twin, so that the two never differ.

Each decision is one function or one roles tuple here; api/ and web/ call the same one (issue 13: a supervisor
could run the monthly clearing from the pages although no API lets a supervisor write anything).
"""

from __future__ import annotations

from sqlalchemy import select

from yidi.adapters.orm import VisitRow
from yidi.services.context import AppContext
from yidi.services.users import Principal

# Reading clearing statements, prepayments and reconciliations (scoped by services/funds_scope.py).
FUNDS_READERS = ("agency", "supervisor")
# Running the monthly clearing writes the ledger: agency batch work; a supervisor reads and writes nothing.
CLEARING_RUNNERS = ("agency",)
# A hospital treats a person while a visit of theirs there is open or awaiting settlement.
TREATING_STATES = ("registered", "discharged")


def treats(ctx: AppContext, fixmedins_code: str | None, psn_no: str) -> bool:
    """True when the institution has an open visit of the person (admitted, or discharged and not settled)."""
    if not fixmedins_code:
        return False
    with ctx.unit_of_work() as session:
        return session.scalar(select(VisitRow.mdtrt_id).where(
            VisitRow.psn_no == psn_no, VisitRow.fixmedins_code == fixmedins_code,
            VisitRow.state.in_(TREATING_STATES)).limit(1)) is not None


def may_see_person(ctx: AppContext, principal: Principal, psn_no: str) -> bool:
    """A person's filings, coverage and this year's usage: the person, or the desk of a hospital treating them."""
    if principal.role == "person":
        return principal.psn_no == psn_no
    if principal.role == "hospital":
        return treats(ctx, principal.fixmedins_code, psn_no)
    return False
