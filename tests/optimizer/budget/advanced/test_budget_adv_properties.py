"""Invariants of MILP plans on random small configs (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.budget.advanced.allocate import allocate_advanced
from optimizer.budget.advanced.schema import AdvancedBudget

channel = st.fixed_dictionaries({
    "roi": st.floats(0.5, 5.0), "cap": st.floats(5000, 50000), "min_if_used": st.floats(1000, 5000),
    "setup": st.floats(0, 2000), "s": st.booleans(), "h": st.floats(5000, 30000), "n": st.floats(1.2, 3.0),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(channel, min_size=2, max_size=4), st.floats(10000, 80000), st.integers(1, 3))
def test_plans_respect_every_rule(chs, budget, n_active):
    chans, rules = [], []
    for i, c in enumerate(chs):
        resp = ({"kind": "s_hill", "max_response": c["roi"] * c["cap"], "half_saturation_spend": c["h"], "shape": c["n"]}
                if c["s"] else {"kind": "linear", "roi": c["roi"]})
        chans.append({"name": f"c{i}", "response": resp, "max_spend": c["cap"]})
        rules.append({"channel": f"c{i}", "min_spend_if_used": c["min_if_used"], "setup_cost": c["setup"]})
    cfg = AdvancedBudget.model_validate({"total_budget": {"amount": budget}, "channels": chans,
                                         "advanced": {"max_active_channels": n_active, "rules": rules,
                                                      "curve_tolerance_relative": 1e-4}})
    r = allocate_advanced(cfg)
    assert r.status in ("optimal", "feasible")
    t = r.channel_totals
    tol = 1e-6 * budget
    assert r.total_spend + r.setup_cost <= budget + tol
    assert int((t["spend"] > tol).sum()) <= n_active
    for (_, row), c in zip(t.iterrows(), chs):
        assert row["spend"] <= c["cap"] + tol
        assert row["spend"] <= tol or row["spend"] >= c["min_if_used"] - tol
    assert r.bound >= r.objective_value - 1e-6 * abs(r.objective_value)
