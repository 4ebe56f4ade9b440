"""Vectorized scope split of fee items by the treatment region's catalog (B1, S1) — ``catalog.split_item`` for arrays.

Input is one row per fee item plus the index of its claim (``item_claim``). Each claim's catalog is
the treatment region's version in force on its discharge date (``PolicyBook.catalog``: the city's own,
else its province's). Items not in that catalog are 丙 (fully self-paid), as in the scalar split.

Quantities are integer thousandths (``item_qty_milli``): the price-limit allowance
``round_half_up(price_limit × qty)`` is then exact integer arithmetic for quantities with up to three
decimals, which is what the interface accepts. Per-claim totals use ``np.bincount``, whose float64
sums are exact for integers below 2**53 fen (≈ 9×10^13 yuan) per claim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yidi.domain.catalog import CLASS_A, CLASS_B, CLASS_C
from yidi.domain.policy import Catalog, PolicyBook
from yidi.engine.tables import days

LV_A, LV_B, LV_C = 1, 2, 3


@dataclass
class CatalogTables:
    codes: tuple[str, ...]  # item codes, column index
    catalogs: tuple[Catalog | None, ...]  # row index; row 0 is "no catalog" (every item 丙)
    level: np.ndarray  # [catalog, code] 1 甲 / 2 乙 / 3 丙
    selfpay_bp: np.ndarray  # [catalog, code] 乙类 先行自付 share
    price_limit_fen: np.ndarray  # [catalog, code]; −1 = no limit

    @classmethod
    def build(cls, catalogs: list[Catalog | None], extra_codes: list[str] = ()) -> "CatalogTables":
        unique: list[Catalog | None] = [None]
        for catalog in catalogs:
            if catalog is not None and all(catalog is not seen for seen in unique):
                unique.append(catalog)
        codes = tuple(sorted({c for cat in unique if cat for c in cat.items} | set(extra_codes)))
        shape = (len(unique), len(codes))
        level = np.full(shape, LV_C, np.int8)
        selfpay = np.zeros(shape, np.int64)
        limit = np.full(shape, -1, np.int64)
        column = {code: i for i, code in enumerate(codes)}
        for row, catalog in enumerate(unique):
            for code, entry in (catalog.items.items() if catalog else ()):
                j = column[code]
                level[row, j] = {CLASS_A: LV_A, CLASS_B: LV_B, CLASS_C: LV_C}[entry.chrgitm_lv]
                selfpay[row, j] = entry.selfpay_prop
                limit[row, j] = -1 if entry.price_limit is None else entry.price_limit
        return cls(codes, tuple(unique), level, selfpay, limit)

    def row_of(self, catalog: Catalog | None) -> int:
        return next(i for i, seen in enumerate(self.catalogs) if seen is catalog)


def catalog_rows(book: PolicyBook, treatment_admdvs: np.ndarray, discharge: np.ndarray,
                 item_codes: list[str] = ()) -> tuple[CatalogTables, np.ndarray]:
    """Each claim's catalog row (by treatment region and discharge date), and the tables."""
    day = days(discharge)
    admdvs_vocab, admdvs_index = np.unique(np.asarray(treatment_admdvs).astype(str), return_inverse=True)
    pair = admdvs_index.astype(np.int64) * 1_000_000 + day
    unique_pairs, pair_index = np.unique(pair, return_inverse=True)
    found = [book.catalog(str(admdvs_vocab[p // 1_000_000]), np.datetime64(int(p % 1_000_000), "D").item())
             for p in unique_pairs]
    tables = CatalogTables.build(found, list(item_codes))
    rows = np.array([tables.row_of(c) for c in found], dtype=np.int64)
    return tables, rows[pair_index]


@dataclass
class ScopeTotals:
    """Per claim, integer fen: docs/baseline-policy.md steps 1–4."""

    medfee_sumamt: np.ndarray
    fulamt_ownpay_amt: np.ndarray
    overlmt_selfpay: np.ndarray
    preselfpay_amt: np.ndarray
    inscp_scp_amt: np.ndarray


def half_up_bp(amount_fen: np.ndarray, share_bp: np.ndarray) -> np.ndarray:
    """amount × share (basis points), half-up to the fen; exact integer form of money.apply_bp for amount ≥ 0."""
    return (amount_fen * share_bp + 5000) // 10000


def split_items(tables: CatalogTables, claim_catalog_row: np.ndarray, item_claim: np.ndarray,
                item_code: np.ndarray, item_amount_fen: np.ndarray, item_qty_milli: np.ndarray) -> ScopeTotals:
    """Split every item and total per claim. ``item_code`` indexes ``tables.codes`` (−1 = unknown code → 丙)."""
    n_claims = len(claim_catalog_row)
    row = claim_catalog_row[item_claim]
    known = item_code >= 0
    col = np.where(known, item_code, 0)
    level = np.where(known, tables.level[row, col], LV_C)
    share = np.where(level == LV_B, tables.selfpay_bp[row, col], 0)
    limit = np.where(known & (level != LV_C), tables.price_limit_fen[row, col], -1)
    allowed = (limit * item_qty_milli + 500) // 1000
    over = np.where(limit >= 0, np.maximum(0, item_amount_fen - allowed), 0)
    fulamt = np.where(level == LV_C, item_amount_fen, 0)
    over = np.where(level == LV_C, 0, over)
    pre = half_up_bp(item_amount_fen - over, share)

    def per_claim(values: np.ndarray) -> np.ndarray:
        return np.bincount(item_claim, weights=values, minlength=n_claims).astype(np.int64)

    total, fulamt, over, pre = (per_claim(a) for a in (item_amount_fen, fulamt, over, pre))
    return ScopeTotals(total, fulamt, over, pre, total - fulamt - over - pre)
