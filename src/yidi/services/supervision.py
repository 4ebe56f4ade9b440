"""Supervision use cases (V1–V3, C5): run the rules over settled claims, keep the leads, 协查.

- ``run_rules`` loads settled claims (optionally of one region), runs domain/supervision.py and stores
  new leads; a lead already found (same fingerprint) is not stored twice.
- ``assign`` hands a lead to another region for 协查 (treatment region ⇄ insured region).
- ``close`` records the outcome and any recovered amount. Recovered money goes back to the insured
  region (C5): when the funds module is installed, ``services.recoveries.record_recovery`` books it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVarTuple, Unpack

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from yidi.adapters.orm import FeeDetailRow, SettlementRow
from yidi.adapters.orm_web import InvestigationRow, LeadRow
from yidi.domain.errors import YidiError, invalid
from yidi.domain.regions import is_valid_admdvs
from yidi.domain.supervision import FeeLine, SettlementFact, SupervisionParams, run_rules as run_domain_rules
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.recoveries import post_recovery
from yidi.services.scope import RegionScope
from yidi.services.users import Principal

_Columns = TypeVarTuple("_Columns")

OUTCOMES = {"confirmed": "查实", "unfounded": "排除"}


@dataclass(frozen=True)
class RunSummary:
    facts: int
    findings: int
    new_leads: int


@dataclass(frozen=True)
class Lead:
    """A supervision lead (线索) as stored: the rule that found it, the person or hospital, the regions, the
    settlements it names and the evidence; ``status`` open / assigned / closed."""

    lead_id: str
    rule: str
    rule_ids: str
    title: str
    psn_no: str | None
    fixmedins_code: str | None
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    setl_ids: list[str]  # a copy, in the order the rule named them (as the JSON column stores them)
    evidence: dict[str, Any]
    status: str
    found_on: date


@dataclass(frozen=True)
class Investigation:
    """One 协查 of a lead: who asked which region, and (once closed) the outcome and any recovered amount."""

    id: int
    lead_id: str
    requested_by: str
    requesting_admdvs: str
    assigned_admdvs: str
    assigned_on: date
    note: str
    outcome: str | None
    outcome_note: str
    recovered_fen: int
    recovery_setl_id: str | None
    closed_by: str | None
    closed_on: date | None


def _lead(row: LeadRow) -> Lead:
    return Lead(row.lead_id, row.rule, row.rule_ids, row.title, row.psn_no, row.fixmedins_code, row.insuplc_admdvs,
                row.mdtrtarea_admvs, list(row.setl_ids or []), dict(row.evidence or {}), row.status, row.found_on)


def _investigation(row: InvestigationRow) -> Investigation:
    return Investigation(row.id, row.lead_id, row.requested_by, row.requesting_admdvs, row.assigned_admdvs,
                         row.assigned_on, row.note, row.outcome, row.outcome_note, row.recovered_fen,
                         row.recovery_setl_id, row.closed_by, row.closed_on)


def _in_scope(stmt: Select[Unpack[_Columns]], column_a: InstrumentedAttribute[str],
              column_b: InstrumentedAttribute[str], admdvs: str | None) -> Select[Unpack[_Columns]]:
    """A region sees leads/claims where it is the insured region or the treatment region."""
    if not admdvs:
        return stmt
    return stmt.where(RegionScope(admdvs).where(column_a, column_b))


def load_facts(ctx: AppContext, admdvs: str | None = None) -> list[SettlementFact]:
    """Settled claims (cancelled and reversed ones never count) with their fee quantities."""
    with ctx.unit_of_work() as session:
        stmt = _in_scope(select(SettlementRow).where(SettlementRow.status == "settled"),
                         SettlementRow.insuplc_admdvs, SettlementRow.mdtrtarea_admvs, admdvs)
        rows = list(session.scalars(stmt))
        visit_ids = [row.mdtrt_id for row in rows if row.mdtrt_id]
        lines: dict[str, list[FeeDetailRow]] = defaultdict(list)
        if visit_ids:
            for detail in session.scalars(select(FeeDetailRow).where(FeeDetailRow.mdtrt_id.in_(visit_ids),
                                                                     FeeDetailRow.active.is_(True))):
                lines[detail.mdtrt_id].append(detail)
        facts = []
        for row in rows:
            chrgitm_type = {split["code"]: split.get("med_chrgitm_type", "") for split in row.splits or []}
            fee_lines = tuple(FeeLine(d.med_list_codg, d.name, chrgitm_type.get(d.med_list_codg, ""), _qty(d.cnt))
                              for d in lines.get(row.mdtrt_id or "", []))
            facts.append(SettlementFact(
                setl_id=row.setl_id, kind=row.kind, psn_no=row.psn_no, fixmedins_code=row.fixmedins_code,
                hospital_level=row.hospital_level, insuplc_admdvs=row.insuplc_admdvs,
                mdtrtarea_admvs=row.mdtrtarea_admvs, med_type=row.med_type, dise_codg=row.dise_codg,
                begntime=row.begntime, endtime=row.endtime, medfee_sumamt=row.medfee_sumamt,
                fund_pay_sumamt=row.fund_pay_sumamt, lines=fee_lines))
        return facts


def _qty(text: str) -> Decimal:
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError):
        return Decimal(0)


def run_rules(ctx: AppContext, *, on: date, actor: str, admdvs: str | None = None,
              params: SupervisionParams = SupervisionParams()) -> RunSummary:
    facts = load_facts(ctx, admdvs)
    findings = run_domain_rules(facts, params)
    new = 0
    with ctx.unit_of_work() as session:
        known = set(session.scalars(select(LeadRow.fingerprint)))
        for finding in findings:
            if finding.fingerprint in known:
                continue
            known.add(finding.fingerprint)
            session.add(LeadRow(
                lead_id="XS" + uuid.uuid4().hex[:16].upper(), fingerprint=finding.fingerprint, rule=finding.rule,
                rule_ids=finding.rule_ids, title=finding.title, psn_no=finding.psn_no,
                fixmedins_code=finding.fixmedins_code, insuplc_admdvs=finding.insuplc_admdvs,
                mdtrtarea_admvs=finding.mdtrtarea_admvs, setl_ids=list(finding.setl_ids),
                evidence=finding.evidence, status="open", found_on=on))
            new += 1
        audit.record(session, actor, "supervision.run", admdvs or "all",
                     {"facts": len(facts), "findings": len(findings), "new": new})
    return RunSummary(facts=len(facts), findings=len(findings), new_leads=new)


def list_leads(ctx: AppContext, *, admdvs: str | None = None, status: str | None = None,
               rule: str | None = None, limit: int = 500) -> list[Lead]:
    """Leads visible to a region: as insured region, as treatment region, or assigned to it for 协查."""
    with ctx.unit_of_work() as session:
        stmt = select(LeadRow).order_by(LeadRow.found_on.desc(), LeadRow.rule, LeadRow.lead_id)
        if admdvs:
            assigned = select(InvestigationRow.lead_id).where(InvestigationRow.assigned_admdvs == admdvs)
            scoped = _in_scope(select(LeadRow.lead_id), LeadRow.insuplc_admdvs, LeadRow.mdtrtarea_admvs, admdvs)
            stmt = stmt.where(or_(LeadRow.lead_id.in_(scoped), LeadRow.lead_id.in_(assigned)))
        if status:
            stmt = stmt.where(LeadRow.status == status)
        if rule:
            stmt = stmt.where(LeadRow.rule == rule)
        return [_lead(row) for row in session.scalars(stmt.limit(limit))]


def get_lead(ctx: AppContext, lead_id: str) -> tuple[Lead, list[Investigation]]:
    with ctx.unit_of_work() as session:
        lead = session.get(LeadRow, lead_id)
        if lead is None:
            raise YidiError("NOT_FOUND", {"what": "线索", "key": lead_id})
        investigations = list(session.scalars(select(InvestigationRow).where(InvestigationRow.lead_id == lead_id)
                                              .order_by(InvestigationRow.id)))
        return _lead(lead), [_investigation(row) for row in investigations]


def can_see(principal: Principal, lead: Lead | LeadRow,
            investigations: list[Investigation] | list[InvestigationRow]) -> bool:
    if principal.role == "supervisor" and principal.admdvs is None:
        return True
    return any(principal.can_act_for_region(code) for code in
               (lead.insuplc_admdvs, lead.mdtrtarea_admvs, *(i.assigned_admdvs for i in investigations)))


def assign(ctx: AppContext, lead_id: str, *, principal: Principal, assigned_admdvs: str, on: date,
           note: str = "") -> Investigation:
    """协查: the insured region asks the treatment region (or the other way round) to investigate."""
    principal.require_role("agency", "supervisor")
    if not is_valid_admdvs(assigned_admdvs or ""):
        raise YidiError("UNKNOWN_REGION", {"key": assigned_admdvs})
    with ctx.unit_of_work() as session:
        lead = session.get(LeadRow, lead_id)
        if lead is None:
            raise YidiError("NOT_FOUND", {"what": "线索", "key": lead_id})
        if not can_see(principal, lead, []):
            raise YidiError("FORBIDDEN", {"detail": "只能处理本地区（参保地或就医地）的线索"})
        if lead.status == "closed":
            raise YidiError("FORBIDDEN", {"detail": "线索已办结"})
        if assigned_admdvs not in (lead.insuplc_admdvs, lead.mdtrtarea_admvs):
            raise invalid("assigned_admdvs", "协查只在参保地与就医地之间进行")
        row = InvestigationRow(lead_id=lead_id, requested_by=principal.username,
                               requesting_admdvs=principal.admdvs or "000000", assigned_admdvs=assigned_admdvs,
                               assigned_on=on, note=note, outcome_note="", recovered_fen=0)
        session.add(row)
        lead.status = "assigned"
        session.flush()
        audit.record(session, principal.username, "supervision.assign", lead_id, {"to": assigned_admdvs})
        return _investigation(row)


def close(ctx: AppContext, lead_id: str, *, principal: Principal, outcome: str, on: date, recovered_fen: int = 0,
          recovery_setl_id: str | None = None, note: str = "") -> Investigation:
    """Record the outcome. A confirmed lead may carry a recovered amount, tied to one of its claims;
    the money goes back to that claim's insured region (C5)."""
    principal.require_role("agency", "supervisor")
    if outcome not in OUTCOMES:
        raise invalid("outcome", "应为 confirmed 查实 或 unfounded 排除")
    if recovered_fen < 0:
        raise invalid("recovered", "追回金额不能为负数")
    if recovered_fen and outcome != "confirmed":
        raise invalid("recovered", "排除的线索不能有追回金额")
    with ctx.unit_of_work() as session:
        lead = session.get(LeadRow, lead_id)
        if lead is None:
            raise YidiError("NOT_FOUND", {"what": "线索", "key": lead_id})
        investigations = list(session.scalars(select(InvestigationRow).where(InvestigationRow.lead_id == lead_id)
                                              .order_by(InvestigationRow.id)))
        if not can_see(principal, lead, investigations):
            raise YidiError("FORBIDDEN", {"detail": "只能处理本地区（参保地或就医地）的线索"})
        if lead.status == "closed":
            raise YidiError("FORBIDDEN", {"detail": "线索已办结"})
        if recovered_fen:
            recovery_setl_id = recovery_setl_id or lead.setl_ids[0]
            if recovery_setl_id not in lead.setl_ids:
                raise invalid("recovery_setl_id", "追回款须对应本线索中的结算")
            claim = session.get(SettlementRow, recovery_setl_id)
            if claim is not None and recovered_fen > claim.fund_pay_sumamt:
                raise invalid("recovered", "追回金额不能超过该笔结算的基金支付")
        row = investigations[-1] if investigations and investigations[-1].outcome is None else None
        if row is None:
            row = InvestigationRow(lead_id=lead_id, requested_by=principal.username,
                                   requesting_admdvs=principal.admdvs or "000000",
                                   assigned_admdvs=principal.admdvs or lead.mdtrtarea_admvs, assigned_on=on,
                                   note="", outcome_note="", recovered_fen=0)
            session.add(row)
        row.outcome, row.outcome_note, row.recovered_fen = outcome, note, recovered_fen
        row.recovery_setl_id = recovery_setl_id if recovered_fen else None
        row.closed_by, row.closed_on = principal.username, on
        lead.status = "closed"
        session.flush()
        audit.record(session, principal.username, "supervision.close", lead_id,
                     {"outcome": outcome, "recovered_fen": recovered_fen})
        if recovered_fen:  # C5: the recovered money goes back to the insured region, in the same transaction
            assert recovery_setl_id is not None  # checked above: a recovery names the settlement
            post_recovery(session, recovery_setl_id, recovered_fen, "recovery", on=on, actor=principal.username,
                          memo=f"监管线索 {lead_id} 追回")
        return _investigation(row)
