"""Power, sample size and MDE against R power.prop.test / power.t.test."""

import datetime as dt
import math

import pytest

from experiments.power import (expected_duration_days, mde_means, mde_proportions, power_means, power_proportions,
                               sample_size_means, sample_size_proportions, sample_size_ratio)


def test_proportions_match_r():
    """R 4.x: power.prop.test(p1=0.10, p2=0.12, power=0.8)$n -> 3840.847482
    power.prop.test(n=3839, p1=0.10, p2=0.12)$power -> 0.7998112197
    power.prop.test(p1=0.05, p2=0.055, power=0.9, alternative="one.sided")$n -> 34077.95533
    power.prop.test(n=1000, p1=0.1, power=0.8)$p2 -> 0.1407473608"""
    assert sample_size_proportions(0.10, p1=0.12).n_per_variant == math.ceil(3840.847482)
    assert power_proportions(3839, 0.10, 0.12) == pytest.approx(0.7998112197, rel=1e-9)
    r = sample_size_proportions(0.05, p1=0.055, power=0.9, alternative="one-sided")
    assert r.n_per_variant == math.ceil(34077.95533)
    # R's uniroot stops at tol = .Machine$double.eps^0.25 ~ 1.2e-4, so compare to that precision
    # and check that ours solves the equation exactly.
    mde = mde_proportions(1000, 0.1).mde_absolute
    assert mde == pytest.approx(0.1407473608 - 0.1, abs=1.2e-4)
    assert power_proportions(1000, 0.1, 0.1 + mde) == pytest.approx(0.8, abs=1e-10)


def test_means_match_r():
    """R 4.x: power.t.test(delta=0.5, sd=1, power=0.8)$n -> 63.76576371
    power.t.test(n=64, delta=0.5, sd=1)$power -> 0.8014586234
    power.t.test(n=100, sd=1, power=0.8)$delta -> 0.398140045
    power.t.test(delta=2, sd=10, power=0.9, sig.level=0.01)$n -> 745.6299684"""
    assert sample_size_means(10.0, 1.0, delta=0.5).n_per_variant == 64
    assert power_means(64, 0.5, 1.0) == pytest.approx(0.8014586234, rel=1e-9)
    assert mde_means(100, 1.0).mde_absolute == pytest.approx(0.398140045, abs=1.2e-4)  # R uniroot tolerance
    assert power_means(100, mde_means(100, 1.0).mde_absolute, 1.0) == pytest.approx(0.8, abs=1e-10)
    assert sample_size_means(50.0, 10.0, delta=2.0, power=0.9, alpha=0.01).n_per_variant == 746


def test_ratio_uses_delta_sd_and_normal_formula():
    """Closed form n = 2 (z_.975 + z_.8)^2 sd_L^2 / delta^2 with sd_L from the delta method."""
    from scipy import stats

    mean_y, mean_d, var_y, var_d, cov = 12.0, 3.0, 40.0, 2.0, 5.0
    r = mean_y / mean_d
    sd_l = math.sqrt(var_y - 2 * r * cov + r * r * var_d) / mean_d
    delta = 0.05 * r
    n = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * sd_l**2 / delta**2
    res = sample_size_ratio(mean_y, mean_d, var_y, var_d, cov, mde_relative=0.05)
    assert res.kind == "ratio" and res.n_per_variant == math.ceil(n)


def test_duration_from_traffic():
    r = sample_size_proportions(0.05, mde_relative=0.1, daily_users=5000, traffic_share=0.5, n_variants=3,
                                start_date=dt.date(2026, 1, 1))
    days = math.ceil(r.n_per_variant * 3 / 2500)
    assert r.duration_days == days and r.end_date == (dt.date(2026, 1, 1) + dt.timedelta(days=days)).isoformat()
    assert expected_duration_days(100, 50) == 4
    with pytest.raises(ValueError, match="daily_users is 0"):
        expected_duration_days(100, 0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="p0 is 1.2"):
        power_proportions(100, 1.2, 0.5)
    with pytest.raises(ValueError, match="exactly one of"):
        sample_size_proportions(0.1)
    with pytest.raises(ValueError, match="power is 1.5"):
        sample_size_means(1.0, 1.0, delta=0.1, power=1.5)


def test_ratio_mde_inverts_ratio_sample_size():
    from experiments.power import ratio_sd

    sd = ratio_sd(12.0, 3.0, 40.0, 2.0, 5.0)
    n = sample_size_ratio(12.0, 3.0, 40.0, 2.0, 5.0, mde_relative=0.05).n_per_variant
    mde = mde_means(n, sd, baseline=4.0, reference="normal", kind="ratio")
    assert mde.kind == "ratio" and mde.mde_relative <= 0.05 and mde.mde_relative == pytest.approx(0.05, rel=1e-3)


def test_cohens_h_power_matches_r_pwr_beside_power_prop_test():
    """R 4.2.2, pwr 1.3-0: options(digits = 12); h <- ES.h(0.12, 0.10)  # 0.0639821029861
    pwr.2p.test(h = h, n = 2000)$power                          # 0.525281235218 (both tails)
    pwr.2p.test(h = h, power = 0.8)$n                           # 3834.59575246
    pwr.2p.test(h = h, n = 2000, alternative = "greater")$power # 0.647447423623
    power.prop.test(n = 2000, p1 = 0.10, p2 = 0.12)$power       # 0.524481278764 (the other convention)"""
    from experiments.power import cohens_h, power_cohens_h, sample_size_cohens_h

    h = cohens_h(0.12, 0.10)
    assert h == pytest.approx(0.0639821029861, rel=1e-11)
    assert power_cohens_h(2000, h) == pytest.approx(0.525281235218, rel=1e-10)
    assert sample_size_cohens_h(h) == pytest.approx(3834.59575246, rel=1e-8)  # R's uniroot tolerance
    assert power_cohens_h(2000, h, alternative="one-sided") == pytest.approx(0.647447423623, rel=1e-10)
    assert power_proportions(2000, 0.10, 0.12) == pytest.approx(0.524481278764, rel=1e-10)
    with pytest.raises(ValueError, match="p1 is 1.5"):
        cohens_h(1.5, 0.1)
