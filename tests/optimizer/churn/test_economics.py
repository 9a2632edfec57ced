"""Retention-campaign economics (Neslin et al. 2006): hand-derived answers, the aggregate identity, simulation,
and an independent implementation: the R package EMP (Verbraken, Verbeke & Baesens 2013), whose MP/EMP
criteria are Neslin's campaign profit maximised over the cut-offs of a score ranking.

No worked example with numbers from the papers themselves (Neslin 2006; Verbraken 2013) could be read
offline in this session (the stored search corpus had abstracts only); the hand-derived answers follow
Neslin, Gupta, Kamakura, Lu & Mason (2006), JMR 43(2), eq. 1, and the EMP numbers were computed by R.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.churn.economics import CampaignEconomics, plan_campaign

ECON = CampaignEconomics(contact_cost=5.0, incentive_cost=50.0, acceptance_if_staying=0.6, uplift=0.3, fixed_cost=0.0)


def test_hand_derived_profit_and_break_even():
    """LTV 500, c 5, delta 50, gamma 0.3, psi 0.6.
    p = 0.4: pi = 0.4 * 0.3 * (500 - 50) - 0.6 * 0.6 * 50 - 5 = 54 - 18 - 5 = 31.
    p = 0.1: pi = 0.1 * 0.3 * 450 - 0.9 * 0.6 * 50 - 5 = 13.5 - 27 - 5 = -18.5 (not contacted).
    Break-even: p* = (c + psi delta) / (gamma (LTV - delta) + psi delta) = 35 / 165 = 0.21212..."""
    pi = ECON.expected_profit([0.4, 0.1, 35 / 165], 500.0)
    np.testing.assert_allclose(pi, [31.0, -18.5, 0.0], atol=1e-12)
    plan = plan_campaign(ECON, [0.4, 0.1, 0.25], 500.0)
    assert plan.contact.tolist() == [True, False, True] and plan.status == "run"
    assert plan.totals["contact_cost"] == 10.0
    # incentives: 50 * [(0.4*0.3 + 0.6*0.6) + (0.25*0.3 + 0.75*0.6)] = 50 * (0.48 + 0.525) = 50.25
    assert plan.totals["incentive_cost"] == pytest.approx(50.25)


def test_customer_sum_equals_neslin_aggregate_formula():
    """Sum of pi_i over the contacted minus A == N alpha [beta gamma (LTV-c-delta) + beta(1-gamma)(-c)
    + (1-beta)(-c-psi delta)] - A with alpha = share contacted, beta = their mean churn probability."""
    rng = np.random.default_rng(0)
    p = rng.beta(2, 5, 5000)
    econ = CampaignEconomics(contact_cost=2.0, incentive_cost=20.0, acceptance_if_staying=0.5, uplift=0.25, fixed_cost=300.0)
    plan = plan_campaign(econ, p, 400.0)
    alpha, beta = plan.contact.mean(), p[plan.contact].mean()
    assert plan.totals["profit"] == pytest.approx(econ.campaign_profit(p.size, alpha, beta, 400.0), rel=1e-10)


def test_simulated_campaign_matches_expected_profit():
    """200,000 seeded contacts of p = 0.4 customers: realised mean profit within 4 standard errors of 31."""
    rng = np.random.default_rng(1)
    n = 200_000
    churner = rng.random(n) < 0.4
    rescued = churner & (rng.random(n) < ECON.uplift)
    accepts_anyway = ~churner & (rng.random(n) < ECON.acceptance_if_staying)
    profit = rescued * (500.0 - 50.0) - accepts_anyway * 50.0 - 5.0
    assert abs(profit.mean() - 31.0) < 4 * profit.std() / np.sqrt(n)


def test_fixed_cost_not_covered_means_no_campaign():
    econ = CampaignEconomics(contact_cost=5.0, incentive_cost=50.0, acceptance_if_staying=0.6, uplift=0.3, fixed_cost=100.0)
    plan = plan_campaign(econ, [0.4, 0.4], 500.0)  # 2 x 31 = 62 < 100
    assert plan.status == "not_worth_fixed_cost" and not plan.contact.any() and plan.totals["profit"] == 0.0
    assert plan_campaign(econ, [0.01], 500.0).status == "no_profitable_customer"


def test_bad_settings_are_value_errors():
    with pytest.raises(ValueError, match="uplift is 1.5"):
        CampaignEconomics(contact_cost=1.0, uplift=1.5)
    with pytest.raises(ValueError, match="contact_cost is -1"):
        CampaignEconomics(contact_cost=-1.0)


@settings(max_examples=80, deadline=None)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=50), ltv=st.floats(0, 5000), c=st.floats(0, 50),
       d=st.floats(0, 200), psi=st.floats(0, 1), g=st.floats(0, 1))
def test_contact_set_is_exactly_the_profitable_customers(p, ltv, c, d, psi, g):
    econ = CampaignEconomics(contact_cost=c, incentive_cost=d, acceptance_if_staying=psi, uplift=g)
    plan = plan_campaign(econ, p, ltv)
    assert np.array_equal(plan.contact, plan.expected_profit > 0)
    assert plan.totals["profit"] >= 0.0
    if g * (ltv - d) + psi * d > 0:  # then pi rises with the churn probability
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(plan.expected_profit[order]) >= -1e-9)


# --- Maximum profit of a score ranking: EMP (Verbraken, Verbeke & Baesens 2013) as an independent reference ---

from optimizer.churn.economics import maximum_profit, roc_convex_hull  # noqa: E402

EMP_SCORES = [0.271, 0.262, 0.196, 0.94, 0.838, 0.548, 0.548, 0.955, 0.911, 0.422, 0.205, 0.467, 0.396, 0.56,
              0.656, 0.913, 0.579, 0.891, 0.221, 0.819, 0.075, 0.361, 0.378, 0.305, 0.233, 0.278, 0.89, 0.847,
              0.458, 0.237, 0.142, 0.869, 0.486, 0.546, 0.326, 0.911, 0.911, 0.365, 0.526, 0.553]
EMP_CLASSES = [0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0,
               0, 0, 0, 1, 0, 0, 0]


def _verbraken(clv, d, f, alpha, beta):
    """EMP's parameters on dmpopt's economics: uplift gamma = acceptance of a churner, E = alpha/(alpha+beta);
    every contacted non-churner accepts (psi = 1); d = incentive; f = contact cost; no fixed cost."""
    return CampaignEconomics(contact_cost=f, incentive_cost=d, acceptance_if_staying=1.0,
                             uplift=alpha / (alpha + beta), fixed_cost=0.0)


def test_maximum_profit_matches_r_package_emp():
    """R 4.2.2, ROCR 1.0-11 (Debian r-cran-rocr), EMP 2.0.6's R/empChurn.R and R/empRocInfo.R sourced
    from github:cran/EMP (CRAN is not reachable here), 40 customers (scores/classes as above; 16 churners,
    class 1; scores 0.548 and 0.911 tied):

        > empChurn(scores, classes)            # alpha = 6, beta = 14, clv = 200, d = 10, f = 1
                       MP             MPfrac                EMP            EMPfrac
        16.849999999999998  0.600000000000000 17.142054831934502  0.720594696246908
        > empChurn(scores, classes, alpha = 2, beta = 8, clv = 100, d = 30, f = 5)
                       MP             MPfrac                EMP            EMPfrac
         0.000000000000000  0.000000000000000  0.694354218578552  0.121928575057590
        > roc <- .empRocInfo(scores, classes); roc$F0; roc$F1; c(roc$n0, roc$n1)
        [1] 0.0000 0.6250 0.6875 0.8750 1.0000 1.0000
        [1] 0.000000000000000 0.125000000000000 0.166666666666667 0.416666666666667 0.875000000000000 1.000000000000000
        [1] 16 24

    EMP's MP is Neslin's campaign profit per customer of the base at the best cut-off, so this checks
    ``CampaignEconomics.campaign_profit`` too (the R code writes the profit in its own normalised
    form, clv [(gamma (1 - d/clv) - f/clv) pi0 F0 - (d/clv + f/clv) pi1 F1]). The second call is a case
    where no cut-off pays at E[gamma] = 0.2 (MP 0) but the high-acceptance tail of the Beta does (EMP > 0).
    """
    f0, f1 = roc_convex_hull(EMP_SCORES, EMP_CLASSES)
    np.testing.assert_allclose(f0, [0.0, 0.625, 0.6875, 0.875, 1.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(f1, [0.0, 0.125, 1 / 6, 0.416666666666667, 0.875, 1.0], atol=1e-15)
    r1 = maximum_profit(EMP_SCORES, EMP_CLASSES, _verbraken(200, 10, 1, 6, 14), 200.0, 6, 14)
    assert r1.max_profit == pytest.approx(16.849999999999998, rel=1e-12)
    assert r1.max_profit_fraction == pytest.approx(0.6, rel=1e-12)
    assert r1.expected_max_profit == pytest.approx(17.142054831934502, rel=1e-12)
    assert r1.expected_fraction == pytest.approx(0.720594696246908, rel=1e-12)
    assert r1.n_customers == 40 and r1.churn_rate == 0.4
    r2 = maximum_profit(EMP_SCORES, EMP_CLASSES, _verbraken(100, 30, 5, 2, 8), 100.0, 2, 8)
    assert r2.max_profit == 0.0 and r2.max_profit_fraction == 0.0
    assert r2.expected_max_profit == pytest.approx(0.694354218578552, rel=1e-12)
    assert r2.expected_fraction == pytest.approx(0.121928575057590, rel=1e-12)


def test_expected_maximum_profit_of_a_perfect_ranking_by_quadrature():
    """Closed form: a ranking that puts every churner first has hull (0,0), (F1 0, F0 1), (1,1). Contacting
    exactly the churners earns pi0 [gamma (clv - d) - f] per customer, worth it for gamma > f / (clv - d);
    contacting everyone never is (it adds -(d + f) per non-churner). So
    EMP = pi0 * integral_{f/(clv-d)}^1 [g (clv - d) - f] Beta(g; a, b) dg, computed by scipy quad here."""
    from scipy.integrate import quad
    from scipy.stats import beta as beta_dist

    y = np.r_[np.ones(30), np.zeros(70)]
    s = np.r_[np.linspace(0.9, 0.6, 30), np.linspace(0.5, 0.0, 70)]
    for clv, d, f, a, b in [(200, 10, 1, 6, 14), (100, 30, 5, 2, 8), (50, 5, 10, 1, 1)]:
        g_star = f / (clv - d)
        want = 0.3 * quad(lambda g: (g * (clv - d) - f) * beta_dist.pdf(g, a, b), g_star, 1, epsabs=1e-13)[0]
        got = maximum_profit(s, y, _verbraken(clv, d, f, a, b), float(clv), a, b)
        assert got.expected_max_profit == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert got.expected_fraction == pytest.approx(0.3 * beta_dist.sf(g_star, a, b), rel=1e-9)
        mean = a / (a + b)
        assert got.max_profit == pytest.approx(max(0.3 * (mean * (clv - d) - f), 0.0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), clv=st.floats(20, 500), d=st.floats(0, 15), f=st.floats(0, 5),
       a=st.floats(0.5, 10), b=st.floats(0.5, 20))
def test_expected_maximum_profit_invariants(seed, clv, d, f, a, b):
    """EMP >= MP at E[gamma] (a maximum of lines is convex: Jensen) and both >= 0 (contacting nobody is a
    cut-off); EMP of any ranking <= EMP of the perfect ranking of the same customers; fractions in [0, 1]."""
    rng = np.random.default_rng(seed)
    s = rng.random(60)
    y = (rng.random(60) < s).astype(int)
    y[:2] = [0, 1]
    econ = _verbraken(clv, d, f, a, b)
    r = maximum_profit(s, y, econ, clv, a, b)
    assert r.expected_max_profit >= r.max_profit - 1e-9 and r.max_profit >= 0
    perfect = maximum_profit(y + 0.0, y, econ, clv, a, b)
    assert r.expected_max_profit <= perfect.expected_max_profit + 1e-9
    assert 0 <= r.expected_fraction <= 1 and 0 <= r.max_profit_fraction <= 1


def test_maximum_profit_bad_input():
    econ = _verbraken(200, 10, 1, 6, 14)
    with pytest.raises(ValueError, match="both are needed"):
        maximum_profit([0.1, 0.2], [1, 1], econ, 200.0)
    with pytest.raises(ValueError, match="same length"):
        maximum_profit([0.1, 0.2], [1], econ, 200.0)
    with pytest.raises(ValueError, match="give both acceptance_alpha and acceptance_beta"):
        maximum_profit([0.1, 0.2], [0, 1], econ, 200.0, acceptance_alpha=2.0)
    with pytest.raises(ValueError, match="clv is -1"):
        maximum_profit([0.1, 0.2], [0, 1], econ, -1.0)
