"""The variable-projection fit: inner solver vs independent solvers, analytic gradient, recovery of a known truth."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.optimize import lsq_linear

from optimizer.curves.adstock import lag_matrix
from optimizer.curves.fit import Design, features, minimise, solve_inner, start_points
from optimizer.curves.model import CurveModel
from optimizer.curves.simulate import simulate


def _design(n_channels=3, T=80, seed=0, y=None, kinds=None):
    rng = np.random.default_rng(seed)
    spend = rng.uniform(500, 3000, (n_channels, T))
    t = np.arange(T)
    base = np.column_stack([np.ones(T), t / T, np.sin(2 * np.pi * t / 52)])
    bounds = np.zeros((n_channels, 3, 2))
    bounds[:, 0] = (0, 0.85)
    bounds[:, 1] = (np.log(0.2), np.log(10))
    bounds[:, 2] = (0.5, 3.5)
    yy = rng.normal(size=T) if y is None else y
    return Design(yy, base, lag_matrix(spend, 4), spend.mean(axis=1), tuple(kinds or ["hill"] * n_channels), bounds, 4)


THETA = np.array([[0.3, 0.1, 1.2], [0.5, -0.2, 0.8], [0.1, 0.4, 2.0]])


def test_inner_solution_equals_statsmodels_ols_when_no_bound_is_active():
    """statsmodels OLS on [baseline | media features] is the unconstrained least-squares answer; with
    every media coefficient positive the NNLS-after-projection must return the same numbers."""
    d0 = _design()
    z = features(d0, THETA, with_grad=False)[0].T
    rng = np.random.default_rng(1)
    y = d0.base @ np.array([2.0, 0.3, 0.1]) + z @ np.array([0.5, 0.8, 0.3]) + rng.normal(0, 0.01, d0.base.shape[0])
    d = _design(y=y)
    sol = solve_inner(d, THETA, with_grad=False)
    ols = sm.OLS(y, np.column_stack([d.base, z])).fit()
    np.testing.assert_allclose(np.concatenate([sol.gamma, sol.beta]), ols.params, rtol=1e-8, atol=1e-10)
    assert sol.objective == pytest.approx(ols.ssr, rel=1e-9)


def test_inner_solution_equals_bvls_and_kkt_when_a_bound_is_active():
    """A channel with a truly negative effect: NNLS puts it at 0. Second solver: scipy lsq_linear
    (method='bvls', bounds -inf for the baseline, 0 for media). KKT: the answer is the OLS of the
    other columns (statsmodels), and the gradient of the dropped column points outward."""
    d0 = _design()
    z = features(d0, THETA, with_grad=False)[0].T
    rng = np.random.default_rng(2)
    y = d0.base @ np.array([2.0, 0.3, 0.1]) + z @ np.array([0.5, -0.6, 0.3]) + rng.normal(0, 0.01, d0.base.shape[0])
    d = _design(y=y)
    sol = solve_inner(d, THETA, with_grad=False)
    assert sol.beta[1] == 0.0
    A = np.column_stack([d.base, z])
    p = d.base.shape[1]
    lo = np.r_[np.full(p, -np.inf), np.zeros(3)]
    ref = lsq_linear(A, y, bounds=(lo, np.full(p + 3, np.inf)), method="bvls", tol=1e-14)
    np.testing.assert_allclose(np.concatenate([sol.gamma, sol.beta]), ref.x, rtol=1e-7, atol=1e-9)
    keep = [0, 1, 2, 3, 5]
    ols = sm.OLS(y, A[:, keep]).fit()
    np.testing.assert_allclose(np.concatenate([sol.gamma, sol.beta[[0, 2]]]), ols.params, rtol=1e-8, atol=1e-10)
    assert z[:, 1] @ ols.resid < 0  # raising beta_1 from 0 would increase the sum of squares


@pytest.mark.parametrize("kinds", [["hill"] * 3, ["log", "power", "hill"]])
def test_envelope_gradient_matches_finite_differences(kinds):
    d = _design(kinds=kinds)
    d = Design(d.y + 3 * features(d, THETA, False)[0].sum(axis=0), d.base, d.lagged, d.scale, d.kinds, d.bounds, 4,
               lift=((0, 1000.0, 500.0, 0.3, 2.0),))
    theta = THETA + 0.05
    sol = solve_inner(d, theta)
    h = 1e-6
    fd = np.zeros(theta.size)
    for k in range(theta.size):
        tp, tm = theta.ravel().copy(), theta.ravel().copy()
        tp[k] += h
        tm[k] -= h
        fd[k] = (solve_inner(d, tp.reshape(3, 3)).objective - solve_inner(d, tm.reshape(3, 3)).objective) / (2 * h)
    np.testing.assert_allclose(sol.gradient, fd, rtol=1e-4, atol=1e-8)


def test_multistart_is_seeded_and_recovers_a_noise_free_truth():
    """Data made by the model itself (no noise): the fit returns the generating parameters."""
    d0 = _design(n_channels=2, T=120)
    theta = THETA[:2]
    z = features(d0, theta, with_grad=False)[0].T
    y = d0.base @ np.array([2.0, 0.3, 0.1]) + z @ np.array([0.9, 0.6])
    d = Design(y, d0.base, d0.lagged, d0.scale, d0.kinds, d0.bounds[:2], 4)
    res = minimise(d, start_points(d, 4, np.random.default_rng(0)))
    assert res.inner.objective < 1e-12
    np.testing.assert_allclose(res.theta, theta, atol=2e-3)
    np.testing.assert_allclose(res.inner.beta, [0.9, 0.6], rtol=2e-3)
    again = minimise(d, start_points(d, 4, np.random.default_rng(0)))
    np.testing.assert_array_equal(res.theta, again.theta)


def test_recovers_simulated_truth_with_little_noise():
    """Simulator (optimizer/curves/simulate.py), 3 independent channels, 156 weeks, noise 0.05 % of the KPI,
    spend before the data present (as in real data). Tolerances: marginal ROI at current spend within 5 %,
    decay within 0.1, ROI (an extrapolation to zero spend, weakly identified) within 50 %."""
    s = simulate(3, 156, 0.0005, seed=0, n_correlated_pairs=0, flight_every=0)
    m = CurveModel(seed=0, n_bootstrap=0, n_starts=4, holdout_periods=0, prior=False).fit(
        s.data, spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"])
    for c, truth in s.truth.items():
        ch = m.result.channels[c]
        x = ch.current_spend
        true_m = (truth.response(x * 1.0001) - truth.response(x * 0.9999)) / (0.0002 * x)
        assert ch.marginal_roi["mean"] == pytest.approx(true_m, rel=0.05), c
        assert ch.roi["mean"] == pytest.approx(truth.response(x) / x, rel=0.5), c
        assert abs(ch.decay - truth.decay) < 0.1, c
    assert m.result.metrics["in_sample"]["r2"] > 0.99
