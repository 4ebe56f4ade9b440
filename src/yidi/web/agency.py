"""经办机构 pages: the approval queue (F4), search, funds (clearing and prepayment), reconciliation."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from yidi.domain.clearing import month_bounds
from yidi.domain.errors import YidiError, invalid
from yidi.api.claims import attachment_response
from yidi.services import (access, approvals, casework, clearing, directory, finance_reconciliation, funds_scope,
                           ledger, manual_claims, prepayment, statistics)
from yidi.services import filings as filing_service
from yidi.services import settlements as settlement_service
from yidi.services.scope import RegionScope, scope_of
from yidi.services.settlement_reads import settlement_in_scope
from yidi.web.core import PageRoute, ctx_of, form, form_list, money_text, redirect, render, require
from yidi.web.public import PROOF
from yidi.wording import for_people
from yidi.services.directory import institutions, person_names, region_names
from yidi.web.forms import parse_date

router = APIRouter(route_class=PageRoute)


def _clerk(request: Request):
    """Funds and search pages read: the same roles as their /api/funds twins (services/access.py)."""
    return require(request, *access.FUNDS_READERS)


def _queue(request: Request, principal, done: list[tuple[str, str]], refused: list[tuple[str, object]],
           status_code: int = 200):
    """待审核备案: due within 2 working days; overdue ones first and highlighted. Each row shows what the
    person filed with (the proof the type needs, or the signed commitment) and their other filings and
    settlements, so the clerk decides without searching; several rows can be approved at once."""
    ctx = ctx_of(request)
    pending = filing_service.list_filings(ctx, status="pending", insuplc_admdvs=principal.admdvs, limit=1000)
    pending.sort(key=lambda f: (f.approve_due_date or date.max, f.apply_date, f.filing_id))
    psn_nos = sorted({f.psn_no for f in pending})
    people = directory.persons(ctx, psn_nos)
    signed = {filing_id: (commitment.signature, commitment.text) for filing_id, commitment
              in casework.signed_commitments(ctx, [f.filing_id for f in pending]).items()}
    others = {psn_no: sorted(filing_service.list_filings(ctx, psn_no=psn_no), key=lambda f: f.begndate, reverse=True)
              for psn_no in psn_nos}
    claims = {psn_no: sorted(settlement_service.list_settlements(ctx, psn_no=psn_no), key=lambda s: s.begntime,
                             reverse=True) for psn_no in psn_nos}
    return render(request, "agency/queue.html", status_code=status_code, pending=pending, people=people,
                  regions=region_names(ctx), done=done, refused=[(fid, for_people(exc)) for fid, exc in refused],
                  signed=signed, others=others,
                  claims=claims, proof=PROOF, hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)})


@router.get("/agency")
def agency_queue(request: Request, done: str = ""):
    principal = require(request, "agency")
    decided = [tuple(part.split(":", 1)) for part in done.split(",") if ":" in part]
    return _queue(request, principal, decided, [])


@router.post("/agency/filings/{filing_id}/decide")
def agency_decide(request: Request, filing_id: str):
    principal = require(request, "agency")
    values = form(request)
    approve = values.get("decision") == "approve"
    try:
        filing = filing_service.decide_filing(ctx_of(request), filing_id, approve=approve, actor=principal.username,
                                              on=date.today(), reason=values.get("reason", ""),
                                              clerk_region=principal.admdvs)
    except YidiError as exc:  # e.g. a rejection without a reason: said on the queue, next to the others
        if exc.code == "FORBIDDEN":
            raise
        return _queue(request, principal, [], [(filing_id, exc)], exc.http_status)
    return redirect(f"/agency?done={filing.filing_id}:{filing.status.value}")


@router.post("/agency/filings/decide")
def agency_decide_many(request: Request):
    """Approve (or reject) the ticked filings at once; each is its own decision (one transaction each), so
    one refused filing does not hold back the others and is listed with its reason."""
    principal = require(request, "agency")
    values = form(request)
    approve = values.get("decision") == "approve"
    filing_ids = form_list(request, "filing_id")
    if not filing_ids:
        return _queue(request, principal, [], [("", invalid("filing_id", "请先勾选要办理的备案"))], 422)
    done, refused = [], []
    for filing_id in filing_ids:
        try:
            filing = filing_service.decide_filing(ctx_of(request), filing_id, approve=approve,
                                                  actor=principal.username, on=date.today(),
                                                  reason=values.get("reason", ""), clerk_region=principal.admdvs)
            done.append((filing.filing_id, filing.status.value))
        except YidiError as exc:
            refused.append((filing_id, exc))
    if refused:
        return _queue(request, principal, done, refused, refused[0][1].http_status)
    return redirect("/agency?done=" + ",".join(f"{filing_id}:{status}" for filing_id, status in done))


# --- 零星报销: the queue, the review (calculation, attachments, the person's other business), the decision ---

@router.get("/agency/claims")
def agency_claims(request: Request, status: str = "submitted", done: str = ""):
    """零星报销 of the clerk's insured region, the earliest due first (due dates counted as for filings, F4)."""
    principal = require(request, "agency")
    ctx = ctx_of(request)
    claims = manual_claims.queue(ctx, principal, status=status)
    people = directory.persons(ctx, [c.psn_no for c in claims])
    return render(request, "agency/claims.html", claims=claims, people=people, status=status, done=done,
                  hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)})


@router.get("/agency/claims/{claim_id}")
def agency_claim(request: Request, claim_id: str):
    principal = require(request, "agency")
    ctx = ctx_of(request)
    review = manual_claims.review(ctx, principal, claim_id)
    person = directory.person(ctx, review.claim.psn_no)
    return render(request, "agency/claim.html", review=review, claim=review.claim, person=person,
                  regions=region_names(ctx), hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)})


@router.post("/agency/claims/{claim_id}/decide")
def agency_claim_decide(request: Request, claim_id: str):
    principal = require(request, "agency")
    values = form(request)
    ctx = ctx_of(request)
    if values.get("decision") == "paid":
        claim = manual_claims.mark_paid(ctx, principal, claim_id, payment_ref=values.get("payment_ref", ""))
    elif values.get("decision") == "reverse":
        claim = manual_claims.reverse(ctx, principal, claim_id, reason=values.get("reason", ""))
    else:
        claim = manual_claims.decide(ctx, principal, claim_id, approve=values.get("decision") == "approve",
                                     reason=values.get("reason", "")).claim
    return redirect(f"/agency/claims?done={claim.claim_id}:{claim.status}")


@router.get("/agency/claims/{claim_id}/attachments/{attachment_id}")
def agency_claim_attachment(request: Request, claim_id: str, attachment_id: int):
    principal = require(request, "agency")
    info, content = manual_claims.attachment(ctx_of(request), principal, claim_id, attachment_id)
    return attachment_response(info, content)


@router.get("/agency/search")
def agency_search(request: Request, q: str = ""):
    """Persons of the clerk's region by name, certificate number or person number, with their filings and
    settlements. Certificate numbers are masked: a clerk searching does not need the full number."""
    principal = _clerk(request)
    ctx = ctx_of(request)
    people, filings, settlements = [], [], []
    q = q.strip()
    if q:
        people = casework.find_persons(ctx, scope_of(principal), q)
        for person in people:
            filings += filing_service.list_filings(ctx, psn_no=person.psn_no)
            settlements += settlement_service.list_settlements(ctx, psn_no=person.psn_no)
        if not people:  # a filing or settlement number
            filings = [f for f in filing_service.list_filings(ctx, insuplc_admdvs=principal.admdvs, limit=5000)
                       if f.filing_id == q.upper()]
            found = settlement_in_scope(ctx, scope_of(principal), q.upper())
            if found is not None:
                settlements = [settlement_service.get_settlement(ctx, found.setl_id)]
    filings.sort(key=lambda f: (f.begndate, f.filing_id), reverse=True)
    settlements.sort(key=lambda s: (s.begntime, s.setl_id), reverse=True)
    names = person_names(ctx, [f.psn_no for f in filings] + [s.psn_no for s in settlements])
    names.update({p.psn_no: p.name for p in people})
    return render(request, "agency/search.html", q=q, people=people, filings=filings, settlements=settlements,
                  names=names, regions=region_names(ctx),
                  hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)})


def _last_month(today: date) -> str:
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _own_city(principal) -> str | None:
    """The insured city whose books a clerk keeps; None for a province-level or national account."""
    return scope_of(principal).city


@router.get("/agency/funds")
def agency_funds(request: Request, plan_year: str = "", month: str = "", city: str = ""):
    """月度清算与预付金 (C1, C2): stored clearing runs, one month's statement (province transfers and city
    statements, with CSV/Excel downloads), confirmed prepayments, and a prepayment plan on demand.
    What a clerk sees is what /api/funds shows them (services.funds_scope): the part that concerns their region."""
    principal = _clerk(request)
    ctx = ctx_of(request)
    plan = None
    if plan_year:
        if not plan_year.isdigit():
            raise invalid("plan_year", "应为四位年份")
        plan = funds_scope.prepayment_lines(
            principal, [line.to_dict() for line in prepayment.plan(ctx, int(plan_year))])
    runs = funds_scope.runs(principal, clearing.list_runs(ctx))
    month = month or (runs[0]["month"] if runs else "")
    statement = clearing.get_statement(ctx, month) if month else None
    city_sheet = csv_names = None
    if statement is not None:
        statement = funds_scope.statement(principal, statement)
        cities = statement.cities()
        if city:
            principal.require_region(city)  # another region's city statement: FORBIDDEN, never its figures
        city = city if city in cities else (_own_city(principal) if _own_city(principal) in cities else
                                            (cities[0] if cities else ""))
        city_sheet = funds_scope.city_statement(principal, statement, city) if city else None
        csv_names = clearing.csv_names(statement)
    return render(request, "agency/funds.html", runs=runs, national=funds_scope.is_national(principal),
                  prepayments=funds_scope.prepayment_lines(principal, prepayment.list_prepayments(ctx)), plan=plan,
                  plan_year=plan_year, regions=region_names(ctx), fen_to_yuan=money_text, month=month,
                  statement=statement, city_sheet=city_sheet, csv_names=csv_names,
                  may_move=approvals.may_move_country_money(principal),
                  approvals=approvals.list_requests(ctx, status=None)[:20]
                  if approvals.may_move_country_money(principal) else [])


def _download(content: bytes, filename: str, media_type: str) -> Response:
    # RFC 6266/5987: the Chinese file name travels percent-encoded as UTF-8.
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


def _statement(request: Request, month: str) -> tuple[clearing.ClearingStatement, clearing.ClearingStatement]:
    """The stored (national) statement of the month and the part of it the clerk may see."""
    principal = _clerk(request)
    statement = clearing.get_statement(ctx_of(request), month)
    if statement is None:
        raise YidiError("NOT_FOUND", {"what": "清算单", "key": month})
    return statement, funds_scope.statement(principal, statement)


@router.get("/agency/funds/{month}/statement.xlsx")
def agency_statement_xlsx(request: Request, month: str):
    _national, visible = _statement(request, month)
    with tempfile.TemporaryDirectory() as folder:
        path = clearing.export_xlsx(visible, Path(folder) / f"{visible.file_stem}.xlsx")
        content = path.read_bytes()
    return _download(content, path.name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.get("/agency/funds/{month}/csv/{filename}")
def agency_statement_csv(request: Request, month: str, filename: str):
    national, visible = _statement(request, month)
    if filename not in clearing.csv_names(visible):
        if filename in clearing.csv_names(national):  # a file of the national statement or another region's city
            raise YidiError("FORBIDDEN", {"detail": f"无权下载 {filename}"})
        raise YidiError("NOT_FOUND", {"what": "清算单文件", "key": filename})
    with tempfile.TemporaryDirectory() as folder:
        files = {path.name: path for path in clearing.export_csv(visible, Path(folder))}
        content = files[filename].read_bytes()
    return _download(content, filename, "text/csv; charset=utf-8")


@router.post("/agency/funds/run")
def agency_funds_run(request: Request):
    """Step one of two-person confirmation (services/approvals.py): the clearing runs when another
    national or provincial user approves it below."""
    principal = require(request, *access.CLEARING_RUNNERS)  # a write: never the read-only supervisor
    approvals.request(ctx_of(request), principal, "clearing.run", {"month": form(request).get("month", "")})
    return redirect("/agency/funds#approvals")


@router.post("/agency/funds/prepay")
def agency_funds_prepay(request: Request):
    principal = require(request, *access.CLEARING_RUNNERS)  # a write: never the read-only supervisor
    approvals.request(ctx_of(request), principal, "prepayment.confirm", {"year": form(request).get("year", "")})
    return redirect("/agency/funds#approvals")


@router.post("/agency/funds/approvals/{request_id}/approve")
def agency_funds_approve(request: Request, request_id: str):
    principal = require(request, *access.CLEARING_RUNNERS)  # a write: never the read-only supervisor
    approvals.approve(ctx_of(request), principal, request_id)
    return redirect("/agency/funds#approvals")


@router.get("/agency/reconciliation")
def agency_reconciliation(request: Request, date_from: str = "", date_to: str = "", month: str = ""):
    """对账 (C4): the agency-vs-finance reconciliation of one clearing month (services.finance_reconciliation:
    settlements vs ledger, settlements vs the clearing statement, statement vs transfers, naming the exact
    settlements that differ); next to it the settlement totals by month, region and institution and the
    ledger's own check (every entry balances, the trial balance is zero)."""
    principal = _clerk(request)
    ctx = ctx_of(request)
    month = month or _last_month(date.today())
    month_bounds(month)  # a malformed month is INVALID_INPUT naming the field
    province_account = bool(principal.admdvs) and _own_city(principal) is None
    # C4 is kept per insured city; a province-level account would otherwise see every province's books.
    c4 = None if province_account else finance_reconciliation.reconcile(ctx, month, _own_city(principal))
    start = parse_date(date_from, "date_from", required=False)
    end = parse_date(date_to, "date_to", required=False)
    # the region's settlements as insured or treatment region (a province-level account: its cities too)
    report = [(t.month, t.insuplc_admdvs, t.mdtrtarea_admvs, t.fixmedins_code, t.kind, t.count, t.medfee_fen,
               t.fund_fen) for t in statistics.settlement_totals(ctx, RegionScope.of_region(principal.admdvs),
                                                                 date_from=start, date_to=end)]
    totals = [sum(r[5] for r in report), sum(r[6] for r in report), sum(r[7] for r in report)]
    books = ledger.check(ctx)
    return render(request, "agency/reconciliation.html", report=report, totals=totals,
                  balance=books.trial_balance_fen, unbalanced=list(books.unbalanced_entries), regions=region_names(ctx),
                  hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)},
                  date_from=date_from, date_to=date_to, month=month, c4=c4, scope=_own_city(principal))
