"""The order of the running cap totals (B9, B10): by cap key, person, calendar year, then discharge day.

Pure numpy, no other import: bench/openfisca_rules.py loads this file into OpenFisca's environment to
time OpenFisca with the very same ordering code (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np


def discharge_order(person: np.ndarray, discharge_day: np.ndarray,
                    cap_key: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, str]:
    """The discharge order within each cap group, and each claim's group (sorted), without a full 64-bit sort.

    The sort key packs (cap key, person, calendar year, day) into one int64 with as few bits as the data
    needs (persons numbered densely). Returns ``(order, sorted_group, how)``; ``order`` is None when the
    input already is in key order. Three cases, cheapest first, each checked in O(n):

    * already in key order: no sort at all;
    * in (person, discharge day) order — how batch exports usually come — the groups of one cap key are
      already contiguous and ordered, so one stable pass on the cap key alone puts them together;
    * otherwise an LSD radix sort on 16-bit digits (numpy's stable argsort is a linear-time radix sort
      for 16-bit integers): two passes for a 32-bit key (1M claims, 200k persons), three up to 48 bits.

    Every pass is stable, so claims of one person discharged the same day keep their input order, as
    the scalar service would settle them.
    """
    n = len(person)
    if person.min() < 0 or person.max() >= 2 * n + 2**16:  # sparse or odd ids: number them densely first
        person = np.unique(person, return_inverse=True)[1].reshape(-1)
    day_offset = discharge_day - discharge_day.min()
    span = int(day_offset.max()) + 1
    first = np.datetime64(int(discharge_day.min()), "D")
    year_of_day = (first + np.arange(span)).astype("datetime64[Y]").astype(np.int64)
    year_of_day -= year_of_day[0]  # calendar year of each day of the span, counted from the first
    bits = lambda top: max(1, int(top).bit_length())  # noqa: E731
    day_bits = bits(span - 1)
    low_bits = bits(person.max()) + bits(year_of_day[-1]) + day_bits  # person | year | day
    key_bits = bits(cap_key.max()) + low_bits
    if key_bits > 63:  # only for spans of centuries with a thousand cap keys: sort on the columns instead
        year = year_of_day.take(day_offset)
        order = np.lexsort((day_offset, year, person, cap_key))
        changes = np.zeros(n, np.int64)
        for column in (cap_key, person, year):
            ordered_column = column.take(order)
            changes[1:] |= ordered_column[1:] != ordered_column[:-1]
        return order, np.cumsum(changes), "lexsort"
    key = cap_key.astype(np.int64) << bits(person.max())
    key |= person
    key <<= bits(year_of_day[-1])
    key |= year_of_day.take(day_offset)
    key <<= day_bits
    key |= day_offset
    if n < 2 or bool((key[1:] >= key[:-1]).all()):
        return None, key >> day_bits, "already ordered"
    low = key & (2**low_bits - 1)
    if bool((low[1:] >= low[:-1]).all()):
        order = np.argsort(cap_key.astype(np.uint16), kind="stable")
        return order, key.take(order) >> day_bits, "ordered by person and day: one pass on the cap key"
    if key_bits <= 48:
        order = None
        for shift in range(0, key_bits, 16):
            digit = (key >> shift).astype(np.uint16)  # wraps to the 16 bits at shift
            if order is None:
                order = np.argsort(digit, kind="stable")
            else:
                order = order.take(np.argsort(digit.take(order), kind="stable"))
        return order, key.take(order) >> day_bits, f"radix sort, {-(-key_bits // 16)} × 16-bit passes"
    order = np.argsort(key, kind="stable")
    return order, key.take(order) >> day_bits, "stable argsort"
