"""LP backends, by name. Each is ``solve(problem: LPProblem, time_limit_seconds) -> Solution``.

Solver libraries are imported inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Callable

from optimizer.budget.backends.base import SolveStatus, Solution
from optimizer.budget.backends.cbc import solve_cbc
from optimizer.budget.backends.highs import solve_highs
from optimizer.budget.backends.ortools_mb import solve_glop, solve_pdlp
from optimizer.errors import ScenarioError

#: name -> solve function. "highs" is the default; "pdlp" is approximate (checked).
BACKENDS: dict[str, Callable[..., Solution]] = {
    "highs": solve_highs,
    "cbc": solve_cbc,
    "glop": solve_glop,
    "pdlp": solve_pdlp,
}

#: Backends that return an exact vertex optimum (the contract tests compare these tightly).
EXACT_BACKENDS = ("highs", "cbc", "glop")


def get_backend(name: str | None) -> Callable[..., Solution]:
    """The solve function for ``name`` (None -> "highs")."""
    key = "highs" if name is None else name.lower()
    if key not in BACKENDS:
        raise ScenarioError(
            f"solver is {name!r}; it must be one of {', '.join(BACKENDS)}. Suggestion: omit it to use highs."
        )
    return BACKENDS[key]


__all__ = ["BACKENDS", "EXACT_BACKENDS", "Solution", "SolveStatus", "get_backend"]
