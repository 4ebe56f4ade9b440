"""医院医保办 pages: read a card, admit, upload fees, pre-settle, settle, cancel, print the slip, the day's totals.

The visit and its fee lines are kept in the ``visits`` and ``fee_details`` tables (the same ones the
hospital interface uses); the money is always computed by services.settlements.
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from yidi.adapters.orm import FeeDetailRow, SettlementRow, VisitRow
from yidi.domain.catalog import FeeItem
from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import yuan_to_fen
from yidi.services import audit
from yidi.services import filings as filing_service
from yidi.services import settlements as settlement_service
from yidi.services.reference import find_person_by_certno, get_institution, get_person
from yidi.web.core import MED_TYPE_NAMES, PageRoute, ctx_of, form, form_list, redirect, render, require
from yidi.web.forms import MAX_FEE_ROWS, catalog_items, parse_date, parse_items, region_names
from yidi.web.slip import settlement_slip_pdf

router = APIRouter(route_class=PageRoute)


def _desk(request: Request):
    principal = require(request, "hospital")
    with ctx_of(request).unit_of_work() as session:
        hospital = get_institution(session, principal.fixmedins_code or "")
    return principal, hospital


@router.get("/desk")
def desk_home(request: Request):
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    with ctx.unit_of_work() as session:
        open_visits = list(session.scalars(select(VisitRow).where(
            VisitRow.fixmedins_code == hospital.fixmedins_code, VisitRow.state == "registered")
            .order_by(VisitRow.created_at.desc()).limit(50)))
    return render(request, "desk/home.html", hospital=hospital, open_visits=open_visits)


@router.post("/desk/read")
def desk_read(request: Request):
    """读卡: the desk types or scans the certificate number; the full number is shown to the desk."""
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    certno = form(request).get("certno", "")
    with ctx.unit_of_work() as session:
        person = find_person_by_certno(session, certno)
    return render(request, "desk/person.html", hospital=hospital, person=person, regions=region_names(ctx),
                  filings=filing_service.list_filings(ctx, psn_no=person.psn_no), med_types=MED_TYPE_NAMES)


@router.post("/desk/admit")
def desk_admit(request: Request):
    principal, hospital = _desk(request)
    values = form(request)
    med_type = values.get("med_type", "")
    if med_type not in MED_TYPE_NAMES:
        raise YidiError("MED_TYPE_NOT_SUPPORTED", {"med_type": med_type})
    begin = parse_date(values.get("begntime"), "begntime")
    with ctx_of(request).unit_of_work() as session:
        person = get_person(session, values.get("psn_no", ""))
        visit = VisitRow(mdtrt_id="MD" + uuid.uuid4().hex[:18].upper(), psn_no=person.psn_no,
                         fixmedins_code=hospital.fixmedins_code, med_type=med_type, begntime=begin,
                         dise_codg=values.get("dise_codg") or None, emergency=values.get("emergency") == "yes",
                         trauma_no_third_party=True if values.get("trauma") == "yes" else None, state="registered")
        session.add(visit)
        audit.record(session, principal.username, "visit.admit", visit.mdtrt_id, {"psn_no": person.psn_no})
    return redirect(f"/desk/visits/{visit.mdtrt_id}")


def _visit(request: Request, mdtrt_id: str):
    principal, hospital = _desk(request)
    with ctx_of(request).unit_of_work() as session:
        visit = session.get(VisitRow, mdtrt_id)
        if visit is None or visit.fixmedins_code != hospital.fixmedins_code:
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": mdtrt_id})
        person = get_person(session, visit.psn_no)
        fees = list(session.scalars(select(FeeDetailRow).where(FeeDetailRow.mdtrt_id == mdtrt_id,
                                                               FeeDetailRow.active.is_(True))
                                    .order_by(FeeDetailRow.id)))
    return principal, hospital, visit, person, fees


def _visit_page(request: Request, mdtrt_id: str, status_code: int = 200, **extra):
    _, hospital, visit, person, fees = _visit(request, mdtrt_id)
    ctx = ctx_of(request)
    return render(request, "desk/visit.html", status_code=status_code, hospital=hospital, visit=visit, person=person,
                  fees=fees, rows=range(MAX_FEE_ROWS), catalog=catalog_items(ctx, hospital.admdvs, visit.begntime),
                  regions=region_names(ctx), settlement=extra.pop("settlement", None),
                  settlements=_visit_settlements(request, mdtrt_id), **extra)


def _visit_settlements(request: Request, mdtrt_id: str):
    with ctx_of(request).unit_of_work() as session:
        return list(session.scalars(select(SettlementRow).where(SettlementRow.mdtrt_id == mdtrt_id)
                                    .order_by(SettlementRow.created_at)))


@router.get("/desk/visits/{mdtrt_id}")
def desk_visit(request: Request, mdtrt_id: str):
    return _visit_page(request, mdtrt_id)


@router.post("/desk/visits/{mdtrt_id}/fees")
def desk_upload_fees(request: Request, mdtrt_id: str):
    """上传费用明细: each row is code, quantity, amount (yuan)."""
    principal, hospital, visit, _, fees = _visit(request, mdtrt_id)
    if visit.state != "registered":
        raise YidiError("VISIT_STATE", {"mdtrt_id": mdtrt_id, "state": visit.state})
    items = parse_items(form_list(request, "code"), form_list(request, "amount"), form_list(request, "qty"))
    names = dict(catalog_items(ctx_of(request), hospital.admdvs, visit.begntime))
    with ctx_of(request).unit_of_work() as session:
        for offset, item in enumerate(items, start=len(fees) + 1):
            session.add(FeeDetailRow(mdtrt_id=mdtrt_id, feedetl_sn=f"{mdtrt_id}-{offset:04d}",
                                     med_list_codg=item.code, name=names.get(item.code, ""), cnt=str(item.qty),
                                     det_item_fee_sumamt_fen=item.amount_fen, fee_ocur_time=visit.begntime))
        audit.record(session, principal.username, "visit.fees", mdtrt_id, {"rows": len(items)})
    return redirect(f"/desk/visits/{mdtrt_id}")


@router.post("/desk/visits/{mdtrt_id}/fees/{fee_id}/delete")
def desk_delete_fee(request: Request, mdtrt_id: str, fee_id: int):
    principal, _, visit, _, _ = _visit(request, mdtrt_id)
    if visit.state != "registered":
        raise YidiError("VISIT_STATE", {"mdtrt_id": mdtrt_id, "state": visit.state})
    with ctx_of(request).unit_of_work() as session:
        fee = session.get(FeeDetailRow, fee_id)
        if fee is None or fee.mdtrt_id != mdtrt_id:
            raise YidiError("NOT_FOUND", {"what": "费用明细", "key": str(fee_id)})
        fee.active = False
        audit.record(session, principal.username, "visit.fee_cancel", mdtrt_id, {"fee": fee.feedetl_sn})
    return redirect(f"/desk/visits/{mdtrt_id}")


def _command(request: Request, mdtrt_id: str) -> tuple[settlement_service.SettleCommand, VisitRow]:
    principal, hospital, visit, person, fees = _visit(request, mdtrt_id)
    if not fees:
        raise invalid("items", "请先上传费用明细")
    end = parse_date(form(request).get("endtime") or visit.begntime.isoformat(), "endtime")
    items = tuple(FeeItem(code=f.med_list_codg, amount_fen=f.det_item_fee_sumamt_fen, name=f.name) for f in fees)
    return settlement_service.SettleCommand(
        psn_no=person.psn_no, fixmedins_code=hospital.fixmedins_code, med_type=visit.med_type,
        begntime=visit.begntime, endtime=end, items=items, dise_codg=visit.dise_codg, emergency=visit.emergency,
        trauma_no_third_party=visit.trauma_no_third_party, mdtrt_id=mdtrt_id, actor=principal.username), visit


@router.post("/desk/visits/{mdtrt_id}/presettle")
def desk_presettle(request: Request, mdtrt_id: str):
    """预结算: the same calculation, nothing written (S3)."""
    command, _ = _command(request, mdtrt_id)
    try:
        result = settlement_service.presettle(ctx_of(request), command)
    except YidiError as exc:
        return _visit_page(request, mdtrt_id, status_code=exc.http_status, problem=exc,
                           endtime=command.endtime.isoformat())
    return _visit_page(request, mdtrt_id, preview=result, endtime=command.endtime.isoformat())


@router.post("/desk/visits/{mdtrt_id}/settle")
def desk_settle(request: Request, mdtrt_id: str):
    command, visit = _command(request, mdtrt_id)
    if visit.state != "registered":
        raise YidiError("VISIT_STATE", {"mdtrt_id": mdtrt_id, "state": visit.state})
    ctx = ctx_of(request)
    try:
        view = settlement_service.settle(ctx, command)
    except YidiError as exc:
        return _visit_page(request, mdtrt_id, status_code=exc.http_status, problem=exc,
                           endtime=command.endtime.isoformat())
    with ctx.unit_of_work() as session:
        row = session.get(VisitRow, mdtrt_id)
        row.state, row.endtime = "settled", command.endtime
    return redirect(f"/desk/settlements/{view.setl_id}")


@router.get("/desk/settlements/{setl_id}")
def desk_settlement(request: Request, setl_id: str):
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    view = settlement_service.get_settlement(ctx, setl_id)
    if view.fixmedins_code != hospital.fixmedins_code:
        raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
    with ctx.unit_of_work() as session:
        person = get_person(session, view.psn_no)
    return render(request, "settlement.html", person=person, view=view, fields=view.row_fields,
                  regions=region_names(ctx), hospital_names={hospital.fixmedins_code: hospital.name},
                  show_certno=False, desk=True)


@router.post("/desk/settlements/{setl_id}/cancel")
def desk_cancel(request: Request, setl_id: str):
    """撤销结算: the hospital's own settlement only; the visit goes back to 在院 so fees can be corrected."""
    principal, hospital = _desk(request)
    ctx = ctx_of(request)
    view = settlement_service.cancel(ctx, setl_id, date.today(), actor=principal.username,
                                     fixmedins_code=hospital.fixmedins_code)
    with ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        visit = session.get(VisitRow, row.mdtrt_id) if row.mdtrt_id else None
        if visit is not None and visit.state == "settled":
            visit.state = "registered"
    return redirect(f"/desk/settlements/{view.setl_id}")


@router.get("/desk/settlements/{setl_id}/slip.pdf")
def desk_slip(request: Request, setl_id: str):
    _, hospital = _desk(request)
    ctx = ctx_of(request)
    view = settlement_service.get_settlement(ctx, setl_id)
    if view.fixmedins_code != hospital.fixmedins_code:
        raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
    with ctx.unit_of_work() as session:
        person = get_person(session, view.psn_no)
    pdf = settlement_slip_pdf(view, person_name=person.name, certno=person.certno, hospital_name=hospital.name,
                              regions=region_names(ctx))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{setl_id}.pdf"'})


@router.get("/desk/reconciliation")
def desk_reconciliation(request: Request, day: str = ""):
    """当日对账: the day's settlements at this institution, with totals of what stands and what was cancelled."""
    _, hospital = _desk(request)
    on = parse_date(day or date.today().isoformat(), "day")
    views = settlement_service.list_settlements(ctx_of(request), fixmedins_code=hospital.fixmedins_code,
                                                setl_date=on, limit=5000)
    totals: dict[str, dict[str, int]] = {}
    for view in views:
        bucket = totals.setdefault(view.status, {"count": 0, "medfee": 0, "fund": 0, "psn": 0})
        bucket["count"] += 1
        for key, field_name in (("medfee", "medfee_sumamt"), ("fund", "fund_pay_sumamt"), ("psn", "psn_part_amt")):
            bucket[key] += _fen(view.row_fields[field_name])
    return render(request, "desk/reconciliation.html", hospital=hospital, day=on, views=views, totals=totals)


def _fen(yuan: str) -> int:
    return yuan_to_fen(yuan)
