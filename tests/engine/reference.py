"""The scalar side of the cross-checks: play claims through coverage.resolve_coverage and benefit.calculate
one by one, with running totals per person, calendar year and cap key in discharge order — what the
settlement service does — and the same claims through the batch engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from yidi.domain.benefit import calculate, cap_key_for
from yidi.domain.catalog import FeeItem
from yidi.domain.coverage import Visit, resolve_coverage
from yidi.domain.errors import YidiError
from yidi.domain.filing import Filing
from yidi.engine.adjudicate import ERRORS, Adjudication, ClaimTable, adjudicate
from yidi.domain.coverage import coverage_kind
from yidi.engine.scope import catalog_rows, split_items
from yidi.engine.tables import PolicyTables
from yidi.policy.loader import PolicyBook


@dataclass
class Claim:
    psn_no: str
    insuplc_admdvs: str
    insutype: str
    treatment_admdvs: str
    hospital_level: int
    med_type: str
    dise_codg: str | None
    begntime: date
    endtime: date
    items: list[FeeItem]
    benefit_kind: str = ""
    filings: list[Filing] = field(default_factory=list)
    emergency: bool = False
    manual: bool = False


def scalar_results(book: PolicyBook, claims: list[Claim]) -> list[dict]:
    """Per claim: {"error": code} or the fen fields; fills claim.benefit_kind from the scalar resolver.

    Claims the resolver refuses (NOT_FILED, FILING_PENDING, NO_POLICY) keep an empty kind."""
    out: list[dict] = [{} for _ in claims]
    used: dict[tuple, int] = {}
    order = sorted(range(len(claims)), key=lambda i: (claims[i].endtime, i))
    for i in order:
        claim = claims[i]
        try:
            policy = book.insured_policy(claim.insuplc_admdvs, claim.endtime)
            visit = Visit(claim.psn_no, claim.treatment_admdvs, claim.med_type, claim.begntime, claim.endtime,
                          emergency=claim.emergency, manual=claim.manual)
            coverage = resolve_coverage(claim.insuplc_admdvs, claim.filings, visit, policy)
            claim.benefit_kind = coverage_kind(coverage)
            key = (claim.psn_no, claim.endtime.year, str(cap_key_for(claim.med_type, claim.dise_codg)))
            result = calculate(policy=policy, catalog=book.catalog(claim.treatment_admdvs, claim.endtime),
                               insutype=claim.insutype, hospital_level=claim.hospital_level,
                               med_type=claim.med_type, dise_codg=claim.dise_codg, items=claim.items,
                               coverage=coverage, cap_used_before_fen=used.get(key, 0))
        except YidiError as exc:
            out[i] = {"error": exc.code}
            continue
        used[key] = used.get(key, 0) + result.hifp_pay
        out[i] = {**result.fields_fen(), "ratio_bp": result.ratio_bp, "cap_fen": result.cap_fen,
                  "cap_used_before_fen": result.cap_used_before_fen, "policy_version": result.policy_version}
    return out


def engine_results(book: PolicyBook, claims: list[Claim], opening: list[int] | None = None) -> tuple[Adjudication, list[dict]]:
    """The same claims through the batch engine (vectorized scope split + adjudication)."""
    tables = PolicyTables.from_book(book)
    endtime = np.array([c.endtime for c in claims], dtype="datetime64[D]")
    item_codes = sorted({i.code for c in claims for i in c.items})
    catalogs, rows = catalog_rows(book, np.array([c.treatment_admdvs for c in claims]), endtime, item_codes)
    code_index = {code: j for j, code in enumerate(catalogs.codes)}
    item_claim = np.array([n for n, c in enumerate(claims) for _ in c.items], dtype=np.int64)
    items = [i for c in claims for i in c.items]
    scope = split_items(catalogs, rows, item_claim,
                        np.array([code_index.get(i.code, -1) for i in items], dtype=np.int64),
                        np.array([i.amount_fen for i in items], dtype=np.int64),
                        np.array([int(i.qty * 1000) for i in items], dtype=np.int64))
    table = ClaimTable.from_columns(
        tables, psn_no=[c.psn_no for c in claims], insuplc_admdvs=[c.insuplc_admdvs for c in claims],
        insutype=[c.insutype for c in claims], hospital_level=[c.hospital_level for c in claims],
        med_type=[c.med_type for c in claims], dise_codg=[c.dise_codg or "" for c in claims], endtime=endtime,
        benefit_kind=[c.benefit_kind for c in claims], medfee_sumamt=scope.medfee_sumamt,
        fulamt_ownpay_amt=scope.fulamt_ownpay_amt, overlmt_selfpay=scope.overlmt_selfpay,
        preselfpay_amt=scope.preselfpay_amt, inscp_scp_amt=scope.inscp_scp_amt, cap_used_opening_fen=opening,
        mdtrtarea_admvs=[c.treatment_admdvs for c in claims])
    result = adjudicate(table, tables)
    out = []
    for i in range(len(claims)):
        if result.error[i]:
            out.append({"error": ERRORS[result.error[i]]})
            continue
        out.append({**result.fields_fen(i), "ratio_bp": int(result.ratio_bp[i]), "cap_fen": int(result.cap_fen[i]),
                    "cap_used_before_fen": int(result.cap_used_before_fen[i]),
                    "policy_version": tables.versions[result.policy_version[i]].version_id})
    return result, out

