"""监管 and 统计 pages: run the supervision rules, work the leads (协查, outcome, recovery), the I4 statistics."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from yidi.domain.money import fen_to_yuan
from yidi.domain.supervision import RULE_NAMES
from yidi.services import statistics, supervision
from yidi.services.settlement_reads import settlement_lines
from yidi.services.supervision import OUTCOMES
from yidi.web.core import PageRoute, ctx_of, form, money_text, redirect, render, require
from yidi.services.directory import institutions, person_names, region_names
from yidi.web.forms import parse_date, parse_yuan

router = APIRouter(route_class=PageRoute)


def lead_groups(leads, claims: dict, names: dict, hospital_names: dict) -> list[dict]:
    """Leads per person (or per hospital, for a hospital's cost outlier), each with the money involved:
    the fund payments of the settlements it names."""
    groups: dict[tuple, dict] = {}
    for lead in leads:
        key = ("person", lead.psn_no) if lead.psn_no else ("hospital", lead.fixmedins_code or "")
        group = groups.setdefault(key, {
            "kind": key[0], "key": key[1], "leads": [], "fund_fen": 0,
            "title": (f"{names.get(lead.psn_no, '')}（{lead.psn_no}）" if lead.psn_no
                      else hospital_names.get(lead.fixmedins_code, lead.fixmedins_code or ""))})
        mine = [claims[s] for s in lead.setl_ids if s in claims]
        mine.sort(key=lambda row: (row.begntime, row.setl_id))
        fund = sum(row.fund_pay_sumamt for row in mine)
        group["leads"].append({"lead": lead, "claims": mine, "fund_fen": fund,
                               "medfee_fen": sum(row.medfee_sumamt for row in mine)})
        group["fund_fen"] += fund
    for group in groups.values():
        group["leads"].sort(key=lambda item: (item["claims"][0].begntime if item["claims"] else item["lead"].found_on))
    return sorted(groups.values(), key=lambda g: (-g["fund_fen"], g["title"]))


@router.get("/supervision")
def leads(request: Request, status: str = "", rule: str = "", ran: str = ""):
    principal = require(request, "supervisor", "agency")
    ctx = ctx_of(request)
    rows = supervision.list_leads(ctx, admdvs=principal.admdvs, status=status or None, rule=rule or None)
    claims = settlement_lines(ctx, [s for lead in rows for s in lead.setl_ids])
    hospital_names = {h.fixmedins_code: h.name for h in institutions(ctx)}
    groups = lead_groups(rows, claims, person_names(ctx, [lead.psn_no for lead in rows if lead.psn_no]),
                         hospital_names)
    return render(request, "oversight/leads.html", leads=rows, groups=groups, rule_names=RULE_NAMES, status=status,
                  rule=rule, ran=ran, regions=region_names(ctx), hospital_names=hospital_names)


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
                  fen_to_yuan=fen_to_yuan, claims=settlement_lines(ctx, lead.setl_ids),
                  names=person_names(ctx, [lead.psn_no] if lead.psn_no else []))


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


def every_month(by_month: list[tuple[str, int]], start: date | None, end: date | None) -> list[tuple[str, int]]:
    """Every month from the first to the last (or over the chosen dates), with 0 for a month without
    settlements: an empty month is a fact the chart must show, not a gap it closes."""
    known = dict(by_month)
    months = sorted(known)
    first = start.strftime("%Y-%m") if start else (months[0] if months else None)
    last = end.strftime("%Y-%m") if end else (months[-1] if months else None)
    if first is None or last is None or first > last:
        return sorted(by_month)
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last and len(out) < 240:
        key = f"{year:04d}-{month:02d}"
        out.append((key, known.get(key, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


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
    fund_bars = [(month, fen, money_text(fen) if fen else "0")
                 for month, fen in every_month(statistics.fund_by_month(flows), start, end)]
    return render(request, "oversight/stats.html", rates=rates, flows=flows, rate_bars=rate_bars,
                  fund_bars=fund_bars, target_bp=statistics.NATIONAL_TARGET_BP, class_names=statistics.CLASS_NAMES,
                  regions=region_names(ctx), date_from=date_from, date_to=date_to, cross_province=cross_province)
