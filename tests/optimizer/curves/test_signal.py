"""The per-channel identification diagnostic (``ChannelFit.signal_t``) and its warning."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.curves.diagnostics import WEAK_SIGNAL_T, coefficient_t, weak_signal_warning
from optimizer.curves.model import CurveModel
from optimizer.curves.simulate import simulate


def test_coefficient_t_equals_ols_t():
    """At fixed features the statistic is the ordinary least-squares t of the channel columns: compared with
    statsmodels OLS (an independent implementation) on a random design, with s^2 on n - p degrees of freedom."""
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    n = 120
    base = np.column_stack([np.ones(n), np.linspace(0, 1, n)])
    z = rng.gamma(2.0, 1.0, (n, 3))
    z[:, 2] = 0.9 * z[:, 1] + 0.1 * rng.standard_normal(n)  # collinear pair: small t
    y = base @ [5.0, 1.0] + z @ [0.8, 0.3, 0.0] + rng.normal(0, 1.0, n)
    ols = sm.OLS(y, np.column_stack([base, z])).fit()
    beta = ols.params[2:]
    t = coefficient_t(base, z, beta, ols.resid, n_params=5)
    np.testing.assert_allclose(t, ols.tvalues[2:], rtol=1e-10)


def test_warning_names_weak_channels_and_their_spend_share():
    assert weak_signal_warning({"a": 5.0, "b": 3.1}, {"a": 1.0, "b": 1.0}) is None
    w = weak_signal_warning({"a": 5.0, "b": 0.4, "c": 1.2}, {"a": 6.0, "b": 3.0, "c": 1.0})
    assert "'b' (t 0.4), 'c' (t 1.2)" in w and "40% of mean spend" in w and "unreliable" in w
    w = weak_signal_warning({"a": 5.0, "b": 1.0}, {"a": 9.0, "b": 1.0})
    assert "10% of mean spend" in w and "unreliable" not in w


def _fit(correlation: float):
    s = simulate(2, 156, 0.02, seed=11, n_correlated_pairs=1, correlation=correlation, flight_every=0,
                 spend_sd=1.0, spend_autocorrelation=0.3, shape_range=(0.8, 1.0))
    return CurveModel(seed=0, n_bootstrap=0, holdout_periods=0).fit(
        s.data, spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"]).result


def test_fit_sees_independent_channels_and_flags_the_one_a_pair_hides():
    """Two channels with swinging spend (Robyn-demo-like log-sd 1.0), noise 2 % of the KPI. Independent
    spend: both coefficients are clearly seen (t > 4), no warning. Spend moving together (log-spend
    correlation 0.99): the fit gives the pair's effect to the larger channel, and the smaller one (3x less
    spend) is flagged as not shown by the data."""
    free = _fit(0.0)
    assert all(c.signal_t > 2 * WEAK_SIGNAL_T for c in free.channels.values())
    assert not any("barely shows" in w for w in free.warnings)
    tied = _fit(0.99)
    assert tied.channels["ch01"].signal_t < WEAK_SIGNAL_T < tied.channels["ch02"].signal_t
    assert any("barely shows 1 channel(s)" in w and "'ch01'" in w for w in tied.warnings)
    t = tied.channels["ch01"].signal_t
    assert tied.to_dict()["channels"]["ch01"]["signal_t"] == pytest.approx(t)
    assert tied.summary().loc["ch01", "signal_t"] == pytest.approx(t)


def test_prior_weight_uses_the_fitted_models_noise_not_a_linear_models_misfit():
    """Known truth: on strongly S-shaped channels (n 2.5-3) a linear model's residuals overstate the noise;
    the prior's noise standard deviation must come out near the simulator's true one (within 15 %), not
    near the linear misfit (here more than 1.5x the truth)."""
    s = simulate(3, 208, 0.03, seed=3, n_correlated_pairs=0, flight_every=0, spend_sd=1.0,
                 spend_autocorrelation=0.3, shape_range=(2.5, 3.0))
    res = CurveModel(seed=0, n_bootstrap=0, holdout_periods=0).fit(
        s.data, spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"]).result
    assert res.metrics["noise_sd"] == pytest.approx(s.noise_sd, rel=0.15)
    m = CurveModel(seed=0)
    from optimizer.curves.data import check_history

    h = check_history(s.data, date_col="date", kpi_col="kpi", spend_cols=s.spend_columns(), control_cols=["price"],
                      holiday_cols=["holiday"])
    design, y_scale, _ = m._design(h, [])
    assert np.sqrt(design.noise_var) * y_scale > 1.5 * s.noise_sd
