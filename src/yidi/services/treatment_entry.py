"""Settle, estimate and cancel entered where the treatment happened (就医地), without a registered visit: manual
claims by a hospital desk, the estimate API, the scenario runner; and the submission of a manual claim (零星报销,
S4) entered there, which is made at the person's insured node (its agency reviews and pays it). A person insured on this node is settled here
exactly as before (``settlements``); on a federation node a person insured in another province goes to their node
through the port (services/insured_side.py), and this node records its side in the same transaction as it waits
for the answer. On one embedded node every person is local and these are ``settlements``' own use cases.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import SimpleNamespace
from typing import Any

from yidi.domain.errors import YidiError
from yidi.services import insured_side, lookups, manual_claims, settlements, visits
from yidi.services.context import AppContext
from yidi.services.idempotency import bound_context


def _visiting(cmd: settlements.SettleCommand, region: str) -> SimpleNamespace:
    return SimpleNamespace(psn_no=cmd.psn_no, insuplc_admdvs=region)


def settle(ctx: AppContext, cmd: settlements.SettleCommand) -> settlements.SettlementView:
    settlements.validate(cmd)  # the same refusals, in the same order, as settlements.settle on one node
    with ctx.unit_of_work() as session:
        lookups.institution(session, cmd.fixmedins_code)
        region = insured_side.person_region(ctx, session, cmd.psn_no)
    side = insured_side.for_region(ctx, region)
    if side is insured_side.LOCAL:
        return settlements.settle(ctx, cmd)
    with ctx.unit_of_work() as session:
        return side.settle(bound_context(ctx, session), cmd, _visiting(cmd, region))[0]


def estimate(ctx: AppContext, cmd: settlements.SettleCommand) -> dict[str, Any]:
    settlements.validate(cmd)
    with ctx.unit_of_work() as session:
        region = insured_side.person_region(ctx, session, cmd.psn_no)
    side = insured_side.for_region(ctx, region)
    if side is insured_side.LOCAL:
        return settlements.estimate(ctx, cmd)
    return side.presettle(ctx, settlements.estimate_command(cmd), _visiting(cmd, region))[0]


def cancel(ctx: AppContext, setl_id: str, on: date | None, *, actor: str) -> dict[str, Any]:
    with ctx.unit_of_work() as session:
        record = insured_side.settlement_record(ctx, session, setl_id, for_update=True)
        if record is None:
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        side = insured_side.for_region(ctx, record.insuplc_admdvs)
        side.cancel(bound_context(ctx, session), record, on=on, reversal=False, actor=actor)
        return {"setl_id": record.setl_id, "status": record.status}


def submit_claim(ctx: AppContext, cmd: manual_claims.SubmitCommand) -> manual_claims.Claim:
    """A manual claim entered here (the person's page, a hospital's desk or HIS, the scenario runner). A person
    insured on this node: ``manual_claims.submit`` as on one node. A visitor insured in another province: the
    claim travels to their insured node (services/insured_side.py), whose agency's queue it joins; a visit this
    node holds goes with its fee lines read here. Same refusals, in the same order, as on one node."""
    if ctx.federation is None:
        return manual_claims.submit(ctx, cmd)
    manual_claims.check_submission(cmd)
    with ctx.unit_of_work() as session:
        region = insured_side.person_region(ctx, session, cmd.psn_no)
    side = insured_side.for_region(ctx, region)
    if side is insured_side.LOCAL:
        return manual_claims.submit(ctx, cmd)
    if cmd.mdtrt_id:  # the hospital's upload as it stands now, read where it is held
        visit = visits.claim_command(ctx, mdtrt_id=cmd.mdtrt_id, endtime=cmd.endtime, actor=cmd.actor)
        if visit.psn_no != cmd.psn_no:
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": cmd.mdtrt_id})
        cmd = replace(cmd, fixmedins_code=visit.fixmedins_code, med_type=visit.med_type, begntime=visit.begntime,
                      endtime=visit.endtime, items=visit.items, dise_codg=visit.dise_codg, emergency=visit.emergency,
                      trauma_no_third_party=visit.trauma_no_third_party)
    claim: manual_claims.Claim = side.submit_claim(ctx, cmd, region)
    return claim
