"""Two-person confirmation where the seeds' money moves (issue 19): C1's prepayment confirmation and C2's
clearing of the whole country. One authenticated user asks (``request``), a *different* authenticated user
approves (``approve``), and only then the money moves — recorded with both names (the ledger actor is
``initiator+approver``) and both steps in the audit log.

Who may ask or approve: a national or provincial agency account (region a province code ``xx0000``, or empty
for national). A city clerk may not clear the country, and a supervisor, who reads everything and writes
nothing (issue 13), may neither ask nor approve.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, select, update

from yidi.adapters.orm_accounts import ApprovalRow
from yidi.domain.clearing import month_bounds
from yidi.domain.errors import YidiError, invalid
from yidi.domain.regions import is_province_level
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.users import Principal

if TYPE_CHECKING:  # imported where the action runs: the approval queue does not load the funds code
    from yidi.services.clearing import ClearingStatement
    from yidi.services.prepayment import PrepaymentLine

    ActionResult = ClearingStatement | list[PrepaymentLine]

ACTIONS = {"clearing.run": "月度清算（全国）", "prepayment.confirm": "年度预付金确认"}


@dataclass(frozen=True)
class Approval:
    request_id: str
    action: str
    params: dict[str, Any]
    initiator: str
    initiated_at: datetime
    status: str
    approver: str | None
    result: str

    @property
    def title(self) -> str:
        what = ACTIONS.get(self.action, self.action)
        return f"{what} {self.params.get('month') or self.params.get('year') or ''}".strip()


def _of(row: ApprovalRow) -> Approval:
    return Approval(row.request_id, row.action, dict(row.params), row.initiator, row.initiated_at, row.status,
                    row.approver, row.result)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def may_move_country_money(principal: Principal) -> bool:
    return principal.role == "agency" and (principal.admdvs is None or is_province_level(principal.admdvs))


def _require(principal: Principal) -> None:
    if not may_move_country_money(principal):
        raise YidiError("FORBIDDEN", {"detail": "清算全国资金和确认预付金须由国家级或省级经办账号两人办理"})


def _params(action: str, params: dict[str, Any]) -> dict[str, Any]:
    if action == "clearing.run":
        month = str(params.get("month", ""))
        month_bounds(month)  # INVALID_INPUT naming the field
        return {"month": month}
    if action == "prepayment.confirm":
        try:
            year = int(params.get("year", ""))
        except (TypeError, ValueError):
            raise invalid("year", "应为年份，如 2024") from None
        return {"year": year}
    raise invalid("action", f"应为 {'、'.join(ACTIONS)}")


def request(ctx: AppContext, initiator: Principal, action: str, params: dict[str, Any]) -> Approval:
    """Ask for a money movement; a pending request for the same thing is returned instead of a second one."""
    _require(initiator)
    params = _params(action, params)
    with ctx.unit_of_work() as session:
        for row in session.scalars(select(ApprovalRow).where(ApprovalRow.action == action,
                                                             ApprovalRow.status == "pending")):
            if row.params == params:
                return _of(row)
        row = ApprovalRow(request_id=f"A{_now():%Y%m%d}-{secrets.token_hex(4)}", action=action, params=params,
                          initiator=initiator.username, initiated_at=_now(), status="pending", result="")
        session.add(row)
        audit.record(session, initiator.username, "approval.request", row.request_id, {"action": action, **params})
        return _of(row)


def approve(ctx: AppContext, approver: Principal, request_id: str) -> ActionResult:
    """The second person approves: the action runs with both names. Returns the action's result."""
    _require(approver)
    with ctx.unit_of_work() as session:
        row = session.get(ApprovalRow, request_id or "")
        if row is None:
            raise YidiError("NOT_FOUND", {"what": "复核申请", "key": request_id})
        if row.initiator == approver.username:
            raise YidiError("APPROVAL_SAME_PERSON", {"username": approver.username})
        # claim it: of two approvers at once, one runs the action
        claimed = cast(CursorResult[Any], session.execute(update(ApprovalRow).where(ApprovalRow.request_id == request_id,
                                                            ApprovalRow.status == "pending")
                                  .values(status="running", approver=approver.username, decided_at=_now())))
        if claimed.rowcount != 1:
            raise YidiError("APPROVAL_NOT_PENDING", {"request_id": request_id, "status": row.status})
        action, params, actor = row.action, dict(row.params), f"{row.initiator}+{approver.username}"[:60]
    try:
        result = _run(ctx, action, params, actor)
    except Exception:
        with ctx.unit_of_work() as session:  # nothing moved: the request waits for an approval again
            session.execute(update(ApprovalRow).where(ApprovalRow.request_id == request_id)
                            .values(status="pending", approver=None, decided_at=None))
        raise
    with ctx.unit_of_work() as session:
        session.execute(update(ApprovalRow).where(ApprovalRow.request_id == request_id)
                        .values(status="done", result=_summary(action, result)[:200]))
        audit.record(session, approver.username, "approval.approve", request_id, {"action": action, **params,
                                                                                  "initiator": actor.split("+")[0]})
    return result


def withdraw(ctx: AppContext, principal: Principal, request_id: str) -> None:
    with ctx.unit_of_work() as session:
        row = session.get(ApprovalRow, request_id or "")
        if row is None or row.initiator != principal.username:
            raise YidiError("NOT_FOUND", {"what": "本人发起的复核申请", "key": request_id})
        if row.status != "pending":
            raise YidiError("APPROVAL_NOT_PENDING", {"request_id": request_id, "status": row.status})
        row.status = "withdrawn"
        row.decided_at = _now()
        audit.record(session, principal.username, "approval.withdraw", request_id, {"action": row.action})


def _run(ctx: AppContext, action: str, params: dict[str, Any], actor: str) -> ActionResult:
    if action == "clearing.run":
        from yidi.services.clearing import run_clearing

        return run_clearing(ctx, params["month"], actor=actor)
    from yidi.services.prepayment import confirm

    return confirm(ctx, int(params["year"]), actor=actor)


def _summary(action: str, result: ActionResult) -> str:
    if isinstance(result, list):  # prepayment.confirm's lines
        return f"预付金：{len(result)} 条流向"
    return f"清算 {result.month}：{len(result.flows)} 条流向"


def get_request(ctx: AppContext, request_id: str) -> Approval:
    with ctx.unit_of_work() as session:
        row = session.get(ApprovalRow, request_id or "")
        if row is None:
            raise YidiError("NOT_FOUND", {"what": "复核申请", "key": request_id})
        return _of(row)


def list_requests(ctx: AppContext, *, status: str | None = "pending") -> list[Approval]:
    with ctx.unit_of_work() as session:
        stmt = select(ApprovalRow).order_by(ApprovalRow.initiated_at.desc(), ApprovalRow.request_id)
        if status:
            stmt = stmt.where(ApprovalRow.status == status)
        return [_of(row) for row in session.scalars(stmt)]
