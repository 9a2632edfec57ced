"""Budget allocation: spend per channel x segment x period as an LP on concave response curves.

Public API::

    from optimizer.budget import BudgetConfig, allocate
    result = allocate(config, solver="highs", currency="CNY")   # -> BudgetResult

The section for ``dmpopt plan`` is :data:`optimizer.budget.section.SECTION`. Solvers are imported
only when a plan is solved, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from optimizer.budget.config import BudgetConfig

if TYPE_CHECKING:  # pragma: no cover
    from optimizer.budget.results import BudgetResult


def allocate(config: BudgetConfig, solver: str | None = None, currency: str | None = None,
             method: str | None = None, progress: Callable[[int, int], None] | None = None) -> "BudgetResult":
    """Allocate the budget: the ONE entry for every strategy; returns a :class:`BudgetResult`.

    The strategy follows from the config: greedy water-filling or the refined LP
    (:func:`optimizer.budget.allocation.allocate`) for concave curves and linear limits; MILP,
    price decomposition, S-curves, targets, frontier and risk
    (:func:`optimizer.budget.advanced.allocate.allocate_advanced`) when the config has S-curves or
    ``advanced:`` options. ``solver`` None means HiGHS (or ``advanced.mip_solver``); ``method``
    ("auto", "lp", "greedy") applies to the LP strategies. ``progress(done, total)`` counts the
    frontier's levels when the config asks for a frontier.
    """
    from optimizer.budget.advanced import hooks

    if hooks.uses_advanced(config):
        from optimizer.budget.advanced.allocate import allocate_advanced

        hooks.check_solver(config, solver)
        return allocate_advanced(config, solver=solver, currency=currency, progress=progress)
    from optimizer.budget.allocation import allocate as _allocate

    return _allocate(config, solver=solver or "highs", currency=currency, method=method)


def __getattr__(name: str) -> Any:
    if name == "BudgetResult":
        from optimizer.budget.results import BudgetResult

        return BudgetResult
    raise AttributeError(name)


__all__ = ["BudgetConfig", "BudgetResult", "allocate"]
