"""医院医保办 pages: read a card, admit, upload fees, pre-settle, settle, cancel, print the slip, the day's totals.

Every action goes through services.visits, the same use cases the hospital interface calls (2401 admission /
2201 registration, 2301 fee upload, 2302 withdrawal, 2303 pre-settlement, 2304 settlement, 2305 cancellation,
2404 admission cancelled): one code path, so the desk gets the interface's validation, coded errors and
fee-detail handling, and a desk settlement is an ordinary settlement without a message id. This module only
reads what the pages show and turns form fields into the service's arguments.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from yidi.domain.errors import YidiError
from yidi.domain.money import yuan_to_fen
from yidi.services import settlements as settlement_service
from yidi.services import desk as desk_reads
from yidi.services import directory, transactions, visitor_settlements, visits
from yidi.services.person_lookup import find_person_by_cert
from yidi.services.directory import person_names, region_names
from yidi.services.settlement_reads import SettlementFacts, settlement_facts
from yidi.web.core import MED_TYPE_NAMES, PageRoute, ctx_of, form, form_list, kept_rows, redirect, render, require
from yidi.web.forms import MAX_FEE_ROWS, catalog_items, filing_guide, parse_date, parse_items
from yidi.web.settlement_page import zero_fund_reason
from yidi.web.slip import settlement_slip_pdf

router = APIRouter(route_class=PageRoute)

def _desk(request: Request):
    principal = require(request, "hospital")
    return principal, directory.institution(ctx_of(request), principal.fixmedins_code or "")


@router.get("/desk")
def desk_home(request: Request):
    return _home_page(request)


def _home_page(request: Request, status_code: int = 200, **extra):
    _, hospital = _desk(request)
    open_visits = desk_reads.open_visits(ctx_of(request), hospital.fixmedins_code)
    return render(request, "desk/home.html", status_code=status_code, hospital=hospital, open_visits=open_visits,
                  names=person_names(ctx_of(request), [v.psn_no for v in open_visits]), **extra)


@router.post("/desk/read")
def desk_read(request: Request):
    """读卡: the desk types or scans the certificate number; the full number is shown to the desk."""
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    certno = form(request).get("certno", "")
    try:  # the same lookup as the interface's 1101: standing filings and, if none covers here today, why
        person = find_person_by_cert(ctx, "02", certno, treatment_admdvs=hospital.admdvs)
    except YidiError as exc:  # a mistyped number: said beside the field, the number kept for correcting
        return _home_page(request, status_code=exc.http_status, problem=exc, certno=certno)
    return render(request, "desk/person.html", hospital=hospital, person=person, regions=region_names(ctx),
                  filings=person.filings, notice=person.filing_notice, med_types=MED_TYPE_NAMES,
                  guide=filing_guide(ctx, person.insuplc_admdvs, person.on))


@router.post("/desk/admit")
def desk_admit(request: Request):
    """入院办理 (2401) / 门诊挂号 (2201)."""
    principal, hospital = _desk(request)
    values = form(request)
    visit = visits.register(
        ctx_of(request), fixmedins_code=hospital.fixmedins_code, psn_no=values.get("psn_no", ""),
        med_type=values.get("med_type", ""), begntime=parse_date(values.get("begntime"), "begntime"),
        dise_codg=values.get("dise_codg") or None, emergency=values.get("emergency") == "yes",
        trauma_no_third_party=True if values.get("trauma") == "yes" else None, actor=principal.username)
    return redirect(f"/desk/visits/{visit.mdtrt_id}")


# --- one visit: what the page shows (read here), what the buttons do (services.visits) ---

def _visit_page(request: Request, mdtrt_id: str, status_code: int = 200, **extra):
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    detail = desk_reads.visit_detail(ctx, hospital.fixmedins_code, mdtrt_id)
    visit = detail.visit
    # a visitor insured in another province: its insured node holds the settlement, this node its side of it
    visitors = sorted(visitor_settlements.of_institution(ctx, hospital.fixmedins_code, mdtrt_id=mdtrt_id),
                      key=lambda record: record.settled_at or record.setl_date)
    return render(request, "desk/visit.html", status_code=status_code, hospital=hospital, visit=visit,
                  person=detail.person, fees=list(detail.fees), revoked=list(detail.revoked),
                  open=visit.open, rows=range(MAX_FEE_ROWS),
                  catalog=catalog_items(ctx, hospital.admdvs, visit.begntime), regions=region_names(ctx),
                  settlements=[*detail.settlements, *visitors],
                  endtime=extra.pop("endtime", None) or visit.endtime,
                  kept=kept_rows(request) if extra.get("problem") else {}, **extra)


def _act(request: Request, mdtrt_id: str, use_case, then, arguments=lambda hospital: {}):
    """Call a services.visits use case on one of this institution's visits; ``then`` turns its outcome into
    the response. Any refusal — of a form field or of the use case — is shown on the visit page with its
    code, cause and hint, and the desk's input kept."""
    principal, hospital = _desk(request)
    try:
        # the whole use case again if the database ended it as a conflict's loser (as /fsi does)
        outcome = transactions.retrying(lambda: use_case(
            ctx_of(request), fixmedins_code=hospital.fixmedins_code, mdtrt_id=mdtrt_id, actor=principal.username,
            **arguments(hospital)), what=getattr(use_case, "__name__", "desk"))
    except YidiError as exc:
        return _visit_page(request, mdtrt_id, status_code=exc.http_status, problem=exc,
                           endtime=form(request).get("endtime"))
    return then(outcome)


def _back_to(mdtrt_id: str):
    return lambda outcome: redirect(f"/desk/visits/{mdtrt_id}")


def _endtime(request: Request) -> dict:
    return {"endtime": parse_date(form(request).get("endtime"), "endtime", required=False)}


@router.get("/desk/visits/{mdtrt_id}")
def desk_visit(request: Request, mdtrt_id: str):
    return _visit_page(request, mdtrt_id)


def _fee_lines(request: Request, mdtrt_id: str, hospital) -> dict:
    """Form rows (code, quantity, amount in yuan) as fee-detail lines numbered W0001, W0002, … within the visit
    across uploads (withdrawn rows keep their numbers, so a number is never given twice; W = entered at the
    desk, apart from the numbers a hospital system sends through the interface)."""
    items = parse_items(form_list(request, "code"), form_list(request, "amount"), form_list(request, "qty"))
    taken = desk_reads.fee_lines_taken(ctx_of(request), mdtrt_id)
    names = dict(catalog_items(ctx_of(request), hospital.admdvs, date.today()))
    return {"admdvs": hospital.admdvs, "lines": [
        visits.FeeLine(feedetl_sn=f"W{taken + number:04d}", med_list_codg=item.code,
                       amount_fen=item.amount_fen, cnt=item.qty, name=names.get(item.code, ""))
        for number, item in enumerate(items, start=1)]}


@router.post("/desk/visits/{mdtrt_id}/fees")
def desk_upload_fees(request: Request, mdtrt_id: str):
    """费用明细上传 (2301 / 2204)."""
    return _act(request, mdtrt_id, visits.upload_fees, _back_to(mdtrt_id),
                lambda hospital: _fee_lines(request, mdtrt_id, hospital))


@router.post("/desk/visits/{mdtrt_id}/fees/{feedetl_sn}/delete")
def desk_revoke_fee(request: Request, mdtrt_id: str, feedetl_sn: str):
    """费用明细撤销 (2302 / 2205) of one row."""
    return _act(request, mdtrt_id, visits.revoke_fees, _back_to(mdtrt_id),
                lambda hospital: {"feedetl_sns": [feedetl_sn]})


@router.post("/desk/visits/{mdtrt_id}/presettle")
def desk_presettle(request: Request, mdtrt_id: str):
    """预结算 (2303 / 2206): the same calculation, nothing written (S3)."""
    return _act(request, mdtrt_id, visits.presettle,
                lambda outcome: _visit_page(request, mdtrt_id, preview=outcome.fields,
                                            endtime=outcome.fields["_endtime"]),
                lambda hospital: _endtime(request))


@router.post("/desk/visits/{mdtrt_id}/settle")
def desk_settle(request: Request, mdtrt_id: str):
    """结算 (2304 / 2207): writes the settlement, the year's usage and the ledger entry."""
    return _act(request, mdtrt_id, visits.settle, lambda outcome: redirect(f"/desk/settlements/{outcome.setl_id}"),
                lambda hospital: _endtime(request))


@router.post("/desk/visits/{mdtrt_id}/cancel")
def desk_cancel_visit(request: Request, mdtrt_id: str):
    """入院撤销 (2404) / 挂号撤销 (2202): only while nothing is settled; the fee rows go with it."""
    return _act(request, mdtrt_id, visits.cancel_registration, _back_to(mdtrt_id))


# --- settlements of this institution ---

def _own_settlement(request: Request, setl_id: str):
    """The settlement, if it was made at this institution (another one's does not exist for the desk): one of
    this node, or this node's side of a visitor's cross-province settlement (services/visitor_settlements)."""
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    visitor = visitor_settlements.find(ctx, hospital.fixmedins_code, setl_id)
    if visitor is not None:  # the desk copy of the person and the insured node's answer: nothing else of them
        person = visitor.person()
        facts = SettlementFacts(insuplc_admdvs=visitor.insuplc_admdvs, mdtrtarea_admvs=visitor.mdtrtarea_admvs,
                                dise_codg=visitor.dise_codg, setl_date=visitor.setl_date,
                                settled_at=visitor.settled_at, mdtrt_id=visitor.mdtrt_id)
        return hospital, visitor.view(), person, visitor.mdtrt_id, facts
    view = settlement_service.get_settlement(ctx, setl_id)
    if view.fixmedins_code != hospital.fixmedins_code:
        raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
    facts = settlement_facts(ctx, setl_id)
    return hospital, view, directory.person(ctx, view.psn_no), facts.mdtrt_id, facts


@router.get("/desk/settlements/{setl_id}")
def desk_settlement(request: Request, setl_id: str):
    hospital, view, person, mdtrt_id, facts = _own_settlement(request, setl_id)
    return render(request, "settlement.html", person=person, view=view, fields=view.row_fields,
                  regions=region_names(ctx_of(request)), hospital_names={hospital.fixmedins_code: hospital.name},
                  show_certno=False, desk=True, mdtrt_id=mdtrt_id, facts=facts,
                  zero_reason=zero_fund_reason(view.row_fields, view.med_type))


@router.post("/desk/settlements/{setl_id}/cancel")
def desk_cancel(request: Request, setl_id: str):
    """结算撤销 (2305 / 2208): the hospital's own settlement only; the visit reopens so fees can be corrected."""
    principal, hospital = _desk(request)
    transactions.retrying(lambda: visits.cancel_settlement(
        ctx_of(request), fixmedins_code=hospital.fixmedins_code, mdtrt_id=None, setl_id=setl_id,
        actor=principal.username), what="desk_cancel")
    return redirect(f"/desk/settlements/{setl_id}")


@router.get("/desk/settlements/{setl_id}/slip.pdf")
def desk_slip(request: Request, setl_id: str):
    hospital, view, person, _, facts = _own_settlement(request, setl_id)
    pdf = settlement_slip_pdf(view, person_name=person.name, certno=person.certno, hospital_name=hospital.name,
                              regions=region_names(ctx_of(request)), facts=facts,
                              zero_reason=zero_fund_reason(view.row_fields, view.med_type))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{setl_id}.pdf"'})


@router.get("/desk/reconciliation")
def desk_reconciliation(request: Request, day: str = ""):
    """当日对账: the day's settlements at this institution, with totals of what stands and what was cancelled."""
    _, hospital = _desk(request)
    on = parse_date(day or date.today().isoformat(), "day")
    views = settlement_service.list_settlements(ctx_of(request), fixmedins_code=hospital.fixmedins_code,
                                                setl_date=on, limit=5000)
    # and this node's side of visitors' cross-province settlements: what the hospital is owed for them too
    views += [record.view() for record in visitor_settlements.of_institution(
        ctx_of(request), hospital.fixmedins_code, setl_date=on)]
    totals: dict[str, dict[str, int]] = {}
    for view in views:
        bucket = totals.setdefault(view.status, {"count": 0, "medfee": 0, "fund": 0, "psn": 0})
        bucket["count"] += 1
        for key, field_name in (("medfee", "medfee_sumamt"), ("fund", "fund_pay_sumamt"), ("psn", "psn_part_amt")):
            bucket[key] += yuan_to_fen(view.row_fields[field_name])
    views.sort(key=lambda view: (view.begntime, view.setl_id))
    return render(request, "desk/reconciliation.html", hospital=hospital, day=on, views=views, totals=totals,
                  names=person_names(ctx_of(request), [v.psn_no for v in views]))
