"""The article example (docs/article-example.md): known answers under both readings of "ROI".

Data (article): feed ads 50 CNY/unit, ROI 3.2, 2000..10000 units; search ads 80 CNY/unit, ROI 4.5,
1500..6000 units; short video 30 CNY/unit, ROI 2.8, 3000..15000 units. The article claims
x = (10000, 6000, 5000) with "maximum ROI 73000" and states no budget.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # budgetkit (--import-mode=importlib)
from budgetkit import article_config  # noqa: E402

from optimizer.budget import allocate

ROOT = Path(__file__).resolve().parents[3]


def test_article_figure_is_roi_times_units_and_implies_budget() -> None:
    """Hand check: 3.2*10000 + 4.5*6000 + 2.8*5000 = 32000 + 27000 + 14000 = 73000 (ROI x UNITS),
    and the plan costs 50*10000 + 80*6000 + 30*5000 = 500000 + 480000 + 150000 = 1130000 CNY."""
    units = {"feed_ads": 10000, "search_ads": 6000, "short_video": 5000}
    cfg = article_config("A")
    per_unit = {c.name: (c.cost_per_unit, c.response.roi) for c in cfg.channels}
    assert sum(per_unit[k][1] * u for k, u in units.items()) == pytest.approx(73000)
    assert sum(per_unit[k][0] * u for k, u in units.items()) == pytest.approx(1_130_000)


@pytest.mark.parametrize("method", ["lp", "auto"])
def test_reading_a_roi_per_cny_spent_article_plan_is_optimal(method: str) -> None:
    """Reading A: response = roi * spend. Hand derivation: minimums cost 50*2000 + 80*1500 + 30*3000
    = 310000; the remaining 820000 goes by ROI per CNY: search (4.5) to its cap, +4500 units =
    360000 -> 460000 left; feed (3.2) to its cap, +8000 units = 400000 -> 60000 left; video (2.8)
    gets 60000/30 = 2000 more units -> 5000. x = (10000, 6000, 5000); revenue
    3.2*500000 + 4.5*480000 + 2.8*150000 = 1600000 + 2160000 + 420000 = 4180000 CNY.
    Budget dual = 2.8 (video is the marginal channel); feed cap is worth 3.2-2.8 = 0.4 per CNY,
    search cap 4.5-2.8 = 1.7 per CNY."""
    r = allocate(article_config("A"), currency="CNY", method=method)
    assert r.status == "optimal"
    assert r.channel_totals["units"].tolist() == pytest.approx([10000, 6000, 5000])
    assert r.objective_value == pytest.approx(4_180_000)
    assert r.total_spend == pytest.approx(1_130_000)
    assert r.optimality_gap <= 1e-9
    prices = {b.name: b.shadow_price for b in r.binding_constraints}
    assert prices["total_budget[total]"] == pytest.approx(2.8)
    assert prices["channel_spend[feed_ads]"] == pytest.approx(0.4)
    assert prices["channel_spend[search_ads]"] == pytest.approx(1.7)
    texts = [b.text for b in r.binding_constraints]
    assert "one more ¥ of total budget (now ¥1,130,000) returns ¥2.8 of response per ¥" in texts


def test_reading_b_roi_per_unit_article_plan_is_not_optimal() -> None:
    """Reading B: value per unit = ROI CNY, so return per CNY = ROI/cost: feed 3.2/50 = 0.064,
    search 4.5/80 = 0.05625, video 2.8/30 = 0.09333. Minimums first (310000), then video to its cap
    (+12000 units = 360000 -> 460000 left), feed to its cap (+8000 units = 400000 -> 60000 left),
    search gets 60000/80 = 750 more units -> 2250. x = (10000, 2250, 15000); revenue
    3.2*10000 + 4.5*2250 + 2.8*15000 = 32000 + 10125 + 42000 = 84125 CNY > 73000."""
    r = allocate(article_config("B"), currency="CNY")
    assert r.status == "optimal"
    assert r.channel_totals["units"].tolist() == pytest.approx([10000, 2250, 15000])
    assert r.objective_value == pytest.approx(84_125)
    assert r.objective_value > 73_000
    prices = {b.name: b.shadow_price for b in r.binding_constraints}
    assert prices["total_budget[total]"] == pytest.approx(4.5 / 80)
    assert "one more ¥ of total budget (now ¥1,130,000) returns ¥0.0563 of response per ¥" in [
        b.text for b in r.binding_constraints]


def test_article_scenarios_plan_through_the_runner(tmp_path: Path) -> None:
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    expected = {"article.yaml": (4_180_000, [10000, 6000, 5000]),
                "article_per_unit.yaml": (84_125, [10000, 2250, 15000])}
    for name, (value, units) in expected.items():
        plan = run(load_scenario(ROOT / "scenarios" / name))
        budget = plan.sections["budget"][1]
        data = json.loads(json.dumps(budget.to_dict(), allow_nan=False))
        assert data["status"] == "optimal"
        assert data["objective"]["value"] == pytest.approx(value)
        assert [c["units"] for c in data["channel_totals"]] == pytest.approx(units)
        assert data["currency"] == "CNY"


def test_budget_too_small_for_minimums_is_explained_in_money() -> None:
    """Minimums cost 310000 CNY (see above); with a 250000 budget the gap is 60000."""
    r = allocate(article_config("A", amount=250_000), currency="CNY")
    assert r.status == "infeasible"
    assert r.explanation[0].startswith("channel minimums need ¥310k, the budget is ¥250k: raise the budget by ¥60k")
