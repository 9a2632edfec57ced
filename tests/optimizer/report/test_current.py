"""Current vs recommended on the same curves: hand-computed Hill values, draws, errors, the sentence."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import ScenarioError
from optimizer.planreport.current import planner_sentence
from optimizer.runner import run
from optimizer.scenario import load_scenario

BASE = """
name: hand
currency: USD
seed: 1
budget:
  total_budget: {amount: 40000, mode: equal}
  periods: [{name: W1}, {name: W2, response_multiplier: 1.2}]
  channels:
    - name: tv
      response: {kind: hill, max_response: 90000, half_saturation_spend: 15000, shape: 1}
    - name: search
      response: {kind: hill, max_response: 50000, half_saturation_spend: 5000, shape: 1}
"""


def hill(x, m, h):
    return m * x / (x + h)


def plan_with(tmp_path, current: str, extra_budget: str = ""):
    p = tmp_path / "s.yaml"
    p.write_text(BASE + extra_budget + textwrap.dedent(current))
    return run(load_scenario(p))


def test_known_answer_hill_per_channel(tmp_path):
    """Hand computation, f(x) = m x / (x + h), period W2 x 1.2, a channel total split evenly over W1, W2:
    tv 30,000 -> 15,000 a week: 90,000*15,000/30,000 = 45,000; 45,000 + 1.2*45,000 = 99,000.
    search 10,000 -> 5,000 a week: 50,000*5,000/10,000 = 25,000; 25,000 + 30,000 = 55,000. Total 154,000."""
    plan = plan_with(tmp_path, "current:\n  spend: {tv: 30000, search: 10000}\n")
    cmp_ = plan.sections["current"][1]
    t = cmp_.table.set_index("channel")
    assert t.loc["tv", "current_response"] == pytest.approx(99_000, rel=1e-12)
    assert t.loc["search", "current_response"] == pytest.approx(55_000, rel=1e-12)
    assert t.loc["total", "current_response"] == pytest.approx(154_000, rel=1e-12)
    assert t.loc["tv", "current_roi"] == pytest.approx(3.3) and t.loc["search", "current_roi"] == pytest.approx(5.5)
    # the recommended side is the budget's own plan, read on the same curves: it agrees with the budget table
    budget = plan.sections["budget"][1]
    bt = budget.channel_totals.set_index("channel")
    for ch in ("tv", "search"):
        assert t.loc[ch, "recommended_spend"] == pytest.approx(bt.loc[ch, "spend"], rel=1e-9)
        assert t.loc[ch, "recommended_response"] == pytest.approx(bt.loc[ch, "response"], rel=1e-9)
    # and by hand from the allocations
    alloc = budget.allocations
    mult = {"W1": 1.0, "W2": 1.2}
    m_h = {"tv": (90_000, 15_000), "search": (50_000, 5_000)}
    by_hand = sum(mult[r.period] * hill(r.spend, *m_h[r.channel]) for r in alloc.itertuples())
    assert t.loc["total", "recommended_response"] == pytest.approx(by_hand, rel=1e-9)
    assert t.loc["total", "incremental_response"] == pytest.approx(by_hand - 154_000, rel=1e-9)
    # the current plan spends the same budget: the certified optimum cannot be worse
    assert t.loc["total", "incremental_response"] > -1e-4 * 154_000
    assert "against the current plan" in cmp_.sentence
    assert cmp_.p_recommended_beats_current is None


def test_spend_per_period_known_answer(tmp_path):
    """tv 20,000 in W1: 90,000*20,000/35,000 = 51,428.571...; 10,000 in W2: 1.2*36,000 = 43,200."""
    plan = plan_with(tmp_path, "current:\n  spend_per_period: {tv: {W1: 20000, W2: 10000}}\n")
    t = plan.sections["current"][1].table.set_index("channel")
    assert t.loc["tv", "current_response"] == pytest.approx(90_000 * 20_000 / 35_000 + 43_200, rel=1e-12)
    assert t.loc["search", "current_spend"] == 0 and t.loc["search", "current_response"] == 0


def test_draws_give_intervals_and_the_probability_of_beating_current(tmp_path):
    """Two tv draws: (90,000, 15,000) as the curve, and max_response halved. Current per draw by hand:
    154,000 and 49,500 + 55,000 = 104,500."""
    extra = """  advanced:
    uncertainty:
      objective: expected
      channels:
        - channel: tv
          draws:
            - {max_response: 90000, half_saturation_spend: 15000, shape: 1}
            - {max_response: 45000, half_saturation_spend: 15000, shape: 1}
"""
    plan = plan_with(tmp_path, "current:\n  spend: {tv: 30000, search: 10000}\n", extra)
    cmp_ = plan.sections["current"][1]
    assert cmp_.draws_current == pytest.approx((154_000, 104_500), rel=1e-12)
    alloc = plan.sections["budget"][1].allocations
    mult = {"W1": 1.0, "W2": 1.2}
    rec = []
    for m_tv in (90_000, 45_000):
        m_h = {"tv": (m_tv, 15_000), "search": (50_000, 5_000)}
        rec.append(sum(mult[r.period] * hill(r.spend, *m_h[r.channel]) for r in alloc.itertuples()))
    assert cmp_.draws_recommended == pytest.approx(tuple(rec), rel=1e-9)
    assert cmp_.p_recommended_beats_current == np.mean(np.array(rec) > np.array([154_000, 104_500]))
    t = cmp_.table.set_index("channel")
    assert t.loc["total", "current_response_q05"] <= t.loc["total", "current_response_q95"]
    assert "curve draws" in " ".join(cmp_.notes())


def test_previous_plan_json_is_the_current_plan(tmp_path):
    first = plan_with(tmp_path, "current:\n  spend: {tv: 30000, search: 10000}\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "plan.json").write_text(first.to_json())
    again = plan_with(tmp_path, "current:\n  plan: old/plan.json\n")
    t = again.sections["current"][1].table.set_index("channel")
    assert t.loc["total", "incremental_response"] == pytest.approx(0.0, abs=1e-6)
    assert t.loc["tv", "current_spend"] == pytest.approx(t.loc["tv", "recommended_spend"])
    assert "the recommended plan is the current plan" in again.sections["current"][1].sentence


def test_unknown_channel_names_the_field_and_suggests(tmp_path):
    with pytest.raises(ScenarioError, match=r"s\.yaml: current\.spend\.tvv: 'tvv' is not a budget channel; did you mean 'tv'\?"):
        plan_with(tmp_path, "current:\n  spend: {tvv: 30000}\n")


@pytest.mark.parametrize("block, message", [
    ("current:\n  spend: {tv: -5}\n", "spend.tv is -5"),
    ("current:\n  spend: {tv: 5}\n  plan: x.json\n", "exactly one of spend, spend_per_period or plan"),
])
def test_bad_current_blocks_are_refused_at_load(tmp_path, block, message):
    p = tmp_path / "s.yaml"
    p.write_text(BASE + block)
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert message in str(err.value) and "current" in str(err.value)


def test_planner_sentence_in_the_issue_words():
    """Issue 15's example: "moving $120k from display to search adds $410k of revenue, +6.1 %"."""
    t = pd.DataFrame({
        "channel": ["display", "search", "video", "total"],
        "current_spend": [300_000.0, 200_000.0, 100_000.0, 600_000.0],
        "recommended_spend": [180_000.0, 320_000.0, 100_000.0, 600_000.0],
        "current_response": [3_000_000.0, 2_000_000.0, 1_721_311.0, 6_721_311.0],
        "recommended_response": [2_500_000.0, 2_910_000.0, 1_721_311.0, 7_131_311.0],
    })
    t["incremental_response"] = t.recommended_response - t.current_response
    assert planner_sentence(t, "USD", "currency") == (
        "moving $120k from display to search adds $410k of revenue, +6.1 % against the current plan.")


def test_a_yaml_boolean_is_not_money(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(BASE + "current:\n  spend: {tv: yes}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert "current.spend.tv" in str(err.value)
