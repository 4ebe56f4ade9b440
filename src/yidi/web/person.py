"""参保人 pages: my filings (three-step filing, change, cancel), estimate, hospitals, settlements, manual claim."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from yidi.domain.errors import YidiError
from yidi.domain.filing import LONG_TERM_TYPES, TYPE_NAMES, Basis, FilingType
from yidi.domain.regions import same_pooling_area
from yidi.services import filings as filing_service
from yidi.services import manual_claims
from yidi.services import settlements as settlement_service
from yidi.services.reference import get_person
from yidi.api.claims import attachment_response
from yidi.web.core import PageRoute, ctx_of, form, form_files, form_list, redirect, render, require
from yidi.web.forms import (MAX_FEE_ROWS, catalog_items, filing_guide, institutions, parse_date, parse_items,
                             region_names)

router = APIRouter(route_class=PageRoute)


def _me(request: Request):
    principal = require(request, "person")
    with ctx_of(request).unit_of_work() as session:
        person = get_person(session, principal.psn_no or "")
        session.expunge(person)
    return principal, person


def _own_filing(request: Request, filing_id: str):
    principal, person = _me(request)
    filing = filing_service.get_filing(ctx_of(request), filing_id)
    principal.require_person(filing.psn_no)
    return principal, person, filing


@router.get("/person")
def person_home(request: Request):
    principal, person = _me(request)
    ctx = ctx_of(request)
    return render(request, "person/home.html", person=person, filings=filing_service.list_filings(ctx, psn_no=person.psn_no),
                  settlements=settlement_service.list_settlements(ctx, psn_no=person.psn_no), regions=region_names(ctx),
                  claims=manual_claims.claims_of_person(ctx, person.psn_no))


# --- 备案: three steps. Each step posts to the next; earlier answers travel in hidden fields. ---

def _step1(request: Request, person, values: dict, error: str = ""):
    return render(request, "person/filing_step1.html", person=person, types=TYPE_NAMES, long_term=LONG_TERM_TYPES,
                  guide=filing_guide(ctx_of(request), person.insuplc_admdvs, date.today()), values=values, error=error)


@router.get("/person/filing/new")
def filing_step1(request: Request):
    _, person = _me(request)
    return _step1(request, person, {})


@router.post("/person/filing/step2")
def filing_step2(request: Request):
    _, person = _me(request)
    values = form(request)
    guide = filing_guide(ctx_of(request), person.insuplc_admdvs, date.today())
    try:
        filing_type = FilingType(values.get("type", ""))
        basis = Basis(values.get("basis", ""))
    except ValueError:
        return _step1(request, person, values, "请选择备案类型和备案方式")
    if basis is Basis.COMMITMENT and filing_type not in guide["commitment_allowed"]:
        error = YidiError("COMMITMENT_NOT_ALLOWED")
        return _step1(request, person, values, f"{error.message}。{error.hint}")
    regions = {code: name for code, name in region_names(ctx_of(request)).items()
               if not same_pooling_area(person.insuplc_admdvs, code)}
    return render(request, "person/filing_step2.html", person=person, values=values, regions=regions,
                  long_term=filing_type in LONG_TERM_TYPES, type_name=TYPE_NAMES[filing_type], guide=guide)


@router.post("/person/filing/step3")
def filing_step3(request: Request):
    _, person = _me(request)
    values = form(request)
    regions = region_names(ctx_of(request))
    area = values.get("mdtrtarea_admvs", "")
    if area not in regions:
        raise YidiError("UNKNOWN_REGION", {"key": area})
    try:
        filing_type = FilingType(values.get("type", ""))
    except ValueError:
        return _step1(request, person, values, "请选择备案类型和备案方式")
    begndate = parse_date(values.get("begndate"), "begndate")
    enddate = parse_date(values.get("enddate"), "enddate", required=False)
    if enddate is None and filing_type not in LONG_TERM_TYPES:  # shown as the filing will be stored (F5)
        enddate = filing_guide(ctx_of(request), person.insuplc_admdvs, date.today())["end_of"](begndate)
    commitment = ""
    if values.get("basis") == Basis.COMMITMENT.value:  # the text the filing service stores with the filing (F3)
        commitment = filing_service.commitment_form(ctx_of(request), person.psn_no, area, filing_type)["text"]
    return render(request, "person/filing_step3.html", person=person, values=values, area_name=regions[area],
                  commitment=commitment, type_name=TYPE_NAMES[filing_type], shown_enddate=enddate)


@router.post("/person/filing/submit")
def filing_submit(request: Request):
    principal, person = _me(request)
    values = form(request)
    basis = values.get("basis", "")
    signature = values.get("signature", "")
    if basis == Basis.COMMITMENT.value and (values.get("agree") != "yes" or signature != person.name):
        raise YidiError("COMMITMENT_NOT_SIGNED")
    if basis == Basis.PROOF.value and values.get("agree") != "yes":
        raise YidiError("INVALID_INPUT", {"field": "agree", "detail": "（请确认已备齐证明材料）"})
    filing = filing_service.file_filing(ctx_of(request), filing_service.FileCommand(
        psn_no=person.psn_no, filing_type=values.get("type", ""), basis=basis,
        mdtrtarea_admvs=values.get("mdtrtarea_admvs", ""), begndate=parse_date(values.get("begndate"), "begndate"),
        enddate=parse_date(values.get("enddate"), "enddate", required=False), apply_date=date.today(),
        channel="web", commitment_signature=signature if basis == Basis.COMMITMENT.value else None,
        actor=principal.username))
    return redirect(f"/person/filings/{filing.filing_id}?new=1")


@router.get("/person/filings/{filing_id}")
def filing_detail(request: Request, filing_id: str, new: str = ""):
    _, person, filing = _own_filing(request, filing_id)
    ctx = ctx_of(request)
    return render(request, "person/filing.html", person=person, filing=filing, new=bool(new),
                  history=filing_service.filing_history(ctx, filing_id), regions=region_names(ctx),
                  guide=filing_guide(ctx, person.insuplc_admdvs, date.today()))


@router.post("/person/filings/{filing_id}/change")
def filing_change(request: Request, filing_id: str):
    principal, person, filing = _own_filing(request, filing_id)
    values = form(request)
    ctx = ctx_of(request)
    action = values.get("action", "change")
    on = parse_date(values.get("on") or date.today().isoformat(), "on")
    proof = values.get("proof") == "yes"
    try:
        if action == "cancel":
            result = filing_service.cancel_filing(ctx, filing_id, on, proof=proof, actor=principal.username,
                                                  reason=values.get("reason", ""))
        else:
            result = filing_service.change_filing(ctx, filing_id, on, proof=proof,
                                                  mdtrtarea_admvs=values.get("mdtrtarea_admvs") or None,
                                                  actor=principal.username, reason=values.get("reason", ""))
    except YidiError as exc:
        if exc.code != "FILING_CHANGE_NEEDS_PROOF":
            raise
        # F6: say why, and from which day no proof is needed.
        return render(request, "person/filing.html", status_code=exc.http_status, person=person, filing=filing,
                      new=False, history=filing_service.filing_history(ctx, filing_id), regions=region_names(ctx),
                      guide=filing_guide(ctx, person.insuplc_admdvs, date.today()), refused=exc,
                      free_from=exc.params.get("free_from"))
    return redirect(f"/person/filings/{result.filing_id}")


# --- 费用测算, 定点医院查询, 结算记录, 线上零星报销 ---

def _claim_form(request: Request, template: str, person, **extra):
    ctx = ctx_of(request)
    hospitals = institutions(ctx)
    items = {}
    for hospital in hospitals:
        for code, name in catalog_items(ctx, hospital.admdvs, date.today()):
            items.setdefault(code, name)
    return render(request, template, person=person, hospitals=hospitals, regions=region_names(ctx),
                  catalog=sorted(items.items()), rows=range(MAX_FEE_ROWS), values=extra.pop("values", {}),
                  max_kb=manual_claims.max_attachment_bytes() // 1024, **extra)


def _settle_command(request: Request, person, kind: str, actor: str) -> settlement_service.SettleCommand:
    values = form(request)
    begin = parse_date(values.get("begntime"), "begntime")
    end = parse_date(values.get("endtime") or values.get("begntime"), "endtime")
    return settlement_service.SettleCommand(
        psn_no=person.psn_no, fixmedins_code=values.get("fixmedins_code", ""), med_type=values.get("med_type", ""),
        begntime=begin, endtime=end, items=parse_items(form_list(request, "code"), form_list(request, "amount")),
        dise_codg=values.get("dise_codg") or None, kind=kind, actor=actor,
        trauma_no_third_party=True if values.get("trauma") == "yes" else None)


@router.get("/person/estimate")
def estimate_form(request: Request):
    _, person = _me(request)
    return _claim_form(request, "person/estimate.html", person)


def _claim_post(request: Request, template: str, kind: str, then):
    """Read the form into a settlement command and hand it to ``then``; a refusal is shown on the same form
    with the person's input kept."""
    principal, person = _me(request)
    values = form(request)
    try:
        return then(person, values, _settle_command(request, person, kind, principal.username))
    except YidiError as exc:
        return _claim_form(request, template, person, values=values, problem=exc)


@router.post("/person/estimate")
def estimate_run(request: Request):
    def show(person, values, command):
        result = settlement_service.estimate(ctx_of(request), command)
        return _claim_form(request, "person/estimate.html", person, values=values, result=result)

    return _claim_post(request, "person/estimate.html", "direct", show)


@router.get("/hospitals")
def hospitals(request: Request, admdvs: str = "", level: str = ""):
    ctx = ctx_of(request)
    level_value = int(level) if level.isdigit() else None
    return render(request, "hospitals.html", hospitals=institutions(ctx, admdvs=admdvs or None, level=level_value),
                  regions=region_names(ctx), admdvs=admdvs, level=level)


@router.get("/person/settlements/{setl_id}")
def my_settlement(request: Request, setl_id: str):
    principal, person = _me(request)
    ctx = ctx_of(request)
    view = settlement_service.get_settlement(ctx, setl_id)
    principal.require_person(view.psn_no)
    return render(request, "settlement.html", person=person, view=view, fields=view.row_fields,
                  regions=region_names(ctx), hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)},
                  show_certno=True)


@router.get("/person/claim")
def claim_form(request: Request):
    _, person = _me(request)
    return _claim_form(request, "person/claim.html", person)


@router.post("/person/claim")
def claim_submit(request: Request):
    """零星报销: submitted with the invoice, the fee list and the refund account; the insured region's clerk
    reviews it (nothing is paid now)."""
    def submit(person, values, command):
        if values.get("agree") != "yes":
            raise YidiError("INVALID_INPUT", {"field": "agree", "detail": "（请确认所填信息真实）"})
        files = [manual_claims.Attachment(kind, upload.filename or kind, upload.content_type or "",
                                          upload.file.read(manual_claims.max_attachment_bytes() + 1))
                 for kind in ("invoice", "fee_list") for upload in form_files(request, kind)]
        claim = manual_claims.submit(ctx_of(request), manual_claims.SubmitCommand(
            psn_no=person.psn_no, fixmedins_code=command.fixmedins_code, med_type=command.med_type,
            begntime=command.begntime, endtime=command.endtime, items=command.items, dise_codg=command.dise_codg,
            trauma_no_third_party=command.trauma_no_third_party, bank_name=values.get("bank_name", ""),
            bank_account=values.get("bank_account", ""), account_name=values.get("account_name", ""),
            attachments=tuple(files), submitted_on=date.today(), actor=command.actor))
        return redirect(f"/person/claims/{claim.claim_id}?new=1")

    return _claim_post(request, "person/claim.html", "manual", submit)


def _own_claim(request: Request, claim_id: str):
    principal, person = _me(request)
    return person, manual_claims.get_claim(ctx_of(request), principal, claim_id)


@router.get("/person/claims/{claim_id}")
def my_claim(request: Request, claim_id: str, new: str = ""):
    person, claim = _own_claim(request, claim_id)
    ctx = ctx_of(request)
    return render(request, "person/claim_status.html", person=person, claim=claim, new=bool(new),
                  hospital_names={h.fixmedins_code: h.name for h in institutions(ctx)})


@router.get("/person/claims/{claim_id}/attachments/{attachment_id}")
def my_claim_attachment(request: Request, claim_id: str, attachment_id: int):
    principal, _ = _me(request)
    info, content = manual_claims.attachment(ctx_of(request), principal, claim_id, attachment_id)
    return attachment_response(info, content)
