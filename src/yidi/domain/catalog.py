"""Scope split of fee items by the treatment region's catalog (B1, S1: 费用分割).

Per item: 丙 → fully self-paid; price limit → over-limit self-pay; 乙 → 先行自付 share of what is
left; the rest is in scope. Each row is computed on its own so the hospital sees a per-row split.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from yidi.domain.money import Fen, apply_bp
from yidi.domain.policy import Catalog

CLASS_A, CLASS_B, CLASS_C = "01", "02", "03"
CLASS_NAMES = {CLASS_A: "甲类", CLASS_B: "乙类", CLASS_C: "丙类"}
OTHER_FEE_TYPE = "14"  # national 大类 其他费


@dataclass(frozen=True)
class FeeItem:
    code: str
    amount_fen: Fen
    qty: Decimal = Decimal(1)
    price_fen: Fen | None = None
    name: str = ""


@dataclass(frozen=True)
class ItemSplit:
    code: str
    name: str
    amount_fen: Fen
    chrgitm_lv: str
    selfpay_prop_bp: int
    med_chrgitm_type: str
    special_drug: bool
    fulamt_ownpay_fen: Fen
    overlmt_fen: Fen
    preselfpay_fen: Fen
    inscp_fen: Fen


def split_item(item: FeeItem, catalog: Catalog | None) -> ItemSplit:
    entry = catalog.items.get(item.code) if catalog else None
    if entry is None or entry.chrgitm_lv == CLASS_C:
        return ItemSplit(item.code, entry.name if entry else item.name, item.amount_fen, CLASS_C, 0,
                         entry.med_chrgitm_type if entry else OTHER_FEE_TYPE, bool(entry and entry.special_drug),
                         item.amount_fen, 0, 0, 0)
    over = 0
    if entry.price_limit is not None:
        allowed = int((Decimal(entry.price_limit) * item.qty).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        over = max(0, item.amount_fen - allowed)
    preselfpay = apply_bp(item.amount_fen - over, entry.selfpay_prop) if entry.chrgitm_lv == CLASS_B else 0
    inscp = item.amount_fen - over - preselfpay
    return ItemSplit(item.code, entry.name, item.amount_fen, entry.chrgitm_lv, entry.selfpay_prop,
                     entry.med_chrgitm_type, entry.special_drug, 0, over, preselfpay, inscp)


@dataclass(frozen=True)
class ScopeTotals:
    medfee_sumamt: Fen
    fulamt_ownpay_amt: Fen
    overlmt_selfpay: Fen
    preselfpay_amt: Fen
    inscp_scp_amt: Fen


def totals(splits: list[ItemSplit]) -> ScopeTotals:
    total = sum(s.amount_fen for s in splits)
    fulamt = sum(s.fulamt_ownpay_fen for s in splits)
    over = sum(s.overlmt_fen for s in splits)
    pre = sum(s.preselfpay_fen for s in splits)
    return ScopeTotals(total, fulamt, over, pre, total - fulamt - over - pre)
