"""Compatibility names: the advanced strategies return the one :class:`~optimizer.budget.results.BudgetResult`.

``AdvancedResult`` is the same class (there is one budget result type); the frontier and risk parts
live in :mod:`optimizer.budget.results` with it.
"""

from __future__ import annotations

from optimizer.budget.results import BudgetResult, FrontierResult, RiskResult

#: The one budget result type (kept as a name for existing imports).
AdvancedResult = BudgetResult

__all__ = ["AdvancedResult", "BudgetResult", "FrontierResult", "RiskResult"]
