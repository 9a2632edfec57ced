"""Frontier (vs independent core re-solves) and CVaR / expected response (vs a brute-force grid)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.budget.advanced.allocate import allocate_advanced
from optimizer.budget.advanced.plots import frontier_figure, risk_figure
from optimizer.budget.advanced.risk import cvar_of
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.allocation import allocate
from optimizer.budget.advanced.formulation import core_config
from optimizer.budget.curves import Curve

BASE = {
    "total_budget": {"amount": 100000},
    "channels": [
        {"name": "tv", "response": {"kind": "hill", "max_response": 300000, "half_saturation_spend": 40000, "shape": 0.9}},
        {"name": "search", "response": {"kind": "linear", "roi": 1.5}, "max_spend": 30000},
        {"name": "social", "response": {"kind": "log", "scale": 50000, "saturation_spend": 10000}},
    ],
}


def test_frontier_matches_core_allocator_at_every_level():
    """50 warm-started levels; each level's response equals the core LP allocator's at that budget
    (an independent build and certification), within 2e-4."""
    cfg = AdvancedBudget.model_validate({**BASE, "advanced": {"frontier": {"n_levels": 50}}})
    r = allocate_advanced(cfg)
    t = r.frontier.table
    assert len(t) == 50 and (t["status"] == "optimal").all()
    core = core_config(cfg)
    for b, resp in list(zip(t["budget"], t["response"]))[::7]:
        c2 = core.model_copy(update={"total_budget": core.total_budget.model_copy(update={"amount": float(b)})})
        ref = allocate(c2).objective_value
        assert resp == pytest.approx(ref, rel=2e-4)
    # concave curves: marginal ROI never rises with the budget; ranging bound is above the level
    m = t["marginal_roi"].to_numpy()
    assert np.all(np.diff(m) <= 1e-9)
    assert np.all(t["holds_until_budget"] >= t["budget"] - 1e-6)
    assert "this marginal ROI holds until the budget reaches" in r.frontier.sentences[0]
    figs = frontier_figure(r.frontier, "CNY", 100000)
    assert figs["png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in figs["svg"][:500]


def test_cvar_of_hand():
    """values 1..10: worst 20 % = mean(1, 2) = 1.5; worst 25 % = (1 + 2 + 0.5 x 3) / 2.5 = 1.8."""
    v = np.arange(1.0, 11.0)
    assert cvar_of(v, 0.2) == pytest.approx(1.5)
    assert cvar_of(v, 0.25) == pytest.approx(1.8)
    assert cvar_of(v, 1.0) == pytest.approx(5.5)


@pytest.mark.parametrize("objective,level", [("cvar", 0.2), ("expected", 0.2)])
def test_risk_plan_matches_a_grid(objective, level):
    """Two channels, 20 Hill draws each (seeded): evaluate every split of the 50,000 budget on a
    50-currency grid on the true curves; the LP plan's CVaR / mean is within 1e-4 of the grid's best."""
    rng = np.random.default_rng(4)
    draws = {n: [{"max_response": float(m * rng.lognormal(0, 0.4)), "half_saturation_spend": float(h * rng.lognormal(0, 0.3)),
                  "shape": 0.9} for _ in range(20)] for n, m, h in (("a", 150000, 20000), ("b", 100000, 10000))}
    d = {"total_budget": {"amount": 50000, "mode": "equal"},
         "channels": [{"name": "a", "response": {"kind": "hill", "max_response": 150000, "half_saturation_spend": 20000, "shape": 0.9}},
                      {"name": "b", "response": {"kind": "hill", "max_response": 100000, "half_saturation_spend": 10000, "shape": 0.9}}],
         "advanced": {"curve_tolerance_relative": 1e-4,
                      "uncertainty": {"objective": objective, "cvar_level": level,
                                      "channels": [{"channel": k, "draws": v} for k, v in draws.items()]}}}
    r = allocate_advanced(AdvancedBudget.model_validate(d))
    xs = np.linspace(0, 50000, 1001)
    best = -np.inf
    for xa in xs:
        R = np.array([Curve("hill", (da["max_response"], da["half_saturation_spend"], 0.9)).value(np.array(xa))
                      + Curve("hill", (db["max_response"], db["half_saturation_spend"], 0.9)).value(np.array(50000 - xa))
                      for da, db in zip(draws["a"], draws["b"])])
        best = max(best, cvar_of(R, level) if objective == "cvar" else R.mean())
    got = r.risk.cvar_response if objective == "cvar" else r.risk.expected_response
    assert got >= best * (1 - 1e-4)
    assert r.bound >= best * (1 - 1e-9)
    assert r.risk.quantiles["q05"] <= r.risk.quantiles["q50"] <= r.risk.quantiles["q95"]
    figs = risk_figure(np.array(r.risk.draw_response), r.risk.cvar_response, level)
    assert figs["png"][:4] == b"\x89PNG"


def test_milp_frontier_matches_cold_solves():
    """MILP frontier (warm-started with the previous plan as incumbent) vs a cold solve per level."""
    d = {"total_budget": {"amount": 60000},
         "channels": [{"name": "tv", "response": {"kind": "s_hill", "max_response": 200000, "half_saturation_spend": 30000,
                                                  "shape": 2.5}, "max_spend": 50000},
                      {"name": "search", "response": {"kind": "linear", "roi": 1.2}, "max_spend": 40000}],
         "advanced": {"rules": [{"channel": "search", "min_spend_if_used": 10000, "setup_cost": 1000}],
                      "frontier": {"n_levels": 8, "min_budget": 5000, "max_budget": 90000}}}
    cfg = AdvancedBudget.model_validate(d)
    r = allocate_advanced(cfg)
    t = r.frontier.table
    for b, resp in zip(t["budget"], t["response"]):
        one = cfg.model_copy(update={"total_budget": cfg.total_budget.model_copy(update={"amount": float(b)}),
                                     "advanced": cfg.advanced.model_copy(update={"frontier": None})})
        assert resp == pytest.approx(allocate_advanced(one).objective_value, rel=5e-4)
    assert np.isnan(t["holds_until_budget"]).all()  # no ranging for a MILP


@pytest.mark.parametrize("objective, spend_a, value", [("expected", 100.0, 210.0), ("cvar", 0.0, 180.0)])
def test_risk_plan_with_table_draws_by_hand(objective, spend_a, value):
    """Hand-solvable: channel a has two table draws, slope 2 (draw 1) or 1 (draw 2) up to spend 100, flat after;
    b is linear with roi 1.2; budget 150 spent in full.

    expected: a's mean slope 1.5 > 1.2 up to 100, then 0, so a = 100, b = 50: (200 + 100) / 2 + 60 = 210.
    cvar at level 0.5 over 2 draws = the worse draw, always draw 2 (a + 1.2 b); 1 < 1.2 so a = 0, b = 150: 180.
    """
    d = {"total_budget": {"amount": 150, "mode": "equal"},
         "channels": [{"name": "a", "response": {"kind": "table", "points": [[100, 150]]}},
                      {"name": "b", "response": {"kind": "linear", "roi": 1.2}}],
         "advanced": {"uncertainty": {"objective": objective, "cvar_level": 0.5, "channels": [
             {"channel": "a", "draws": [{"kind": "table", "points": [[100, 200]]},
                                        {"kind": "table", "points": [[50, 50], [100, 100]]}]}]}}}
    r = allocate_advanced(AdvancedBudget.model_validate(d))
    spend = dict(zip(r.channel_totals["channel"], r.channel_totals["spend"]))
    assert spend["a"] == pytest.approx(spend_a, abs=1e-6) and spend["b"] == pytest.approx(150 - spend_a, abs=1e-6)
    got = r.risk.expected_response if objective == "expected" else r.risk.cvar_response
    assert got == pytest.approx(value, rel=1e-9)
    assert r.status == "optimal"


def test_table_draws_are_scaled_to_each_segment():
    """A table draw is the whole audience's curve: in a segment of share s it is s f(x / s) (Curve.scaled), so
    spending in proportion to the shares gives the unsegmented response (0.25 f(0.25 x / 0.25) + 0.75 f(...) = f(x))."""
    from optimizer.budget.advanced.risk import draw_curves
    from optimizer.budget.problem import build_model

    pts = [[[40, 80], [100, 140]], [[40, 60], [100, 90]]]
    d = {"total_budget": {"amount": 100},
         "segments": [{"name": "s1", "audience_share": 0.25}, {"name": "s2", "audience_share": 0.75}],
         "channels": [{"name": "a", "response": {"kind": "table", "points": pts[0]}},
                      {"name": "b", "response": {"kind": "linear", "roi": 1.0}}],
         "advanced": {"uncertainty": {"channels": [{"channel": "a", "draws": [{"kind": "table", "points": p}
                                                                             for p in pts]}]}}}
    cfg = AdvancedBudget.model_validate(d)
    model = build_model(core_config(cfg))
    curves = draw_curves(cfg, model)
    x = np.array([10.0, 40.0, 70.0, 100.0, 300.0])
    for s, p in enumerate(pts):
        whole = Curve("table", (), np.array([0.0] + [q[0] for q in p]), np.array([0.0] + [q[1] for q in p]))
        seg = [(ci, float(model.curve_share[ci])) for ci in range(len(model.curves))
               if cfg.channels[int(model.curve_channel[ci])].name == "a"]
        assert sorted(share for _, share in seg) == [0.25, 0.75]
        total = np.zeros_like(x)
        for ci, share in seg:
            c = curves[s][ci]
            assert c.kind == "table"
            np.testing.assert_allclose(c.knots_x, share * whole.knots_x, rtol=1e-15)
            np.testing.assert_allclose(c.knots_y, share * whole.knots_y, rtol=1e-15)
            total += c.value(share * x)
        np.testing.assert_allclose(total, whole.value(x), rtol=1e-12)
