from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yidi.domain.money import MoneyFormatError, apply_bp, fen_to_yuan, percent_to_bp, yuan_to_fen


def test_b12_yuan_parsing_is_exact():
    assert yuan_to_fen("9435.00") == 943500
    assert yuan_to_fen(0.1) == 10
    assert yuan_to_fen("-20.5") == -2050
    assert yuan_to_fen(9) == 900
    with pytest.raises(MoneyFormatError):
        yuan_to_fen("1.005")
    with pytest.raises(MoneyFormatError):
        yuan_to_fen("abc")
    with pytest.raises(MoneyFormatError):
        yuan_to_fen("NaN")


def test_b12_half_up_rounding_to_the_fen():
    assert apply_bp(1, 5000) == 1  # 0.5 fen rounds up
    assert apply_bp(3, 5000) == 2  # 1.5 -> 2
    assert apply_bp(5, 1000) == 1  # 0.5 -> 1
    assert apply_bp(4, 1000) == 0  # 0.4 -> 0
    assert apply_bp(1247500, 8500) == 1060375


def test_b12_formatting():
    assert fen_to_yuan(943500) == "9435.00"
    assert fen_to_yuan(-5) == "-0.05"
    assert percent_to_bp("85%") == 8500
    assert percent_to_bp("5.5") == 550


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_b12_round_trip(fen):
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@given(st.integers(min_value=0, max_value=10**10), st.integers(min_value=0, max_value=10_000))
def test_b12_apply_bp_matches_decimal_half_up(amount, bp):
    exact = Decimal(amount) * bp / 10_000
    assert abs(apply_bp(amount, bp) - exact) <= Decimal("0.5")
