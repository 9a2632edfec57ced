"""Retention-campaign economics (Neslin et al. 2006): hand-derived answers, the aggregate identity, simulation.

No published worked example with numbers could be checked offline in this session; the known answers
below are derived by hand from Neslin, Gupta, Kamakura, Lu & Mason (2006), JMR 43(2), eq. 1, and
checked twice more: against the paper's aggregate formula and by a seeded simulation of the campaign.
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
