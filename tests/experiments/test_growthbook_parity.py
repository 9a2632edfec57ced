"""GrowthBook parity: gbstats' published unit-test cases reproduced through documented settings.

Source: github.com/growthbook/growthbook, commit 8f1db4456915a8e7b7faf23d5632ca7219d2f469 (2026-08-21),
packages/stats/tests/frequentist/test_tests.py and packages/stats/tests/bayesian/test_tests.py.
The inputs (gbstats' ``SampleMeanStatistic(sum, sum_squares, n)``, ``ProportionStatistic(sum, n)``,
``RegressionAdjustedStatistic``) and the expected outputs (rounded to 5 decimals there, so compared
to 5e-6 here) are copied; gbstats itself is not a dependency (it pins old numpy and pandas).
docs/experiments-growthbook.md maps each GrowthBook number to the setting used below.
"""

import pytest

from experiments.analysis import AnalysisSettings, analyze
from experiments.sequential import growthbook_rho, msprt
from experiments.stats import VariantStats

TOL = 5e-6
A = VariantStats("control", 3407, 1396.87, 52377.9767)
B = VariantStats("B", 3461, 2422.7, 134698.29)


def _one(a, b, kind="mean", **settings):
    (r,) = analyze(a, b, kind=kind, settings=AnalysisSettings(**settings))
    assert r.ok, r.error_message
    return r


def test_two_sided_ttest_relative():
    """TestTwoSidedTTest.test_two_sided_ttest: expected 0.70732, ci (-0.03526, 1.44989),
    uplift stddev 0.37879, pValue 0.06191 (difference_type="relative")."""
    r = _one(A, B, effect_scale="relative")
    assert r.lift_relative == pytest.approx(0.70732, abs=TOL)
    assert (r.lift_relative_ci_low, r.lift_relative_ci_high) == pytest.approx((-0.03526, 1.44989), abs=TOL)
    assert r.extra["se_relative"] == pytest.approx(0.37879, abs=TOL)
    assert r.p_value == pytest.approx(0.06191, abs=TOL)


def test_two_sided_ttest_absolute():
    """TestTwoSidedTTest.test_two_sided_ttest_absolute: expected 0.29, ci (0.04538, 0.53462),
    stddev 0.12478, pValue 0.02016."""
    r = _one(A, B, effect_scale="absolute")
    assert r.lift_absolute == pytest.approx(0.29, abs=TOL)
    assert (r.lift_absolute_ci_low, r.lift_absolute_ci_high) == pytest.approx((0.04538, 0.53462), abs=TOL)
    assert r.extra["se"] == pytest.approx(0.12478, abs=TOL)
    assert r.p_value == pytest.approx(0.02016, abs=TOL)


def test_two_sided_ttest_binom_welch_t():
    """TestTwoSidedTTest.test_two_sided_ttest_binom: ProportionStatistic(14, 28) vs (16, 30), relative:
    expected 0.06667, ci (-0.47767, 0.61101), stddev 0.2717, pValue 0.80707 (t with Welch df)."""
    r = _one(VariantStats.from_counts("control", 28, 14), VariantStats.from_counts("B", 30, 16), kind="proportion",
             effect_scale="relative", proportion_reference="welch_t")
    assert r.lift_relative == pytest.approx(0.06667, abs=TOL)
    assert (r.lift_relative_ci_low, r.lift_relative_ci_high) == pytest.approx((-0.47767, 0.61101), abs=TOL)
    assert r.extra["se_relative"] == pytest.approx(0.2717, abs=TOL)
    assert r.p_value == pytest.approx(0.80707, abs=TOL)
    assert r.method == "t_welch_delta_relative"


def _sequential(r, n_total, tuning_n):
    return msprt([r.lift_relative], [r.extra["se_relative"]], tuning_n=tuning_n, n=[n_total], scale="relative")


def test_sequential_ttest_tuning_1000():
    """TestSequentialTTest.test_sequential_test_runs: stat_a n = 3000, N* = 1000: expected 0.50336,
    ci (-0.55844, 1.56516), stddev 0.33341, pValue 1."""
    a = VariantStats("control", 3000, 1396.87, 52377.9767)
    r = _one(a, B, effect_scale="relative")
    seq = _sequential(r, 3000 + 3461, 1000)
    assert seq.estimate == pytest.approx(0.50336, abs=TOL) and seq.se == pytest.approx(0.33341, abs=TOL)
    assert (seq.ci_low, seq.ci_high) == pytest.approx((-0.55844, 1.56516), abs=TOL)
    assert seq.p_value == pytest.approx(1.0)


def test_sequential_proportions_default_tuning():
    """TestSequentialTTest.test_sequential_test_runs_prop: ProportionStatistic(1396, 3000) vs (2422, 3461),
    default N* = 5000: expected 0.50386, ci (0.40098, 0.60675), stddev 0.03386, pValue 0.0 (rounded)."""
    r = _one(VariantStats.from_counts("control", 3000, 1396), VariantStats.from_counts("B", 3461, 2422),
             kind="proportion", effect_scale="relative")
    seq = _sequential(r, 3000 + 3461, 5000)
    assert seq.estimate == pytest.approx(0.50386, abs=TOL) and seq.se == pytest.approx(0.03386, abs=TOL)
    assert (seq.ci_low, seq.ci_high) == pytest.approx((0.40098, 0.60675), abs=TOL)
    assert seq.p_value < 5e-6


def test_sequential_cuped_pooled_sample_theta():
    """TestSequentialTTest.test_sequential_test_runs_ra: RegressionAdjustedStatistic with pre
    SampleMeanStatistic(16.87, 527.9767, 3000) / (22.7, 1348.29, 3461), post as above and
    post_pre_sum_of_products = 1 in each arm, theta estimated (None): expected 0.50338,
    ci (-0.50969, 1.51646), stddev 0.33341, pValue 1 (default N* = 5000)."""
    a = VariantStats("control", 3000, 1396.87, 52377.9767, cov_sum=16.87, cov_sum_sq=527.9767, cross_sum=1.0)
    b = VariantStats("B", 3461, 2422.7, 134698.29, cov_sum=22.7, cov_sum_sq=1348.29, cross_sum=1.0)
    r = _one(a, b, effect_scale="relative", cuped=True, cuped_theta="pooled_sample")
    seq = _sequential(r, 3000 + 3461, 5000)
    assert seq.estimate == pytest.approx(0.50338, abs=TOL) and seq.se == pytest.approx(0.33341, abs=TOL)
    assert (seq.ci_low, seq.ci_high) == pytest.approx((-0.50969, 1.51646), abs=TOL)
    assert seq.p_value == pytest.approx(1.0)


def test_growthbook_rho_formula():
    """gbstats sequential_rho (eq. 161 of Waudby-Smith et al.): alpha 0.05, N* = 5000, two-sided:
    sqrt((-2 ln 0.05 + ln(-2 ln 0.05 + 1)) / 5000) = sqrt((5.991465 + 1.944691) / 5000) = 0.0398401."""
    assert growthbook_rho(0.05, 5000) == pytest.approx(0.0398401, abs=1e-7)


# ------------------------------------------------------------------ Bayesian (EffectBayesianABTest)
def _bayes(a, b, kind="mean", **kw):
    return _one(a, b, kind=kind, engine="bayes", effect_scale="relative", proportion_posterior="normal", **kw)


def _check_bayes(r, expected, lo, hi, sd, ctw, risk):
    assert r.extra["posterior_mean"] == pytest.approx(expected, abs=TOL)
    assert (r.lift_relative_ci_low, r.lift_relative_ci_high) == pytest.approx((lo, hi), abs=TOL)
    assert r.extra["posterior_sd"] == pytest.approx(sd, abs=TOL)
    assert r.extra["chance_to_beat_control"] == pytest.approx(ctw, abs=TOL)
    # gbstats risk = [risk of keeping control, risk of shipping the treatment]
    assert (r.extra["expected_loss_control"], r.extra["expected_loss"]) == pytest.approx(risk, abs=TOL)


def test_bayesian_binomial_normal_model():
    """TestBinom.test_bayesian_binomial_ab_test: ProportionStatistic(49, 100) vs (51, 100): expected 0.04082,
    ci (-0.24779, 0.32943), stddev 0.14725, chanceToWin 0.60918, risk [0.0814, 0.04058]."""
    r = _bayes(VariantStats.from_counts("control", 100, 49), VariantStats.from_counts("B", 100, 51), kind="proportion")
    _check_bayes(r, 0.04082, -0.24779, 0.32943, 0.14725, 0.60918, (0.0814, 0.04058))
    assert r.method == "bayes_normal_relative"


NORM_A = VariantStats("control", 10, 100.0, 1002.25)
NORM_B = VariantStats("B", 10, 105.0, 1111.5)


def test_bayesian_gaussian_flat_prior():
    """TestNorm.test_bayesian_gaussian_ab_test: SampleMeanStatistic(100, 1002.25, 10) vs (105, 1111.5, 10):
    expected 0.05, ci (-0.02, 0.12), stddev 0.03572, chanceToWin 0.91923, risk [0.05131, 0.00131]."""
    _check_bayes(_bayes(NORM_A, NORM_B), 0.05, -0.02, 0.12, 0.03572, 0.91923, (0.05131, 0.00131))


def test_bayesian_gaussian_informative_prior():
    """TestNorm.test_bayesian_gaussian_ab_test_informative: GaussianPrior(mean=0.1, variance=0.1, proper=True):
    expected 0.05063, ci (-0.01893, 0.12019), stddev 0.03549, chanceToWin 0.92315, risk [0.05186, 0.00123]."""
    r = _bayes(NORM_A, NORM_B, prior_effect_mean=0.1, prior_effect_variance=0.1)
    _check_bayes(r, 0.05063, -0.01893, 0.12019, 0.03549, 0.92315, (0.05186, 0.00123))


def test_bayesian_relative_prior_on_absolute_effect_is_rescaled():
    """TestGaussianEffectRelativeAbsolutePriors: a relative prior N(1, 1) used on the absolute scale is
    rescaled by |control| (mean x 10, variance x 100); "rescaling keeps CTW pretty close" (2 places)."""
    c = VariantStats("control", 100, 1000.0, 200000.0)
    t = VariantStats("B", 100, 1100.0, 200005.0)
    rel = _one(c, t, engine="bayes", effect_scale="relative", prior_effect_mean=1.0, prior_effect_variance=1.0)
    ab = _one(c, t, engine="bayes", effect_scale="absolute", prior_effect_mean=1.0, prior_effect_variance=1.0)
    assert ab.extra["chance_to_beat_control"] == pytest.approx(rel.extra["chance_to_beat_control"], abs=0.005)
