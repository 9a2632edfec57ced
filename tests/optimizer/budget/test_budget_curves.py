"""Curves: the exact 1-D Lagrangian maximum (the certificate's building block) against a dense grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from optimizer.budget.curves import Curve

CURVES = {
    "hill<1": Curve("hill", (1000.0, 200.0, 0.6)),
    "hill=1": Curve("hill", (1000.0, 200.0, 1.0)),
    "log": Curve("log", (500.0, 50.0)),
    "power": Curve("power", (30.0, 0.4)),
    "table": Curve("table", (), np.array([0.0, 100.0, 300.0]), np.array([0.0, 250.0, 400.0])),
    "linear": Curve("linear", (1.7,)),
}


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(CURVES)), a=st.floats(-2, 5), g=st.floats(-1, 10), upper=st.floats(1, 2000))
@example(name="hill<1", a=2.2250738585072014e-308, g=4.0, upper=1.0)  # once overflowed g / a
def test_lagrangian_max_is_the_maximum(name: str, a: float, g: float, upper: float) -> None:
    """max over [0, U] of a f(x) - g x: the closed form / root is >= every grid point and attained."""
    curve = CURVES[name]
    best = float(curve.lagrangian_max(np.array([a]), np.array([g]), np.array([upper]))[0])
    grid = np.linspace(0, upper, 20001)
    vals = a * curve.value(grid) - g * grid
    scale = 1e-9 * max(1.0, float(np.abs(vals).max()))
    assert best >= vals.max() - scale  # never below a feasible point: the bound stays valid
    # and not far above the grid's best (grid step error only)
    step = upper / 20000
    slope_bound = abs(a) * float(curve.slope(np.array([step]))[0]) + abs(g)
    assert best <= vals.max() + slope_bound * step + scale


@pytest.mark.parametrize("name", ["hill<1", "hill=1", "log", "power"])
def test_max_chord_error_matches_dense_grid(name: str) -> None:
    curve = CURVES[name]
    lo, hi = 10.0, 400.0
    err = float(curve.max_chord_error(np.array([lo]), np.array([hi]))[0])
    x = np.linspace(lo, hi, 200001)
    chord = curve.value(np.array([lo])) + (curve.value(np.array([hi])) - curve.value(np.array([lo]))) / (hi - lo) * (x - lo)
    assert err == pytest.approx(float((curve.value(x) - chord).max()), rel=1e-6)


def test_table_is_flat_after_last_point_and_slopes_are_right_derivatives() -> None:
    t = CURVES["table"]
    assert t.value(np.array([50.0, 100.0, 200.0, 300.0, 900.0])) == pytest.approx([125, 250, 325, 400, 400])
    assert t.slope(np.array([0.0, 100.0, 299.0, 300.0])) == pytest.approx([2.5, 0.75, 0.75, 0.0])


def test_hill_value_and_slope_match_formula() -> None:
    """f = M x^n / (x^n + K^n); f' by central differences."""
    m, k, n = 1000.0, 200.0, 0.6
    c = CURVES["hill<1"]
    x = np.array([1.0, 50.0, 200.0, 5000.0])
    assert c.value(x) == pytest.approx(m * x**n / (x**n + k**n))
    h = 1e-4
    assert c.slope(x) == pytest.approx((c.value(x + h) - c.value(x - h)) / (2 * h), rel=1e-5)
