"""Reproductions of issue 13's defects 2-5 (defect 1 is in test_consistency.py).

Each test failed on the code before the fix (the behaviour it replaces is quoted) and passes after.
"""

import math

import numpy as np
import pytest

from experiments.analysis import AnalysisSettings, analyze, compare_table
from experiments.bayes import beta_binomial_arrays
from experiments.power import sample_size_means, sample_size_proportions
from experiments.sequential import msprt
from experiments.stats import VariantArrays, VariantStats
from optimizer.errors import DataError


# ------------------------------------------------------------------ defect 2: negative baselines
def test_relative_lift_of_a_negative_control_is_an_improvement():
    """Net revenue per user -10 -> -5 is +50 % ((b - a) / |a|, gbstats ``frequentist_diff``); before the
    fix mu1 / mu0 - 1 reported -50 % and a clear improvement was stopped."""
    rng = np.random.default_rng(3)
    c = VariantStats.from_values("control", rng.normal(-10, 2, 2000))
    t = VariantStats.from_values("B", rng.normal(-5, 2, 2000))
    for scale in ("relative", "absolute"):
        (r,) = analyze(c, t, metric="m", settings=AnalysisSettings(effect_scale=scale))
        assert r.lift_relative == pytest.approx((t.mean - c.mean) / abs(c.mean))
        assert r.lift_relative > 0.45 and r.lift_relative_ci_low > 0
    from experiments.decide import DecisionConfig, SuccessMetric, decide

    assert decide([r], DecisionConfig(success_metrics=(SuccessMetric(metric="m"),))).action == "ship"


def test_control_mean_near_zero_warns_and_zero_is_an_error_code_on_the_relative_scale():
    rng = np.random.default_rng(4)
    c = VariantStats.from_values("control", rng.normal(0.01, 1, 500))
    t = VariantStats.from_values("B", rng.normal(0.3, 1, 500))
    (r,) = analyze(c, t)
    assert r.ok and any(w.startswith("BASELINE_NEAR_ZERO") for w in r.warnings)
    zero = VariantStats.from_moments("control", 100, 0.0, 99.0)
    (z,) = analyze(zero, t)
    assert z.error_code == "ZERO_BASELINE" and "effect_scale='absolute'" in z.error_message
    (a,) = analyze(zero, t, settings=AnalysisSettings(effect_scale="absolute"))
    assert a.ok and math.isnan(a.lift_relative)


# ------------------------------------------------------------------ defect 3: impossible aggregates
@pytest.mark.parametrize("kw, field", [
    (dict(sum=30.0, sum_sq=50.0), "sum_sq"),  # sum^2 / n = 90 > 50
    (dict(sum=30.0, sum_sq=200.0, cov_sum=20.0, cov_sum_sq=10.0, cross_sum=70.0), "cov_sum_sq"),
    (dict(sum=30.0, sum_sq=200.0, den_sum=40.0, den_sum_sq=100.0, num_den_sum=130.0), "den_sum_sq"),
])
def test_negative_variance_from_sums_raises(kw, field):
    """Before the fix ``sum_sq < sum^2 / n`` was clipped to a zero variance and gave a "valid" p-value."""
    with pytest.raises(DataError, match=f"{field} = .* is smaller than"):
        VariantStats("B", 10, **kw)


def test_correlation_above_one_raises():
    """sum (X - Xbar)(Y - Ybar) = 50 with M2_X = M2_Y = 10: |r| = 5 is impossible."""
    with pytest.raises(DataError, match="cross_m2 .* exceeds"):
        VariantStats.from_moments("B", 10, 1.0, 10.0, cov_mean=1.0, cov_m2=10.0, cross_m2=50.0)


def test_rounding_noise_is_not_impossible_data():
    """Exact 0/1 data at 100 % conversion (variance exactly 0) and tiny negative rounding are fine."""
    assert VariantStats("B", 7, 7.0, 7.0).m2 == 0.0
    y = np.full(1000, 0.1)
    s = VariantStats("B", 1000, float(y.sum()), float(y @ y))
    assert s.m2 == 0.0 and s.var == 0.0


# ------------------------------------------------------------------ defect 4: cancellation
def test_catastrophic_cancellation_is_detected_and_points_to_the_moments_path():
    """Values near 1e9 (spread ~1), n = 1000 per arm, true shift 0.3: from raw sums the variance is
    rounding noise (before the fix: status ok, p = 0.51); the stable moments give p ~ 1e-11."""
    rng = np.random.default_rng(7)
    y0, y1 = 1e9 + rng.normal(0, 1, 1000), 1e9 + 0.3 + rng.normal(0, 1, 1000)
    raw = [VariantStats(n, 1000, float(y.sum()), float(y @ y)) for n, y in (("control", y0), ("B", y1))]
    assert raw[0].rounding_error > 1e-2
    (r,) = analyze(*raw, settings=AnalysisSettings(effect_scale="absolute"))
    assert r.status == "error" and r.error_code == "PRECISION_LOSS" and math.isnan(r.p_value)
    assert "from_moments" in r.error_message and "var_samp" in r.error_message
    stable = [VariantStats.from_values(n, y) for n, y in (("control", y0), ("B", y1))]
    assert stable[0].rounding_error == 0.0
    (good,) = analyze(*stable, settings=AnalysisSettings(effect_scale="absolute"))
    assert good.ok and good.p_value < 1e-8


def test_ordinary_raw_sums_keep_full_precision():
    rng = np.random.default_rng(8)
    y = rng.gamma(2, 30, 5000)
    s = VariantStats("c", 5000, float(y.sum()), float(y @ y))
    assert s.rounding_error < 1e-12
    conv = VariantStats.from_counts("c", 10_000_000, 123_456)
    assert conv.rounding_error < 1e-12


# ------------------------------------------------------------------ defect 5: input validation
@pytest.mark.parametrize("cols, match", [
    (dict(n=[10, -5], mean=[1.0, 1.0], m2=[1.0, 1.0]), r"column n: 1 row\(s\) \(row 1: -5.0\)"),
    (dict(n=[10, 5], mean=[1.0, np.nan], m2=[1.0, 1.0]), r"column mean: 1 row\(s\) \(row 1: nan\)"),
    (dict(n=[10.5], mean=[1.0], m2=[1.0]), "whole numbers"),
    (dict(n=[10], mean=[1.0], m2=[-3.0]), "column m2.*negative"),
    (dict(n=[10, 10], mean=[1.0, 1.0], m2=[1.0, 1.0, 1.0]), "column m2 has 3 value"),
])
def test_variant_arrays_from_columns_refuses_impossible_columns(cols, match):
    """Before the fix NaN means and n = -5 went through with status ok."""
    with pytest.raises(DataError, match=match):
        VariantArrays.from_columns(cols.pop("n"), cols.pop("mean"), cols.pop("m2"), **cols)


def test_variant_arrays_empty_variant_is_still_allowed():
    c = VariantArrays.from_columns([0, 10], [np.nan, 1.0], [np.nan, 9.0])
    t = VariantArrays.from_columns([5, 10], [1.0, 1.5], [4.0, 9.0])
    f = compare_table(c, t, kind="mean").frame
    assert list(f.error_code) == ["ZERO_USERS", None]


def test_sample_size_with_nan_inputs_names_the_input():
    """Before the fix: scipy's bare 'f(a) and f(b) must have different signs'."""
    with pytest.raises(ValueError, match="baseline is nan; it must be a finite number"):
        sample_size_means(float("nan"), 1.0, mde_relative=0.05)
    with pytest.raises(ValueError, match="sd is nan"):
        sample_size_means(10.0, float("nan"), mde_relative=0.05)
    with pytest.raises(ValueError, match="p0 is nan"):
        sample_size_proportions(float("nan"), mde_relative=0.05)


def test_msprt_nan_estimate_blames_the_estimate():
    """Before the fix the message blamed the standard error (se = [1.0, 1.0])."""
    with pytest.raises(ValueError, match=r"estimates: look\(s\) \[2\] are \[nan\]"):
        msprt([0.1, float("nan")], [1.0, 1.0], tau=0.1)
    with pytest.raises(ValueError, match=r"standard errors: look\(s\) \[1\] are \[0.0\]"):
        msprt([0.1, 0.2], [0.0, 1.0], tau=0.1)


def test_bayesian_error_rows_report_observed_rates_not_a_made_up_half():
    """Before the fix an INVALID_PROPORTION or ZERO_USERS row showed mean_control = 0.5 (the stand-in prior)."""
    out = beta_binomial_arrays([100, 0], [12, 0], [100, 100], [130, 10])
    assert list(out["error_code"]) == ["INVALID_PROPORTION", "ZERO_USERS"]
    assert out["mean_control"][0] == pytest.approx(0.12) and out["mean_treatment"][0] == pytest.approx(1.3)
    assert math.isnan(out["mean_control"][1]) and out["mean_treatment"][1] == pytest.approx(0.1)
    assert np.isnan(out["lift_absolute"]).all() and np.isnan(out["chance_to_beat_control"]).all()
