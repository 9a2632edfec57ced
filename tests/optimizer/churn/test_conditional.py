"""Conditional-on-tenure quantities against closed forms and root finding.

Weibull with scale lambda and shape rho: S(t) = exp(-(t/lambda)^rho), so

- P(churn within w | alive at a) = 1 - exp(-((a + w)^rho - a^rho) / lambda^rho);
- residual p-quantile (CDF level p): u = (a^rho - lambda^rho * log(1 - p))^(1/rho) - a;
- hazard h(t) = rho/lambda * (t/lambda)^(rho - 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from optimizer.churn.aft import AFTFit, log_survival0
from optimizer.churn.conditional import churn_within, conditional_survival, hazard_curve, residual_percentile
from optimizer.churn.fitters import AFTModel, fit_kind

LAM, RHO = 300.0, 1.7


def weibull_model(lam=LAM, rho=RHO) -> AFTModel:
    fit = AFTFit("weibull", float(np.log(lam)), np.zeros(0), float(-np.log(rho)), np.zeros(2), np.eye(2), 0.0, 0)
    return AFTModel(fit, (), "weibull")


def test_churn_within_weibull_closed_form():
    a = np.array([1.0, 50.0, 400.0, 1000.0])
    X = np.zeros((4, 0))
    got = churn_within(weibull_model(), X, a, 30)
    want = 1 - np.exp(-((a + 30) ** RHO - a**RHO) / LAM**RHO)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # a customer who has stayed 400 days is not a new customer: with rho > 1 the risk is higher
    assert got[2] > churn_within(weibull_model(), X[:1], 0.0 + 1e-9, 30)[0]


@pytest.mark.parametrize("p", [0.25, 0.5, 0.9])
def test_residual_percentile_weibull_closed_form(p):
    a = np.array([0.0, 100.0, 400.0])
    days, reached = residual_percentile(weibull_model(), np.zeros((3, 0)), a, p)
    want = (a**RHO - LAM**RHO * np.log(1 - p)) ** (1 / RHO) - a
    assert reached.all()
    np.testing.assert_allclose(days, want, rtol=1e-10)


@pytest.mark.parametrize("dist", ["loglogistic", "lognormal"])
def test_residual_median_other_aft_by_root_finding(dist):
    """Check the closed-form inverse against brentq on S(a + u)/S(a) = 0.5."""
    fit = AFTFit(dist, 5.5, np.zeros(0), np.log(0.8), np.zeros(2), np.eye(2), 0.0, 0)
    m = AFTModel(fit, (), f"{dist}_aft")
    a = 180.0
    days, _ = residual_percentile(m, np.zeros((1, 0)), a, 0.5)
    logS = lambda t: log_survival0(dist, (np.log(t) - 5.5) / 0.8)  # noqa: E731
    u = brentq(lambda u: logS(a + u) - logS(a) - np.log(0.5), 1e-9, 1e6, xtol=1e-12)
    assert days[0] == pytest.approx(u, rel=1e-8)


def test_hazard_curve_weibull():
    u = np.arange(0, 101, 1.0)
    h = hazard_curve(weibull_model(), np.zeros((1, 0)), 200.0, u)[0]
    mid = 200 + (u[:-1] + u[1:]) / 2
    np.testing.assert_allclose(h, RHO / LAM * (mid / LAM) ** (RHO - 1), rtol=1e-3)


def test_residual_median_km_and_cox_step_functions(rossi_arrays):
    """For step curves the residual median is the first event time with S(t) <= S(a)/2 (checked by scan)."""
    T, E, X = rossi_arrays
    km = fit_kind("kaplan_meier", T, E, X, [])
    # Rossi's KM never falls below 0.5 (S(52) = 0.736): the median is not reached, and we say so
    days, reached = residual_percentile(km, X[:2], np.array([0.0, 10.0]), 0.5)
    assert not reached.any() and np.isnan(days).all()
    days, reached = residual_percentile(km, X[:1], np.array([10.0]), 0.2)
    target = 0.8 * km.survival(np.array([10.0]), X[:1])[0]
    first = km.times[np.argmax(km.surv <= target)]
    assert reached[0] and days[0] == pytest.approx(first - 10.0)
    cox = fit_kind("cox", T, E, X, list("abcdefg"))
    hi = np.argmax(cox.risk_score(X))
    days, reached = residual_percentile(cox, X[[hi]], np.array([5.0]), 0.5)
    s = cox.survival(cox.fit.strata_to_baseline[None][0], np.repeat(X[[hi]], 49, axis=0))
    s5 = cox.survival(np.array([5.0]), X[[hi]])[0]
    first = cox.fit.strata_to_baseline[None][0][np.argmax(s <= 0.5 * s5)]
    assert reached[0] and days[0] == pytest.approx(first - 5.0)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0, 2000), w1=st.floats(0.5, 100), w2=st.floats(0.5, 100),
    lam=st.floats(20, 2000), rho=st.floats(0.3, 4),
)
def test_window_probability_is_a_probability_and_grows_with_the_window(a, w1, w2, lam, rho):
    m = weibull_model(lam, rho)
    X = np.zeros((1, 0))
    p1 = churn_within(m, X, a, min(w1, w2))[0]
    p2 = churn_within(m, X, a, max(w1, w2))[0]
    assert 0 <= p1 <= p2 + 1e-12 <= 1 + 1e-12
    cs = conditional_survival(m, X, a, np.array([0.0, w1, w1 + w2]))[0]
    assert cs[0] == pytest.approx(1.0) and cs[0] >= cs[1] >= cs[2] >= 0


def test_percentile_level_is_validated():
    with pytest.raises(ValueError, match="CDF level"):
        residual_percentile(weibull_model(), np.zeros((1, 0)), 1.0, 1.0)


@pytest.mark.parametrize("kind", ["cox", "weibull_aft", "lognormal_aft", "loglogistic_aft"])
def test_fast_window_ratio_equals_difference_of_log_survivals(rossi, kind):
    """The scoring fast path log S(t2) - log S(t1) agrees with two separate evaluations (Cox with strata)."""
    cols = ["fin", "age", "race", "mar", "paro", "prio"]
    T, E, X = rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(), rossi[cols].to_numpy(float)
    strata = rossi["wexp"].astype(str).to_numpy() if kind == "cox" else None
    m = fit_kind(kind, T, E, X, cols, strata=strata)
    t1 = np.linspace(0.5, 40, T.size)
    fast = m.log_survival_ratio(t1, t1 + 10, X, strata)
    slow = m.log_survival(t1 + 10, X, strata) - m.log_survival(t1, X, strata)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


def test_percentiles_are_cdf_levels_unlike_lifelines_predict_percentile(rossi, rossi_arrays):
    """lifelines' ``predict_percentile(p)`` returns the time where *survival* is p: our CDF level 0.25
    (a quarter churned) is lifelines' p = 0.75. Oracle: lifelines 0.30.3 ``WeibullAFTFitter`` on
    Rossi, ``predict_percentile(rossi, p=0.75, conditional_after=30)`` (residual time after week 30)."""
    from lifelines import WeibullAFTFitter

    T, E, X = rossi_arrays
    ours = fit_kind("weibull_aft", T, E, X, list("abcdefg"))
    wf = WeibullAFTFitter().fit(rossi, "week", "arrest")
    tenure = np.full(T.size, 30.0)
    days, reached = residual_percentile(ours, X, tenure, p=0.25)
    ref = wf.predict_percentile(rossi, p=0.75, conditional_after=tenure).to_numpy()
    assert reached.all()
    np.testing.assert_allclose(days, ref, rtol=1e-4)  # lifelines' optimiser stops at ~1e-6 in the coefficients
    wrong = wf.predict_percentile(rossi, p=0.25, conditional_after=tenure).to_numpy()
    assert np.all(wrong > 2 * days)  # taking p as a CDF level in lifelines would be far off
