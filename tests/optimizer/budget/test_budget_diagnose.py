"""Infeasible budgets are explained in money: which limits conflict and by how much."""

from __future__ import annotations

import pytest

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # budgetkit (--import-mode=importlib)
from budgetkit import article_config, config  # noqa: E402

from optimizer.budget import allocate
from optimizer.budget.allocation import raise_if_infeasible
from optimizer.errors import InfeasibleError


def _log(name: str, **limits) -> dict:
    return {"name": name, "response": {"kind": "log", "scale": 200_000, "saturation_spend": 30_000}, **limits}


def test_minimums_above_budget_issue_example() -> None:
    """The issue's sentence: minimums 1.31M vs budget 1.13M -> raise by 0.18M."""
    cfg = config(total_budget={"amount": 1_130_000}, channels=[
        _log("a", min_spend=700_000), _log("b", min_spend=610_000)])
    r = allocate(cfg, currency="CNY")
    assert r.status == "infeasible"
    assert r.explanation[0] == (
        "channel minimums need ¥1.31M, the budget is ¥1.13M: raise the budget by ¥180k or lower the "
        "minimums (a ¥700k, b ¥610k).")


def test_frozen_spend_above_budget() -> None:
    cfg = config(total_budget={"amount": 100_000}, channels=[_log("a", frozen_spend=150_000), _log("b")])
    r = allocate(cfg, currency="USD")
    assert "frozen channels alone take $150k" in r.explanation[0]
    assert "raise the budget by $50k" in r.explanation[0]


def test_exact_budget_above_what_channels_absorb() -> None:
    cfg = config(total_budget={"amount": 100_000, "mode": "equal"},
                 channels=[_log("a", max_spend=30_000), _log("b", max_spend=40_000)])
    r = allocate(cfg, currency="USD")
    assert r.explanation[0] == (
        "the budget must be spent exactly ($100k) but the channels can absorb at most $70k: raise channel caps "
        "by $30k, lower the budget, or set total_budget.mode to at_most.")


def test_period_budgets_below_channel_minimums() -> None:
    cfg = config(total_budget={"amount": 500_000},
                 periods=[{"name": "w1", "max_spend": 100_000}, {"name": "w2", "max_spend": 100_000}],
                 channels=[_log("a", min_spend=150_000), _log("b", min_spend=90_000)])
    r = allocate(cfg, currency="CNY")
    assert "channel minimums need ¥240k but the period budgets total ¥200k: raise the period budgets by ¥40k" in r.explanation[0]


def test_min_response_out_of_reach() -> None:
    """A linear channel with roi 2 capped at 10,000 delivers at most 20,000."""
    cfg = config(total_budget={"amount": 50_000}, channels=[
        {"name": "a", "response": {"kind": "linear", "roi": 2.0}, "max_spend": 10_000, "min_response": 25_000}])
    r = allocate(cfg, currency="CNY")
    assert "channel a must deliver ¥25k but can deliver at most ¥20k within its caps" in r.explanation[0]


def test_target_response_out_of_reach() -> None:
    cfg = config(objective={"kind": "min_spend", "target_response": 1_000_000}, total_budget={"amount": 10_000},
                 channels=[{"name": "a", "response": {"kind": "linear", "roi": 3.0}}])
    r = allocate(cfg, currency="CNY")
    assert r.status == "infeasible"
    assert r.explanation[0].startswith("the target response ¥1M cannot be reached: the most any plan within the "
                                       "limits delivers is ¥30k (spending ¥10k)")


def test_hidden_conflict_found_by_elastic_lp_and_deletion_filter() -> None:
    """Two channels that only run in w1 need 80k + 60k, but w1's budget is 100k; each minimum fits
    alone and no total shows it (budget 300k). Cheapest fix: 40k less in minimums or 40k more in w1;
    a minimal conflicting set is all three limits."""
    cfg = config(total_budget={"amount": 300_000},
                 periods=[{"name": "w1", "max_spend": 100_000}, {"name": "w2"}],
                 channels=[_log("tv", min_spend=80_000, periods=["w1"]), _log("search", min_spend=60_000, periods=["w1"])])
    r = allocate(cfg, currency="CNY")
    assert r.status == "infeasible"
    first, second = r.explanation
    assert first.startswith("no plan meets every limit. The smallest change that makes one possible: ")
    assert "by ¥40k" in first
    assert second == ("These limits conflict (drop or relax any one of them): spend on channel tv >= ¥80k; "
                      "spend on channel search >= ¥60k; spend in period w1 <= ¥100k.")


def test_raise_if_infeasible_gives_exit_code_3() -> None:
    r = allocate(article_config("A", amount=250_000), currency="CNY")
    with pytest.raises(InfeasibleError) as info:
        raise_if_infeasible(r)
    assert info.value.exit_code == 3
    assert "raise the budget by ¥60k" in str(info.value)
    ok = allocate(article_config("A"))
    assert raise_if_infeasible(ok) is ok
