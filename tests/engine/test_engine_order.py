"""B9/B10 discharge order: the engine's ways of ordering claims for the running cap totals all give the stable order.

``order.discharge_order`` avoids a 64-bit sort (already-ordered input, person/day-ordered input, LSD radix
passes on 16-bit digits). Whatever path it takes, the result must be the order a stable sort by
(cap key, person, calendar year, discharge day) gives — same-day claims in input order — which is the
order the scalar service settles claims in. Checked here against ``np.lexsort`` on random tables of every
shape the paths distinguish; the scalar cross-check (test_engine_matches_scalar) covers the money.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from yidi.engine.order import discharge_order


def _expected(person: np.ndarray, cap_key: np.ndarray, day: np.ndarray) -> np.ndarray:
    rank = np.unique(person, return_inverse=True)[1].reshape(-1)
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    return np.lexsort((np.arange(len(person)), day, year, rank, cap_key))


@st.composite
def tables(draw):
    n = draw(st.integers(1, 400))
    persons = draw(st.sampled_from([3, 50, 5_000, 60_000, 2**40]))  # 60_000: a key over 48 bits; 2**40: sparse ids
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    person = rng.integers(0, persons, n) * (1 if persons < 2**40 else 7919) + draw(st.sampled_from([0, -2**50]))
    first = np.datetime64("2023-12-20").astype(np.int64)
    span = draw(st.sampled_from([1, 15, 800, 40_000]))  # one day; across new year; two years; a century
    day = first + rng.integers(0, span, n)
    cap_key = rng.integers(0, draw(st.sampled_from([1, 3, 9, 700])), n)
    arrangement = draw(st.sampled_from(["as drawn", "by person and day", "by key"]))
    if arrangement == "by person and day":
        at = np.lexsort((day, person))
    elif arrangement == "by key":
        at = _expected(person, cap_key, day)
    else:
        at = np.arange(n)
    return person[at], cap_key[at], day[at]


@settings(max_examples=300, deadline=None)
@given(tables())
def test_b9_sort_order_is_the_stable_discharge_order(table):
    person, cap_key, day = table
    order, group, how = discharge_order(person, day, cap_key)
    expected = _expected(person, cap_key, day)
    got = np.arange(len(person)) if order is None else order
    assert np.array_equal(got, expected), how
    # group changes exactly where (cap key, person, year) changes in that order
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    triple = np.stack([cap_key, person, year])[:, expected]
    changes = np.any(triple[:, 1:] != triple[:, :-1], axis=0)
    assert np.array_equal(group[1:] != group[:-1], changes), how


def test_b9_each_ordering_path_is_taken():
    rng = np.random.default_rng(7)
    person = rng.integers(0, 200_000, 1_000_000)
    day = np.datetime64("2023-01-01").astype(np.int64) + rng.integers(0, 731, len(person))
    cap_key = rng.integers(0, 7, len(person))
    paths = {}
    for name, at in (("random", np.arange(len(person))), ("person/day", np.lexsort((day, person))),
                     ("key", _expected(person, cap_key, day))):
        paths[name] = discharge_order(person[at], day[at], cap_key[at])[2]
    paths["wide"] = discharge_order(person * 10, day, cap_key)[2]
    assert paths == {"random": "radix sort, 2 × 16-bit passes",
                     "person/day": "ordered by person and day: one pass on the cap key",
                     "key": "already ordered", "wide": "radix sort, 3 × 16-bit passes"}


def test_b9_sort_order_beyond_63_bits_sorts_on_the_columns():
    """Keys too wide to pack into 63 bits (a million cap keys over centuries) fall back to np.lexsort."""
    rng = np.random.default_rng(3)
    n = 3_000
    person = rng.integers(0, 2 * n + 2**16, n)  # 17 bits, not renumbered
    person[0] = 2 * n + 2**16 - 1
    day = rng.integers(-100_000, 100_000, n)  # 1696 … 2243
    cap_key = rng.integers(0, 2**20, n)
    order, group, how = discharge_order(person, day, cap_key)
    assert how == "lexsort"
    assert np.array_equal(order, _expected(person, cap_key, day))
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    triple = np.stack([cap_key, person, year])[:, order]
    assert np.array_equal(group[1:] != group[:-1], np.any(triple[:, 1:] != triple[:, :-1], axis=0))
