"""参保人 pages: my filings (three-step filing, change, cancel), estimate, hospitals, settlements, manual claim."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import LONG_TERM_TYPES, TYPE_NAMES, Basis, FilingType, check_new_filing
from yidi.domain.regions import same_pooling_area
from yidi.services import filings as filing_service
from yidi.services import directory, manual_claims, treatment_entry
from yidi.services import settlements as settlement_service
from yidi.api.claims import attachment_response
from yidi.web.core import PageRoute, ctx_of, form, form_files, form_list, kept_rows, redirect, render, require
from yidi.services.directory import institutions, region_names
from yidi.services.settlement_reads import settlement_facts
from yidi.web.forms import MAX_FEE_ROWS, all_catalog_items, filing_guide, parse_date, parse_items, parse_period
from yidi.web.settlement_page import zero_fund_reason

router = APIRouter(route_class=PageRoute)


def _me(request: Request):
    principal = require(request, "person")
    return principal, directory.person(ctx_of(request), principal.psn_no or "")


def _own_filing(request: Request, filing_id: str):
    principal, person = _me(request)
    filing = filing_service.get_filing(ctx_of(request), filing_id)
    principal.require_person(filing.psn_no)
    return principal, person, filing


@router.get("/person")
def person_home(request: Request):
    principal, person = _me(request)
    ctx = ctx_of(request)
    # newest first, by the dates the person knows (start of the filing, day of treatment)
    filings = sorted(filing_service.list_filings(ctx, psn_no=person.psn_no),
                     key=lambda f: (f.begndate, f.apply_date, f.filing_id), reverse=True)
    settlements = sorted(settlement_service.list_settlements(ctx, psn_no=person.psn_no),
                         key=lambda s: (s.begntime, s.endtime, s.setl_id), reverse=True)
    return render(request, "person/home.html", person=person, filings=filings, settlements=settlements,
                  regions=region_names(ctx), claims=manual_claims.claims_of_person(ctx, person.psn_no))


# --- 备案: three steps. Each step posts to the next; earlier answers travel in hidden fields. ---

def _step1(request: Request, person, values: dict, error: str = ""):
    return render(request, "person/filing_step1.html", person=person, types=TYPE_NAMES, long_term=LONG_TERM_TYPES,
                  guide=filing_guide(ctx_of(request), person.insuplc_admdvs, date.today()), values=values, error=error)


@router.get("/person/filing/new")
def filing_step1(request: Request):
    _, person = _me(request)
    return _step1(request, person, {})


def _step2(request: Request, person, values: dict, problem: YidiError | None = None):
    filing_type = FilingType(values.get("type", ""))
    regions = {code: name for code, name in region_names(ctx_of(request)).items()
               if not same_pooling_area(person.insuplc_admdvs, code)}
    return render(request, "person/filing_step2.html", status_code=problem.http_status if problem else 200,
                  person=person, values=values, regions=regions, long_term=filing_type in LONG_TERM_TYPES,
                  type_name=TYPE_NAMES[filing_type], guide=filing_guide(ctx_of(request), person.insuplc_admdvs,
                                                                        date.today()), problem=problem)


def _checked_period(request: Request, person, values: dict, filing_type: FilingType):
    """The filing's dates as it will be stored (F5), or the refusal to show beside the date fields."""
    begndate, enddate = parse_period(values.get("begndate"), values.get("enddate"), "begndate", "enddate")
    rules = ctx_of(request).policy.insured_policy(person.insuplc_admdvs, date.today()).params.filing
    return begndate, check_new_filing(filing_type, Basis(values.get("basis", "")), begndate, enddate, rules)


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
    return _step2(request, person, values)


def _step3(request: Request, person, values: dict, problem: YidiError | None = None):
    regions = region_names(ctx_of(request))
    area = values.get("mdtrtarea_admvs", "")
    filing_type = FilingType(values.get("type", ""))
    _, enddate = _checked_period(request, person, values, filing_type)
    commitment = ""
    if values.get("basis") == Basis.COMMITMENT.value:  # the text the filing service stores with the filing (F3)
        commitment = filing_service.commitment_form(ctx_of(request), person.psn_no, area, filing_type)["text"]
    return render(request, "person/filing_step3.html", status_code=problem.http_status if problem else 200,
                  person=person, values=values, area_name=regions[area], commitment=commitment,
                  type_name=TYPE_NAMES[filing_type], shown_enddate=enddate, problem=problem)


@router.post("/person/filing/step3")
def filing_step3(request: Request):
    _, person = _me(request)
    values = form(request)
    try:
        filing_type = FilingType(values.get("type", ""))
        Basis(values.get("basis", ""))
    except ValueError:
        return _step1(request, person, values, "请选择备案类型和备案方式")
    try:
        if values.get("mdtrtarea_admvs", "") not in region_names(ctx_of(request)):
            raise invalid("mdtrtarea_admvs", "请选择就医地")
        _checked_period(request, person, values, filing_type)
    except YidiError as exc:  # back to the dates, as typed, with the message beside the field
        return _step2(request, person, values, exc)
    return _step3(request, person, values)


@router.post("/person/filing/submit")
def filing_submit(request: Request):
    principal, person = _me(request)
    values = form(request)
    basis = values.get("basis", "")
    signature = values.get("signature", "")
    try:
        filing_type = FilingType(values.get("type", ""))
    except ValueError:
        return _step1(request, person, values, "请选择备案类型和备案方式")
    if basis == Basis.COMMITMENT.value and (values.get("agree") != "yes" or signature != person.name):
        return _step3(request, person, values, YidiError("COMMITMENT_NOT_SIGNED"))
    if basis == Basis.PROOF.value and values.get("agree") != "yes":
        return _step3(request, person, values, invalid("agree", "请确认已备齐证明材料"))
    try:
        begndate, enddate = parse_period(values.get("begndate"), values.get("enddate"), "begndate", "enddate")
        filing = filing_service.file_filing(ctx_of(request), filing_service.FileCommand(
            psn_no=person.psn_no, filing_type=filing_type.value, basis=basis,
            mdtrtarea_admvs=values.get("mdtrtarea_admvs", ""), begndate=begndate, enddate=enddate,
            apply_date=date.today(), channel="web",
            commitment_signature=signature if basis == Basis.COMMITMENT.value else None, actor=principal.username))
    except YidiError as exc:
        return _step2(request, person, values, exc)
    return redirect(f"/person/filings/{filing.filing_id}?new=1")


@router.get("/person/filings/{filing_id}")
def filing_detail(request: Request, filing_id: str, new: str = ""):
    _, person, filing = _own_filing(request, filing_id)
    ctx = ctx_of(request)
    return render(request, "person/filing.html", person=person, filing=filing, new=bool(new), values={},
                  history=filing_service.filing_history(ctx, filing_id), regions=region_names(ctx),
                  guide=filing_guide(ctx, person.insuplc_admdvs, date.today()))


@router.post("/person/filings/{filing_id}/change")
def filing_change(request: Request, filing_id: str):
    principal, person, filing = _own_filing(request, filing_id)
    values = form(request)
    ctx = ctx_of(request)
    action = values.get("action", "change")
    proof = values.get("proof") == "yes"
    try:
        on = parse_date(values.get("on") or date.today().isoformat(), "on")
        if action == "cancel":
            result = filing_service.cancel_filing(ctx, filing_id, on, proof=proof, actor=principal.username,
                                                  reason=values.get("reason", ""))
        else:
            result = filing_service.change_filing(ctx, filing_id, on, proof=proof,
                                                  mdtrtarea_admvs=values.get("mdtrtarea_admvs") or None,
                                                  actor=principal.username, reason=values.get("reason", ""))
    except YidiError as exc:
        # The form comes back as typed; a refusal under F6 also says from which day no proof is needed.
        return render(request, "person/filing.html", status_code=exc.http_status, person=person, filing=filing,
                      new=False, history=filing_service.filing_history(ctx, filing_id), regions=region_names(ctx),
                      guide=filing_guide(ctx, person.insuplc_admdvs, date.today()), problem=exc, values=values,
                      free_from=exc.params.get("free_from") if exc.code == "FILING_CHANGE_NEEDS_PROOF" else None)
    return redirect(f"/person/filings/{result.filing_id}")


# --- 费用测算, 定点医院查询, 结算记录, 线上零星报销 ---

def _claim_form(request: Request, template: str, person, **extra):
    ctx = ctx_of(request)
    hospitals = institutions(ctx)
    return render(request, template, person=person, hospitals=hospitals, regions=region_names(ctx),
                  catalog=all_catalog_items(ctx, hospitals), rows=range(MAX_FEE_ROWS), values=extra.pop("values", {}),
                  kept=kept_rows(request), max_kb=manual_claims.max_attachment_bytes() // 1024, **extra)


def _settle_command(request: Request, person, kind: str, actor: str) -> settlement_service.SettleCommand:
    values = form(request)
    begin, end = parse_period(values.get("begntime"), values.get("endtime") or values.get("begntime"),
                              "begntime", "endtime")
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
        return _claim_form(request, template, person, values=values, problem=exc, status_code=exc.http_status)


@router.post("/person/estimate")
def estimate_run(request: Request):
    def show(person, values, command):
        result = settlement_service.estimate(ctx_of(request), command)
        return _claim_form(request, "person/estimate.html", person, values=values, result=result,
                           zero_reason=zero_fund_reason(result, command.med_type))

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
                  show_certno=True, facts=settlement_facts(ctx, setl_id),
                  zero_reason=zero_fund_reason(view.row_fields, view.med_type))


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
        claim = treatment_entry.submit_claim(ctx_of(request), manual_claims.SubmitCommand(
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
