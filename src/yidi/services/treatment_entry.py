"""Settle, estimate and cancel entered where the treatment happened (就医地), without a registered visit: manual
claims by a hospital desk, the estimate API, the scenario runner. A person insured on this node is settled here
exactly as before (``settlements``); on a federation node a person insured in another province goes to their node
through the port (services/insured_side.py), and this node records its side in the same transaction as it waits
for the answer. On one embedded node every person is local and these are ``settlements``' own use cases.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from yidi.domain.errors import YidiError
from yidi.services import insured_side, lookups, settlements
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
