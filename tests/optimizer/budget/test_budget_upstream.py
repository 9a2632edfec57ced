"""Sections feeding the budget: experiments scale a channel, churn retention is paid from the budget.

Runs the shipped scenario scenarios/campaign_plan.yaml end to end (real experiments analysis on
DuckDB, real churn fit, real HiGHS) and checks the hand-derivable consequences.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.runner import run
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def plan():
    return run(load_scenario(ROOT / "scenarios" / "campaign_plan.yaml"))


def test_shipped_experiment_multiplies_the_channel_response(plan):
    """feed_ads: Hill(max 120000, half 20000, shape 0.9) x (1 + lift of the shipped creative) x week multiplier.

    Each cell's reported response must equal that product at the cell's spend: the multiplier
    from experiments.channel_multipliers() reaches the solver's cells.
    """
    mult = plan.result("experiments").channel_multipliers()["feed_ads"]
    assert mult == pytest.approx(1.1236, abs=5e-5)  # the 12.36 % lift in the experiments table
    week_mult = {"2026-W49": 1.0, "2026-W50": 1.0, "2026-W51": 1.15, "2026-W52": 0.9}
    rows = plan.result("budget").allocations
    feed = rows[rows["channel"] == "feed_ads"]
    assert len(feed) == 4
    for r in feed.itertuples():
        hill = 120000 * r.spend**0.9 / (20000**0.9 + r.spend**0.9)
        assert r.response == pytest.approx(hill * mult * week_mult[r.period], rel=1e-9)
    assert any("feed_ads response x1.1236" in a for a in plan.result("budget").adjustments)


def test_retention_cost_comes_out_of_the_total_budget(plan):
    """Budget 250,000 at most; the LP spends it all (every curve still rises), minus the retention cost."""
    retention = plan.result("churn").retention_line()["total_spend"]
    assert retention > 0
    budget = plan.result("budget")
    assert budget.total_spend == pytest.approx(250000 - retention, rel=1e-9)
    assert any("reserved for retention contacts" in a for a in budget.adjustments)
    assert budget.to_dict()["adjustments"] == list(budget.adjustments)


def test_ignore_leaves_the_budget_whole(tmp_path):
    text = (ROOT / "scenarios" / "campaign_plan.yaml").read_text()
    text = text.replace("churn_retention: reserve", "churn_retention: ignore")
    text = text.replace("file: experiments/weekly.yaml", f"file: {ROOT}/scenarios/experiments/weekly.yaml")
    text = text.replace("data: data/churn_customers.csv", f"data: {ROOT}/scenarios/data/churn_customers.csv")
    p = tmp_path / "s.yaml"
    p.write_text(text)
    budget = run(load_scenario(p)).result("budget")
    assert budget.total_spend == pytest.approx(250000, rel=1e-9)
    assert not any("retention" in a for a in budget.adjustments)
