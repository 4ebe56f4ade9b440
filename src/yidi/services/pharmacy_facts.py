"""What a 特药 settlement reads besides filings and usage (B11): the institution's kind, the person's 特药
recognitions and — at a pharmacy — its 双通道 designations. Read in the settlement's own transaction, after
the person lock, only for med_type 15 (services/settlements._person_facts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from yidi.adapters.orm_pharmacy import DualChannelDrugRow, SpecialDrugRecognitionRow
from yidi.domain.special_drugs import PHARMACY, DualChannel, Dispensing, Recognition
from yidi.services import lookups

if TYPE_CHECKING:
    from yidi.services.settlements import SettleCommand

_recognitions = SpecialDrugRecognitionRow.__table__
_dual = DualChannelDrugRow.__table__
_SELECT_RECOGNITIONS = select(_recognitions).where(_recognitions.c.psn_no == bindparam("psn_no"))
_SELECT_DUAL_CHANNEL = select(_dual).where(_dual.c.fixmedins_code == bindparam("code"))


def recognitions_of(session: Session, psn_no: str) -> tuple[Recognition, ...]:
    rows = session.connection().execute(_SELECT_RECOGNITIONS, {"psn_no": psn_no}).all()
    return tuple(Recognition(r.recognition_id, r.med_list_codg, r.fixmedins_code, r.doctor_code, r.begndate,
                             r.enddate, r.status == "active") for r in rows)


def dual_channel_of(session: Session, fixmedins_code: str) -> tuple[DualChannel, ...]:
    rows = session.connection().execute(_SELECT_DUAL_CHANNEL, {"code": fixmedins_code}).all()
    return tuple(DualChannel(r.med_list_codg, r.begndate, r.enddate) for r in rows)


def dispensing(session: Session, cmd: SettleCommand, psn_no: str) -> Dispensing:
    """The facts ``special_drugs.check_dispensing`` decides on; the prescriptions come with the command
    (``cmd.extra["prescriptions"]``, one per fee line, from a pharmacy's 2101/2102)."""
    institution = lookups.institution(session, cmd.fixmedins_code)
    at_pharmacy = institution.kind == PHARMACY
    return Dispensing(institution_kind=institution.kind, fixmedins_code=institution.fixmedins_code, on=cmd.endtime,
                      recognitions=recognitions_of(session, psn_no),
                      dual_channel=dual_channel_of(session, institution.fixmedins_code) if at_pharmacy else (),
                      prescriptions=tuple(cmd.extra.get("prescriptions", ())))
