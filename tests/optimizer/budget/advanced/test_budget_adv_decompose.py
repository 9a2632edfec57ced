"""Adstock plans by price decomposition (optimizer/budget/advanced/decompose.py).

Known answers: a two-week plan solved by hand (KKT conditions, closed form below), and the
piecewise-linear LP solved by HiGHS as an independent second method: each method's certified
upper bound must lie above the other method's plan value, on the shipped scenario and on random
instances (hypothesis).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.budget.advanced import decompose
from optimizer.budget.advanced.allocate import allocate_advanced
from optimizer.budget.advanced.formulation import build
from optimizer.budget.advanced.schema import AdvancedBudget, load_advanced_scenario
from optimizer.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[4]


def _with_method(cfg: AdvancedBudget, method: str) -> AdvancedBudget:
    return cfg.model_copy(update={"advanced": cfg.advanced.model_copy(update={"adstock_method": method})})


def test_two_weeks_log_curve_closed_form():
    """One channel, f(e) = k log(1 + e/s) with k = 1,000, s = 100; e1 = x1, e2 = x2 + d x1 (d = 0.2,
    one lag, no history); x1 + x2 = B = 1,000 binds. KKT with price lam on the budget:
        x2:  f'(e2) = lam                      ->  s + e2 = k / lam
        x1:  f'(e1) + d f'(e2) = lam           ->  s + e1 = k / (lam (1 - d))
    and e2 = B - (1 - d) x1 give 2k/lam = B + (2 - d) s, so lam = 2,000 / 1,180 = 1.6949152...,
    x1 = (B + (2 - d) s) / (2 (1 - d)) - s = 637.5, x2 = 362.5, e2 = 490,
    response = 1,000 (ln 7.375 + ln 5.9) = 3,773.04825...
    """
    cfg = AdvancedBudget.model_validate({
        "total_budget": {"amount": 1000},
        "periods": [{"name": "w1"}, {"name": "w2"}],
        "channels": [{"name": "search", "response": {"kind": "log", "scale": 1000, "saturation_spend": 100}}],
        "advanced": {"rules": [{"channel": "search", "adstock": {"decay": 0.2, "max_lag_periods": 1}}]},
    })
    r = allocate_advanced(cfg)
    assert r.method == "decomposition"
    assert r.status == "optimal"
    assert r.allocations["spend"].tolist() == pytest.approx([637.5, 362.5], rel=1e-7)
    assert r.allocations["effective_spend"].tolist() == pytest.approx([637.5, 490.0], rel=1e-7)
    assert r.objective_value == pytest.approx(1000 * (math.log(7.375) + math.log(5.9)), rel=1e-10)
    # both weeks return the budget's price at the margin, carry-over included
    assert r.allocations["marginal_roi"].tolist() == pytest.approx([2000 / 1180] * 2, rel=1e-6)
    assert r.optimality_gap <= 1e-8


def _cross_check(cfg: AdvancedBudget) -> tuple:
    dec = allocate_advanced(_with_method(cfg, "auto"), with_frontier=False)
    lp = allocate_advanced(_with_method(cfg, "lp"), with_frontier=False)
    return dec, lp


def test_shipped_adstock_scenario_agrees_with_the_lp():
    """scenarios/budget_adstock.yaml (hill + log curves, period caps and multipliers, a spend history):
    the decomposition's plan is worth at least the LP's, and each upper bound covers the other plan."""
    cfg = load_advanced_scenario(ROOT / "scenarios" / "budget_adstock.yaml").budget
    dec, lp = _cross_check(cfg)
    assert dec.method == "decomposition" and lp.method != "decomposition"
    assert dec.status == lp.status == "optimal"
    assert dec.bound >= lp.objective_value * (1 - 1e-9)
    assert lp.bound >= dec.objective_value * (1 - 1e-9)
    assert dec.objective_value >= lp.objective_value * (1 - 1e-9)
    assert dec.total_spend <= 600000 * (1 + 1e-9)


def test_explicit_decomposition_refuses_a_linear_curve():
    cfg = AdvancedBudget.model_validate({
        "total_budget": {"amount": 1000}, "periods": [{"name": "w1"}, {"name": "w2"}],
        "channels": [{"name": "tv", "response": {"kind": "linear", "roi": 2.0}}],
        "advanced": {"adstock_method": "decomposition",
                     "rules": [{"channel": "tv", "adstock": {"decay": 0.5, "max_lag_periods": 1}}]},
    })
    with pytest.raises(ScenarioError, match="adstock_method is 'decomposition'.*Use adstock_method: auto or lp"):
        allocate_advanced(cfg)


def test_falls_back_to_the_lp_when_it_cannot_certify(monkeypatch):
    """With one price step allowed the decomposition cannot reach the target gap: the LP takes over,
    centred on the decomposition's plan, and the result says so."""
    cfg = load_advanced_scenario(ROOT / "scenarios" / "budget_adstock.yaml").budget
    monkeypatch.setattr(decompose, "MAX_OUTER_ITERATIONS", 1)
    r = allocate_advanced(cfg, with_frontier=False)
    assert r.method == "lp after decomposition"
    assert any("price decomposition stopped" in w for w in r.warnings)
    assert r.status == "optimal"


CURVES = st.one_of(
    st.builds(lambda m, h, n: {"kind": "hill", "max_response": m, "half_saturation_spend": h, "shape": n},
              st.floats(1e4, 1e6), st.floats(1e3, 5e4), st.floats(0.3, 1.0)),
    st.builds(lambda s, h: {"kind": "log", "scale": s, "saturation_spend": h}, st.floats(1e3, 1e5), st.floats(5e2, 5e4)),
    st.builds(lambda c, e: {"kind": "power", "coefficient": c, "exponent": e}, st.floats(1.0, 200.0), st.floats(0.3, 0.9)),
)


@st.composite
def adstock_plans(draw):
    n_ch = draw(st.integers(1, 4))
    n_p = draw(st.integers(2, 7))
    budget = draw(st.floats(2e4, 5e5))
    periods = []
    for t in range(n_p):
        p = {"name": f"w{t}"}
        if draw(st.booleans()):
            p["max_spend"] = draw(st.floats(0.3, 1.0)) * budget
        if draw(st.integers(0, 4)) == 0:
            p["response_multiplier"] = draw(st.floats(0.5, 1.5))
        periods.append(p)
    channels, rules = [], []
    for i in range(n_ch):
        ch = {"name": f"c{i}", "response": draw(CURVES)}
        if draw(st.integers(0, 3)) == 0:
            ch["max_spend"] = draw(st.floats(0.2, 0.8)) * budget
        if draw(st.integers(0, 4)) == 0:
            ch["min_spend"] = draw(st.floats(0.0, 0.1)) * budget / n_ch
        channels.append(ch)
        if draw(st.integers(0, 4)) > 0:  # most channels carry over
            lag = draw(st.integers(1, 4))
            hist = draw(st.lists(st.floats(0, 0.2 * budget), max_size=3))
            rules.append({"channel": f"c{i}", "adstock": {"decay": draw(st.floats(0.0, 0.9)), "max_lag_periods": lag,
                                                          "history_spend": hist}})
    if not rules:
        rules.append({"channel": "c0", "adstock": {"decay": 0.5, "max_lag_periods": 2}})
    mode = draw(st.sampled_from(["at_most", "equal"]))
    objective = draw(st.sampled_from(["max_response", "max_profit"]))
    return {"objective": {"kind": objective}, "total_budget": {"amount": budget, "mode": mode},
            "periods": periods, "channels": channels, "advanced": {"rules": rules}}


@settings(max_examples=25, deadline=None)
@given(adstock_plans())
def test_random_plans_match_the_lp_and_stay_within_limits(data):
    """Property: on random adstock plans the decomposition's plan respects every bound and spend row,
    and it and the LP (HiGHS on chord pieces) certify each other: each one's upper bound is at least
    the other's plan value, so both are within their gaps of the same optimum."""
    cfg = AdvancedBudget.model_validate(data)
    dec, lp = _cross_check(cfg)
    has_plan = ("optimal", "feasible")
    assert (dec.status in has_plan) == (lp.status in has_plan), (dec.status, lp.status)
    if lp.status not in has_plan:
        assert dec.status == lp.status == "infeasible"
        return
    assert dec.method in ("decomposition", "lp after decomposition")
    spend = dec.allocations["spend"].to_numpy()
    form = build(cfg, one_piece=True, chord_errors=False)
    p = form.problem
    assert np.all(spend >= p.col_lo[:spend.size] - 1e-9) and np.all(spend <= p.col_hi[:spend.size] * (1 + 1e-9) + 1e-9)
    n = spend.size
    rows = np.r_[np.arange(0, form.link_row), np.arange(form.link_row + n, p.n_rows)]
    Sx = p.A[rows][:, :n] @ spend
    # rows hold to HiGHS' primal feasibility tolerance (1e-7 absolute) plus 1e-9 relative
    tol_rows = 1e-7 + 1e-9 * np.abs(Sx)
    assert np.all(Sx <= p.row_hi[rows] + tol_rows)
    assert np.all(Sx >= p.row_lo[rows] - tol_rows)
    tol = 1e-9 * max(abs(lp.objective_value), 1.0)
    assert dec.bound >= lp.objective_value - tol
    assert lp.bound >= dec.objective_value - tol
    # never worse than the LP alone: where the LP certifies its plan, so does "auto" (the decomposition,
    # or the LP it hands over to when it cannot certify)
    target = cfg.gap_tolerance_relative + cfg.advanced.mip_gap_relative
    if lp.optimality_gap <= target:
        assert dec.optimality_gap <= target
