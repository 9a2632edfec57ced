"""HiGHS through highspy: the model is passed as arrays (no per-variable Python objects).

Defaults for LPs: primal simplex, presolve off. On the separable budget LP (1e5 boxed columns,
a few dozen rows) HiGHS' default (presolve + dual simplex) took 20+ s and IPM 26 s, the primal
simplex without presolve 1.1 s (docs/performance-budget.md). MILPs keep HiGHS' defaults.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from optimizer.budget.backends.base import SolveStatus, Solution, empty_solution, quiet_stdout
from optimizer.budget.problem import LPProblem

def solve_highs(problem: LPProblem, time_limit_seconds: float = 120.0) -> Solution:
    """Solve with HiGHS; see :mod:`optimizer.budget.backends.base` for the contract."""
    import highspy

    t0 = time.perf_counter()
    h = highspy.Highs()
    version = f"{h.version()}" if hasattr(h, "version") else highspy.__version__ if hasattr(highspy, "__version__") else "?"
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_seconds))
    if not problem.integrality.any():
        # Measured on the separable budget LP (docs/performance-budget.md): HiGHS' presolve and
        # its dual simplex spend seconds on 1e5 boxed columns (bound flipping over every piece),
        # while the primal simplex without presolve needs a few hundred cheap iterations.
        h.setOptionValue("presolve", "off")
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 4)
    lp = to_highs_lp(problem, highspy)
    with quiet_stdout():
        st = h.passModel(lp)
        if st == highspy.HighsStatus.kError:
            return empty_solution(SolveStatus.ERROR, "highs", version, time.perf_counter() - t0, "passModel failed")
        if problem.start is not None and not problem.integrality.any():
            _set_start_basis(h, highspy, problem)
        h.run()
    ms = h.getModelStatus()
    text = h.modelStatusToString(ms)
    elapsed = time.perf_counter() - t0
    M = highspy.HighsModelStatus
    if ms == M.kOptimal or (ms == M.kModelEmpty and problem.n_rows == 0):
        status = SolveStatus.OPTIMAL
    elif ms == M.kInfeasible:
        return empty_solution(SolveStatus.INFEASIBLE, "highs", version, elapsed, text)
    elif ms in (M.kUnbounded, M.kUnboundedOrInfeasible):
        # HiGHS may not tell which; a zero-objective re-solve would, the caller diagnoses.
        return empty_solution(SolveStatus.UNBOUNDED if ms == M.kUnbounded else SolveStatus.INFEASIBLE,
                              "highs", version, elapsed, text)
    else:
        info = h.getInfo()
        if info.primal_solution_status == 2:  # kSolutionStatusFeasible
            status = SolveStatus.FEASIBLE
        else:
            return empty_solution(SolveStatus.ERROR, "highs", version, elapsed, text)
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    row_dual = np.asarray(sol.row_dual, dtype=float)
    col_dual = np.asarray(sol.col_dual, dtype=float)
    obj = float(h.getInfo().objective_function_value)
    return Solution(status, x, row_dual, col_dual, obj, "highs", version, elapsed, text)


def _set_start_basis(h, highspy, problem: LPProblem) -> None:
    """Start from a slack basis with each column at the bound nearest the guess.

    Every row slack basic and every column nonbasic is always a valid basis; with the columns
    the guess fills placed at their upper bound, the primal simplex starts next to the optimum
    instead of flipping every filled piece one iteration at a time.
    """
    B = highspy.HighsBasisStatus
    hi = problem.col_hi
    at_up = np.isfinite(hi) & (problem.start >= 0.5 * (hi - problem.col_lo))
    choice = [B.kLower, B.kUpper]
    basis = highspy.HighsBasis()
    basis.col_status = [choice[int(u)] for u in at_up]
    basis.row_status = [B.kBasic] * problem.n_rows
    basis.valid = True
    h.setBasis(basis)


def to_highs_lp(problem: LPProblem, highspy: Any) -> Any:
    """The :class:`LPProblem` as a ``highspy.HighsLp`` (column-wise matrix, maximisation).

    Shared by this backend and the advanced (MILP, warm-started) solver. A MILP gets a
    full-length integrality list (SOLVER-NOTES: a short one made HiGHS read garbage); an LP gets
    none, since HighsLp reads an empty list as all-continuous and building 1e6 HighsVarType
    objects would cost about half a second.
    """
    A = problem.A.tocsc()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = problem.n_cols
    lp.num_row_ = problem.n_rows
    lp.col_cost_ = problem.c
    lp.col_lower_ = np.where(np.isfinite(problem.col_lo), problem.col_lo, -inf)
    lp.col_upper_ = np.where(np.isfinite(problem.col_hi), problem.col_hi, inf)
    lp.row_lower_ = np.where(np.isfinite(problem.row_lo), problem.row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(problem.row_hi), problem.row_hi, inf)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_ = problem.n_cols
    lp.a_matrix_.num_row_ = problem.n_rows
    if problem.integrality.any():
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in problem.integrality]
    return lp
