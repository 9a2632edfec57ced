"""Welch and Student t-tests against R t.test."""

import numpy as np
import pytest

from experiments.means import welch_arrays
from experiments.stats import VariantStats

X = [24.1, 26.3, 22.2, 30.8, 27.5]  # treatment
Y = [19.1, 20.3, 25.7, 18.2, 22.9, 21.0]  # control


def _run(**kw):
    c, t = VariantStats.from_values("c", Y), VariantStats.from_values("t", X)
    out = welch_arrays([c.n], [c.mean], [c.var], [t.n], [t.mean], [t.var], **kw)
    return {k: v[0] for k, v in out.items()}


def test_welch_matches_r():
    """R: r <- t.test(x, y); c(r$statistic, r$parameter, r$p.value, r$conf.int) with
    x <- c(24.1,26.3,22.2,30.8,27.5); y <- c(19.1,20.3,25.7,18.2,22.9,21.0)
    -> 2.69679483665 7.85230106656 0.02767182343 0.70766589312 9.25233410688"""
    r = _run()
    assert r["statistic"] == pytest.approx(2.69679483665, rel=1e-10)
    assert r["df"] == pytest.approx(7.85230106656, rel=1e-10)
    assert r["p_value"] == pytest.approx(0.02767182343, rel=1e-8)
    assert r["lift_absolute_ci_low"] == pytest.approx(0.70766589312, rel=1e-9)
    assert r["lift_absolute_ci_high"] == pytest.approx(9.25233410688, rel=1e-10)


def test_student_matches_r():
    """R: t.test(x, y, var.equal=TRUE) -> t 2.74703528238, df 9, p 0.02258609234, CI 0.87901784553 9.08098215447"""
    r = _run(equal_var=True)
    assert r["statistic"] == pytest.approx(2.74703528238, rel=1e-10)
    assert r["df"] == 9
    assert r["p_value"] == pytest.approx(0.02258609234, rel=1e-8)
    assert (r["lift_absolute_ci_low"], r["lift_absolute_ci_high"]) == pytest.approx((0.87901784553, 9.08098215447), rel=1e-9)


def test_one_sided_matches_r():
    """R: t.test(x, y, alternative="greater") -> t 2.69679483665, p 0.01383591171, CI 1.53769834033 Inf"""
    r = _run(alternative="greater")
    assert r["p_value"] == pytest.approx(0.01383591171, rel=1e-8)
    assert r["lift_absolute_ci_low"] == pytest.approx(1.53769834033, rel=1e-9)
    assert r["lift_absolute_ci_high"] == np.inf


def test_relative_lift_delta_method_against_simulation():
    """Delta-method SE of mu1/mu0 versus the spread of the ratio of two independent normal means
    simulated with the same moments (seed 0, 400k draws): within 1 %."""
    rng = np.random.default_rng(0)
    m0, s0, m1, s1 = 20.0, 0.8, 23.0, 1.1
    ratio = rng.normal(m1, s1, 400_000) / rng.normal(m0, s0, 400_000)
    out = welch_arrays([1e6], [m0], [s0**2 * 1e6], [1e6], [m1], [s1**2 * 1e6], scale="relative")
    half = (out["lift_relative_ci_high"][0] - out["lift_relative_ci_low"][0]) / 2
    assert half / 1.959963984540054 == pytest.approx(ratio.std(), rel=0.01)


def test_error_codes_zero_users_and_variance():
    out = welch_arrays([0, 1, 5], [0, 1, 2], [np.nan, np.nan, 0], [5, 5, 5], [1, 1, 2], [1, 1, 0])
    assert list(out["error_code"]) == ["ZERO_USERS", "TOO_FEW_USERS", "ZERO_VARIANCE"]
    assert np.isnan(out["p_value"]).all()
