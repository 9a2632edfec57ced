"""Group-sequential boundaries, mSPRT and conditional power."""

import math

import numpy as np
import pytest
from scipy import stats

from experiments.sequential import (boundaries, conditional_power, group_sequential, information_for_conditional_power,
                                    msprt, spending)

T5 = [0.2, 0.4, 0.6, 0.8, 1.0]


def test_obrien_fleming_matches_published_lan_demets_bounds():
    """Lan-DeMets O'Brien-Fleming-type spending, 5 equally spaced looks, two-sided alpha 0.05
    (0.025 per side). R ldbounds: bounds(t=c(.2,.4,.6,.8,1), iuse=c(1,1), alpha=c(.025,.025))
    -> 4.8769 3.3569 2.6803 2.2898 2.0310 (the same table as gsDesign sfLDOF, test.type=2)."""
    assert boundaries(T5) == pytest.approx([4.8769, 3.3569, 2.6803, 2.2898, 2.0310], abs=2e-4)


def test_pocock_matches_published_lan_demets_bounds():
    """Lan-DeMets Pocock-type spending, 5 looks, two-sided 0.05: 2.4380 2.4268 2.4102 2.3966 2.3860
    (ldbounds, iuse=c(2,2))."""
    assert boundaries(T5, kind="pocock") == pytest.approx([2.4380, 2.4268, 2.4102, 2.3966, 2.3860], abs=2e-4)


def test_crossing_probability_matches_r_mvtnorm():
    """Independent check by multivariate normal integration. R 4.x, mvtnorm:
    t <- c(.2,.4,.6,.8,1); S <- outer(t, t, function(a,b) sqrt(pmin(a,b)/pmax(a,b)))
    cross <- function(c) 1 - pmvnorm(lower=-c, upper=c, corr=S, algorithm=GenzBretz(abseps=1e-7, maxpts=1e6))
    cross(c(4.87688495, 3.3570119, 2.68027963, 2.28981609, 2.03103119))  -> 0.050000
    cross(c(2.43797669, 2.42681363, 2.41019335, 2.3966446, 2.38598341))  -> 0.049998
    first three OBF looks only (corr S[1:3,1:3])                          -> 0.0076161
    and our spending(0.6) = 0.00761613."""
    assert boundaries(T5) == pytest.approx([4.87688495, 3.3570119, 2.68027963, 2.28981609, 2.03103119], abs=1e-6)
    assert spending(0.6) == pytest.approx(0.0076161, abs=1e-7)
    assert spending(1.0) == pytest.approx(0.05) and spending(1.0, kind="pocock") == pytest.approx(0.05)


def test_single_look_is_fixed_horizon_and_irregular_looks_work():
    assert boundaries([1.0])[0] == pytest.approx(stats.norm.isf(0.025))
    c = boundaries([0.13, 0.5, 0.71, 1.0])
    assert np.all(np.diff(c) < 0) and c[-1] > 1.96


def test_group_sequential_result_and_explanation():
    r = group_sequential([0.5, 0.6], [0.2, 0.15], [0.25, 0.5])
    assert r.rejected and r.rejected_at_look == 2
    assert r.ci_high - r.ci_low > r.fixed_ci_high - r.fixed_ci_low
    assert "instead of 1.960" in r.explanation and "wide" in r.explanation
    assert r.to_dict()["boundaries"] == pytest.approx(list(r.boundaries))
    with pytest.raises(ValueError, match="increasing and in"):
        group_sequential([0.1, 0.2], [0.1, 0.1], [0.5, 0.4])


def test_msprt_formulas():
    """Johari et al. normal mixture: Lambda = sqrt(V/(V+tau^2)) exp(tau^2 d^2 / (2 V (V+tau^2)))."""
    d, se, tau = 0.5, 0.2, 0.3
    v = se**2
    lam = math.sqrt(v / (v + tau**2)) * math.exp(tau**2 * d**2 / (2 * v * (v + tau**2)))
    r = msprt([d], [se], tau=tau)
    assert r.p_value == pytest.approx(min(1, 1 / lam))
    half = math.sqrt(v * (v + tau**2) / tau**2 * (math.log((v + tau**2) / v) - 2 * math.log(0.05)))
    assert (r.ci_low, r.ci_high) == pytest.approx((d - half, d + half))
    # p-values never increase over looks; intervals are intersected
    r2 = msprt([0.5, 0.1], [0.2, 0.1], tau=tau)
    assert r2.p_value <= r.p_value + 1e-15 and r2.ci_low >= r.ci_low


def test_conditional_power_closed_form():
    """At t = 1/2 with z = 1.5, trend theta = 1.5/sqrt(.5): CP = 1 - Phi((1.96 - 1.5 sqrt(.5) - theta/2) / sqrt(.5))."""
    z, t = 1.5, 0.5
    theta = z / math.sqrt(t)
    ref = stats.norm.sf((1.96 - z * math.sqrt(t) - theta * 0.5) / math.sqrt(0.5))
    assert conditional_power(z, t, critical_value=1.96) == pytest.approx(ref)
    total = information_for_conditional_power(z, t, critical_value=1.96, target=0.8)
    assert conditional_power(z, t, critical_value=1.96, total_information=total) == pytest.approx(0.8, abs=1e-6)
    assert information_for_conditional_power(0.01, 0.5, critical_value=1.96, max_information=2.0) is None


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None, derandomize=True)  # Monte-Carlo check: fixed examples, never flaky
@given(st.lists(st.floats(0.05, 0.95), min_size=1, max_size=6, unique=True), st.sampled_from(["obrien_fleming", "pocock"]))
def test_boundaries_spend_exactly_alpha_property(fractions, kind):
    """For any look schedule ending at 1, the boundaries are >= the fixed-horizon value at the last
    look and the total crossing probability (checked by simulating the Brownian score, seed 0,
    200k paths, MC s.e. 0.05 pp) is alpha within 0.25 pp."""
    t = np.array(sorted(fractions) + [1.0])
    c = boundaries(t, 0.05, kind)
    assert np.all(c[:-1] > 0) and c[-1] >= 1.959963984540054 - 1e-9
    rng = np.random.default_rng(0)
    s = np.cumsum(rng.normal(size=(200_000, t.size)) * np.sqrt(np.diff(np.concatenate([[0], t]))), axis=1)
    rate = float((np.abs(s / np.sqrt(t)) >= c).any(axis=1).mean())
    assert abs(rate - 0.05) < 0.0025, rate


@pytest.mark.parametrize("kind, table", [
    ("pocock_1977", {1: 1.960, 2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413}),
    ("obrien_fleming_1979", {1: 1.960, 2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}),
])
def test_classical_constants_match_jennison_turnbull(kind, table):
    """Jennison & Turnbull (2000), Group Sequential Methods, table 2.1 (Pocock C_P(K, 0.05)) and
    table 2.3 (O'Brien-Fleming C_B(K, 0.05)), two-sided alpha = 0.05, K equally spaced looks."""
    from experiments.sequential import classical_boundaries, crossing_probability

    for k, expected in table.items():
        const, bounds = classical_boundaries(k, 0.05, kind)
        assert const == pytest.approx(expected, abs=6e-4)
        assert crossing_probability(bounds, np.arange(1, k + 1) / k) == pytest.approx(0.05, abs=1e-5)
    # The Lan-DeMets spending versions of the same families are different numbers, named apart.
    spent = boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.05, "pocock" if kind.startswith("pocock") else "obrien_fleming")
    assert not np.allclose(spent, classical_boundaries(5, 0.05, kind)[1], atol=1e-3)
