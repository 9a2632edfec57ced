"""Contact timing, economics and the weekly schedule."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.churn.aft import AFTFit
from optimizer.churn.fitters import AFTModel, fit_kind
from optimizer.churn.timing import TimingSettings, crossing_days, customer_list, plan_contacts, weekly_schedule

LAM, RHO = 300.0, 1.7


def weibull_model(lam=LAM, rho=RHO) -> AFTModel:
    fit = AFTFit("weibull", float(np.log(lam)), np.zeros(0), float(-np.log(rho)), np.zeros(2), np.eye(2), 0.0, 0)
    return AFTModel(fit, (), "weibull")


def window_risk(t, w, lam=LAM, rho=RHO):
    return 1 - np.exp(-((t + w) ** rho - t**rho) / lam**rho)


def test_crossing_day_matches_closed_form_scan():
    """q(t) = 1 - exp(-((t+w)^rho - t^rho)/lambda^rho) rises with t (rho > 1): first integer day >= threshold."""
    tenure = np.array([10.0, 100.0, 250.0, 600.0])
    s = TimingSettings(window_days=30, threshold=0.2, lead_days=15, horizon_days=120)
    days, status = crossing_days(weibull_model(), np.zeros((4, 0)), tenure, s)
    for a, d, stt in zip(tenure, days, status):
        q = window_risk(a + np.arange(121.0), 30)
        hits = np.flatnonzero(q >= 0.2)
        if hits.size:
            assert stt == "crosses" and d == hits[0]
        else:
            assert stt == "never_crosses" and d == -1
    assert set(status) == {"crosses", "never_crosses"}  # both cases exercised


def test_contact_day_is_crossing_minus_lead_not_before_today():
    tenure = np.array([330.0, 600.0])  # q(330) = 0.171 < 0.2 <= q(330 + 120); q(600) = 0.245
    s = TimingSettings(30, 0.2, 15, 120)
    plan = plan_contacts(weibull_model(), np.zeros((2, 0)), tenure, s, uplift=0.5, clv=1000, contact_cost=1)
    cross = plan["crossing_in_days"].to_numpy()
    assert cross[0] > 15 and cross[1] == 0  # one contact ahead of time, one due today
    np.testing.assert_array_equal(plan["contact_in_days"], np.maximum(cross - 15, 0))
    # p_save with the closed form: (S(a+c) - S(a+c+lead+w)) / S(a)
    S = lambda t: np.exp(-((t / LAM) ** RHO))  # noqa: E731
    c = plan["contact_in_days"].to_numpy()
    want = (S(tenure + c) - S(tenure + c + 45)) / S(tenure)
    np.testing.assert_allclose(plan["p_save"], want, rtol=1e-10)
    np.testing.assert_allclose(plan["value"], want * 0.5 * 1000 - 1, rtol=1e-10)


def test_zero_uplift_contacts_nobody_whatever_the_risk():
    tenure = np.linspace(1, 2000, 50)
    s = TimingSettings(30, 0.01, 0, 90)
    plan = plan_contacts(weibull_model(), np.zeros((50, 0)), tenure, s, uplift=0.0, clv=1e6, contact_cost=0.01)
    assert (plan["status"] == "crosses").all()
    assert not plan["contact"].any()


def test_beyond_data_status_for_nonparametric_model(rossi_arrays):
    """Rossi follows people 52 weeks: with a 10-week window, KM knows nothing past week 42."""
    T, E, X = rossi_arrays
    km = fit_kind("kaplan_meier", T, E, X, [])
    s = TimingSettings(10, 0.9, 0, 20)
    days, status = crossing_days(km, X[:3], np.array([1.0, 30.0, 45.0]), s)
    assert list(status) == ["never_crosses", "beyond_data", "beyond_data"]
    assert list(days) == [-1, -1, -1]


def test_weekly_schedule_sums_and_customer_list():
    tenure = np.array([100.0, 150.0, 200.0, 250.0, 600.0])
    seg = np.array(["a", "b", "a", "b", "a"])
    s = TimingSettings(30, 0.15, 7, 120)
    plan = plan_contacts(weibull_model(), np.zeros((5, 0)), tenure, s, uplift=0.3, clv=500, contact_cost=2.5)
    sched = weekly_schedule(plan, date(2026, 12, 1), 2.5, seg)
    assert sched["n_contacts"].sum() == plan["contact"].sum() > 0
    assert sched["cost"].sum() == pytest.approx(2.5 * plan["contact"].sum())
    assert sched["expected_value"].sum() == pytest.approx(plan.loc[plan.contact, "value"].sum())
    assert all(d.weekday() == date(2026, 12, 1).weekday() for d in sched["week_start"])
    lst = customer_list(plan, np.array(list("vwxyz")), date(2026, 12, 1), seg)
    row = lst[lst.contact].iloc[0]
    assert row["contact_date"] == (pd.Timestamp("2026-12-01") + pd.Timedelta(days=int(row["contact_in_days"]))).date().isoformat()
    assert (lst.loc[~lst.contact, "contact_date"] == "").all()


@settings(max_examples=40, deadline=None)
@given(
    tenure=st.lists(st.floats(0.5, 3000), min_size=1, max_size=20),
    threshold=st.floats(0.01, 0.99), lead=st.integers(0, 60), uplift=st.floats(0, 1),
    cost=st.floats(0, 50),
)
def test_plan_invariants(tenure, threshold, lead, uplift, cost):
    t = np.array(tenure)
    s = TimingSettings(30, threshold, lead, 60)
    plan = plan_contacts(weibull_model(), np.zeros((t.size, 0)), t, s, uplift=uplift, clv=200, contact_cost=cost)
    assert set(plan["status"]) <= {"crosses", "never_crosses", "beyond_data"}
    assert np.isfinite(plan.select_dtypes("number").to_numpy()).all()
    assert ((plan["p_save"] >= 0) & (plan["p_save"] <= 1)).all()
    c = plan["contact"]
    assert (plan.loc[c, "value"] > 0).all() and (plan.loc[c, "status"] == "crosses").all()
    assert (plan.loc[c, "contact_in_days"] <= 60).all() and (plan.loc[~(plan.status == "crosses"), "contact_in_days"] == -1).all()
    if uplift == 0:
        assert not c.any()


def test_continuous_crossing_lies_in_the_step_before_the_whole_day():
    """For a Weibull model the window risk is smooth: the interpolated root lies in (cross - 1, cross] and the
    risk there is within interpolation error of the threshold."""
    import numpy as np

    from optimizer.churn.conditional import window_risk
    from optimizer.churn.fitters import fit_kind
    from optimizer.churn.timing import TimingSettings, plan_contacts

    rng = np.random.default_rng(0)
    t = np.ceil(rng.weibull(1.6, 2000) * 200)
    e = (rng.random(2000) < 0.8).astype(int)
    m = fit_kind("weibull", t, e, np.zeros((2000, 0)), [])
    X = np.zeros((50, 0))
    tenure = np.linspace(1, 150, 50)
    s = TimingSettings(30, 0.2, 5, 120)
    plan = plan_contacts(m, X, tenure, s, uplift=0.2, clv=100.0, contact_cost=1.0)
    c = plan[plan["crossing_in_days"] > 0]
    assert len(c)
    assert ((c["crossing_in_days_continuous"] > c["crossing_in_days"] - 1) & (c["crossing_in_days_continuous"] <= c["crossing_in_days"])).all()
    q = window_risk(m, X[: len(c)], c["tenure_days"].to_numpy() + c["crossing_in_days_continuous"].to_numpy(), 30)
    np.testing.assert_allclose(q, 0.2, atol=2e-3)
    assert (plan.loc[plan["crossing_in_days"] < 0, "crossing_in_days_continuous"] == -1).all()


def test_incentive_economics_in_contractual_timing():
    """With an incentive the value is Neslin's p*g*(clv - d) - (1-p)*psi*d - c (optimizer.churn.economics), the
    expected cost adds the incentives, and a zero incentive reproduces p*g*clv - c."""
    import numpy as np

    from optimizer.churn.economics import CampaignEconomics
    from optimizer.churn.timing import TimingSettings, plan_contacts, weekly_schedule

    tenure = np.linspace(5, 300, 40)
    s = TimingSettings(30, 0.1, 10, 90)
    base = plan_contacts(weibull_model(), np.zeros((40, 0)), tenure, s, uplift=0.3, clv=500, contact_cost=2.0)
    inc = plan_contacts(weibull_model(), np.zeros((40, 0)), tenure, s, uplift=0.3, clv=500, contact_cost=2.0,
                        incentive_cost=20.0, acceptance_if_staying=0.4)
    cr = base["status"] == "crosses"
    np.testing.assert_allclose(base.loc[cr, "value"], base.loc[cr, "p_save"] * 0.3 * 500 - 2.0)
    econ = CampaignEconomics(contact_cost=2.0, incentive_cost=20.0, acceptance_if_staying=0.4, uplift=0.3)
    np.testing.assert_allclose(inc.loc[cr, "value"], econ.expected_profit(inc.loc[cr, "p_save"], 500.0))
    assert inc["contact"].sum() <= base["contact"].sum()
    np.testing.assert_allclose(inc.loc[inc.contact, "expected_cost"], econ.expected_cost(inc.loc[inc.contact, "p_save"]))
    sched = weekly_schedule(inc, date(2026, 12, 1), 2.0)
    assert sched["cost"].sum() == pytest.approx(inc["expected_cost"].sum())
