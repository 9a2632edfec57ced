"""The posterior sampler (optimizer/curves/posterior.py) against closed forms, a quadrature grid and itself.

References: the conjugate regression posterior (Gelman et al., Bayesian Data Analysis, 3rd ed., section 14.2:
with a flat prior on the coefficients and p(sigma^2) ~ 1/sigma^2, each coefficient is
``t_{n-k}(beta_hat, s^2 V_beta)``, which statsmodels' OLS gives as params, bse and df_resid); truncating to
``beta >= 0`` truncates that t (the density is restricted and renormalised). Monte-Carlo tolerances come
from the sampler's own effective sample size: the standard error of a q-quantile is
``sqrt(q (1 - q) / ESS) / f(x_q)`` (asymptotic normality of sample quantiles), and 4 standard errors are allowed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from optimizer.curves import posterior
from optimizer.curves.fit import Design
from optimizer.curves.model import CurveModel
from optimizer.curves.output import to_curves_file
from optimizer.curves.simulate import simulate

PRIOR_MEAN = (0.3, 0.0, 1.0)
PRIOR_SD = (0.3, 0.7, 0.7)


def _one_channel(log_kappa_bounds, beta_true=0.05, T=80, seed=0, noise=0.1):
    """One 'log' channel, no adstock (decay pinned at 0, shape unused), baseline = intercept + trend.

    Returns the design and the raw arrays (u, base, y) for the independent references.
    """
    rng = np.random.default_rng(seed)
    spend = rng.uniform(0.5, 2.0, T)
    scale = spend.mean()
    u = spend / scale
    t = np.arange(T)
    base = np.column_stack([np.ones(T), t / T])
    y = 1.0 + 0.2 * t / T + beta_true * np.log1p(u / 0.8) + rng.normal(0, noise, T)
    bounds = np.array([[[0.0, 0.0], list(log_kappa_bounds), [1.0, 1.0]]])
    design = Design(y, base, spend[None, :, None], np.array([scale]), ("log",), bounds, 0,
                    prior_mean=PRIOR_MEAN, prior_sd=PRIOR_SD, noise_var=noise**2)
    return design, u, base, y


def _quantile_tolerance(q: float, ess: float, density_at_q: float) -> float:
    return 4.0 * np.sqrt(q * (1 - q) / ess) / density_at_q


def _truncated_t(ols):
    """Posterior of the media coefficient: t_{df}(beta_hat, se) truncated to [0, inf) (BDA3 14.2)."""
    b, se, df = float(ols.params[-1]), float(ols.bse[-1]), float(ols.df_resid)
    dist = stats.t(df, loc=b, scale=se)
    p0 = dist.cdf(0.0)

    def quantile(q):
        return float(dist.ppf(p0 + q * (1 - p0)))

    def density(x):
        return float(dist.pdf(x) / (1 - p0))

    mean = integrate.quad(lambda v: v * dist.pdf(v), 0, np.inf)[0] / (1 - p0)
    sd = np.sqrt(integrate.quad(lambda v: (v - mean) ** 2 * dist.pdf(v), 0, np.inf)[0] / (1 - p0))
    return quantile, density, mean, sd, p0


@pytest.mark.parametrize("collapsed", [True, False], ids=["gibbs+joint", "joint-only"])
def test_beta_posterior_matches_the_truncated_t_of_bda3_when_theta_is_pinned(collapsed):
    """theta fixed by equal bounds (log kappa = log 0.8): the model is linear-Gaussian, and with gamma flat,
    beta >= 0 flat and p(sigma^2) ~ 1/sigma^2 the posterior of beta is t_{n-k}(beta_hat, se^2) truncated
    at 0 (BDA3 14.2; beta_hat, se and n - k = df_resid from statsmodels OLS on [1, t/T, log1p(u / 0.8)]).
    The data put beta_hat about 1.8 standard errors above 0, so the truncation matters. Both kernels: the
    exact truncated-t Gibbs draw of beta (with the joint walk), and the reflected joint random walk alone."""
    design, u, base, y = _one_channel((np.log(0.8), np.log(0.8)), beta_true=0.15)
    ols = sm.OLS(y, np.column_stack([base, np.log1p(u / 0.8)])).fit()
    quantile, density, mean, sd, p0 = _truncated_t(ols)
    assert 0.01 < p0 < 0.2  # the truncation is active
    post = posterior.sample(design, np.array([[0.0, np.log(0.8), 1.0]]), np.array([max(ols.params[-1], 0.01)]),
                            n_draws=4000, n_iter=8000, seed=11, collapsed=collapsed,
                            beta_prior_sd=None)  # flat beta >= 0, as in the reference
    draws = post.beta[:, 0]
    assert post.min_ess > 1000
    ess = min(post.min_ess, post.n_draws)  # the thinned draws carry at most their count
    assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(ess)
    for q in (0.05, 0.5, 0.95):
        x_q = quantile(q)
        assert abs(np.quantile(draws, q) - x_q) < _quantile_tolerance(q, ess, density(x_q)), q
    assert post.max_rhat < 1.02
    assert np.all(draws >= 0)


def _grid_posterior(u, base, y, lo, hi, n_grid=4001):
    """Marginal posterior of log kappa on a grid, computed without the package: for each log kappa,
    OLS on [base, log1p(u / kappa)] gives SS_min, the coefficient and its standard error s; integrating
    beta over [0, inf) and sigma^2 out gives  p(lk | y) ~ N(lk; 0, 0.7^2) SS_min^{-(n-p)/2} s F_{n-p-1}(beta_hat / s)
    (the t integral of BDA3 14.2: the unconstrained marginal times P(beta >= 0))."""
    lk = np.linspace(lo, hi, n_grid)
    n, p = base.shape
    nu = n - p
    logd = np.empty(n_grid)
    for i, v in enumerate(lk):
        X = np.column_stack([base, np.log1p(u / np.exp(v))])
        coef, res, *_ = np.linalg.lstsq(X, y, rcond=None)
        ss = float(res[0])
        cov = np.linalg.inv(X.T @ X)
        s = np.sqrt(ss / (nu - 1) * cov[-1, -1])
        logd[i] = (-0.5 * (v / PRIOR_SD[1]) ** 2 - 0.5 * nu * np.log(ss) + np.log(s)
                   + stats.t(nu - 1).logcdf(coef[-1] / s))
    dens = np.exp(logd - logd.max())
    dens /= integrate.trapezoid(dens, lk)
    cdf = integrate.cumulative_trapezoid(dens, lk, initial=0.0)
    return lk, dens, cdf


def test_one_parameter_posterior_matches_quadrature():
    """Free log kappa in [-1.5, 1.5] with its N(0, 0.7^2) prior, beta >= 0 and sigma^2 integrated: the
    sampler's 5/50/95 % quantiles of log kappa equal those of the posterior computed by quadrature on a
    4001-point grid (:func:`_grid_posterior`, independent of the package).

    The posterior is a curved ridge (z = log(1 + u / kappa) ~ u / kappa, so beta rises with kappa): the joint
    random walk alone mixed poorly here (ESS 3 in 12,000 iterations, seed 5), which is why the sampler
    also makes the collapsed theta move; with it the chain mixes (ESS in the thousands)."""
    lo, hi = -1.5, 1.5
    design, u, base, y = _one_channel((lo, hi), beta_true=0.3)
    lk, dens, cdf = _grid_posterior(u, base, y, lo, hi)
    post = posterior.sample(design, np.array([[0.0, 0.0, 1.0]]), np.array([0.3]), n_draws=2000, n_iter=4000,
                            seed=5, beta_prior_sd=None)
    draws = post.theta[:, 0, 1]
    assert post.ess[0] > 1000
    ess = min(float(post.ess[0]), post.n_draws)
    for q in (0.05, 0.5, 0.95):
        x_q = float(np.interp(q, cdf, lk))
        f_q = float(np.interp(x_q, lk, dens))
        assert abs(np.quantile(draws, q) - x_q) < _quantile_tolerance(q, ess, f_q), (q, np.quantile(draws, q), x_q)


def test_same_seed_same_draws_and_another_seed_other_draws():
    design, *_ = _one_channel((-1.5, 1.5), beta_true=0.3)
    kw = dict(n_draws=50, n_iter=500, n_burn=200)
    a = posterior.sample(design, np.array([[0.0, 0.0, 1.0]]), np.array([0.3]), seed=3, **kw)
    b = posterior.sample(design, np.array([[0.0, 0.0, 1.0]]), np.array([0.3]), seed=3, **kw)
    c = posterior.sample(design, np.array([[0.0, 0.0, 1.0]]), np.array([0.3]), seed=4, **kw)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.beta, b.beta)
    np.testing.assert_array_equal(a.sigma, b.sigma)
    assert not np.array_equal(a.beta, c.beta)
    assert a.seed == 3 and a.n_draws == 50
    table = a.summary()
    assert list(table.index) == ["0.log_kappa", "0.beta"] and list(a.param_names) == list(table.index)
    assert table.loc["0.beta", "mean"] == pytest.approx(a.beta[:, 0].mean())
    assert "2 chains x 500 iterations (+200 burn-in), 50 draws" in str(a)
    d = posterior.sample(design, np.array([[0.0, 0.0, 1.0]]), np.array([0.3]), seed=None, **kw)
    assert isinstance(d.seed, int)  # drawn and echoed


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-50, 50), lo=st.floats(-3, 3), width=st.floats(0.01, 5), infinite=st.booleans())
def test_reflect_lands_inside_the_bounds_and_keeps_inside_points(x, lo, width, infinite):
    hi = np.inf if infinite else lo + width
    y = float(posterior.reflect(np.array([x]), np.array([lo]), np.array([hi]))[0])
    assert lo - 1e-9 <= y <= hi + 1e-9
    if lo <= x <= hi:
        assert y == pytest.approx(x, abs=1e-9)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_draws_respect_every_bound_and_beta_nonnegative(seed):
    """Whatever the seed: every draw inside theta's box, beta >= 0, sigma > 0, the draws count."""
    design, *_ = _one_channel((-1.5, 1.5), beta_true=0.02)  # an effect near 0: beta presses on its bound
    post = posterior.sample(design, np.array([[0.0, 0.0, 1.0]]), np.array([0.02]), n_draws=30, n_iter=300,
                            n_burn=100, seed=seed)
    lo, hi = design.bounds[0, :, 0], design.bounds[0, :, 1]
    assert np.all(post.theta[:, 0] >= lo) and np.all(post.theta[:, 0] <= hi)
    assert np.all(post.beta >= 0) and np.all(post.sigma > 0) and post.n_draws == 30


def test_split_rhat_and_ess_on_known_chains():
    """Independent normal draws: R-hat ~ 1 and ESS ~ the draw count; two chains at different means: R-hat
    large. An AR(1) chain with coefficient 0.9 has integrated autocorrelation time (1 + 0.9)/(1 - 0.9) = 19,
    so ESS ~ N/19 (BDA3 11.5)."""
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((2, 4000, 1))
    assert posterior.split_rhat(iid)[0] == pytest.approx(1.0, abs=0.01)
    assert 6000 < posterior.effective_sample_size(iid)[0] < 10000
    apart = iid + np.array([0.0, 3.0])[:, None, None]
    assert posterior.split_rhat(apart)[0] > 1.5
    ar = np.zeros((2, 20000, 1))
    e = rng.standard_normal((2, 20000))
    for t in range(1, 20000):
        ar[:, t, 0] = 0.9 * ar[:, t - 1, 0] + e[:, t]
    assert 40000 / 19 * 0.7 < posterior.effective_sample_size(ar)[0] < 40000 / 19 * 1.3


def test_curve_model_mcmc_fills_intervals_draws_and_diagnostics():
    """CurveModel(uncertainty="mcmc"): n_bootstrap posterior draws per channel, intervals around the point
    estimate's neighbourhood, the method and its diagnostics in the settings (fit.json), seeded."""
    s = simulate(2, 104, 0.05, seed=100, n_correlated_pairs=0, flight_every=0)
    kw = dict(spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"])
    model = dict(seed=2, n_bootstrap=40, n_starts=2, holdout_periods=0, uncertainty="mcmc", mcmc_iterations=1500)
    res = CurveModel(**model).fit(s.data, **kw).result
    again = CurveModel(**model).fit(s.data, **kw).result
    diag = res.settings["uncertainty_diagnostics"]
    assert res.settings["uncertainty"] == "mcmc"
    assert diag["method"] == "mcmc" and diag["n_draws"] == 40 and diag["n_chains"] == 2
    names = {f"{c}.{p}" for c in s.channels for p in ("decay", "log_kappa", "shape", "beta")}
    assert diag["max_rhat_parameter"] in names and diag["min_ess_parameter"] in names
    assert diag["max_rhat"] >= 1.0 and diag["min_ess"] > 0 and all(0 < a < 1 for a in diag["acceptance"])
    for c in s.channels:
        ch = res.channels[c]
        assert len(ch.draws["max_response"]) == 40
        assert ch.roi["low"] <= ch.roi["high"] and ch.marginal_roi["low"] <= ch.marginal_roi["high"]
        assert ch.draws == again.channels[c].draws
    # the curves file and fit.json carry the draws, the method and its diagnostics
    cf = to_curves_file(res, currency="USD", kpi_name="revenue", kpi_unit="currency", period="week")
    assert cf.source.settings["uncertainty"] == "mcmc"
    assert cf.source.settings["uncertainty_diagnostics"]["n_draws"] == 40
    fit_json = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert fit_json["settings"]["uncertainty_diagnostics"]["method"] == "mcmc"
    assert "uncertainty_diagnostics" not in CurveModel(seed=2, n_bootstrap=0, n_starts=2, holdout_periods=0).fit(
        s.data, **kw).result.settings


def test_unknown_uncertainty_method_or_too_few_sweeps_is_a_clear_error():
    with pytest.raises(ValueError, match="uncertainty is 'laplace'; it must be one of bootstrap, mcmc"):
        CurveModel(uncertainty="laplace")
    with pytest.raises(ValueError, match=r"mcmc_iterations is 40; it must be >= 50 \(n_bootstrap 100 draws"):
        CurveModel(uncertainty="mcmc", n_bootstrap=100, mcmc_iterations=40)


def test_config_validates_the_uncertainty_method_with_field_paths(tmp_path):
    from optimizer.curves.config import load_config
    from optimizer.errors import ScenarioError

    path = tmp_path / "curves.yaml"
    path.write_text("kpi: {column: revenue}\nchannels:\n  search: {spend: spend_search}\n"
                    "fit: {uncertainty: laplace, mcmc_iterations: 50}\n")
    with pytest.raises(ScenarioError) as exc:
        load_config(path)
    msg = str(exc.value)
    assert "curves.yaml:4: fit.uncertainty is 'laplace'; input should be 'bootstrap' or 'mcmc'" in msg
    assert "curves.yaml:4: fit.mcmc_iterations is 50; input should be greater than or equal to 1000" in msg
    path.write_text("kpi: {column: revenue}\nchannels:\n  search: {spend: spend_search}\nfit: {uncertainty: mcmc}\n")
    cfg = load_config(path)
    assert cfg.fit.uncertainty == "mcmc" and cfg.fit.mcmc_iterations is None and cfg.fit.n_bootstrap == 100
