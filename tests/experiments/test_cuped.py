"""CUPED for mean and ratio metrics; winsorizing."""

import numpy as np
import pytest

from experiments.analysis import AnalysisSettings, analyze
from experiments.cuped import winsorize, winsorize_caps
from experiments.stats import VariantStats

# Deterministic data, typed identically into R (see the docstrings).

i0, i1 = np.arange(1, 13), np.arange(1, 11)
X0 = 10 + (i0 * 7) % 5
Y0 = X0 * 0.8 + (i0 * 3) % 4
X1 = 10 + (i1 * 5) % 6
Y1 = X1 * 0.8 + (i1 * 2) % 5 + 1
S0 = 1 + i0 % 3
S1 = 1 + (i1 + 1) % 4


def test_cuped_estimate_equals_ancova_in_r():
    """CUPED with the pooled within-variant slope gives the ANCOVA treatment coefficient exactly.
    R 4.x: d <- data.frame(y=c(y0,y1), x=c(x0,x1), tr=c(rep(0,12),rep(1,10)))   (data at the top of this file)
    summary(lm(y ~ tr + x, data=d))$coefficients["tr",]
    -> Estimate 1.4245024021963, Std. Error 0.5940117452999, t 2.3981047739673, p 0.0269109163779
    The standard error is Welch-type here (unequal variances) so it agrees only roughly with OLS's."""
    c = VariantStats.from_values("c", Y0, x=X0)
    t = VariantStats.from_values("t", Y1, x=X1)
    (r,) = analyze(c, t, kind="mean", settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    assert r.method == "welch_cuped"
    assert r.lift_absolute == pytest.approx(1.4245024021963, rel=1e-11)
    se = (r.lift_absolute_ci_high - r.lift_absolute) / __import__("scipy").stats.t.ppf(0.975, r.extra["df"])
    assert se == pytest.approx(0.5940117452999, rel=0.10)


def test_cuped_reduces_variance_by_rho_squared():
    """Var after CUPED ~= Var (1 - rho^2): with rho = 0.8, ~64 % reduction (large n)."""
    rng = np.random.default_rng(7)
    n = 200_000
    x = rng.normal(size=(2, n))
    y = 0.8 * x + 0.6 * rng.normal(size=(2, n))
    c, t = (VariantStats.from_values(k, y[i], x=x[i]) for i, k in enumerate("ct"))
    (r,) = analyze(c, t, settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    assert r.extra["variance_reduction"] == pytest.approx(0.64, abs=0.01)
    assert r.extra["theta"] == pytest.approx(0.8, abs=0.01)


def test_cuped_ratio_reduces_variance_and_equals_plain_without_correlation():
    rng = np.random.default_rng(11)
    n = 50_000
    sessions = 1 + rng.poisson(2, size=(2, n))
    pre = rng.gamma(2.0, 5.0, size=(2, n))
    rev = 0.5 * pre + sessions * rng.gamma(2.0, 1.0, size=(2, n))
    c, t = (VariantStats.from_values(k, rev[i], x=pre[i], d=sessions[i]) for i, k in enumerate("ct"))
    (plain,) = analyze(c, t, kind="ratio")
    (adj,) = analyze(c, t, kind="ratio", settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    assert adj.method == "delta_ratio_cuped"
    assert adj.extra["variance_reduction"] > 0.3
    assert (adj.lift_absolute_ci_high - adj.lift_absolute_ci_low) < (plain.lift_absolute_ci_high - plain.lift_absolute_ci_low)
    # An independent covariate removes (almost) nothing.
    noise = rng.normal(size=(2, n))
    c2, t2 = (VariantStats.from_values(k, rev[i], x=noise[i], d=sessions[i]) for i, k in enumerate("ct"))
    (adj2,) = analyze(c2, t2, kind="ratio", settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    assert abs(adj2.extra["variance_reduction"]) < 0.01
    assert adj2.lift_absolute == pytest.approx(plain.lift_absolute, abs=0.05 * (plain.lift_absolute_ci_high - plain.lift_absolute_ci_low))


def test_cuped_ratio_linearisation_matches_direct_regression():
    """CUPED ratio == CUPED mean on the linearised values L = (Y - R D) / Dbar computed per user."""
    c = VariantStats.from_values("c", Y0, x=X0, d=S0)
    t = VariantStats.from_values("t", Y1, x=X1, d=S1)
    (r,) = analyze(c, t, kind="ratio", settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    l0 = (Y0 - Y0.mean() / S0.mean() * S0) / S0.mean()
    l1 = (Y1 - Y1.mean() / S1.mean() * S1) / S1.mean()
    theta = (np.sum((X0 - X0.mean()) * l0) + np.sum((X1 - X1.mean()) * l1)) / (
        np.sum((X0 - X0.mean()) ** 2) + np.sum((X1 - X1.mean()) ** 2))
    assert r.extra["theta"] == pytest.approx(theta, rel=1e-10)
    xbar = np.concatenate([X0, X1]).mean()
    adj0 = Y0.mean() / S0.mean() - theta * (X0.mean() - xbar)
    adj1 = Y1.mean() / S1.mean() - theta * (X1.mean() - xbar)
    assert r.lift_absolute == pytest.approx(adj1 - adj0, rel=1e-10)
    v = sum(np.var(l - theta * (x - x.mean()), ddof=1) / len(l) for l, x in ((l0, X0), (l1, X1)))
    assert r.extra["se"] == pytest.approx(np.sqrt(v), rel=1e-10)


def test_cuped_without_covariate_is_an_error_code():
    c, t = VariantStats.from_values("c", [1.0, 2.0, 3.0]), VariantStats.from_values("t", [2.0, 3.0, 5.0])
    (r,) = analyze(c, t, settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    assert r.error_code == "MISSING_COVARIATE" and r.status == "error"


def test_winsorize_uses_pooled_caps():
    vals = {"c": np.arange(100.0), "t": np.arange(100.0) + 1000}
    lo, hi = winsorize_caps(vals, upper_quantile=0.9, lower_quantile=0.1)
    pooled = np.concatenate(list(vals.values()))
    assert hi == np.quantile(pooled, 0.9) and lo == np.quantile(pooled, 0.1)
    capped = winsorize(vals, upper_quantile=0.9)
    assert capped["t"].max() == hi and capped["c"].max() == 99.0  # control is below the pooled cap
    with pytest.raises(ValueError, match="upper_quantile is 1.5"):
        winsorize(vals, upper_quantile=1.5)
