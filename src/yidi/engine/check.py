"""The scalar engine as referee: replay claims one by one through ``benefit.calculate`` and compare.

``scalar_replay`` does what the settlement service does for each claim — the insured region's policy
and the treatment region's catalog on the discharge date, the scope split of the fee items, the
coverage of the claim's benefit kind, the year-to-date cap use per person, calendar year and cap key,
in discharge order (ties in input order) — so a batch-engine result that differs by one fen shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yidi.domain import coverage
from yidi.domain.benefit import calculate, cap_key_for
from yidi.domain.catalog import FeeItem
from yidi.domain.codes import MED_CLASS_OF
from yidi.domain.coverage import Coverage, Visit, refuse_outside_remote_scope
from yidi.domain.errors import YidiError
from yidi.domain.policy import PolicyBook
from yidi.engine.tables import MED_TYPES


@dataclass(frozen=True)
class ScalarClaim:
    person: object  # anything hashable: running totals are per person
    insuplc_admdvs: str
    insutype: str
    treatment_admdvs: str
    hospital_level: int
    med_type: str
    dise_codg: str | None
    endtime: date
    benefit_kind: str
    items: tuple[FeeItem, ...]


def coverage_of_kind(book: PolicyBook, claim: ScalarClaim) -> Coverage:
    """The ``Coverage`` the resolver decided when it recorded this benefit kind, under this book's policy."""
    policy = book.insured_policy(claim.insuplc_admdvs, claim.endtime)
    return coverage.coverage_of_kind(policy, claim.benefit_kind, MED_CLASS_OF[claim.med_type])


def scalar_replay(book: PolicyBook, claims: list[ScalarClaim]) -> list[dict[str, int] | dict[str, str]]:
    """Per claim (input order): the fen fields of ``BenefitResult``, or ``{"error": code}``."""
    out: list[dict] = [{} for _ in claims]
    used: dict[tuple, int] = {}
    for i in sorted(range(len(claims)), key=lambda i: (claims[i].endtime, i)):
        claim = claims[i]
        try:
            if claim.med_type not in MED_TYPES:
                raise YidiError("MED_TYPE_NOT_SUPPORTED", {"med_type": claim.med_type})
            policy = book.insured_policy(claim.insuplc_admdvs, claim.endtime)
            coverage = coverage_of_kind(book, claim)  # an unknown kind is refused first, as in the engine's grid
            # B10/B11: where the claim was treated decides, whatever its benefit kind (as coverage.resolve_coverage);
            # a manual claim back home (manual_without_filing) is not direct settlement.
            refuse_outside_remote_scope(claim.insuplc_admdvs, Visit(
                psn_no="", treatment_admdvs=claim.treatment_admdvs, med_type=claim.med_type, admission=claim.endtime,
                discharge=claim.endtime, manual=claim.benefit_kind == "manual_without_filing",
                dise_codg=claim.dise_codg), policy)
            key = (claim.person, claim.endtime.year, str(cap_key_for(claim.med_type, claim.dise_codg)))
            result = calculate(policy=policy,
                               catalog=book.catalog(claim.treatment_admdvs, claim.endtime), insutype=claim.insutype,
                               hospital_level=claim.hospital_level, med_type=claim.med_type,
                               dise_codg=claim.dise_codg, items=list(claim.items),
                               coverage=coverage, cap_used_before_fen=used.get(key, 0))
        except (YidiError, KeyError) as exc:  # KeyError: a med_type or kind the scalar tables do not know
            out[i] = {"error": exc.code if isinstance(exc, YidiError) else "INVALID_INPUT"}
            continue
        used[key] = used.get(key, 0) + result.hifp_pay
        out[i] = result.fields_fen()
    return out
