"""Contract test of the ONE budget engine (issue #10, "One engine").

Every strategy -- greedy water-filling, refined LP, MILP rules, adstock by price decomposition,
adstock LP, S-curves, frontier, risk -- is reached through ``optimizer.budget.allocate`` and must
return the same result class with the same allocation / channel-total columns, the same status
meaning (``optimal`` iff the certified gap <= the configured target), a named solver with its
version and a named method, a plan.json section that validates against the plan schema, and a
plan.md table with the same header.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from optimizer.budget import allocate
from optimizer.budget.advanced.schema import load_advanced_scenario
from optimizer.budget.results import ALLOCATION_COLUMNS, CHANNEL_COLUMNS, BudgetResult
from optimizer.budget.synthetic import synthetic_config

ROOT = Path(__file__).resolve().parents[3]


def _scenario_budget(name: str, **advanced):
    s = load_advanced_scenario(ROOT / "scenarios" / name)
    b = s.budget
    if advanced:
        b = b.model_copy(update={"advanced": b.advanced.model_copy(update=advanced)})
    return b, s.currency


def _plain_lp():
    return synthetic_config(3, 2, 2, seed=3), "EUR"


def _greedy():
    return synthetic_config(4, 1, 1, seed=5, with_limits=False), "USD"


CASES = {
    "plain_lp": (_plain_lp, "lp"),
    "greedy": (_greedy, "greedy"),
    "milp_rules": (lambda: _scenario_budget("budget_milp_rules.yaml"), "milp"),
    "adstock_decomposition": (lambda: _scenario_budget("budget_adstock.yaml"), "decomposition"),
    "adstock_lp": (lambda: _scenario_budget("budget_adstock.yaml", adstock_method="lp"), "lp"),
    "s_curve": (lambda: _scenario_budget("budget_scurve.yaml"), "milp"),
    "frontier": (lambda: _scenario_budget("budget_frontier.yaml"), None),
    "risk": (lambda: _scenario_budget("budget_risk.yaml"), "risk"),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[BudgetResult, str | None]]:
    out = {}
    for name, (make, method) in CASES.items():
        cfg, currency = make()
        out[name] = (allocate(cfg, currency=currency), method)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_every_strategy_returns_one_result_type_with_the_same_columns(name, results) -> None:
    from optimizer.plan_schema import BudgetSectionDoc

    r, method = results[name]
    assert type(r) is BudgetResult
    assert r.has_plan, r.explanation
    assert list(r.allocations.columns) == ALLOCATION_COLUMNS
    assert list(r.channel_totals.columns) == CHANNEL_COLUMNS
    # one status meaning: optimal iff the certified gap meets the configured target
    assert (r.status == "optimal") == (r.optimality_gap <= r.gap_target * (1 + 1e-9))
    if r.status == "feasible":
        assert any("certified optimality gap" in w for w in r.warnings)
    # the solver and the strategy are named, never "none"
    assert r.solver and r.solver != "none" and r.solver_version
    if method is not None:
        assert r.method == method
    doc = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    BudgetSectionDoc.model_validate(doc)
    assert doc["solver"]["method"] == r.method
    # flags never print -0; shares are named apart
    assert set(r.channel_totals["active"].tolist()) <= {0, 1}
    assert "share" not in r.channel_totals.columns
    files = r.files()
    alloc = pd.read_csv(io.BytesIO(files["allocations.csv"]))
    assert list(alloc.columns) == ALLOCATION_COLUMNS + ["currency", "response_unit"]
    md = r.to_markdown()
    assert "| channel | spend (" in md and "share of spend | share of budget |" in md
    assert "per " in md and " spent" in md


def test_all_strategies_print_the_same_table_header(results) -> None:
    headers = set()
    for r, _ in results.values():
        md = r.to_markdown()
        headers.add(next(line for line in md.splitlines() if line.startswith("| channel |")))
    # one header per currency / response unit, never per strategy
    units = {(r.currency, r.response_unit) for r, _ in results.values()}
    assert len(headers) == len(units)


def test_plan_md_names_the_solver_of_an_advanced_plan() -> None:
    """plan.md once said "solver none" for any plan with an ``advanced:`` option."""
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    plan = run(load_scenario(ROOT / "scenarios" / "budget_milp_rules.yaml"))
    md = plan.to_markdown()
    assert "solver none" not in md
    assert "solver highs" in md
