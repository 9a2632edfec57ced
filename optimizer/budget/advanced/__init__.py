"""Budget allocation beyond the LP: integer rules (MILP), S-curves, adstock, targets, frontier, risk.

Public API::

    from optimizer.budget.advanced import AdvancedBudget, allocate_advanced, load_advanced_scenario
    scenario = load_advanced_scenario("scenarios/budget_milp_rules.yaml")
    result = allocate_advanced(scenario.budget, currency=scenario.currency)   # -> BudgetResult

Solvers and plotting load only when a plan is solved, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

from optimizer.budget.advanced.config import AdvancedBudgetConfig
from optimizer.budget.advanced.schema import AdvancedBudget, AdvancedScenario, load_advanced_scenario


def allocate_advanced(cfg: AdvancedBudget, solver: str | None = None, currency: str | None = None) -> Any:
    """Plan the budget; see :func:`optimizer.budget.advanced.allocate.allocate_advanced`."""
    from optimizer.budget.advanced.allocate import allocate_advanced as _run

    return _run(cfg, solver=solver, currency=currency)


__all__ = ["AdvancedBudget", "AdvancedBudgetConfig", "AdvancedScenario", "allocate_advanced", "load_advanced_scenario"]
