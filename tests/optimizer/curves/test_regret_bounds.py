"""Planning regret (optimizer/curves/regret.py) and the recommended spend bounds (optimizer/curves/bounds.py).

The regret check behind docs/performance-curves.md: with noise-free data and the TRUE nonlinear
parameters only the coefficients are fitted, so they come out exact and the regret must be 0 on the
same budget, caps and floors for both plans (this rules out a unit or steady-state mismatch between
the fitted and the true curves: the 14.8 % "oracle" regret of the benchmark is the data's noise, not
the regret computation).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.curves.bounds import historical_bounds
from optimizer.curves.curvefile import ChannelCurves, HistoricalSpend, SpendBounds, hill_response
from optimizer.curves.model import CurveModel
from optimizer.curves.regret import oracle_curves, regret
from optimizer.curves.simulate import simulate


def _oracle(s):
    """True adstock / half-saturation / shape, coefficients by NNLS (the benchmark's oracle)."""
    return oracle_curves(s)


def _plan_inputs(s):
    budget = float(s.data[[f"spend_{c}" for c in s.channels]].iloc[-13:].sum(axis=1).mean())
    b = {c: historical_bounds(float(s.data[f"spend_{c}"].mean())) for c in s.channels}
    return budget, {c: v["max_spend"] for c, v in b.items()}, {c: v["min_spend"] for c, v in b.items()}


def test_noise_free_oracle_has_zero_regret_bounded_and_not():
    s = simulate(4, 104, 0.0, seed=1, shape_range=(0.6, 1.0))  # concave: the allocator is fast
    oracle = _oracle(s)
    for c, t in s.truth.items():
        assert oracle[c]["max_response"] == pytest.approx(t.max_response, rel=1e-3)  # the KPI is rounded to cents
    budget, hi, lo = _plan_inputs(s)
    caps = {c: 1.5 * float(s.data[f"spend_{c}"].max()) for c in s.channels}
    assert regret(oracle, s.truth, budget, caps)["regret"] == pytest.approx(0.0, abs=1e-4)
    r = regret(oracle, s.truth, budget, hi, lo)
    assert r["regret"] == pytest.approx(0.0, abs=1e-4)


def test_bounded_plans_spend_the_same_budget_within_the_bounds():
    """Both plans spend the whole budget and keep every channel in [0.5, 2] x its mean historical spend."""
    s = simulate(4, 104, 0.05, seed=3, shape_range=(0.6, 1.0))
    budget, hi, lo = _plan_inputs(s)
    wrong = {c: {**t.budget_response(), "max_response": t.max_response * f}
             for (c, t), f in zip(s.truth.items(), (3.0, 0.3, 1.0, 0.5))}
    r = regret(wrong, s.truth, budget, hi, lo)
    for p in (r["plan_fitted"], r["plan_true"]):
        assert sum(p.values()) == pytest.approx(budget, rel=1e-6)
        for c, x in p.items():
            assert lo[c] * (1 - 1e-6) <= x <= hi[c] * (1 + 1e-6)
    assert 0 <= r["regret"] < 1 and r["true_of_fitted_plan"] <= r["true_best"] * (1 + 1e-6)


def test_historical_bounds_is_robyns_default():
    """Robyn's robyn_allocator(): channel_constr_low = 0.5, channel_constr_up = 2 (R/allocator.R)."""
    b = historical_bounds(10_000.0)
    assert (b["min_spend"], b["max_spend"]) == (5_000.0, 20_000.0)
    assert historical_bounds(10_000.0, 0.7, 1.3)["max_spend"] == pytest.approx(13_000.0)  # Meridian's +-30 %


@pytest.mark.parametrize("args", [(-1.0,), (float("nan"),), (1.0, 2.0, 1.0), (1.0, -0.1, 2.0)])
def test_historical_bounds_refuses_bad_values(args):
    with pytest.raises(ValueError, match="expected"):
        historical_bounds(*args)


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 1e9, allow_nan=False), st.floats(0, 1, allow_nan=False), st.floats(1, 5, allow_nan=False))
def test_bounds_contain_the_mean(mean, low, high):
    b = historical_bounds(mean, low, high)
    assert b["min_spend"] <= mean <= b["max_spend"]
    SpendBounds(min_spend=b["min_spend"], max_spend=b["max_spend"], rule=b["rule"])  # a valid curves-file entry


def test_channel_spend_bounds_falls_back_to_the_history():
    resp = hill_response(1e5, 2e4, 0.8)
    ch = ChannelCurves(response=resp, historical_spend=HistoricalSpend(min=0, max=9e3, mean=4e3))
    assert (ch.spend_bounds().min_spend, ch.spend_bounds().max_spend) == (2e3, 8e3)
    own = ChannelCurves(response=resp, historical_spend=HistoricalSpend(min=0, max=9e3, mean=4e3),
                        recommended_bounds=SpendBounds(min_spend=1e3, max_spend=5e3))
    assert own.spend_bounds().max_spend == 5e3
    assert ChannelCurves(response=resp).spend_bounds() is None
    with pytest.raises(ValueError, match="above max_spend"):
        SpendBounds(min_spend=2.0, max_spend=1.0)


def test_fitted_curves_file_carries_the_recommended_bounds():
    from optimizer.curves.output import to_curves_file

    s = simulate(2, 60, 0.05, seed=4, flight_every=0)
    res = CurveModel(seed=0, n_starts=1, n_bootstrap=0, holdout_periods=0).fit(
        s.data, spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"]).result
    cf = to_curves_file(res, currency="EUR", kpi_name="sales", kpi_unit="currency", period="week")
    for c in s.channels:
        mean = float(s.data[f"spend_{c}"].mean())
        b = cf.channels[c].recommended_bounds
        assert (b.min_spend, b.max_spend) == pytest.approx((0.5 * mean, 2.0 * mean), rel=1e-12)
