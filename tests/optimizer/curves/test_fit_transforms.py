"""Adstock and saturation transforms: hand computations, the budget's convention, derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.curves.adstock import geometric, lag_matrix, steady_state_factor, steady_state_factor_grad, weights
from optimizer.curves.saturation import value_and_grads


def test_geometric_adstock_matches_hand_computation():
    """x = (100, 0, 50, 0), decay 0.5, L = 2, spend before the data = 0:
    e0 = 100; e1 = 0 + .5*100 = 50; e2 = 50 + .5*0 + .25*100 = 75; e3 = 0 + .5*50 + .25*0 = 25."""
    e = geometric(np.array([100.0, 0.0, 50.0, 0.0]), 0.5, 2)
    np.testing.assert_allclose(e, [100.0, 50.0, 75.0, 25.0])


def test_adstock_is_the_budget_sections_convention():
    """optimizer/budget/advanced/config.py Adstock: e_t = sum_{l=0..L} decay^l x_{t-l}, not normalised:
    a constant spend x gives e = x * (1 - d^(L+1)) / (1 - d) once L periods have passed."""
    d, L, x = 0.6, 4, 1000.0
    e = geometric(np.full(10, x), d, L)
    closed = x * (1 - d ** (L + 1)) / (1 - d)
    assert e[-1] == pytest.approx(closed, rel=1e-12)
    assert steady_state_factor(d, L) == pytest.approx(closed / x, rel=1e-12)


def test_weights_derivative_matches_finite_difference():
    d, L, h = 0.37, 6, 1e-6
    _, dw = weights(d, L)
    fd = (weights(d + h, L)[0] - weights(d - h, L)[0]) / (2 * h)
    np.testing.assert_allclose(dw, fd, rtol=1e-6, atol=1e-9)
    assert steady_state_factor_grad(d, L) == pytest.approx(
        (steady_state_factor(d + h, L) - steady_state_factor(d - h, L)) / (2 * h), rel=1e-6)


def test_lag_matrix_shifts_with_zero_padding():
    m = lag_matrix(np.array([1.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(m, [[1, 0, 0], [2, 1, 0], [3, 2, 1]])


def test_hill_value_closed_form():
    """z = u^n / (u^n + kappa^n): at u = kappa it is 1/2 whatever n; u = 2, kappa = 1, n = 2 -> 4/5."""
    z = value_and_grads("hill", np.array([1.5, 2.0]), np.log(np.array([1.5, 1.0])), np.array([2.7, 2.0]))[0]
    np.testing.assert_allclose(z, [0.5, 0.8])


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["hill", "log", "power"]), u=st.floats(0.05, 20), lk=st.floats(-1.5, 2.0),
       n=st.floats(0.3, 3.0))
def test_saturation_gradients_match_finite_differences(kind, u, lk, n):
    if kind == "power":
        n = min(n, 0.95)
    z, du, dk, dn = value_and_grads(kind, np.array([u]), lk, n)
    h = 1e-6
    f = lambda uu, kk, nn: value_and_grads(kind, np.array([uu]), kk, nn)[0][0]  # noqa: E731
    assert du[0] == pytest.approx((f(u + h, lk, n) - f(u - h, lk, n)) / (2 * h), rel=1e-4, abs=1e-7)
    assert dk[0] == pytest.approx((f(u, lk + h, n) - f(u, lk - h, n)) / (2 * h), rel=1e-4, abs=1e-7)
    assert dn[0] == pytest.approx((f(u, lk, n + h) - f(u, lk, n - h)) / (2 * h), rel=1e-4, abs=1e-7)
    assert z[0] >= 0


def test_saturation_is_zero_without_spend():
    for kind in ("hill", "log", "power"):
        out = value_and_grads(kind, np.array([0.0]), 0.0, 0.8)
        assert all(v[0] == 0 for v in out)


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(["hill", "hill_concave", "log", "power"]), decay=st.floats(0, 0.85),
       lk=st.floats(-1.5, 2.0), n=st.floats(0.3, 3.0), beta=st.floats(0.01, 5), x=st.floats(10, 1e5))
def test_exported_curve_is_the_steady_state_of_the_fitted_model(kind, decay, lk, n, beta, x):
    """Consistency: the curve written to the curves file (CurveModel._response) equals the model's own
    contribution (adstock -> scaling -> saturation -> beta) after spending x every period for long enough."""
    from optimizer.curves.fit import Design, features
    from optimizer.curves.model import CurveModel
    from optimizer.curves.results import response_value

    if kind == "power":
        n, lk = min(n, 0.95), 0.0
    if kind == "log":
        n = 1.0
    L, T, scale, y_scale = 8, 60, 2500.0, 1000.0
    lagged = lag_matrix(np.full((1, T), x), L)
    d = Design(np.zeros(T), np.ones((T, 1)), lagged, np.array([scale]), (kind,), np.zeros((1, 3, 2)), L)
    theta = np.array([[decay, lk, n]])
    z = features(d, theta, with_grad=False)[0][0, -1]
    resp = CurveModel._response(d, 0, theta[0], beta, y_scale)
    assert float(response_value(resp, np.array([x]))[0]) == pytest.approx(beta * y_scale * z, rel=1e-9)
