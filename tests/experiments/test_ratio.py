"""Ratio metrics with the delta method, against R computed from the raw per-user values."""

import numpy as np
import pytest
from scipy import stats

from experiments.analysis import analyze
from experiments.ratio import ratio_arrays
from experiments.stats import VariantArrays, VariantStats

# Deterministic data, typed identically into R (see the docstrings).

i0, i1 = np.arange(1, 13), np.arange(1, 11)
X0 = 10 + (i0 * 7) % 5
Y0 = X0 * 0.8 + (i0 * 3) % 4
X1 = 10 + (i1 * 5) % 6
Y1 = X1 * 0.8 + (i1 * 2) % 5 + 1
S0 = 1 + i0 % 3
S1 = 1 + (i1 + 1) % 4


def test_delta_method_matches_r():
    """R 4.x (data as at the top of this file):
    i0 <- 1:12; i1 <- 1:10; x0 <- 10 + (i0*7) %% 5; y0 <- x0*0.8 + (i0*3) %% 4
    x1 <- 10 + (i1*5) %% 6; y1 <- x1*0.8 + (i1*2) %% 5 + 1; s0 <- 1 + i0 %% 3; s1 <- 1 + (i1+1) %% 4
    ratio_var <- function(y, s) { n <- length(y); R <- mean(y)/mean(s)
                                  (var(y) - 2*R*cov(y,s) + R^2*var(s)) / (n * mean(s)^2) }
    -> R0=5.616666666667 R1=4.933333333333 v0=0.570989057239 v1=0.645904249014
    """
    c = VariantStats.from_values("c", Y0, d=S0)
    t = VariantStats.from_values("t", Y1, d=S1)
    out = ratio_arrays(VariantArrays.from_stats([c]), VariantArrays.from_stats([t]))
    assert out["mean_control"][0] == pytest.approx(5.616666666667, rel=1e-11)
    assert out["mean_treatment"][0] == pytest.approx(4.933333333333, rel=1e-11)
    se = np.sqrt(0.570989057239 + 0.645904249014)
    assert out["se"][0] == pytest.approx(se, rel=1e-10)
    z = (4.933333333333 - 5.616666666667) / se
    assert out["p_value"][0] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert out["error_code"][0] is None


def test_ratio_of_constant_denominator_equals_mean_test_with_normal_reference():
    """With D = 1 for every user the ratio is the mean and the delta variance is var/n exactly."""
    rng = np.random.default_rng(1)
    y0, y1 = rng.normal(5, 2, 300), rng.normal(5.3, 2, 280)
    c = VariantStats.from_values("c", y0, d=np.ones(300))
    t = VariantStats.from_values("t", y1, d=np.ones(280))
    out = ratio_arrays(VariantArrays.from_stats([c]), VariantArrays.from_stats([t]))
    assert out["se"][0] == pytest.approx(np.sqrt(y0.var(ddof=1) / 300 + y1.var(ddof=1) / 280), rel=1e-12)


def test_ratio_error_codes():
    ok = VariantStats.from_values("c", [1.0, 2.0, 3.0], d=[1.0, 1.0, 2.0])
    zero_den = VariantStats.from_values("t", [1.0, 2.0], d=[0.0, 0.0])
    no_den = VariantStats.from_values("t", [1.0, 2.0])
    res = analyze(ok, [zero_den, no_den], kind="ratio")
    assert [r.error_code for r in res] == ["ZERO_DENOMINATOR", "MISSING_DENOMINATOR"]
    assert all(r.status == "error" and np.isnan(r.p_value) for r in res)
