"""Allocator known answers (closed forms), method agreement, the certificate, and invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # budgetkit (--import-mode=importlib)
from budgetkit import config  # noqa: E402

from optimizer.budget.results import ALLOCATION_COLUMNS, CHANNEL_COLUMNS  # noqa: E402

from optimizer.budget import allocate
from optimizer.budget.synthetic import synthetic_config


def _two(kind_a: dict, kind_b: dict, amount: float, **extra) -> dict:
    return dict(total_budget={"amount": amount}, channels=[
        {"name": "a", "response": kind_a}, {"name": "b", "response": kind_b}], **extra)


@pytest.mark.parametrize("method", ["greedy", "lp"])
def test_log_curves_closed_form(method: str) -> None:
    """f_i = s_i ln(1 + x/h_i), s = (100, 200), h = (10, 20), budget 270.
    KKT: s_i/(h_i + x_i) = lam -> x_i = s_i/lam - h_i; sum = 300/lam - 30 = 270 -> lam = 1,
    x = (90, 180), response = 100 ln 10 + 200 ln 10 = 300 ln 10 = 690.7755279."""
    r = allocate(config(**_two({"kind": "log", "scale": 100, "saturation_spend": 10},
                               {"kind": "log", "scale": 200, "saturation_spend": 20}, 270)), method=method)
    assert r.status == "optimal"
    assert r.objective_value == pytest.approx(300 * math.log(10), rel=1e-4)
    assert r.objective_value <= 300 * math.log(10) + 1e-9  # a plan never beats the true optimum
    assert r.bound >= 300 * math.log(10) - 1e-9  # the certified bound is never below it
    assert r.channel_totals["spend"].tolist() == pytest.approx([90, 180], rel=2e-2)
    assert r.optimality_gap <= 1e-4
    budget = [b for b in r.binding_constraints if b.group == "total_budget"][0]
    assert budget.shadow_price == pytest.approx(1.0, rel=2e-2)


def test_hill_curves_closed_form() -> None:
    """f_i = M_i x/(x + K), M = (1000, 400), K = 100. KKT: M K/(x+K)^2 = lam. With lam = 1:
    x = (sqrt(1e5) - 100, sqrt(4e4) - 100) = (216.2278, 100), budget = sqrt(1e5) = 316.2278;
    response = 1000*216.2278/316.2278 + 400*100/200 = 683.7722 + 200 = 883.7722."""
    amount = math.sqrt(1e5)
    r = allocate(config(**_two({"kind": "hill", "max_response": 1000, "half_saturation_spend": 100},
                               {"kind": "hill", "max_response": 400, "half_saturation_spend": 100}, amount)))
    best = 1000 * (amount - 100) / amount + 200
    assert r.objective_value == pytest.approx(best, rel=1e-4)
    assert r.objective_value <= best + 1e-9 <= r.bound + 2e-9
    assert r.channel_totals["spend"].tolist() == pytest.approx([amount - 100, 100], rel=1e-2)


@pytest.mark.parametrize("solver", ["highs", "glop"])
def test_power_curves_closed_form(solver: str) -> None:
    """f_i = c_i sqrt(x): x_i proportional to c_i^2; c = (1, 2), budget 500 -> x = (100, 400),
    response = 10 + 2*20 = 50 = sqrt(500 * (1 + 4))."""
    r = allocate(config(**_two({"kind": "power", "coefficient": 1, "exponent": 0.5},
                               {"kind": "power", "coefficient": 2, "exponent": 0.5}, 500)), solver=solver, method="lp")
    assert r.objective_value == pytest.approx(50, rel=1e-4)
    assert r.objective_value <= 50 + 1e-9 <= r.bound + 2e-9
    assert r.channel_totals["spend"].tolist() == pytest.approx([100, 400], rel=2e-2)


def test_max_profit_stops_where_marginal_return_is_one() -> None:
    """Profit s ln(1 + x/h) - x with s = 100, h = 10: 100/(10 + x) = 1 -> x = 90 < budget 1000;
    profit = 100 ln 10 - 90 = 140.2585."""
    r = allocate(config(total_budget={"amount": 1000}, objective={"kind": "max_profit"},
                        channels=[{"name": "a", "response": {"kind": "log", "scale": 100, "saturation_spend": 10}}]))
    assert r.total_spend == pytest.approx(90, rel=1e-2)
    assert r.objective_value == pytest.approx(100 * math.log(10) - 90, rel=1e-4)
    assert not [b for b in r.binding_constraints if b.group == "total_budget"]


def test_min_spend_closed_form() -> None:
    """Reach 300 ln 10 with the two log curves above: the least spend is 270 (same KKT point)."""
    r = allocate(config(objective={"kind": "min_spend", "target_response": 300 * math.log(10)},
                        total_budget={"amount": 10_000},
                        channels=[{"name": "a", "response": {"kind": "log", "scale": 100, "saturation_spend": 10}},
                                  {"name": "b", "response": {"kind": "log", "scale": 200, "saturation_spend": 20}}]))
    assert r.status == "optimal"
    assert r.objective_value == pytest.approx(270, rel=1e-4)
    assert r.bound <= 270 + 1e-9 <= r.objective_value + 1e-9  # lower bound on the least spend
    assert r.total_response >= 300 * math.log(10) * (1 - 1e-12)
    target = [b for b in r.binding_constraints if b.group == "target_response"][0]
    # one more unit of response costs 1/lam = 1 currency more
    assert -target.shadow_price == pytest.approx(1.0, rel=2e-2)


def test_equal_budget_spends_everything_even_at_a_loss() -> None:
    r = allocate(config(total_budget={"amount": 1000, "mode": "equal"}, objective={"kind": "max_profit"},
                        channels=[{"name": "a", "response": {"kind": "linear", "roi": 0.5}}]), method="lp")
    assert r.total_spend == pytest.approx(1000)
    assert r.objective_value == pytest.approx(-500)


@pytest.mark.parametrize("seed", [0, 1])
def test_greedy_and_lp_agree_when_only_the_budget_binds(seed: int) -> None:
    cfg = synthetic_config(12, 3, 2, seed=seed, with_limits=False, kinds=("hill", "log", "power", "linear"))
    g = allocate(cfg, method="greedy")
    lp = allocate(cfg, method="lp")
    assert g.method == "greedy" and lp.method == "lp"
    assert g.objective_value == pytest.approx(lp.objective_value, rel=2e-4)
    assert max(g.objective_value, lp.objective_value) <= min(g.bound, lp.bound) * (1 + 1e-9)


def test_sifted_solve_matches_the_whole_lp() -> None:
    """The block (sifting) path and one solve of the whole piece LP give the same optimum."""
    from optimizer.budget.allocation import _cell_groups
    from optimizer.budget.backends import get_backend
    from optimizer.budget.estimate import estimate_spend
    from optimizer.budget.problem import build_lp, build_model, initial_pieces
    from optimizer.budget.sifting import SIFT_ABOVE_COLUMNS, solve_sifted

    model = build_model(synthetic_config(20, 4, 6, seed=3))
    guess = estimate_spend(model)
    pieces = initial_pieces(model, 10, guess)
    problem, _ = build_lp(model, pieces, np.where(np.isfinite(guess), guess, 0.0))
    assert problem.n_cols > SIFT_ABOVE_COLUMNS
    whole = get_backend("highs")(problem, 60)
    sifted = solve_sifted(problem, _cell_groups(model)[pieces.cell], pieces.slope, get_backend("highs"), 60)
    assert "sifted" in sifted.message
    assert sifted.objective == pytest.approx(whole.objective, rel=1e-9)
    assert sifted.row_dual == pytest.approx(whole.row_dual, rel=1e-6, abs=1e-9)
    act = problem.A @ sifted.x
    assert np.all(act <= problem.row_hi + 1e-6) and np.all(act >= problem.row_lo - 1e-6)


def test_result_json_is_strict_and_complete() -> None:
    r = allocate(synthetic_config(4, 2, 3, seed=2), currency="EUR")
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    for key in ("status", "objective", "total_spend", "optimality_gap", "allocations", "channel_totals",
                "binding_constraints", "warnings", "solver", "time_seconds"):
        assert key in data
    assert list(data["allocations"][0]) == ALLOCATION_COLUMNS
    assert len(data["allocations"]) == 4 * 2 * 3
    assert data["solver"]["name"] == "highs" and data["solver"]["version"]
    assert "€" in str(r)
    assert list(r.summary().columns) == CHANNEL_COLUMNS


def test_unbounded_is_reported_not_raised() -> None:
    r = allocate(config(objective={"kind": "max_profit"},
                        channels=[{"name": "a", "response": {"kind": "linear", "roi": 2.0}}]))
    assert r.status == "unbounded"
    assert "channels without a cap: a" in r.explanation[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 5),
    amount=st.floats(1e3, 1e6),
    seed=st.integers(0, 10_000),
    caps=st.lists(st.one_of(st.none(), st.floats(0.05, 0.6)), min_size=5, max_size=5),
    equal=st.booleans(),
)
def test_allocations_respect_bounds_and_budget(n, amount, seed, caps, equal) -> None:
    """Invariant: spend >= 0, within each channel's cap, total within (or equal to) the budget,
    and the plan's true value never exceeds its certified bound."""
    rng = np.random.default_rng(seed)
    channels = []
    for i in range(n):
        kind = ["hill", "log", "power", "linear", "table"][i]
        resp = {"hill": {"kind": "hill", "max_response": float(rng.uniform(1, 5)) * amount,
                         "half_saturation_spend": float(rng.uniform(0.05, 1)) * amount, "shape": float(rng.uniform(0.3, 1))},
                "log": {"kind": "log", "scale": float(rng.uniform(0.5, 3)) * amount, "saturation_spend": float(rng.uniform(0.01, 1)) * amount},
                "power": {"kind": "power", "coefficient": float(rng.uniform(0.5, 5)), "exponent": float(rng.uniform(0.2, 0.9))},
                "linear": {"kind": "linear", "roi": float(rng.uniform(0.1, 3))},
                "table": {"kind": "table", "points": [[0.1 * amount, 0.3 * amount], [0.3 * amount, 0.6 * amount]]}}[kind]
        ch = {"name": f"c{i}", "response": resp}
        if caps[i] is not None:
            ch["max_share"] = caps[i]
        channels.append(ch)
    cfg = config(total_budget={"amount": amount, "mode": "equal" if equal else "at_most"}, channels=channels)
    r = allocate(cfg)
    room = sum(amount * c if c is not None else math.inf for c in caps[:n])
    if equal and room < amount:
        assert r.status == "infeasible"
        assert "can absorb at most" in r.explanation[0]
        return
    assert r.status in ("optimal", "feasible")
    spend = r.allocations["spend"].to_numpy()
    assert np.all(spend >= 0)
    assert r.total_spend <= amount * (1 + 1e-9)
    if equal:
        assert r.total_spend == pytest.approx(amount, rel=1e-9)
    for i, c in enumerate(caps[:n]):
        if c is not None:
            assert r.channel_totals["spend"].iloc[i] <= c * amount * (1 + 1e-9)
    assert r.objective_value <= r.bound * (1 + 1e-9) + 1e-9
