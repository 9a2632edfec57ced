"""The ``bandit:`` plan section: closed-form shares, intervals, the shipped scenario, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from optimizer.bandit.section import SECTION, BanditSectionConfig, run_bandit
from optimizer.errors import DataError, ScenarioError
from optimizer.sections import RunContext
from optimizer.validation import parse_model

ROOT = Path(__file__).resolve().parents[3]


def _ctx(tmp_path=None, seed=5):
    return RunContext(seed=seed, rng=np.random.default_rng(seed), base_dir=Path(tmp_path or "."), source="s.yaml")


def prob_b_beats_a(a_a, b_a, a_b, b_b):
    """Evan Miller (2015), "Formulas for Bayesian A/B testing", exact for integer a_b:
    P(p_B > p_A) = sum_{i=0}^{a_b - 1} B(a_a + i, b_a + b_b) / ((b_b + i) B(1 + i, b_b) B(a_a, b_a))."""
    from scipy.special import betaln

    total = 0.0
    for i in range(int(a_b)):
        total += math.exp(betaln(a_a + i, b_a + b_b) - math.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a))
    return total


def test_two_channel_shares_match_evan_miller_closed_form():
    """email 40/1000, sms 55/1000, Beta(1, 1) prior: P(sms best) by Miller's exact sum."""
    cfg = BanditSectionConfig(period_volume=10_000, channels=[
        {"name": "email", "sent": 1000, "conversions": 40}, {"name": "sms", "sent": 1000, "conversions": 55}])
    res = run_bandit(cfg, _ctx())
    exact = prob_b_beats_a(41, 961, 56, 946)
    sms = res.channels[1]
    assert sms["prob_best"] == pytest.approx(exact, abs=1e-6)
    assert sms["share"] == pytest.approx(exact, abs=1e-6)
    assert res.channels[0]["share"] == pytest.approx(1 - exact, abs=1e-6)
    assert sms["messages"] == pytest.approx(10_000 * exact, rel=1e-6)


def test_intervals_match_beta_quantiles_and_totals_are_consistent():
    """Rate interval = Beta(56, 946) 5 % / 95 % quantiles (scipy.stats.beta.ppf) within MC error."""
    from scipy.stats import beta

    cfg = BanditSectionConfig(period_volume=10_000, n_draws=200_000, channels=[
        {"name": "email", "sent": 1000, "conversions": 40}, {"name": "sms", "sent": 1000, "conversions": 55}])
    res = run_bandit(cfg, _ctx())
    sms = res.channels[1]
    assert sms["rate"] == pytest.approx(56 / 1002)
    assert sms["rate_low"] == pytest.approx(beta.ppf(0.05, 56, 946), rel=0.01)
    assert sms["rate_high"] == pytest.approx(beta.ppf(0.95, 56, 946), rel=0.01)
    assert res.total_conversions_low < res.total_conversions < res.total_conversions_high
    assert res.total_conversions == pytest.approx(sum(c["expected_conversions"] for c in res.channels))
    assert 0 < res.expected_loss_per_message < 0.015  # at most the rate gap
    json.dumps(res.to_dict(), allow_nan=False)


def test_guardrails_and_cost_objective():
    chans = [{"name": "email", "sent": 5000, "conversions": 100, "cost_per_message": 0.001},
             {"name": "sms", "sent": 5000, "conversions": 200, "cost_per_message": 0.01}]
    cfg = BanditSectionConfig(period_volume=1000, channels=chans, guardrails={"min_share": {"email": 0.3}})
    res = run_bandit(cfg, _ctx())
    assert res.channels[0]["share"] == pytest.approx(0.3) and res.channels[1]["prob_best"] > 0.999
    per_cost = run_bandit(BanditSectionConfig(period_volume=1000, channels=chans, objective="conversions_per_cost"), _ctx())
    assert per_cost.channels[0]["share"] > 0.999  # 0.02 / 0.001 = 20 per unit vs 4 per unit
    assert per_cost.total_cost == pytest.approx(sum(c["cost"] for c in per_cost.channels))


def test_csv_input_relative_to_scenario(tmp_path):
    (tmp_path / "results.csv").write_text("name,sent,conversions,cost_per_message\nemail,1000,40,0.001\nsms,1000,55,0.01\n")
    cfg = BanditSectionConfig(period_volume=100, data="results.csv")
    res = run_bandit(cfg, _ctx(tmp_path))
    assert [c["name"] for c in res.channels] == ["email", "sms"]
    (tmp_path / "bad.csv").write_text("name,sent\nemail,10\nsms,20\n")
    with pytest.raises(DataError, match="missing column"):
        run_bandit(BanditSectionConfig(period_volume=100, data="bad.csv"), _ctx(tmp_path))
    with pytest.raises(DataError, match="not found"):
        run_bandit(BanditSectionConfig(period_volume=100, data="nope.csv"), _ctx(tmp_path))


def test_config_errors():
    with pytest.raises(ScenarioError, match="conversions is 60; it must be <= sent"):
        from optimizer.validation import load_yaml

        data, lines = load_yaml(ROOT / "tests/fixtures/invalid/bandit_section_conversions_above_sent.yaml")
        parse_model(BanditSectionConfig, data["bandit"], "b.yaml")
    with pytest.raises(ScenarioError, match="exactly one of"):
        parse_model(BanditSectionConfig, {"period_volume": 10}, "b.yaml")
    cfg = BanditSectionConfig(period_volume=10, channels=[{"name": "a", "sent": 10, "conversions": 1},
                                                          {"name": "b", "sent": 10, "conversions": 1}],
                              guardrails={"max_share": {"c": 0.5}})
    with pytest.raises(ScenarioError, match="unknown channel"):
        run_bandit(cfg, _ctx())
    cfg = BanditSectionConfig(period_volume=10, objective="conversions_per_cost",
                              channels=[{"name": "a", "sent": 10, "conversions": 1}, {"name": "b", "sent": 10, "conversions": 1}])
    with pytest.raises(ScenarioError, match="cost_per_message 0"):
        run_bandit(cfg, _ctx())


def test_shipped_scenario_plans_through_the_runner():
    """scenarios/bandit_mix.yaml through load_scenario + runner.run (the registered section)."""
    from optimizer import runner, scenario

    loaded = scenario.load_scenario(ROOT / "scenarios" / "bandit_mix.yaml")
    plan = runner.run(loaded)
    res = plan.result("bandit")
    assert res.status == "ok" and plan.status == "ok"
    json.dumps(res.to_dict(), allow_nan=False)
    shares = {c["name"]: c["share"] for c in res.channels}
    assert sum(shares.values()) == pytest.approx(1)
    assert shares["sms"] <= 0.5 + 1e-12 and min(shares.values()) >= 0.05 / 4 - 1e-12
    md = SECTION.markdown(res)
    assert "| sms |" in md and "expected loss" in md
    assert SECTION.files(res)["bandit_mix.csv"].startswith(b"name,")
