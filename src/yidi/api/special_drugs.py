"""/api for 特药待遇认定 (B11, reading B-R28 in docs/policy-readings.md): the insured region's agency records that a
person may receive one drug of its 特药 list, with the responsible hospital (责任医院) and doctor (责任医师); without
a recognition a 特药 is refused at the pharmacy and the hospital (SPECIAL_DRUG_NOT_RECOGNIZED).

Who: an agency clerk of the person's insured region records; the person, and agency clerks and supervisors of that
region, list them. Anyone else is FORBIDDEN.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from yidi.api.auth import current_principal
from yidi.api.deps import get_ctx
from yidi.api.filings import IsoDate
from yidi.services import pharmacy
from yidi.services.context import AppContext
from yidi.services.filings import person_region
from yidi.services.users import Principal

router = APIRouter(prefix="/api", tags=["特药 / special drugs"])


class RecognitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psn_no: str = Field(min_length=1, max_length=30, description="人员编号")
    med_list_codg: str = Field(min_length=1, max_length=40, description="特药的医保目录编码（参保地特药目录内）")
    fixmedins_code: str = Field(min_length=1, max_length=20, description="责任医院（定点医疗机构，不能是药店）")
    doctor_code: str = Field(min_length=1, max_length=30, description="责任医师编码")
    begndate: IsoDate = Field(description="认定开始日期 YYYY-MM-DD")
    enddate: IsoDate | None = Field(None, description="认定终止日期（可空：长期有效）")
    dise_codg: str = Field("", max_length=20, description="病种/诊断代码")


def _view(row: Any) -> dict[str, Any]:
    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {"recognition_id": row.recognition_id, "psn_no": row.psn_no, "med_list_codg": row.med_list_codg,
            "dise_codg": row.dise_codg, "fixmedins_code": row.fixmedins_code, "doctor_code": row.doctor_code,
            "begndate": day(row.begndate), "enddate": day(row.enddate), "status": row.status}


@router.post("/special-drugs/recognitions", status_code=201, summary="特药待遇认定 / recognise a person for a 特药 (B11)")
def recognize(body: RecognitionRequest, principal: Principal = Depends(current_principal),
              ctx: AppContext = Depends(get_ctx)) -> dict:
    principal.require_role("agency")
    principal.require_region(person_region(ctx, body.psn_no))
    row = pharmacy.recognize(ctx, psn_no=body.psn_no, med_list_codg=body.med_list_codg,
                             fixmedins_code=body.fixmedins_code, doctor_code=body.doctor_code, begndate=body.begndate,
                             enddate=body.enddate, dise_codg=body.dise_codg, actor=principal.username)
    return _view(row)


@router.get("/persons/{psn_no}/special-drug-recognitions", summary="特药认定记录 / a person's 特药 recognitions")
def recognitions(psn_no: str, principal: Principal = Depends(current_principal),
                 ctx: AppContext = Depends(get_ctx)) -> dict:
    if principal.role == "person":
        principal.require_person(psn_no)
    else:
        principal.require_role("agency", "supervisor")
        principal.require_region(person_region(ctx, psn_no))
    return {"psn_no": psn_no, "recognitions": [_view(row) for row in pharmacy.recognitions(ctx, psn_no)]}


def register(app: FastAPI) -> None:
    app.include_router(router)
