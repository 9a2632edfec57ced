"""Adstock (carry-over) and ROAS / CPA targets: hand-derived known answers."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.budget.advanced.allocate import allocate_advanced, evaluate
from optimizer.budget.advanced.formulation import build
from optimizer.budget.advanced.schema import AdvancedBudget

ADSTOCK = {
    "total_budget": {"amount": 15000},
    "periods": [{"name": f"w{i}", "max_spend": 10000} for i in (1, 2, 3)],
    "channels": [{"name": "tv", "response": {"kind": "linear", "roi": 2.0}}],
    "advanced": {"rules": [{"channel": "tv", "adstock": {"decay": 0.5, "max_lag_periods": 2, "history_spend": [4000]}}]},
}


def test_adstock_linear_hand():
    """e1 = x1 + 0.5*4000, e2 = x2 + 0.5 x1 + 0.25*4000, e3 = x3 + 0.5 x2 + 0.25 x1 (history is 3 lags
    back from w3 > L = 2). Response 2 (e1 + e2 + e3) = 2 (1.75 x1 + 1.5 x2 + x3 + 3000): fill w1 to its
    10,000 cap, then w2 with the other 5,000 -> 2 (17,500 + 7,500 + 3,000) = 56,000."""
    r = allocate_advanced(AdvancedBudget.model_validate(ADSTOCK))
    assert r.objective_value == pytest.approx(56000.0, rel=1e-9)
    assert r.allocations["spend"].tolist() == pytest.approx([10000.0, 5000.0, 0.0])
    assert r.allocations["effective_spend"].tolist() == pytest.approx([12000.0, 11000.0, 5000.0])
    # marginal ROI of spend in w1 counts its carry-over: 2 x 1.75
    assert r.allocations["marginal_roi"].tolist() == pytest.approx([3.5, 3.0, 2.0])


def test_adstock_matrix_matches_direct_convolution():
    """e_t = sum_{l=0..L} d^l x_{t-l} + history, computed directly with numpy for random spends."""
    d = {**ADSTOCK, "periods": [{"name": f"w{i}"} for i in range(8)],
         "advanced": {"rules": [{"channel": "tv", "adstock": {"decay": 0.7, "max_lag_periods": 3,
                                                             "history_spend": [100.0, 200.0, 300.0]}}]}}
    form = build(AdvancedBudget.model_validate(d))
    x = np.random.default_rng(0).uniform(0, 1000, 8)
    hist = [100.0, 200.0, 300.0]
    full = np.r_[hist, x]
    want = [sum(0.7 ** l * full[3 + t - l] for l in range(4) if 3 + t - l >= 0) for t in range(8)]
    assert evaluate(form, x)["effective"] == pytest.approx(want, rel=1e-12)


LIN = {
    "total_budget": {"amount": 100000},
    "channels": [
        {"name": "a", "response": {"kind": "linear", "roi": 5.0}, "max_spend": 20000},
        {"name": "b", "response": {"kind": "linear", "roi": 2.0}, "max_spend": 100000},
    ],
}


def test_roas_target_hand():
    """ROAS >= 3: a 20,000 (100,000); b x with 100,000 + 2x >= 3 (20,000 + x) -> x <= 40,000:
    response 180,000 on spend 60,000 (ROAS exactly 3)."""
    r = allocate_advanced(AdvancedBudget.model_validate({**LIN, "advanced": {"target": {"kind": "roas", "min_roas": 3}}}))
    assert r.objective_value == pytest.approx(180000.0, rel=1e-9)
    assert r.total_spend == pytest.approx(60000.0, rel=1e-9)


def test_cpa_target_hand():
    """Conversions: a 0.05 per currency (cap 20,000), b 0.01. CPA <= 40 means conversions >= spend/40:
    1,000 + 0.01 x >= (20,000 + x)/40 -> 0.015 x <= 500 -> x <= 33,333.3: 1,333.33 conversions."""
    d = {**LIN, "response_unit": "conversions",
         "channels": [{"name": "a", "response": {"kind": "linear", "roi": 0.05}, "max_spend": 20000},
                      {"name": "b", "response": {"kind": "linear", "roi": 0.01}, "max_spend": 100000}],
         "advanced": {"target": {"kind": "cpa", "max_cpa": 40}}}
    r = allocate_advanced(AdvancedBudget.model_validate(d))
    assert r.objective_value == pytest.approx(1000 + 0.01 * 100000 / 3, rel=1e-9)


def test_unreachable_roas_names_the_best_achievable():
    """b must spend >= 50,000: best ROAS = (5 x 20,000 + 2 x 50,000) / 70,000 = 2.857 < target 3."""
    d = {**LIN, "channels": [LIN["channels"][0], {**LIN["channels"][1], "min_spend": 50000}],
         "advanced": {"target": {"kind": "roas", "min_roas": 3}}}
    r = allocate_advanced(AdvancedBudget.model_validate(d))
    assert r.status == "infeasible"
    assert "the best achievable ROAS under these caps is 2.86, below the target 3" in r.explanation[0]


def test_smallest_budget_for_a_target_response():
    """min_spend to reach 150,000: a 20,000 -> 100,000, then b 25,000 -> 50,000: 45,000."""
    d = {**LIN, "objective": {"kind": "min_spend", "target_response": 150000}}
    d.pop("total_budget")
    r = allocate_advanced(AdvancedBudget.model_validate(d))
    assert r.objective_value == pytest.approx(45000.0, rel=1e-9)
