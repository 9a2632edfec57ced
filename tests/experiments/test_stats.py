"""VariantStats: the seam type (stable moments, merge, constructors, bad input)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from experiments.stats import VariantArrays, VariantStats, merge
from optimizer.errors import DataError


def test_naive_formula_fails_and_stable_constructor_does_not():
    """Values 1e9 + {1, 2, 3}: true variance 1. Raw sums cancel to 0 in float64."""
    y = [1e9 + 1, 1e9 + 2, 1e9 + 3]
    stable = VariantStats.from_values("a", y)
    assert stable.var == pytest.approx(1.0, rel=1e-12)
    assert stable.mean == pytest.approx(1e9 + 2, rel=1e-15)
    naive = VariantStats("a", 3, stable.sum, stable.sum_sq)  # what raw SQL sums give
    assert naive.var != pytest.approx(1.0, rel=1e-3)  # documents why the centred moments exist


def test_merge_matches_pooled_values_on_large_offsets():
    rng = np.random.default_rng(3)
    y = 1e9 + rng.normal(size=1000)
    x = 5e8 + rng.normal(size=1000)
    d = 1 + rng.poisson(3, size=1000).astype(float)
    parts = [VariantStats.from_values("p", y[a:b], x[a:b], d[a:b]) for a, b in ((0, 10), (10, 400), (400, 1000))]
    merged = merge(merge(parts[0], parts[1]), parts[2])
    whole = VariantStats.from_values("p", y, x, d)
    assert merged.n == 1000
    for k in ("m2", "cov_m2", "den_m2"):
        assert getattr(merged, k) == pytest.approx(getattr(whole, k), rel=1e-9), k
    # Co-moments can be near 0; their precision is relative to the spreads' product.
    for k, a, b in (("cross_m2", "cov_m2", "m2"), ("num_den_m2", "m2", "den_m2"), ("cov_den_m2", "cov_m2", "den_m2")):
        scale = np.sqrt(getattr(whole, a) * getattr(whole, b))
        assert getattr(merged, k) == pytest.approx(getattr(whole, k), abs=1e-8 * scale), k
    assert merged.var == pytest.approx(np.var(y, ddof=1), rel=1e-9)


def test_from_moments_round_trip():
    rng = np.random.default_rng(0)
    y, x, d = rng.normal(10, 2, 50), rng.normal(5, 1, 50), rng.uniform(1, 3, 50)
    ref = VariantStats.from_values("v", y, x, d)
    got = VariantStats.from_moments("v", 50, y.mean(), ref.m2, cov_mean=x.mean(), cov_m2=ref.cov_m2,
                                    cross_m2=ref.cross_m2, den_mean=d.mean(), den_m2=ref.den_m2,
                                    num_den_m2=ref.num_den_m2, cov_den_m2=ref.cov_den_m2)
    for k in ("sum", "sum_sq", "cov_sum", "cross_sum", "den_sum", "num_den_sum", "cov_den_sum"):
        assert getattr(got, k) == pytest.approx(getattr(ref, k), rel=1e-10), k
    assert got.var == pytest.approx(np.var(y, ddof=1), rel=1e-12)


def test_raw_sums_derive_moments():
    s = VariantStats("c", 4, 10.0, 30.0)  # values 1,2,3,4
    assert s.mean == 2.5 and s.var == pytest.approx(np.var([1, 2, 3, 4], ddof=1))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(name="a", n=-1, sum=0, sum_sq=0), "n is -1"),
    (dict(name="a", n=3, sum=float("nan"), sum_sq=1), "sum is nan"),
    (dict(name="a", n=3, sum=1, sum_sq=-1), "sum_sq is -1.0"),
    (dict(name="a", n=2.5, sum=1, sum_sq=1), "whole number"),
    (dict(name="a", n=3, sum=1, sum_sq=1, cov_sum=1.0), "cov_sum_sq, cross_sum missing"),
])
def test_bad_input_messages(kwargs, fragment):
    with pytest.raises(DataError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        VariantStats(**kwargs)


def test_from_values_rejects_nan_and_mismatched_lengths():
    with pytest.raises(DataError, match="1 row\\(s\\) of y are NaN"):
        VariantStats.from_values("a", [1.0, float("nan")])
    with pytest.raises(DataError, match="x has 1 value"):
        VariantStats.from_values("a", [1.0, 2.0], x=[1.0])


def test_from_counts_rejects_more_conversions_than_users():
    with pytest.raises(DataError, match="conversions is 11 for n = 10"):
        VariantStats.from_counts("a", 10, 11)
    s = VariantStats.from_counts("a", 10, 3)
    assert s.var == pytest.approx(np.var([1] * 3 + [0] * 7, ddof=1))


def test_zero_users_is_allowed_and_nan_moments():
    s = VariantStats.from_values("empty", [])
    assert s.n == 0 and math.isnan(s.mean) and math.isnan(s.var)
    assert merge(s, VariantStats.from_values("b", [1.0, 3.0])).var == pytest.approx(2.0)


def test_variant_arrays_from_stats():
    a = VariantStats.from_values("a", [1.0, 2.0, 4.0], x=[0.0, 1.0, 1.0])
    b = VariantStats.from_counts("b", 10, 4)
    arr = VariantArrays.from_stats([a, b])
    assert len(arr) == 2
    assert arr.var[0] == pytest.approx(a.var) and arr.var[1] == pytest.approx(b.var)
    assert math.isnan(arr.cov_mean[1]) and arr.cov_mean[0] == pytest.approx(2 / 3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40), st.integers(1, 39), st.floats(-1e9, 1e9))
def test_merge_equals_whole_property(values, cut, offset):
    y = np.asarray(values) + offset
    cut = min(cut, len(y) - 1)
    m = merge(VariantStats.from_values("a", y[:cut]), VariantStats.from_values("b", y[cut:]))
    whole = VariantStats.from_values("a", y)
    spread = float(np.abs(y - y.mean()).max())
    # float64 holds each mean to ~eps * |mean|; the merge term delta^2 n_a n_b / n inherits that error.
    tol = 1e-9 * max(1.0, spread**2 * len(y)) + 8 * np.finfo(float).eps * float(np.abs(y).max()) * spread * len(y)
    assert abs(m.m2 - whole.m2) <= tol
    assert m.sum == pytest.approx(whole.sum, rel=1e-9, abs=1e-6)
