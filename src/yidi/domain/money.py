"""Money is integer fen (分) inside yidi; yuan (元) strings only at the edges.

Rounding is half-up (away from zero at .5), as the baseline arithmetic requires (B12).
Ratios and shares are basis points (1% = 100 bp) so that no float ever touches money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

Fen = int
BasisPoints = int  # 10000 bp = 100 %

BP_PER_UNIT = 10_000


class MoneyFormatError(ValueError):
    """A yuan amount that is not a number, or has more than two decimals."""


def yuan_to_fen(value: str | int | float | Decimal) -> Fen:
    """Parse a yuan amount ("12.30", 12.3, 12) into fen, refusing sub-fen precision.

    Floats are accepted because real HIS payloads send JSON numbers; they go through
    ``repr`` so that 0.1 stays 0.1 rather than 0.1000000000000000055.
    """
    if isinstance(value, bool):
        raise MoneyFormatError(f"不是金额: {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyFormatError(f"不是金额: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyFormatError(f"不是金额: {value!r}")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise MoneyFormatError(f"金额最多两位小数: {value!r}")
    return int(fen)


def fen_to_yuan(fen: Fen) -> str:
    """Format fen as a yuan string with exactly two decimals: 943500 -> "9435.00"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def apply_bp(amount_fen: Fen, share_bp: BasisPoints) -> Fen:
    """amount × share, rounded half-up to the fen."""
    product = Decimal(amount_fen) * Decimal(share_bp) / Decimal(BP_PER_UNIT)
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_to_bp(value: str | int | float | Decimal) -> BasisPoints:
    """"85%", "85", 85, "0.5" (percent) -> basis points; at most two decimals of a percent."""
    text = str(value).strip().rstrip("%")
    try:
        pct = Decimal(text)
    except InvalidOperation as exc:
        raise MoneyFormatError(f"不是百分比: {value!r}") from exc
    bp = pct * 100
    if bp != bp.to_integral_value():
        raise MoneyFormatError(f"百分比最多两位小数: {value!r}")
    return int(bp)


def bp_to_percent(bp: BasisPoints) -> str:
    whole, frac = divmod(bp, 100)
    return f"{whole}%" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0") + "%"
