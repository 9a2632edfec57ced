"""Bayesian beta-binomial and normal comparisons against closed forms."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import betaln

from experiments.analysis import AnalysisSettings, analyze
from experiments.bayes import beta_binomial_arrays, normal_chance_and_loss
from experiments.stats import VariantStats


def evan_miller_p_b_beats_a(a_a, b_a, a_b, b_b):
    """Closed form of P(p_B > p_A) for Beta posteriors with integer a_B (Evan Miller, "Formulas for
    Bayesian A/B testing", 2015): sum_{i=0}^{a_B-1} B(a_A+i, b_A+b_B) / ((b_B+i) B(1+i, b_B) B(a_A, b_A))."""
    i = np.arange(int(a_b))
    return float(np.sum(np.exp(betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a))))


@pytest.mark.parametrize("n0, x0, n1, x1", [(100, 10, 100, 15), (100, 10, 5000, 600), (1000, 100, 100, 13),
                                             (30, 2, 60, 1), (20000, 1000, 20000, 1050)])
def test_chance_to_beat_matches_closed_form(n0, x0, n1, x1):
    out = beta_binomial_arrays([n0], [x0], [n1], [x1])
    ref = evan_miller_p_b_beats_a(1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1)
    assert out["chance_to_beat_control"][0] == pytest.approx(ref, abs=1e-7)


def test_expected_loss_matches_closed_form_integral():
    """E[max(p0 - p1, 0)] by direct 2-d numerical integration (scipy.integrate.dblquad)."""
    from scipy import integrate

    a0, b0, a1, b1 = 11, 91, 16, 86  # 10/100 vs 15/100 with a uniform prior
    ref, _ = integrate.dblquad(lambda p1, p0: max(p0 - p1, 0) * stats.beta.pdf(p0, a0, b0) * stats.beta.pdf(p1, a1, b1),
                               0, 1, 0, lambda p0: p0, epsabs=1e-12)
    out = beta_binomial_arrays([100], [10], [100], [15])
    assert out["expected_loss"][0] == pytest.approx(ref, rel=1e-6)
    # loss of keeping control minus loss of shipping = difference of posterior means
    assert out["expected_loss_control"][0] - out["expected_loss"][0] == pytest.approx(16 / 102 - 11 / 102, rel=1e-8)


def test_normal_model_closed_form():
    """D ~ N(1, 2^2): P(D > 0) = Phi(0.5); E[max(-D, 0)] = 2 phi(0.5) - 1 Phi(-0.5)."""
    chance, loss = normal_chance_and_loss([1.0], [2.0])
    assert chance[0] == pytest.approx(stats.norm.cdf(0.5))
    assert loss[0] == pytest.approx(2 * stats.norm.pdf(0.5) - stats.norm.cdf(-0.5))
    # and by simulation (seed 0, 2e6 draws)
    d = np.random.default_rng(0).normal(1, 2, 2_000_000)
    assert loss[0] == pytest.approx(np.maximum(-d, 0).mean(), rel=5e-3)


def test_bayes_through_analyze_and_error_codes():
    c = VariantStats.from_counts("c", 1000, 100)
    res = analyze(c, [VariantStats.from_counts("t", 1000, 130), VariantStats("z", 0, 0, 0)], kind="proportion",
                  settings=AnalysisSettings(effect_scale="absolute", engine="bayes"))
    assert res[0].method == "bayes_beta" and 0.97 < res[0].extra["chance_to_beat_control"] < 1
    assert res[1].error_code == "ZERO_USERS" and np.isnan(res[1].extra["chance_to_beat_control"])
    rev = analyze(VariantStats.from_values("c", [1.0, 2.0, 3.0, 4.0]), VariantStats.from_values("t", [2.0, 3.0, 4.0, 5.0]),
                  settings=AnalysisSettings(effect_scale="absolute", engine="bayes"))[0]
    assert rev.method == "bayes_normal"
    se = np.sqrt(np.var([1, 2, 3, 4], ddof=1) / 4 * 2)
    assert rev.extra["chance_to_beat_control"] == pytest.approx(stats.norm.cdf(1.0 / se))


def test_prior_validation():
    with pytest.raises(ValueError, match="must be > 0"):
        beta_binomial_arrays([10], [1], [10], [2], prior_alpha=0)
