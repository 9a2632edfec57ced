"""Invariants of the fitters (hypothesis): what the likelihoods say must not depend on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.churn.aft import fit_aft
from optimizer.churn.coxph import fit_cox


def _data(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    life = rng.weibull(1.3, n) * np.exp(-X @ np.array([0.5, -0.3, 0.0])) * 100
    cens = rng.uniform(20, 200, n)
    # whole days: ties, as in real customer tables
    return np.ceil(np.minimum(life, cens)), (life <= cens).astype(int), X


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10))
def test_cox_depends_on_time_ranks_only_and_scales_with_covariates(seed, scale):
    """The partial likelihood uses only the order of times: a monotone map of time leaves beta;
    rescaling a covariate by c divides its coefficient by c; row order is irrelevant."""
    T, E, X = _data(seed)
    base = fit_cox(T, E, X)
    np.testing.assert_allclose(fit_cox(np.sqrt(T) * 7 + 1, E, X).params, base.params, rtol=1e-7, atol=1e-10)
    Xs = X.copy()
    Xs[:, 0] *= scale
    np.testing.assert_allclose(fit_cox(T, E, Xs).params[0] * scale, base.params[0], rtol=1e-6, atol=1e-9)
    perm = np.random.default_rng(seed + 1).permutation(T.size)
    f = fit_cox(T[perm], E[perm], X[perm])
    np.testing.assert_allclose(f.params, base.params, rtol=1e-7, atol=1e-10)
    assert f.loglik == base.loglik or abs(f.loglik - base.loglik) < 1e-8 * abs(base.loglik)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.floats(0.1, 10), dist=st.sampled_from(["weibull", "loglogistic", "lognormal"]))
def test_aft_time_rescaling_shifts_only_the_intercept(seed, k, dist):
    """log(kT) = log k + log T: multiplying every time by k adds log k to b0; b and sigma stay;
    the log-likelihood drops by (number of events) * log k (the Jacobian)."""
    T, E, X = _data(seed)
    a = fit_aft(T, E, X, dist)
    b = fit_aft(T * k, E, X, dist)
    assert abs(b.intercept - a.intercept - np.log(k)) < 1e-6
    np.testing.assert_allclose(b.params, a.params, atol=1e-6)
    assert abs(b.log_sigma - a.log_sigma) < 1e-6
    assert abs(b.loglik - (a.loglik - E.sum() * np.log(k))) < 1e-6 * abs(a.loglik)


def test_warm_start_gives_the_same_maximum(monkeypatch):
    """The subsample warm start (used above 2 x WARM_START_ROWS rows) changes the path, not the answer."""
    from optimizer.churn import aft, coxph

    monkeypatch.setattr(coxph, "WARM_START_ROWS", 500)
    monkeypatch.setattr(aft, "WARM_START_ROWS", 500)
    T, E, X = _data(3, n=3000)
    strata = np.where(X[:, 2] > 0, "a", "b")
    cold, warm = fit_cox(T, E, X, strata=strata, warm_start=False), fit_cox(T, E, X, strata=strata)
    np.testing.assert_allclose(warm.params, cold.params, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(warm.se, cold.se, rtol=1e-7)
    assert warm.loglik_null == cold.loglik_null and warm.n_iterations < cold.n_iterations
    for dist in ("weibull", "loglogistic", "lognormal"):
        a, b = fit_aft(T, E, X, dist, warm_start=False), fit_aft(T, E, X, dist)
        np.testing.assert_allclose(b.params, a.params, atol=1e-6)
        assert abs(b.loglik - a.loglik) < 1e-8 * abs(a.loglik)
        assert b.n_iterations <= a.n_iterations
