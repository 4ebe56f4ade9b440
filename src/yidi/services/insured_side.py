"""Port: the insured side (参保地) of a settlement, as the treatment side (就医地) calls it.

The treatment side owns the visit, its fee rows and its hospital; the insured side owns the person, their filings
and usage, and decides the money (医保发〔2022〕22号 二(一), 三(四)). On one embedded node both sides are this
database: ``LOCAL`` is today's behaviour, unchanged. On a province node of a federation (``ctx.federation`` set),
a person insured in another province is served by that province's node over NATS
(``yidi.federation.node.RemoteInsuredSide``, same methods).

Every method runs inside the caller's transaction (``ctx`` is bound to it by ``idempotency.bound_context``), so the
treatment side's own write (visit state, its settlement record, the stored answer) commits with what it decided.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from yidi.adapters.orm import PersonRow, SettlementRow
from yidi.domain.errors import YidiError
from yidi.services import settlements
from yidi.services.context import AppContext
from yidi.services.filings import filings_of
from yidi.services.reference import find_person_by_certno

if TYPE_CHECKING:
    from yidi.services import manual_claims


class InsuredSide(Protocol):
    def identify(self, ctx: AppContext, certno: str) -> tuple[Any, list[Any]]:
        """The person holding ``certno`` (PersonRow-like) and their filings (domain Filings), for 1101."""

    def presettle(self, ctx: AppContext, cmd: settlements.SettleCommand, person: Any) -> tuple[dict[str, Any], Any]: ...

    def settle(self, ctx: AppContext, cmd: settlements.SettleCommand,
               person: Any) -> tuple[settlements.SettlementView, Any]:
        """Compute and record the insured side; ``person`` is the row the caller locked (local) or its visitor copy."""

    def cancel(self, ctx: AppContext, record: Any, *, on: date | None, reversal: bool, actor: str) -> None:
        """Reverse ``record`` exactly once; ``record`` (SettlementRow-like) shows the new status afterwards."""

    def submit_claim(self, ctx: AppContext, cmd: "manual_claims.SubmitCommand",
                     region: str) -> "manual_claims.Claim":
        """A manual claim (manual_claims.SubmitCommand) into the insured region's queue; the stored Claim."""


class LocalInsuredSide:
    """The person is insured on this node: the existing use cases, as before."""

    def identify(self, ctx: AppContext, certno: str) -> tuple[Any, list[Any]]:
        with ctx.unit_of_work() as session:
            person = find_person_by_certno(session, certno)
            return person, filings_of(session, person.psn_no)

    def presettle(self, ctx: AppContext, cmd: settlements.SettleCommand, person: Any) -> tuple[dict[str, Any], Any]:
        return settlements.presettle_with_person(ctx, cmd, person=person)

    def settle(self, ctx: AppContext, cmd: settlements.SettleCommand,
               person: Any) -> tuple[settlements.SettlementView, Any]:
        return settlements.settle_with_person(ctx, cmd, locked_person=person)

    def cancel(self, ctx: AppContext, record: Any, *, on: date | None, reversal: bool, actor: str) -> None:
        settlements.cancel(ctx, record.setl_id, on, reversal=reversal, actor=actor,
                           fixmedins_code=record.fixmedins_code)

    def submit_claim(self, ctx: AppContext, cmd: "manual_claims.SubmitCommand",
                     region: str) -> "manual_claims.Claim":
        from yidi.services import manual_claims  # it reads visits, which use this port

        return manual_claims.submit(ctx, cmd)


LOCAL = LocalInsuredSide()


def for_region(ctx: AppContext, insuplc_admdvs: str) -> InsuredSide:
    """Who decides the money for a person insured in ``insuplc_admdvs``."""
    federation = ctx.federation
    if federation is None or federation.owns(insuplc_admdvs):
        return LOCAL
    remote: InsuredSide = federation.remote  # federation.node.RemoteInsuredSide
    return remote


def identify(ctx: AppContext, certno: str) -> tuple[Any, list[Any]]:
    """1101: a person insured on this node, else (on a federation node) the one the national index names."""
    try:
        person, filings = LOCAL.identify(ctx, certno)
        if ctx.federation is None or ctx.federation.owns(person.insuplc_admdvs):
            return person, filings
    except YidiError as exc:  # not on this node (a visitor's desk copy carries no filings: ask their node)
        if exc.code != "UNKNOWN_PERSON" or ctx.federation is None:
            raise
    found: tuple[Any, list[Any]] = ctx.federation.remote.identify(ctx, certno)
    return found


def settlement_record(ctx: AppContext, session: Session, setl_id: str, *, for_update: bool = False) -> Any:
    """The settlement as this node holds it: its own (SettlementRow) or, on a federation node, its side of a
    cross-province one (federation's TreatmentSettlementRow, same column names). None when neither."""
    stmt = select(SettlementRow).where(SettlementRow.setl_id == setl_id)
    row = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if row is None and ctx.federation is not None:
        row = ctx.federation.treatment_record(session, setl_id, for_update=for_update)
    return row


def reverse_unrecorded(ctx: AppContext, *, omsgid: str, psn_no: str, fixmedins_code: str, actor: str) -> str | None:
    """2601 of a settlement message this node never recorded: on a federation node the insured node of another
    province may hold it (federation.node.RemoteInsuredSide.reverse_unrecorded). None on one embedded node."""
    if ctx.federation is None:
        return None
    outcome: str | None = ctx.federation.remote.reverse_unrecorded(ctx, omsgid=omsgid, psn_no=psn_no,
                                                                   fixmedins_code=fixmedins_code, actor=actor)
    return outcome


def remote_paid_of_visit(ctx: AppContext, session: Session, mdtrt_id: str) -> Any:
    """On a federation node: the visit's paid claim whose insured side is another node (None elsewhere)."""
    if ctx.federation is None:
        return None
    return ctx.federation.treatment_paid_of_visit(session, mdtrt_id)


def person_region(ctx: AppContext, session: Session, psn_no: str) -> str:
    """The insured region of ``psn_no``: this node's person row, else (federation) the national index."""
    region = session.scalar(select(PersonRow.insuplc_admdvs).where(PersonRow.psn_no == psn_no))
    if region is None:
        if ctx.federation is None:
            raise YidiError("UNKNOWN_PERSON", {"key": psn_no})
        region = ctx.federation.locate(psn_no=psn_no)
    return region
