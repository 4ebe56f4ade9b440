"""What the agency clerk's pages read beside the use cases they call (经办): the signed commitments of filings in
the approval queue, and persons found by name, certificate number or person number within the clerk's scope.

Read-only; frozen values, never ORM rows. Who is within reach is services/scope.py's rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select

from yidi.adapters.orm import FilingRow, PersonRow
from yidi.services.context import AppContext
from yidi.services.directory import PersonCard, person_card
from yidi.services.scope import RegionScope

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class SignedCommitment:
    """The 个人承诺书 a person signed with a filing (F3): the signature as typed and the text they agreed to."""

    signature: str
    text: str


def signed_commitments(ctx: AppContext, filing_ids: Iterable[str]) -> dict[str, SignedCommitment]:
    """{filing_id: commitment} of the named filings (a proof-based filing carries an empty one)."""
    wanted = sorted(set(filing_ids))
    if not wanted:
        return {}
    with ctx.unit_of_work() as session:
        return {filing_id: SignedCommitment(signature or "", text or "")
                for filing_id, signature, text in session.execute(
                    select(FilingRow.filing_id, FilingRow.commitment_signature, FilingRow.commitment_text)
                    .where(FilingRow.filing_id.in_(wanted)))}


def find_persons(ctx: AppContext, scope: RegionScope, query: str, *, limit: int = SEARCH_LIMIT) -> list[PersonCard]:
    """Persons insured within ``scope`` whose person number or certificate number is ``query``, or whose name
    contains it; at most ``limit``. An empty query finds nobody."""
    query = query.strip()
    if not query:
        return []
    with ctx.unit_of_work() as session:
        stmt = select(PersonRow).where(
            or_(PersonRow.psn_no == query, PersonRow.certno == query.upper(), PersonRow.name.like(f"%{query}%")),
            scope.where(PersonRow.insuplc_admdvs)).limit(limit)
        return [person_card(row) for row in session.scalars(stmt)]
