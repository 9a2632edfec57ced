"""Shipped scenarios plan; broken inputs (one defect per file) give messages naming the fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimizer.budget.advanced import allocate_advanced, load_advanced_scenario
from optimizer.budget.advanced.outputs import write_outputs
from optimizer.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[4]
NAMES = ("budget_adstock.yaml", "budget_frontier.yaml", "budget_milp_rules.yaml", "budget_risk.yaml",
         "budget_scurve.yaml", "budget_target.yaml")


def _scenario(name: str) -> Path:
    """The shipped file: scenarios/advanced/ until the budget section is wired, scenarios/ after."""
    for folder in (ROOT / "scenarios", ROOT / "scenarios" / "advanced"):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(name)


SCENARIOS = [_scenario(n) for n in NAMES]
INVALID = ROOT / "tests" / "fixtures" / "invalid"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenario_plans(path, tmp_path):
    s = load_advanced_scenario(path)
    r = allocate_advanced(s.budget, currency=s.currency)
    assert r.status == "optimal", r.warnings
    assert r.total_spend <= s.budget.total_budget.amount * (1 + 1e-9)
    paths = write_outputs(r, tmp_path, s.budget.total_budget.amount)
    names = {p.name for p in paths}
    assert {"allocations.csv", "plan.json"} <= names
    if s.budget.advanced.frontier is not None:
        assert {"frontier.csv", "frontier.png", "frontier.svg"} <= names
        assert len(r.frontier.table) >= 50
    if s.budget.advanced.uncertainty is not None:
        assert {"risk.png", "risk.svg"} <= names
    json.loads((tmp_path / "plan.json").read_text())


def test_at_least_one_scenario_per_capability():
    names = {p.name for p in SCENARIOS}
    assert {"budget_milp_rules.yaml", "budget_scurve.yaml", "budget_adstock.yaml", "budget_target.yaml",
            "budget_frontier.yaml", "budget_risk.yaml"} <= names


@pytest.mark.parametrize("name,expected", [
    ("budget_adv_scurve_shape.yaml", ["budget_adv_scurve_shape.yaml:7", "budget.channels[0].response.shape is 0.7",
                                      "greater than 1"]),
    ("budget_adv_adstock_decay.yaml", ["budget.advanced.rules[0].adstock.decay is 1.2", "less than 1"]),
    ("budget_adv_contradictory_rules.yaml", ["advanced.max_active_channels is 1 but 2 channels must be used (tv, search"]),
    ("budget_adv_unknown_channel.yaml", ["advanced.rules[0].channel is 'serch'", "did you mean 'search'?"]),
    ("budget_adv_min_above_cap.yaml", ["advanced.rules[0].min_spend_if_used is 30000 but channel 'search' can spend at most 20000"]),
])
def test_broken_inputs_name_the_fields(name, expected):
    with pytest.raises(ScenarioError) as exc:
        load_advanced_scenario(INVALID / name)
    text = str(exc.value) + "\n" + "\n".join(getattr(exc.value, "problems", []) or [])
    for piece in expected:
        assert piece in text, text


def test_unreachable_target_file_explains_in_roas():
    """a 20,000 x 5 + b's minimum 50,000 x 2 over 70,000 = 2.857: the best ROAS, below 4."""
    s = load_advanced_scenario(INVALID / "budget_adv_target_unreachable.yaml")
    r = allocate_advanced(s.budget, currency=s.currency)
    assert r.status == "infeasible"
    assert "the best achievable ROAS under these caps is 2.86, below the target 4" in r.explanation[0]


def test_section_hooks_run_and_render(tmp_path):
    """The hooks the budget section calls: dispatch, run with a RunContext, files and plan.md text."""
    import numpy as np

    from optimizer.budget.advanced import hooks
    from optimizer.budget.advanced.schema import AdvancedBudget
    from optimizer.sections import RunContext

    s = load_advanced_scenario(_scenario("budget_frontier.yaml"))
    assert hooks.uses_advanced(s.budget)
    plain = AdvancedBudget.model_validate({"total_budget": {"amount": 10}, "channels": [
        {"name": "a", "response": {"kind": "linear", "roi": 2.0}}]})
    assert not hooks.uses_advanced(plain)
    ctx = RunContext(seed=1, rng=np.random.default_rng(1), base_dir=tmp_path, solver=None, options={"currency": "CNY"})
    r = hooks.run_advanced(s.budget, ctx)
    assert r.status == "optimal"
    assert {"frontier.png", "frontier.svg", "frontier.csv", "allocations.csv"} <= set(r.files())
    md = r.to_markdown()
    assert "certified optimality gap" in md and "¥" in md
    bad = RunContext(seed=1, rng=np.random.default_rng(1), base_dir=tmp_path, solver="glop")
    with pytest.raises(ScenarioError, match="--solver is 'glop'"):
        hooks.run_advanced(s.budget, bad)


@pytest.mark.parametrize("path", SCENARIOS + [INVALID / "budget_adv_target_unreachable.yaml"], ids=lambda p: p.name)
def test_plan_dict_fits_the_plan_json_budget_schema(path):
    """The advanced result's to_dict() is a valid ``budget`` key of plan.json (optimizer.plan_schema)."""
    from optimizer.plan_schema import BudgetSectionDoc

    s = load_advanced_scenario(path)
    d = allocate_advanced(s.budget, currency=s.currency).to_dict()
    BudgetSectionDoc.model_validate(json.loads(json.dumps(d)))
    assert "mip_gap" in d
    assert d["optimality_gap"] is None or d["optimality_gap"] >= 0
