"""CBC (Clp for LPs) through pulp. pulp needs one Python object per variable, so this backend is
for cross-checks and small models; the array backends (HiGHS, GLOP, PDLP) are for large ones.

pulp has no range rows: a row with two finite bounds becomes two constraints, and its dual is
the sum of theirs. CBC's solution is read from a text file: precision ~1e-6 relative.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from optimizer.budget.backends.base import SolveStatus, Solution, empty_solution, quiet_stdout
from optimizer.budget.problem import LPProblem
from optimizer.errors import SolverError


def solve_cbc(problem: LPProblem, time_limit_seconds: float = 120.0) -> Solution:
    """Solve with pulp's bundled CBC; see :mod:`optimizer.budget.backends.base`."""
    import pulp

    t0 = time.perf_counter()
    version = f"pulp {pulp.__version__} / CBC"
    prob = pulp.LpProblem("budget", pulp.LpMaximize)
    # pulp >= 3.3 deprecates LpVariable(...) in favour of prob.add_variable(...)
    make = prob.add_variable if hasattr(prob, "add_variable") else pulp.LpVariable
    ys = [
        make(f"y{j}", lowBound=float(lo) if math.isfinite(lo) else None,
             upBound=float(hi) if math.isfinite(hi) else None,
             cat=pulp.LpInteger if problem.integrality[j] else pulp.LpContinuous)
        for j, (lo, hi) in enumerate(zip(problem.col_lo, problem.col_hi))
    ]
    prob += pulp.LpAffineExpression([(ys[j], float(v)) for j, v in enumerate(problem.c) if v != 0] or [(ys[0], 0.0)] if ys else [])
    A = problem.A
    parts: list[list[tuple[str, float]]] = []
    for r in range(problem.n_rows):
        cols = A.indices[A.indptr[r]:A.indptr[r + 1]]
        vals = A.data[A.indptr[r]:A.indptr[r + 1]]
        expr = pulp.LpAffineExpression([(ys[j], float(v)) for j, v in zip(cols, vals)])
        lo, hi = problem.row_lo[r], problem.row_hi[r]
        names = []
        if math.isfinite(lo) and math.isfinite(hi) and lo == hi:
            prob += (expr == float(lo), f"r{r}e")
            names.append((f"r{r}e", 1.0))
        else:
            if math.isfinite(lo):
                prob += (expr >= float(lo), f"r{r}l")
                names.append((f"r{r}l", 1.0))
            if math.isfinite(hi):
                prob += (expr <= float(hi), f"r{r}u")
                names.append((f"r{r}u", 1.0))
        parts.append(names)
    with quiet_stdout():
        prob.solve(_cbc_command(pulp, max(1, int(math.ceil(time_limit_seconds)))))
    elapsed = time.perf_counter() - t0
    text = pulp.LpStatus[prob.status]
    if prob.status == pulp.LpStatusInfeasible:
        return empty_solution(SolveStatus.INFEASIBLE, "cbc", version, elapsed, text)
    if prob.status == pulp.LpStatusUnbounded:
        return empty_solution(SolveStatus.UNBOUNDED, "cbc", version, elapsed, text)
    if prob.status != pulp.LpStatusOptimal:
        if prob.sol_status == pulp.LpSolutionIntegerFeasible:
            status = SolveStatus.FEASIBLE
        else:
            return empty_solution(SolveStatus.ERROR, "cbc", version, elapsed, text)
    else:
        status = SolveStatus.OPTIMAL
    x = np.array([v.varValue if v.varValue is not None else 0.0 for v in ys], dtype=float)
    get = prob.get_constraint_by_name if hasattr(prob, "get_constraint_by_name") else prob.constraints.__getitem__
    # pulp reports CBC's duals for a maximisation already as d(objective)/d(rhs)
    row_dual = np.array([sum((get(n).pi or 0.0) * s for n, s in names) for names in parts], dtype=float)
    col_dual = np.array([v.dj if v.dj is not None else 0.0 for v in ys], dtype=float)
    return Solution(status, x, row_dual, col_dual, float(problem.c @ x), "cbc", version, elapsed, text)


def _cbc_command(pulp, time_limit: int):
    """COIN_CMD on the CBC binary bundled with pulp (PULP_CBC_CMD itself is deprecated in pulp 3.3)."""
    from pulp.apis import coin_api

    path = coin_api.COIN_CMD.executableExtension(coin_api.pulp_cbc_path)
    if os.path.exists(path):
        if not os.access(path, os.X_OK):
            raise SolverError(f"pulp's bundled CBC at {path} is not executable; run chmod +x on it or use --solver highs.")
        return pulp.COIN_CMD(path=path, msg=False, timeLimit=time_limit)
    return pulp.COIN_CMD(msg=False, timeLimit=time_limit)  # a cbc on PATH
