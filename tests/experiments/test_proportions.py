"""Two-proportion tests against R prop.test and Newcombe (1998)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from experiments.proportions import newcombe_interval, proportions_arrays, wilson_interval


def _one(x1, n1, x0, n0, **kw):
    out = proportions_arrays([n0], [x0], [n1], [x1], **kw)
    return {k: (v[0] if hasattr(v, "__len__") else v) for k, v in out.items()}


@pytest.mark.parametrize("x1, n1, x0, n0, correct, r_x2, r_p, r_lo, r_hi", [
    (56, 70, 48, 80, True, 6.11427041030, 0.01340947518, 0.04411204201, 0.35588795799),
    (56, 70, 48, 80, False, 7.023411371237, 0.008045081368, 0.057504899149, 0.342495100851),
    (530, 5000, 480, 5100, True, 3.829858388, 5.034718636e-02, -2.150485362e-05, 2.378621074e-02),
    (530, 5000, 480, 5100, False, 3.9607843137255, 0.0465719992322, 0.0001765343621, 0.0235881715203),
])
def test_matches_r_prop_test(x1, n1, x0, n0, correct, r_x2, r_p, r_lo, r_hi):
    """R 4.x: r <- prop.test(c(x1, x0), c(n1, n0), correct=correct); c(r$statistic, r$p.value, r$conf.int)

    prop.test(c(56,48), c(70,80))                  -> 6.11427041030 0.01340947518 0.04411204201 0.35588795799
    prop.test(c(56,48), c(70,80), correct=FALSE)   -> 7.023411371237 0.008045081368 0.057504899149 0.342495100851
    prop.test(c(530,480), c(5000,5100))            -> 3.829858388 0.05034718636 -2.150485362e-05 0.02378621074
    prop.test(c(530,480), c(5000,5100), correct=FALSE) -> 3.9607843137255 0.0465719992322 0.0001765343621 0.0235881715203
    Convention: pooled=True, continuity=correct, ci="wald" reproduces prop.test.
    """
    r = _one(x1, n1, x0, n0, pooled=True, continuity=correct, ci="wald")
    assert r["statistic"] ** 2 == pytest.approx(r_x2, rel=1e-9)
    assert r["p_value"] == pytest.approx(r_p, rel=1e-8)
    assert r["lift_absolute_ci_low"] == pytest.approx(r_lo, rel=1e-7, abs=1e-12)
    assert r["lift_absolute_ci_high"] == pytest.approx(r_hi, rel=1e-8)


def test_one_sided_matches_r():
    """R: r <- prop.test(c(15,10), c(100,100), alternative="greater"); c(r$statistic, r$p.value, r$conf.int)
    -> 0.73142857143 0.19621026224 -0.03671086633 1.00000000000"""
    r = _one(15, 100, 10, 100, continuity=True, alternative="greater")
    assert r["statistic"] ** 2 == pytest.approx(0.73142857143, rel=1e-9)
    assert r["p_value"] == pytest.approx(0.19621026224, rel=1e-8)
    assert r["lift_absolute_ci_low"] == pytest.approx(-0.03671086633, rel=1e-8)
    assert r["lift_absolute_ci_high"] == 1.0


def test_wilson_matches_r_single_prop_test():
    """R: prop.test(9, 20, correct=FALSE)$conf.int -> 0.2581978583 0.6579146575 (Wilson score)."""
    lo, hi = wilson_interval([9], [20])
    assert lo[0] == pytest.approx(0.2581978583, rel=1e-9)
    assert hi[0] == pytest.approx(0.6579146575, rel=1e-9)


@pytest.mark.parametrize("x1, n1, x0, n0, lo, hi", [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
])
def test_newcombe_1998_table_ii_method_10(x1, n1, x0, n0, lo, hi):
    """Newcombe RG (1998) Stat Med 17:873-890, Table II, method 10 (score, no CC), 95 % limits
    for the examples 56/70-48/80, 9/10-3/10, 6/7-2/7, 5/56-0/29, as published to 4 decimals."""
    got_lo, got_hi = newcombe_interval([x0], [n0], [x1], [n1])
    assert got_lo[0] == pytest.approx(lo, abs=5e-5)
    assert got_hi[0] == pytest.approx(hi, abs=5e-5)
    r = _one(x1, n1, x0, n0, ci="newcombe")
    assert (r["lift_absolute_ci_low"], r["lift_absolute_ci_high"]) == pytest.approx((got_lo[0], got_hi[0]))


def test_newcombe_is_safe_on_small_and_extreme_samples():
    """statsmodels' score interval misbehaves on small samples (open bug); ours stays in [-1, 1]
    and contains the estimate even at 0/n and n/n."""
    lo, hi = newcombe_interval([0, 0, 10, 1], [10, 1, 10, 1], [0, 1, 0, 0], [10, 1, 10, 2])
    d = np.array([0.0, 1.0, -1.0, -1.0])
    assert np.all(lo <= d + 1e-12) and np.all(d <= hi + 1e-12)
    assert np.all(lo >= -1) and np.all(hi <= 1)


def test_pooled_matches_statsmodels_ztest():
    from statsmodels.stats.proportion import proportions_ztest

    stat, p = proportions_ztest([56, 48], [70, 80])
    r = _one(56, 70, 48, 80)
    assert r["statistic"] == pytest.approx(stat) and r["p_value"] == pytest.approx(p)


def test_error_codes():
    out = proportions_arrays([0, 10, 10, 10], [0, 11, 0, 10], [10, 10, 10, 10], [1, 1, 0, 10])
    assert list(out["error_code"]) == ["ZERO_USERS", "INVALID_PROPORTION", "ZERO_VARIANCE", "ZERO_VARIANCE"]
    assert np.isnan(out["p_value"]).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 500), st.integers(1, 500), st.data())
def test_intervals_ordered_and_contain_estimate(n0, n1, data):
    x0 = data.draw(st.integers(0, n0))
    x1 = data.draw(st.integers(0, n1))
    for ci in ("wald", "newcombe"):
        out = proportions_arrays([n0], [x0], [n1], [x1], ci=ci, continuity=data.draw(st.booleans()))
        lo, hi, d = out["lift_absolute_ci_low"][0], out["lift_absolute_ci_high"][0], out["lift_absolute"][0]
        if out["error_code"][0] is None:
            assert -1 <= lo <= d + 1e-12 <= hi + 2e-12 <= 1 + 2e-12
            assert 0 <= out["p_value"][0] <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.data())
def test_newcombe_matches_statsmodels_newcomb_oracle(n0, n1, data):
    """Second oracle: statsmodels confint_proportions_2indep(method="newcomb") (Newcombe method 10)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    x0, x1 = data.draw(st.integers(0, n0)), data.draw(st.integers(0, n1))
    lo, hi = newcombe_interval([x0], [n0], [x1], [n1])
    ref = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
    assert (lo[0], hi[0]) == pytest.approx(ref, abs=1e-12)


def test_k_group_test_matches_r_prop_test():
    """R 4.2.2: options(digits = 12)
    prop.test(x = c(83, 90, 129, 70), n = c(86, 93, 136, 82))  # R's 'smokers' example
      X-squared = 12.6004112971, df = 3, p-value = 0.00558547666163
    prop.test(x = c(120, 135, 98), n = c(1000, 1000, 1000))
      X-squared = 6.67172521996, df = 2, p-value = 0.0355838779605
    prop.test(c(56, 48), c(70, 80))  # k = 2: Yates' correction as R
      p-value = 0.01340947518"""
    from experiments.proportions import k_group_test

    r = k_group_test([83, 90, 129, 70], [86, 93, 136, 82])
    assert (r.statistic, r.df, r.p_value) == (pytest.approx(12.6004112971, rel=1e-10), 3,
                                              pytest.approx(0.00558547666163, rel=1e-9))
    r2 = k_group_test([120, 135, 98], [1000, 1000, 1000])
    assert r2.statistic == pytest.approx(6.67172521996, rel=1e-10) and r2.p_value == pytest.approx(0.0355838779605, rel=1e-9)
    assert k_group_test([56, 48], [70, 80]).p_value == pytest.approx(0.01340947518, rel=1e-8)
    assert r.to_dict()["df"] == 3 and len(r.summary()) == 4


def test_k_group_test_refuses_bad_counts():
    from experiments.proportions import k_group_test
    from optimizer.errors import DataError

    with pytest.raises(DataError, match="every x in"):
        k_group_test([5, 12], [10, 10])
    with pytest.raises(DataError, match="at least 2 groups"):
        k_group_test([5], [10])
    with pytest.raises(DataError, match="needs some variation"):
        k_group_test([0, 0, 0], [10, 10, 10])
