"""Budget allocation: spend per channel x segment x period as an LP on concave response curves.

Public API::

    from optimizer.budget import BudgetConfig, allocate
    result = allocate(config, solver="highs", currency="CNY")   # -> BudgetResult

The section for ``dmpopt plan`` is :data:`optimizer.budget.section.SECTION`. Solvers are imported
only when a plan is solved, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optimizer.budget.config import BudgetConfig

if TYPE_CHECKING:  # pragma: no cover
    from optimizer.budget.results import BudgetResult


def allocate(config: BudgetConfig, solver: str | None = "highs", currency: str | None = None,
             method: str | None = None) -> "BudgetResult":
    """Allocate the budget; see :func:`optimizer.budget.allocation.allocate`."""
    from optimizer.budget.allocation import allocate as _allocate

    return _allocate(config, solver=solver, currency=currency, method=method)


def __getattr__(name: str) -> Any:
    if name == "BudgetResult":
        from optimizer.budget.results import BudgetResult

        return BudgetResult
    raise AttributeError(name)


__all__ = ["BudgetConfig", "BudgetResult", "allocate"]
