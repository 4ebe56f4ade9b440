"""监管 and 统计 pages: run the supervision rules, work the leads (协查, outcome, recovery), the I4 statistics."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from yidi.domain.money import fen_to_yuan
from yidi.domain.supervision import RULE_NAMES
from yidi.services import statistics, supervision
from yidi.services.supervision import OUTCOMES
from yidi.web.core import PageRoute, ctx_of, form, redirect, render, require
from yidi.web.forms import institutions, parse_date, parse_yuan, region_names

router = APIRouter(route_class=PageRoute)


@router.get("/supervision")
def leads(request: Request, status: str = "", rule: str = "", ran: str = ""):
    principal = require(request, "supervisor", "agency")
    ctx = ctx_of(request)
    rows = supervision.list_leads(ctx, admdvs=principal.admdvs, status=status or None, rule=rule or None)
    return render(request, "oversight/leads.html", leads=rows, rule_names=RULE_NAMES, status=status, rule=rule,
                  ran=ran, regions=region_names(ctx))


@router.post("/supervision/run")
def run(request: Request):
    principal = require(request, "supervisor", "agency")
    summary = supervision.run_rules(ctx_of(request), on=date.today(), actor=principal.username,
                                    admdvs=principal.admdvs)
    return redirect(f"/supervision?ran={summary.facts}-{summary.findings}-{summary.new_leads}")


@router.get("/supervision/leads/{lead_id}")
def lead_detail(request: Request, lead_id: str):
    principal = require(request, "supervisor", "agency")
    ctx = ctx_of(request)
    lead, investigations = supervision.get_lead(ctx, lead_id)
    if not supervision.can_see(principal, lead, investigations):
        from yidi.domain.errors import YidiError

        raise YidiError("FORBIDDEN", {"detail": "只能查看本地区（参保地或就医地）的线索"})
    return render(request, "oversight/lead.html", lead=lead, investigations=investigations, rule_names=RULE_NAMES,
                  outcomes=OUTCOMES, regions=region_names(ctx),
                  hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)},
                  fen_to_yuan=fen_to_yuan)


@router.post("/supervision/leads/{lead_id}/assign")
def lead_assign(request: Request, lead_id: str):
    principal = require(request, "supervisor", "agency")
    values = form(request)
    supervision.assign(ctx_of(request), lead_id, principal=principal, assigned_admdvs=values.get("assigned_admdvs", ""),
                       on=date.today(), note=values.get("note", ""))
    return redirect(f"/supervision/leads/{lead_id}")


@router.post("/supervision/leads/{lead_id}/close")
def lead_close(request: Request, lead_id: str):
    principal = require(request, "supervisor", "agency")
    values = form(request)
    recovered = parse_yuan(values.get("recovered") or "0", "recovered")
    supervision.close(ctx_of(request), lead_id, principal=principal, outcome=values.get("outcome", ""),
                      on=date.today(), recovered_fen=recovered, recovery_setl_id=values.get("recovery_setl_id") or None,
                      note=values.get("note", ""))
    return redirect(f"/supervision/leads/{lead_id}")


@router.get("/stats")
def stats(request: Request, date_from: str = "", date_to: str = "", cross_province: str = ""):
    """I4: direct-settlement rate per class against the 70 % target; volumes and fund by region pair and month."""
    principal = require(request, "supervisor", "agency")
    ctx = ctx_of(request)
    start = parse_date(date_from, "date_from", required=False)
    end = parse_date(date_to, "date_to", required=False)
    rates = statistics.direct_settlement_rates(ctx, admdvs=principal.admdvs, date_from=start, date_to=end,
                                               cross_province_only=cross_province == "1")
    flows = statistics.flows_by_month(ctx, admdvs=principal.admdvs, date_from=start, date_to=end)
    rate_bars = [(statistics.CLASS_NAMES[r.med_class], r.rate_bp or 0,
                  "—" if r.rate_bp is None else f"{r.rate_bp / 100:.2f}%") for r in rates]
    fund_bars = [(month, fen, fen_to_yuan(fen)) for month, fen in statistics.fund_by_month(flows)]
    return render(request, "oversight/stats.html", rates=rates, flows=flows, rate_bars=rate_bars,
                  fund_bars=fund_bars, target_bp=statistics.NATIONAL_TARGET_BP, class_names=statistics.CLASS_NAMES,
                  regions=region_names(ctx), date_from=date_from, date_to=date_to, cross_province=cross_province)
