"""Who may do what — the decisions shared by an /api route and its page twin, so that the two never differ.

Each decision is one function or one roles tuple here; api/ and web/ call the same one (issue 13: a supervisor
could run the monthly clearing from the pages although no API lets a supervisor write anything).
"""

from __future__ import annotations

from sqlalchemy import select

from yidi.adapters.orm import VisitRow
from yidi.domain.errors import YidiError
from yidi.domain.filing import Filing
from yidi.services import filings
from yidi.services.context import AppContext
from yidi.services.users import Principal

# Reading filings of the insured region (a supervisor reads everywhere, writes nothing).
FILING_READERS = ("agency", "supervisor")
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


# --- filings (备案): who sees one, who may change it ---

def sees_filing(principal: Principal, filing: Filing) -> bool:
    """A person their own filings; a clerk or supervisor those of persons insured within their scope."""
    if principal.role == "person":
        return principal.psn_no is not None and filing.psn_no == principal.psn_no
    if principal.role in FILING_READERS:
        return principal.can_act_for_region(filing.insuplc_admdvs)
    return False


def visible_filing(ctx: AppContext, principal: Principal, filing_id: str) -> Filing:
    """The filing if the principal may see it; NOT_FOUND otherwise, as if it did not exist."""
    filing = filings.get_filing(ctx, filing_id)
    if not sees_filing(principal, filing):
        raise YidiError("NOT_FOUND", {"what": "备案", "key": filing_id})
    return filing


def require_filing_write(principal: Principal, filing: Filing) -> None:
    """Persons change their own filings; clerks those of their region; supervisors only read (FORBIDDEN)."""
    if principal.role == "supervisor" or not sees_filing(principal, filing):
        raise YidiError("FORBIDDEN", {"detail": "只能办理本人或本参保地的备案"})
