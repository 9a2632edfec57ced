"""Curves-file provenance in plan.json / plan.md, the extrapolation warning, and report.html's ranked
recommendations (issue 15: "which channel is at the end of its measured data")."""

from __future__ import annotations

import hashlib
import json

import pytest

from optimizer.planreport.html import recommendations, report_html
from optimizer.runner import run
from optimizer.scenario import load_scenario

# log curve f(x) = scale * ln(1 + x / saturation_spend) per week; the data's most in one week was 10,000
CURVES = """dmpopt_curves: 1
source: {tool: robyn, tool_version: "3.12.1"}
currency: USD
kpi: {name: revenue, unit: currency}
period: week
channels:
  search:
    response: {kind: log, scale: 40000, saturation_spend: 5000}
    historical_spend: {min: 1000, max: 10000, mean: 6000}
  social:
    response: {kind: log, scale: 10000, saturation_spend: 5000}
    historical_spend: {min: 1000, max: 50000, mean: 6000}
"""

SCENARIO = """name: prov
currency: USD
budget:
  total_budget: {amount: 72000, mode: equal}
  periods:
    - {name: W1, max_spend: 36000}
    - {name: W2, max_spend: 36000}
  channels:
    - name: search
      response: {from: curves/c.yaml, channel: search}
      max_share: 0.5
    - name: social
      response: {from: curves/c.yaml, channel: social}
    - name: tv
      response: {kind: log, scale: 1000, saturation_spend: 5000}
      min_spend: 8000
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    d = tmp_path_factory.mktemp("prov")
    (d / "curves").mkdir()
    (d / "curves" / "c.yaml").write_text(CURVES)
    (d / "s.yaml").write_text(SCENARIO)
    return run(load_scenario(d / "s.yaml"), seed=1), d


def test_plan_json_records_each_curves_file_with_its_hash_and_tool(plan):
    p, d = plan
    doc = json.loads(p.to_json())
    src = {c["channel"]: c for c in doc["budget"]["curve_sources"]}
    assert set(src) == {"search", "social"}  # tv's curve is typed in the scenario
    digest = hashlib.sha256((d / "curves" / "c.yaml").read_bytes()).hexdigest()
    assert src["search"] == {"channel": "search", "path": "curves/c.yaml", "sha256": digest, "tool": "robyn",
                             "tool_version": "3.12.1", "curves_channel": "search", "period": "week",
                             "periods_per_cell": 1, "historical_max_spend": 10000.0, "signal_t": None,
                             "bounded": False}
    md = p.to_markdown()
    assert "Curves from files" in md and "`curves/c.yaml`" in md and digest[:16] in md


def test_spend_beyond_the_data_is_warned_and_recommended_first(plan):
    """search is capped at half of the 72,000 (max_share 0.5) and the curves make it the best channel, so
    it spends 36,000 over the two weeks (18,000 a week by symmetry: equal week budgets and curves):
    18,000 / 10,000 = 1.8x its most ever spent. social (max 50,000) stays within its data."""
    p, _ = plan
    res = p.result("budget")
    search = res.channel_totals.set_index("channel").loc["search", "spend"]
    assert search == pytest.approx(36_000, rel=1e-6)
    weeks = res.allocations[res.allocations.channel == "search"].groupby("period")["spend"].sum()
    assert weeks.max() == pytest.approx(18_000, rel=2e-3)  # chord tolerance: the weeks may differ by a few $
    warning = (f"search: recommended ${weeks.max():,.0f} per week is 1.8x the most ever spent ($10,000); "
               "the curve is extrapolated there")
    assert warning in res.warnings
    assert not any(w.startswith("social:") for w in res.warnings)
    recs = recommendations(p)
    assert recs[0][1].startswith(f"Search: recommended ${weeks.max():,.0f} per week is 1.8x the most ever spent")
    html = report_html(p, {})
    assert "1.8x the most ever spent" in html[html.index('id="recommendations"'):]


def test_recommendations_rank_limits_and_name_the_costliest_minimum(plan):
    """Binding: the total budget (spent exactly), search's share cap, tv's minimum. The values are the
    KKT shadow prices (each checked against a re-solve in tests/optimizer/budget); here: ranked, in
    sentences, the most valuable limit and the costliest minimum said to be so, no "Lift this limit." prefix."""
    p, _ = plan
    recs = recommendations(p)
    finite = [(v, t) for v, t in recs if v != float("inf")]
    assert [v for v, _ in finite] == sorted((v for v, _ in finite), reverse=True)
    assert not any(t.startswith("Lift this limit") for _, t in recs)
    uppers = [t for _, t in finite if "worth" in t and "minimum" not in t]
    assert uppers and ("worth the most" in uppers[0] or "lifting it is worth that much" in uppers[0])
    res = p.result("budget")
    lowers = [b for b in res.binding_constraints if b.side == "lower" and abs(b.shadow_price) > 1e-12]
    assert [b.entity for b in lowers] == ["tv"]  # tv's curve returns at most 1000/5000 = 0.2 per $: forced
    tv = [t for _, t in finite if "channel tv" in t]
    assert len(tv) == 1 and tv[0].endswith("costs $0.415 of response per $ it forces: lowering it is worth that much."[-40:])
    assert "It forces" not in tv[0] and tv[0].startswith("The minimum spend on channel tv ($8,000) costs")


def test_a_weakly_identified_fitted_curve_is_warned_in_the_plan(tmp_path):
    """A curves file from `dmpopt curves fit` carries each channel's coefficient t (`signal_t`); a plan on a
    curve the history barely showed (t < 2) says so, with advice that depends on whether the reference
    holds it to the recommended range (bounds: historical). A well-identified curve (t 6.0) is not warned."""
    (tmp_path / "curves").mkdir()
    weak = CURVES.replace("    historical_spend: {min: 1000, max: 10000, mean: 6000}\n",
                          "    historical_spend: {min: 1000, max: 10000, mean: 6000}\n    signal_t: 6.0\n")
    weak = weak.replace("    historical_spend: {min: 1000, max: 50000, mean: 6000}\n",
                        "    historical_spend: {min: 1000, max: 50000, mean: 6000}\n    signal_t: 1.3\n")
    assert weak.count("signal_t") == 2
    (tmp_path / "curves" / "c.yaml").write_text(weak)
    for bounded in (False, True):
        scenario = SCENARIO.replace("response: {from: curves/c.yaml, channel: social}",
                                    "response: {from: curves/c.yaml, channel: social, bounds: historical}"
                                    if bounded else "response: {from: curves/c.yaml, channel: social}")
        (tmp_path / "s.yaml").write_text(scenario)
        p = run(load_scenario(tmp_path / "s.yaml"), seed=1)
        res = p.result("budget")
        weak_w = [w for w in res.warnings if "weakly identified" in w]
        assert len(weak_w) == 1 and weak_w[0].startswith("social: its curve from curves/c.yaml is weakly identified")
        assert "coefficient t 1.3 < 2" in weak_w[0]
        assert ("held to the file's recommended spend range" in weak_w[0]) == bounded
        src = {c.channel: c for c in res.curve_sources}
        assert src["social"].signal_t == 1.3 and src["search"].signal_t == 6.0 and src["social"].bounded == bounded
        assert "weakly identified" in p.to_markdown()
        assert any("weakly identified" in t for v, t in recommendations(p) if v == float("inf"))
