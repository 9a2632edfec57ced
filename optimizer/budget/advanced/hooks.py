"""Hooks for the ``budget`` section of ``dmpopt plan``: use the advanced allocator when asked for.

The section's config model becomes :class:`AdvancedBudget` (a superset of the core ``BudgetConfig``:
every core scenario still validates). :func:`uses_advanced` says whether a config needs the
advanced allocator (S-curves or any ``advanced:`` option); :func:`run_advanced` runs it with the
run's solver and currency. Results and their rendering are the core's (one ``BudgetResult``).
Imports stay light: solvers and matplotlib load inside the functions.
"""

from __future__ import annotations

from typing import Any

from optimizer.budget.advanced.config import AdvancedBudgetConfig, SHillResponse
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.errors import ScenarioError


def uses_advanced(config: Any) -> bool:
    """True when ``config`` has S-curves or any non-default ``advanced`` option."""
    adv = getattr(config, "advanced", None)
    if adv is not None and adv != AdvancedBudgetConfig():
        return True
    return any(isinstance(c.response, SHillResponse) for c in config.channels)


def check_solver(config: Any, solver: str | None) -> None:
    """Refuse ``--solver X`` when the config needs a MILP-capable strategy and X is not one."""
    from optimizer.budget.advanced.solve import MIP_SOLVERS

    if uses_advanced(config) and solver is not None and solver.lower() not in MIP_SOLVERS:
        raise ScenarioError(f"--solver is {solver!r}; a budget with advanced options (integer rules, S-curves, "
                            f"adstock, targets, frontier, risk) is solved with {', '.join(MIP_SOLVERS)}. "
                            "Suggestion: omit --solver to use highs.")


def run_advanced(config: AdvancedBudget, ctx: Any) -> Any:
    """Run the advanced strategies with ``ctx.solver`` (highs, cbc or scip; None: the config's)."""
    from optimizer.budget.advanced.allocate import allocate_advanced

    check_solver(config, getattr(ctx, "solver", None))
    options = getattr(ctx, "options", None) or {}
    return allocate_advanced(config, solver=getattr(ctx, "solver", None), currency=options.get("currency"))
