"""report.html's recommendations in words, ranked by value: limits to lift, costly minimums, measured-data ends."""

from __future__ import annotations

from optimizer.planreport.html import recommendations
from optimizer.runner import run
from optimizer.scenario import load_scenario

SCENARIO = """
name: recs
currency: USD
budget:
  total_budget: {amount: 30000, mode: equal}
  channels:
    - name: search
      response: {kind: table, points: [[5000, 20000], [10000, 30000]]}
    - name: display
      response: {kind: log, scale: 8000, saturation_spend: 5000}
      max_spend: 18000
"""


def test_recommendations_name_the_data_end_and_the_limit_worth_lifting(tmp_path):
    """search's measured curve ends at 10,000 (slope 2, then flat); display is capped at 18,000. With
    30,000 to spend exactly, display takes its cap and search the other 12,000, past its data. Lifting
    display's cap is worth display's slope there, by hand 8,000 / (5,000 + 18,000) = 0.3478 per $
    (search earns 0 beyond 10,000)."""
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO)
    plan = run(load_scenario(p))
    recs = recommendations(plan)
    values = [v for v, _ in recs]
    texts = [t for _, t in recs]
    assert values == sorted(values, reverse=True)  # ranked by value, the data warning first (inf)
    assert texts[0].startswith("search is at the end of its measured data (a cell spends $12,000, the last "
                               "measured point is $10,000)")
    lift = [(v, t) for v, t in recs if "channel display" in t]
    assert len(lift) == 1 and lift[0][1].startswith("One more $ of spend on channel display")
    assert "Lift this limit" not in " ".join(texts)  # sentences, not a prefix on every line
    assert abs(lift[0][0] - 8_000 / 23_000) < 1e-3
