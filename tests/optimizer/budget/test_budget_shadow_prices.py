"""Shadow prices are TRUE marginal values: each binding limit's price against a finite-difference re-solve.

Issue #10, defect 2: the reported price of a channel cap was the slope of the chord from the cap to
the outer limit (true gains $0.38 and $0.40 per $ were reported as $0 and $0.0952).

Derivation of the check: by the envelope theorem, d V / d b_r = d_r for the value ``V(b)`` of the
budget problem as a function of the bound ``b_r`` of a binding row, where ``d_r`` is its KKT
multiplier on the true curves. So ``(V(b + h) - V(b - h)) / 2h`` (each V a certified re-solve with
the gap target 1e-9) must match the reported ``shadow_price`` up to O(h) curvature terms; h is
0.2 % of the bound (relative error tolerance 2 %).
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.budget import allocate
from optimizer.budget.config import BudgetConfig

TIGHT = 1e-9


def _solve(d: dict):
    return allocate(BudgetConfig.model_validate(d), currency="USD")


def _channels(**caps):
    base = [
        {"name": "tv", "response": {"kind": "hill", "max_response": 900_000, "half_saturation_spend": 200_000,
                                    "shape": 0.8}},
        {"name": "search", "response": {"kind": "log", "scale": 300_000, "saturation_spend": 40_000}},
        {"name": "social", "response": {"kind": "power", "coefficient": 60.0, "exponent": 0.6}},
    ]
    for ch in base:
        ch.update(caps.get(ch["name"], {}))
    return base


PLANS = {
    # total budget and two channel caps bind (the shape: caps on the best channels)
    "caps": {"total_budget": {"amount": 600_000}, "gap_tolerance_relative": TIGHT,
             "channels": _channels(search={"max_spend": 60_000}, social={"max_spend": 90_000})},
    # a floor on the weakest channel binds from below
    "floor": {"total_budget": {"amount": 400_000}, "gap_tolerance_relative": TIGHT,
              "channels": _channels(social={"min_spend": 250_000})},
    # period budgets bind; two periods
    "periods": {"total_budget": {"amount": 500_000}, "gap_tolerance_relative": TIGHT,
                "periods": [{"name": "W1", "max_spend": 150_000}, {"name": "W2", "response_multiplier": 0.8}],
                "channels": _channels()},
    # profit: caps bind without a budget
    "profit": {"objective": {"kind": "max_profit"}, "gap_tolerance_relative": TIGHT,
               "channels": _channels(tv={"max_spend": 150_000}, search={"max_spend": 30_000},
                                     social={"max_spend": 50_000})},
    # a response floor binds
    "response_floor": {"total_budget": {"amount": 300_000}, "gap_tolerance_relative": TIGHT,
                       "channels": _channels(social={"min_response": 60_000})},
}


def _moved(d: dict, name: str, side: str, delta: float) -> dict:
    d = copy.deepcopy(d)
    group, entity = name.split("[", 1)
    entity = entity.rstrip("]")
    if group == "total_budget":
        d["total_budget"]["amount"] += delta
        return d
    key = {"upper": "max_spend", "lower": "min_spend"}[side]
    if group == "channel_spend":
        target = next(c for c in d["channels"] if c["name"] == entity)
    elif group == "period_spend":
        target = next(p for p in d["periods"] if p["name"] == entity)
    elif group == "channel_response":
        target, key = next(c for c in d["channels"] if c["name"] == entity), "min_response"
    else:  # pragma: no cover - not used by these plans
        raise AssertionError(group)
    target[key] += delta
    return d


@pytest.mark.parametrize("plan", list(PLANS))
def test_every_binding_limit_is_priced_like_a_finite_difference_resolve(plan: str) -> None:
    d = PLANS[plan]
    r = _solve(d)
    assert r.status == "optimal"
    assert r.binding_constraints, "each plan here has binding limits"
    for b in r.binding_constraints:
        h = 2e-3 * abs(b.bound)
        up = _solve(_moved(d, b.name, b.side, +h))
        down = _solve(_moved(d, b.name, b.side, -h))
        fd = (up.objective_value - down.objective_value) / (2 * h)
        if r.objective_name == "min_spend":
            fd = -fd
        assert b.shadow_price == pytest.approx(fd, rel=2e-2, abs=1e-4 * max(1.0, abs(fd))), (plan, b.name, b.text)


def test_cap_price_is_the_gain_at_the_cap_not_the_chord_above_it() -> None:
    """search is capped at 60,000 well below where its marginal return falls to the budget price; the
    chord from the cap to the outer limit (the budget) is nearly flat, the true gain is not."""
    r = _solve(PLANS["caps"])
    prices = {b.name: b.shadow_price for b in r.binding_constraints}
    budget = prices["total_budget[total]"]
    # log curve: f'(x) = scale / (saturation + x) -> at the cap 300000 / 100000 = 3.0 per $
    assert prices["channel_spend[search]"] == pytest.approx(3.0 - budget, rel=1e-6)
    assert prices["channel_spend[search]"] > 1.0
    texts = [b.text for b in r.binding_constraints]
    assert any("spend on channel search" in t and "per $" in t for t in texts)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(2, 4), periods=st.integers(1, 3))
def test_prices_have_the_sign_of_their_side_and_status_follows_the_gap(seed: int, n: int, periods: int) -> None:
    """Invariants on random plans: a binding cap is worth >= 0, a binding minimum costs (<= 0); status is
    optimal iff the certified gap meets the target."""
    from optimizer.budget.synthetic import synthetic_config

    r = allocate(synthetic_config(n, 1, periods, seed=seed), currency="EUR")
    assert (r.status == "optimal") == (r.optimality_gap <= r.gap_target * (1 + 1e-9))
    for b in r.binding_constraints:
        if b.side == "upper":
            assert b.shadow_price >= -1e-9, b
        else:
            assert b.shadow_price <= 1e-9, b


def test_adstock_budget_price_matches_a_resolve() -> None:
    """The decomposition strategy (adstock, shipped scenario): the total budget's price against a re-solve."""
    from pathlib import Path

    from optimizer.budget.advanced.schema import load_advanced_scenario

    s = load_advanced_scenario(Path(__file__).resolve().parents[3] / "scenarios" / "budget_adstock.yaml")
    cfg = s.budget
    r = allocate(cfg, currency="CNY")
    price = {b.name: b.shadow_price for b in r.binding_constraints}["total_budget[total]"]
    h = 2e-3 * cfg.total_budget.amount

    def value(amount: float) -> float:
        c = cfg.model_copy(update={"total_budget": cfg.total_budget.model_copy(update={"amount": amount})})
        return allocate(c, currency="CNY").objective_value

    fd = (value(cfg.total_budget.amount + h) - value(cfg.total_budget.amount - h)) / (2 * h)
    assert price == pytest.approx(fd, rel=2e-2)


@pytest.mark.parametrize("plan", ["caps", "floor", "periods", "response_floor"])
def test_sparse_solve_of_large_plans_gives_the_dense_prices(plan: str, monkeypatch) -> None:
    """Large plans solve the KKT least squares sparsely (TRF); it must give the exact (BVLS) prices."""
    import optimizer.budget.shadow as shadow

    dense = {b.name: b.shadow_price for b in _solve(PLANS[plan]).binding_constraints}
    monkeypatch.setattr(shadow, "DENSE_MAX_ENTRIES", 0)
    sparse = {b.name: b.shadow_price for b in _solve(PLANS[plan]).binding_constraints}
    assert sparse.keys() == dense.keys()
    for k in dense:
        assert sparse[k] == pytest.approx(dense[k], rel=1e-6, abs=1e-9)
