"""Exact water-filling for the budget-only problem: sort pieces by value per currency, fill.

With concave separable curves and no row other than the total budget, the LP on pieces is a
fractional knapsack: taking pieces in order of falling objective coefficient is optimal, and the
budget's dual is the coefficient of the last (marginal) piece. O(n log n), no solver.
"""

from __future__ import annotations

import math
import time

import numpy as np

from optimizer.budget.backends.base import SolveStatus, Solution, empty_solution
from optimizer.budget.problem import LPProblem


def solve_greedy(problem: LPProblem, time_limit_seconds: float = 0.0) -> Solution:
    """Solve an LP whose only row (if any) is one all-ones budget row. See the module docstring."""
    t0 = time.perf_counter()
    c, w = problem.c, problem.col_hi - problem.col_lo
    if problem.n_rows > 1 or np.any(problem.col_lo != 0):
        raise ValueError("greedy needs at most one budget row and zero lower bounds")
    if problem.n_rows == 1:
        lo, hi = float(problem.row_lo[0]), float(problem.row_hi[0])
    else:
        lo, hi = -math.inf, math.inf
    order = np.argsort(-c, kind="stable")
    cs, ws = c[order], w[order]
    gain = cs > 0
    if np.any(gain & ~np.isfinite(ws)) and not math.isfinite(hi):
        return empty_solution(SolveStatus.UNBOUNDED, "greedy", "dmpopt", time.perf_counter() - t0,
                              "a piece with positive value has no cap and there is no budget")
    capacity = float(ws.sum())
    if math.isfinite(lo) and capacity < lo - 1e-9 * max(1.0, abs(lo)):
        return empty_solution(SolveStatus.INFEASIBLE, "greedy", "dmpopt", time.perf_counter() - t0,
                              f"capacity {capacity} is below the budget {lo}")
    # spend to place: all profitable pieces up to the cap, and at least the lower bound
    want = float(np.where(gain, ws, 0.0).sum())
    target = min(max(want, lo if math.isfinite(lo) else 0.0), hi)
    with np.errstate(invalid="ignore"):
        before = np.concatenate([[0.0], np.cumsum(ws)[:-1]])
    ys = np.clip(target - before, 0.0, ws)
    ys = np.where(np.isfinite(ys), ys, 0.0)
    x = np.empty_like(ys)
    x[order] = ys
    dual = np.zeros(problem.n_rows)
    if problem.n_rows == 1 and target > 0:
        binding_hi = target >= hi - 1e-12 * max(1.0, abs(hi))
        binding_lo = math.isfinite(lo) and target <= lo + 1e-12 * max(1.0, abs(lo))
        marginal_idx = int(np.searchsorted(np.cumsum(ws), target - 1e-12 * max(1.0, target)))
        marginal = float(cs[min(marginal_idx, cs.size - 1)])
        if binding_hi:
            dual[0] = max(marginal, 0.0) if not binding_lo else marginal
        elif binding_lo:
            dual[0] = min(marginal, 0.0)
    return Solution(SolveStatus.OPTIMAL, x, dual, np.zeros_like(x), float(c @ x), "greedy", "dmpopt",
                    time.perf_counter() - t0, "sorted slopes")
