"""Largest-remainder rounding of the media plan: totals add up exactly, cells stay within one unit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer.planreport.rounding import largest_remainder, round_half_up, round_table


def test_largest_remainder_matches_the_published_hamilton_example():
    """Wikipedia, "Largest remainder method", worked example (Hare quota, 10 seats):
    votes 47,000 / 16,000 / 15,800 / 12,000 / 6,100 / 3,100 (total 100,000; quota 10,000) give
    quotas 4.70 / 1.60 / 1.58 / 1.20 / 0.61 / 0.31 and seats 5 / 2 / 1 / 1 / 1 / 0."""
    quotas = np.array([47_000, 16_000, 15_800, 12_000, 6_100, 3_100]) / 10_000
    assert largest_remainder(quotas, 10).tolist() == [5, 2, 1, 1, 1, 0]


def test_three_thirds_round_to_the_whole():
    """Rounding each cell alone gives 33 + 33 + 33 = 99; largest remainder keeps 100."""
    assert largest_remainder([100 / 3] * 3).sum() == 100
    assert round_table(np.full((1, 3), 100 / 3)).sum() == 100


def test_solver_noise_at_a_cap_does_not_add_a_unit():
    """A week at its 80,000 cap reported as 80,000.0000004 stays 80,000 (not 80,001)."""
    a = np.array([[40_000.0000002, 20_000.0], [20_000.0000002, 0.0]])
    r = round_table(a, np.array([0, 1]))
    assert r.sum(axis=0)[0] == 60_000 and r.sum() == 80_000


def test_round_half_up():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.4999)] == [1, 2, 3, 2]


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(1, 9)),
           elements=st.one_of(st.just(0.0), st.floats(0, 1e6, allow_nan=False, allow_infinity=False))),
    st.integers(1, 4),
)
def test_round_table_keeps_every_total(values, n_groups):
    groups = np.arange(values.shape[0]) % n_groups
    r = round_table(values, groups)
    assert r.dtype.kind == "i"
    assert np.all(np.abs(r - values) < 1 + 1e-6)  # each cell within one unit
    assert r.sum() == round_half_up(round(float(values.sum()), 4))  # the grand total is the rounded total
    for got, want in ((r.sum(axis=1), values.sum(axis=1)), (r.sum(axis=0), values.sum(axis=0))):
        assert np.all(np.abs(got - want) < 1 + 1e-6)  # rows and columns within one unit of their sums
    for g in range(n_groups):
        assert abs(r[groups == g].sum() - values[groups == g].sum()) < 1 + 1e-6
    # the totals shown are the sums of the cells shown (integers: exact)
    assert r.sum(axis=1).sum() == r.sum(axis=0).sum() == r.sum()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=12))
def test_one_row_is_largest_remainder(values):
    """In one dimension the table rounding is largest-remainder rounding (same total, same floors/ceilings)."""
    v = np.array(values)
    one = round_table(v[None, :])[0]
    lr = largest_remainder(v)
    assert one.sum() == lr.sum()
    assert np.all(np.abs(one - v) < 1 + 1e-6)
    # where remainders are distinct, both give the extra units to the same (largest) remainders
    frac = np.round(v, 6) - np.floor(np.round(v, 6))
    if len(set(frac.round(9))) == len(frac) and frac.min() > 1e-6:
        assert one.tolist() == lr.tolist()
