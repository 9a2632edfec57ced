"""``response: {from: curves.yaml, channel: c, bounds: historical}``: the file's recommended bounds become
the channel's min_spend / max_spend (per-period bounds x periods_per_cell x periods), and the plan keeps them."""

from __future__ import annotations

import pytest

from optimizer.curves.curvefile import ChannelCurves, CurvesFile, HistoricalSpend, Kpi, Source, SpendBounds, hill_response, write_curves
from optimizer.errors import ScenarioError
from optimizer.runner import run
from optimizer.scenario import load_scenario


def _write(tmp_path):
    cf = CurvesFile(
        dmpopt_curves=1, source=Source(tool="dmpopt-fit", seed=3), currency="CNY",
        kpi=Kpi(name="revenue", unit="currency"), period="week",
        channels={
            # far more efficient than search: unbounded, the plan would put nearly everything here
            "tv": ChannelCurves(response=hill_response(2_000_000.0, 400_000.0, 0.9),
                                recommended_bounds=SpendBounds(min_spend=10_000, max_spend=40_000)),
            # no recommended_bounds: 0.5-2 x historical mean (Robyn's default) is used
            "search": ChannelCurves(response=hill_response(300_000.0, 80_000.0, 0.8),
                                    historical_spend=HistoricalSpend(min=0, max=90_000, mean=50_000)),
            "bare": ChannelCurves(response=hill_response(300_000.0, 80_000.0, 0.8)),
        },
    )
    write_curves(cf, tmp_path / "curves.yaml")


def _scenario(tmp_path, tv, search, amount=100_000, extra=""):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: b\ncurrency: CNY\nbudget:\n  total_budget: {{amount: {amount}}}\n  channels:\n"
                 f"  - name: tv\n    response: {tv}\n{extra}  - name: search\n    response: {search}\n", encoding="utf-8")
    return p


def test_bounds_historical_sets_channel_limits_and_the_plan_keeps_them(tmp_path):
    _write(tmp_path)
    p = _scenario(tmp_path, "{from: curves.yaml, channel: tv, bounds: historical}",
                  "{from: curves.yaml, channel: search, bounds: historical, periods_per_cell: 2}")
    tv, search = load_scenario(p).model.budget.channels
    assert (tv.min_spend, tv.max_spend) == (10_000, 40_000)
    assert (search.min_spend, search.max_spend) == (2 * 25_000, 2 * 100_000)  # periods_per_cell 2
    doc = run(load_scenario(p), seed=1).to_dict()
    budget = doc["sections"]["budget"] if "sections" in doc else doc["budget"]
    assert budget["status"] == "optimal"
    spend = {r["channel"]: r["spend"] for r in budget["channel_totals"]}
    assert spend["tv"] == pytest.approx(40_000, rel=1e-6)  # at its cap: tv is the better channel
    assert spend["search"] == pytest.approx(60_000, rel=1e-6)


def test_bounds_default_none_and_own_limits_win(tmp_path):
    _write(tmp_path)
    p = _scenario(tmp_path, "{from: curves.yaml, channel: tv}", "{from: curves.yaml, channel: search}")
    assert load_scenario(p).model.budget.channels[0].max_spend is None
    p = _scenario(tmp_path, "{from: curves.yaml, channel: tv, bounds: historical}",
                  "{from: curves.yaml, channel: search}", extra="    max_spend: 30000\n")
    tv = load_scenario(p).model.budget.channels[0]
    assert (tv.min_spend, tv.max_spend) == (10_000, 30_000)


def test_bounds_without_history_names_the_field(tmp_path):
    _write(tmp_path)
    p = _scenario(tmp_path, "{from: curves.yaml, channel: bare, bounds: historical}", "{from: curves.yaml, channel: search}")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    text = str(e.value) + " ".join(getattr(e.value, "problems", []) or [])
    assert "bounds" in text and "historical_spend" in text
