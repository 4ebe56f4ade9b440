"""Small builders for the pure benefit tests: filings, visits and one-call settlement (no database)."""

from __future__ import annotations

from datetime import date

from yidi.domain.benefit import BenefitResult, calculate
from yidi.domain.catalog import FeeItem
from yidi.domain.coverage import Coverage, Visit, resolve_coverage
from yidi.domain.filing import Basis, Channel, Filing, FilingStatus, FilingType, temporary_enddate
from yidi.domain.money import yuan_to_fen
from yidi.policy.loader import PolicyBook, load_policy_book

BOOK: PolicyBook = load_policy_book()


def filing(insured: str, ftype: str, area: str, begndate: date, *, basis: str = "proof",
           apply_date: date | None = None, enddate: date | None = None, status: str = "active",
           filing_id: str = "BA1") -> Filing:
    kind = FilingType(ftype)
    rules = BOOK.insured_policy(insured, apply_date or begndate).params.filing
    long_term = kind in (FilingType.RETIRED_RELOCATED, FilingType.LONG_TERM_RESIDENT, FilingType.RESIDENT_WORKER)
    end = enddate if enddate is not None else (None if long_term else temporary_enddate(begndate, rules))
    return Filing(filing_id=filing_id, psn_no="P", insuplc_admdvs=insured, filing_type=kind, basis=Basis(basis),
                  mdtrtarea_admvs=area, begndate=begndate, enddate=end, apply_date=apply_date or begndate,
                  channel=Channel.WINDOW, status=FilingStatus(status))


def items(*pairs: tuple[str, str]) -> list[FeeItem]:
    return [FeeItem(code=code, amount_fen=yuan_to_fen(amount)) for code, amount in pairs]


def cover(insured: str, treatment: str, med_type: str, admission: date, discharge: date,
          filings: list[Filing] = (), *, emergency: bool = False, manual: bool = False) -> Coverage:
    visit = Visit(psn_no="P", treatment_admdvs=treatment, med_type=med_type, admission=admission,
                  discharge=discharge, emergency=emergency, manual=manual)
    return resolve_coverage(insured, list(filings), visit, BOOK.insured_policy(insured, discharge))


def settle(insured: str, insutype: str, treatment: str, level: int, med_type: str, fee_items: list[FeeItem],
           admission: date, discharge: date, filings: list[Filing] = (), *, dise_codg: str | None = None,
           used_fen: int = 0, emergency: bool = False, manual: bool = False, book: PolicyBook = BOOK) -> BenefitResult:
    policy = book.insured_policy(insured, discharge)
    visit = Visit(psn_no="P", treatment_admdvs=treatment, med_type=med_type, admission=admission,
                  discharge=discharge, emergency=emergency, manual=manual)
    coverage = resolve_coverage(insured, list(filings), visit, policy)
    return calculate(policy=policy, catalog=book.catalog(treatment, discharge), insutype=insutype,
                     hospital_level=level, med_type=med_type, dise_codg=dise_codg, items=fee_items,
                     coverage=coverage, cap_used_before_fen=used_fen)
