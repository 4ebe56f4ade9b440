"""F11 — who is at the hospital's desk: a certificate → the person, their standing filings and, when no filing
covers this hospital's region on the day asked, what to tell them.

One lookup for every door: the interface's 1101 (interface/person.py), the desk's 读卡 page (web/desk.py) and
anything else that asks. It reads the person through the insured-side port (services/insured_side.py), so on a
federation node a person insured in another province is answered by their own node, with their filings.

The choices (docs/interface.md, "1101 — one person lookup"):

- Filings listed: approved ones (``active``) not ended on the day asked — a filing that starts later is listed,
  it covers only from its start — and ones awaiting approval (``pending``, 待审核), listed with that status.
  Changed, cancelled, rejected and ended filings are history, not listed.
- Covered: the hospital's region is inside the insured pooling region (same_pooling_area: a province-level
  pool covers its cities), or an ``active`` filing's area covers the region (area_covers: a province filing
  covers its cities) and the filing is valid on the day asked (begndate ≤ day ≤ enddate). A pending filing
  never covers: it is not valid for settlement until approved.
- Notice when not covered: FILING_PENDING's message (apply date, approval due date) when a pending filing
  is for this region, else NOT_FILED's message, which names the filing channels and 补办 before discharge —
  the refusals settlement itself gives (domain/coverage.py) in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import Filing, FilingStatus
from yidi.domain.regions import area_covers, same_pooling_area
from yidi.services import insured_side
from yidi.services.context import AppContext
from yidi.services.reference import certno_problem

# mdtrt_cert_type (就诊凭证类型): 01 医保电子凭证, 02 居民身份证, 03 社会保障卡.
CERT_TYPES = {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}
LISTED = (FilingStatus.ACTIVE, FilingStatus.PENDING)


@dataclass(frozen=True)
class PersonLookup:
    """The person as the hospital sees them (1101's baseinfo/insuinfo, the desk's 读卡 card)."""

    psn_no: str
    name: str
    certno: str
    insuplc_admdvs: str
    insutype: str
    insu_status: str
    acct_balc: int  # fen
    mdtrt_cert_type: str
    on: date  # the day asked
    filings: tuple[Filing, ...]  # active ones not ended on ``on`` and pending ones, by start date
    filing_notice: str | None  # no filing covers the hospital's region on ``on``: why, and how to file


def cert_no_from(mdtrt_cert_type: str, mdtrt_cert_no: str) -> str:
    """The resident ID number a certificate carries (documented reading, docs/policy-readings.md).

    02 身份证: the number itself. 03 社保卡: the card's 社会保障号码 is the holder's 公民身份号码
    (GB 11643), so the demo reads it as the ID number. 01 医保电子凭证: the real QR token is resolved by the
    national platform to the holder's ID; in the demo the hospital passes the resolved ID number as
    mdtrt_cert_no. A real deployment replaces this function with the platform's token lookup.
    """
    if mdtrt_cert_type not in CERT_TYPES:
        raise invalid("mdtrt_cert_type", "应为 01 医保电子凭证、02 居民身份证 或 03 社会保障卡")
    certno = (mdtrt_cert_no or "").strip().upper()
    problem = certno_problem(certno)
    if problem:
        raise invalid("mdtrt_cert_no", f"{CERT_TYPES[mdtrt_cert_type]}：{problem}")
    return certno


def listed(filings: list[Filing], on: date) -> tuple[Filing, ...]:
    """The filings shown: active or pending, not ended on ``on``."""
    return tuple(sorted((f for f in filings if f.status in LISTED and (f.enddate is None or f.enddate >= on)),
                        key=lambda f: (f.begndate, f.filing_id)))


def filing_notice(insuplc_admdvs: str, filings: tuple[Filing, ...], treatment_admdvs: str, on: date) -> str | None:
    """None when a visit in ``treatment_admdvs`` on ``on`` needs no filing or has one; else the refusal's message."""
    if same_pooling_area(insuplc_admdvs, treatment_admdvs):
        return None
    here = [f for f in filings if area_covers(f.mdtrtarea_admvs, treatment_admdvs)]
    if any(f.status is FilingStatus.ACTIVE and f.begndate <= on for f in here):  # not ended on ``on``: listed()
        return None
    pending = [f for f in here if f.status is FilingStatus.PENDING]
    if pending:
        first = pending[0]
        return YidiError("FILING_PENDING", {"apply_date": first.apply_date.isoformat(), "due_date": (
            first.approve_due_date or first.apply_date).isoformat()}).full_message()
    return YidiError("NOT_FILED", {"mdtrtarea": treatment_admdvs, "date": on.isoformat()}).full_message()


def find_person_by_cert(ctx: AppContext, mdtrt_cert_type: str, mdtrt_cert_no: str, *,
                        treatment_admdvs: str | None = None, on: date | None = None) -> PersonLookup:
    """F11: certificate → person, with the person's standing filings.

    Raises INVALID_INPUT (bad type or number) or UNKNOWN_PERSON (the number masked). Never refuses an unfiled
    person: given the hospital's region (``treatment_admdvs``) and the day (``on``, default today), a person
    no filing covers gets ``filing_notice``, so the desk can tell them how to file (a retro filing before
    discharge still settles). Without ``treatment_admdvs`` there is no notice.
    """
    certno = cert_no_from(mdtrt_cert_type, mdtrt_cert_no)
    on = on or date.today()
    person, filings = insured_side.identify(ctx, certno)  # this node's person, or (federation) their node's
    shown = listed(filings, on)
    notice = filing_notice(person.insuplc_admdvs, shown, treatment_admdvs, on) if treatment_admdvs else None
    return PersonLookup(person.psn_no, person.name, person.certno, person.insuplc_admdvs, person.insutype,
                        person.insu_status, person.acct_balc, mdtrt_cert_type, on, shown, notice)
