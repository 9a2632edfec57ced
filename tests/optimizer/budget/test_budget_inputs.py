"""Budget inputs (issue #10, defects 1, 7, 8, 10, 12): limits are never silently overridden,
min_spend works without a budget, YAML booleans are not numbers, errors point at their entry."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.budget import allocate
from optimizer.budget.config import BudgetConfig
from optimizer.cli import app
from optimizer.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[3]
INVALID = ROOT / "tests" / "fixtures" / "invalid"
runner = CliRunner()

FEED = {"name": "feed", "cost_per_unit": 50.0, "response": {"kind": "linear", "roi": 3.2}, "frozen_spend": 100_000.0}
SEARCH = {"name": "search", "response": {"kind": "log", "scale": 300_000.0, "saturation_spend": 40_000.0}}

# defect 1: every limit that a frozen_spend of 100,000 breaks, and the sentence that explains it in money
FROZEN_CASES = {
    "max_share": ({"max_share_of_budget": 0.05}, {},
                  "channel feed: frozen_spend ¥100k is above the most max_share_of_budget 0.05 x total budget "
                  "1,000,000 allows (¥50k), by ¥50k: lower frozen_spend or raise max_share_of_budget."),
    "max_units": ({"max_units": 1000}, {},
                  "channel feed: frozen_spend ¥100k is above the most max_units 1,000 x cost_per_unit 50 allows "
                  "(¥50k), by ¥50k: lower frozen_spend or raise max_units."),
    "min_units": ({"min_units": 3000}, {},
                  "channel feed: min_units 3,000 x cost_per_unit 50 = ¥150k is above the most frozen_spend 100,000 "
                  "allows (¥100k), by ¥50k: lower min_units or raise frozen_spend."),
    "max_spend": ({"max_spend": 50_000}, {},
                  "channel feed: frozen_spend ¥100k is above the most max_spend 50,000 allows (¥50k), by ¥50k"),
    "min_spend": ({"min_spend": 150_000}, {},
                  "channel feed: min_spend ¥150k is above the most frozen_spend 100,000 allows (¥100k), by ¥50k"),
    "segment caps": ({}, {"segments": [{"name": "a", "max_spend": 30_000}, {"name": "b", "max_spend": 40_000}]},
                     "channel feed needs frozen_spend ¥100k but the segment caps allow at most ¥70k: lower "
                     "frozen_spend by ¥30k or raise those caps."),
    "segment subset": ({"segments": ["a"]}, {"segments": [{"name": "a", "max_spend": 60_000}, {"name": "b"}]},
                       "channel feed needs frozen_spend ¥100k but its segments (a) allow at most ¥60k: lower "
                       "frozen_spend by ¥40k"),
    "period budgets": ({}, {"periods": [{"name": "w1", "max_spend": 20_000}, {"name": "w2", "max_spend": 30_000}]},
                       "channel feed needs frozen_spend ¥100k but the period budgets allow at most ¥50k"),
    "period subset": ({"periods": ["w1"]}, {"periods": [{"name": "w1", "max_spend": 20_000}, {"name": "w2"}]},
                      "channel feed needs frozen_spend ¥100k but its periods (w1) allow at most ¥20k: lower "
                      "frozen_spend by ¥80k"),
    "total budget": ({}, {"total_budget": {"amount": 80_000}},
                     "channel minimums need ¥100k (frozen channels alone take ¥100k), the budget is ¥80k: raise the "
                     "budget by ¥20k"),
}


@pytest.mark.parametrize("limit", list(FROZEN_CASES))
def test_frozen_spend_never_overrides_a_limit(limit: str) -> None:
    """Before: spend_bounds set lo = hi = frozen_spend and the plan broke max_share / max_units /
    min_units with status optimal. Now the conflict is an infeasible plan explained in money."""
    ch_extra, top, sentence = FROZEN_CASES[limit]
    data = {"total_budget": {"amount": 1_000_000.0}, "channels": [{**FEED, **ch_extra}, SEARCH], **top}
    r = allocate(BudgetConfig.model_validate(data), currency="CNY")
    assert r.status == "infeasible"
    assert any(sentence in line for line in r.explanation), r.explanation


def test_frozen_spend_conflict_exits_3_through_the_cli(tmp_path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: frozen\ncurrency: CNY\nbudget:\n  total_budget: {amount: 1000000}\n  channels:\n"
                 "    - {name: feed, cost_per_unit: 50, response: {kind: linear, roi: 3.2}, max_units: 1000,"
                 " frozen_spend: 100000}\n")
    res = runner.invoke(app, ["plan", str(p)])
    assert res.exit_code == 3, res.output
    assert "frozen_spend ¥100k is above the most max_units 1,000 x cost_per_unit 50 allows (¥50k)" in res.output
    assert "Traceback" not in res.output


def test_frozen_spend_within_its_limits_is_kept_exactly() -> None:
    data = {"total_budget": {"amount": 1_000_000.0},
            "channels": [{**FEED, "max_units": 3000, "min_units": 1000, "max_share": 0.5}, SEARCH]}
    r = allocate(BudgetConfig.model_validate(data))
    assert r.status == "optimal"
    assert r.channel_totals["spend"].iloc[0] == pytest.approx(100_000.0, rel=1e-9)


def test_min_spend_without_total_budget_log_closed_form(tmp_path) -> None:
    """Defect 7. min x_1 + x_2 s.t. 1e5 ln(1 + x_1/1e4) + 2e5 ln(1 + x_2/2e4) >= 150,000.
    KKT: a_i / (h_i + x_i) = 1/mu -> x_i = mu a_i - h_i; a_i/h_i = 10 for both, so the target gives
    3e5 ln(10 mu) = 1.5e5 -> mu = e^0.5 / 10 = 0.1648721; x = (6,487.21, 12,974.43), spend 19,461.64."""
    mu = math.exp(0.5) / 10
    x = (mu * 1e5 - 1e4, mu * 2e5 - 2e4)
    p = tmp_path / "s.yaml"
    p.write_text("name: how-much\ncurrency: USD\nbudget:\n  objective: {kind: min_spend, target_response: 150000}\n"
                 "  channels:\n    - {name: a, response: {kind: log, scale: 100000, saturation_spend: 10000}}\n"
                 "    - {name: b, response: {kind: log, scale: 200000, saturation_spend: 20000}}\n")
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plan", str(p), "--format", "json", "--quiet"])
    assert res.exit_code == 0, res.output
    import json

    doc = json.loads(res.stdout)
    assert doc["budget"]["status"] == "optimal"
    assert doc["budget"]["total_spend"] == pytest.approx(sum(x), rel=1e-4)
    assert sum(x) == pytest.approx(19_461.64, abs=0.01)


def test_min_spend_without_budget_on_saturating_hill_curves() -> None:
    """Two Hill curves (M = 100,000, h = 5,000, shape 1) that cannot reach the target alone.
    By symmetry x_1 = x_2 = x with 2 M x / (x + h) = T -> x = h (T/2) / (M - T/2).
    T = 150,000: x = 15,000 (spend 30,000); T = 199,000: x = 995,000 (spend 1,990,000)."""
    hill = {"kind": "hill", "max_response": 100_000.0, "half_saturation_spend": 5_000.0, "shape": 1.0}
    for target, spend in ((150_000.0, 30_000.0), (199_000.0, 1_990_000.0)):
        cfg = BudgetConfig.model_validate({"objective": {"kind": "min_spend", "target_response": target},
                                           "channels": [{"name": "a", "response": hill}, {"name": "b", "response": hill}]})
        r = allocate(cfg)
        assert r.status == "optimal", r.warnings
        assert r.total_spend == pytest.approx(spend, rel=1e-4)
        assert r.total_response >= target * (1 - 1e-9)


def test_min_spend_caps_are_proven_where_a_cell_can_reach_the_target_alone() -> None:
    from optimizer.budget.problem import build_model

    cfg = BudgetConfig.model_validate({"objective": {"kind": "min_spend", "target_response": 1000.0},
                                       "channels": [{"name": "a", "response": {"kind": "power", "coefficient": 10.0,
                                                                               "exponent": 0.5}},
                                                    {"name": "b", "response": {"kind": "linear", "roi": 2.0},
                                                     "min_spend": 700.0}]})
    cells = build_model(cfg).cells
    # a: 10 sqrt(x) = 1000 -> x = 10,000; b: 2 x = 1000 -> 500, but the minimums total 700
    assert list(cells.upper) == pytest.approx([10_000.0, 700.0])
    assert not cells.implicit_cap.any()


# defect 8 (config side): max_share is a share of the BUDGET; the clearer name is accepted
def test_max_share_of_budget_is_the_name_and_max_share_an_alias() -> None:
    ch = {"name": "a", "response": {"kind": "linear", "roi": 1.0}}
    a = BudgetConfig.model_validate({"total_budget": {"amount": 100.0}, "channels": [{**ch, "max_share_of_budget": 0.3}]})
    b = BudgetConfig.model_validate({"total_budget": {"amount": 100.0}, "channels": [{**ch, "max_share": 0.3}]})
    assert a.channels[0].max_share == b.channels[0].max_share == 0.3
    assert a.channels[0].spend_bounds(100.0) == (0.0, 30.0)
    schema = BudgetConfig.model_json_schema()
    props = schema["$defs"]["Channel"]["properties"]
    assert "max_share_of_budget" in props and "share of the BUDGET" in props["max_share_of_budget"]["description"]


# defect 10: YAML booleans where numbers are expected
@pytest.mark.parametrize("value", ["yes", "no", "on", "true", "False"])
def test_yaml_booleans_are_not_numbers(tmp_path, value: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(f"name: x\nbudget:\n  total_budget: {{amount: 100}}\n  channels:\n"
                 f"    - name: a\n      response: {{kind: linear, roi: 1}}\n      max_spend: {value}\n")
    from optimizer.scenario import load_scenario

    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert f"{p}:7: budget.channels[0].max_spend is {value.lower() in ('yes', 'on', 'true')}; a YAML boolean" in str(info.value)


def test_booleans_are_refused_in_the_python_api_and_in_nested_advanced_fields() -> None:
    from pydantic import ValidationError

    from optimizer.budget.advanced.schema import AdvancedBudget

    with pytest.raises(ValidationError, match="a YAML boolean"):
        BudgetConfig.model_validate({"total_budget": {"amount": True}, "channels": [
            {"name": "a", "response": {"kind": "linear", "roi": 1.0}}]})
    with pytest.raises(ValidationError, match="a YAML boolean"):
        AdvancedBudget.model_validate({"total_budget": {"amount": 100.0}, "channels": [
            {"name": "a", "response": {"kind": "linear", "roi": 1.0}}],
            "advanced": {"rules": [{"channel": "a", "setup_cost": True}]}})
    # a real boolean field still takes a boolean
    ok = AdvancedBudget.model_validate({"total_budget": {"amount": 100.0}, "channels": [
        {"name": "a", "cost_per_unit": 2.0, "response": {"kind": "linear", "roi": 1.0}}],
        "advanced": {"rules": [{"channel": "a", "whole_units": True}]}})
    assert ok.advanced.rules[0].whole_units is True


def test_parse_model_refuses_booleans_for_any_section_model(tmp_path) -> None:
    """Sections whose models lack the before-validator are still covered by parse_model's check."""
    from pydantic import BaseModel, ConfigDict

    from optimizer.validation import load_model

    class Item(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weight: float
        enabled: bool = False
        points: list[tuple[float, float]] = []

    class Doc(BaseModel):
        model_config = ConfigDict(extra="forbid")
        items: list[Item]

    p = tmp_path / "d.yaml"
    p.write_text("items:\n  - weight: 1\n    enabled: yes\n    points: [[1, 2], [3, on]]\n  - weight: off\n")
    with pytest.raises(ScenarioError) as info:
        load_model(Doc, p)
    msg = str(info.value)
    assert f"{p}:4: items[0].points[1][1] is True; a YAML boolean" in msg
    assert f"{p}:5: items[1].weight is False; a YAML boolean" in msg
    assert "enabled" not in msg


# defect 12: errors point at the offending entry's own line
@pytest.mark.parametrize(("name", "expected"), [
    ("budget_adv_unknown_channel.yaml",
     ":9: budget.advanced.rules[0].channel is 'serch'; an unknown channel; did you mean 'search'?"),
    ("budget_adv_duplicate_rule.yaml",
     ":11: budget.advanced.rules[1].channel is 'search'; rules[0] names the same channel; give one rules entry per channel."),
    ("budget_adv_min_above_cap.yaml", ":9: budget.advanced.rules[0].min_spend_if_used is 30000; "),
    ("budget_adv_contradictory_rules.yaml", ":9: budget.advanced.max_active_channels is 1; "),
])
def test_advanced_rule_errors_point_at_the_rule(name: str, expected: str) -> None:
    from optimizer.scenario import load_scenario

    path = INVALID / name
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert f"{path}{expected}" in msg
    assert "{'" not in msg and msg.count("\n  - ") == 1


@pytest.mark.parametrize(("line", "expected"), [
    ("  total_budget:\n    amount: 500,000", ":4: budget.total_budget.amount is '500,000'; numbers take no thousands "
     "separator; write 500000 (or 500_000)."),
    ("  total_budget:\n    amount: 1,250,000.50", ":4: budget.total_budget.amount is '1,250,000.50'; numbers take no "
     "thousands separator; write 1250000.50 (or 1_250_000.50)."),
    # in {...} YAML splits the number at the comma: {amount: 500, 000: null}
    ("  total_budget: {amount: 500,000}", ":3: amount: 500,000 inside {...} or [...] is read as 500 and 000 (a comma "
     "separates entries there); numbers take no thousands separator; write 500000."),
    ("  total_budget: {amount: 1,250,000.50, mode: equal}", ":3: amount: 1,250,000.50 inside {...} or [...] is read "
     "as 1 and 250"),
])
def test_thousands_separators_are_explained(tmp_path, line: str, expected: str) -> None:
    from optimizer.scenario import load_scenario

    p = tmp_path / "s.yaml"
    p.write_text(f"name: x\nbudget:\n{line}\n  channels:\n    - {{name: a, response: {{kind: linear, roi: 1}}}}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert f"{p}{expected}" in str(info.value)


def test_a_number_split_inside_a_list_is_caught(tmp_path) -> None:
    """[1,000] would silently be the list [1, 0]."""
    from optimizer.validation import parse_yaml_text

    with pytest.raises(ScenarioError, match=r"x\.yaml:1: a list item: 1,000 inside"):
        parse_yaml_text("points: [1,000]\n", "x.yaml")
    assert parse_yaml_text("points: [[2000, 9000], [5000, 16000]]\n")[0] == {"points": [[2000, 9000], [5000, 16000]]}


def test_the_stale_s_curve_text_is_gone() -> None:
    import inspect

    from optimizer.budget import config

    assert "not supported yet" not in inspect.getsource(config)


def test_a_missing_curve_field_is_named_without_the_union_tag(tmp_path) -> None:
    from optimizer.scenario import load_scenario

    p = tmp_path / "s.yaml"
    p.write_text("name: x\nbudget:\n  total_budget: {amount: 100}\n  channels:\n    - name: a\n"
                 "      response: {kind: hill, half_saturation_spend: 5}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert f"{p}:6: budget.channels[0].response.max_response is missing; it is required." in str(info.value)


def test_frozen_spend_conflict_on_the_integer_rule_path_is_explained_too() -> None:
    """The MILP path (a set-up cost) builds the same cells, so the same conflict is reported."""
    from optimizer.budget.advanced import allocate_advanced
    from optimizer.budget.advanced.schema import AdvancedBudget

    cfg = AdvancedBudget.model_validate({"total_budget": {"amount": 1_000_000.0},
                                         "channels": [{**FEED, "max_units": 1000}, SEARCH],
                                         "advanced": {"rules": [{"channel": "search", "setup_cost": 1000.0}]}})
    r = allocate_advanced(cfg, currency="CNY")
    assert r.status == "infeasible"
    assert any("frozen_spend ¥100k is above the most max_units 1,000 x cost_per_unit 50 allows (¥50k)" in e
               for e in r.explanation), r.explanation
