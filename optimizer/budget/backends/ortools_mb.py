"""GLOP (simplex) and PDLP (first-order, approximate) through OR-Tools' model_builder, from arrays.

PDLP stops at a tolerance, not at a vertex: its answer is checked against the rows and bounds
here and a violation beyond ``PDLP_FEASIBILITY_TOLERANCE`` (relative to the row bound) makes the
status ERROR rather than a silently infeasible plan. Duals from model_builder are already
d(objective)/d(rhs) for a maximisation (checked by tests/optimizer/budget/test_backends.py).
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.budget.backends.base import SolveStatus, Solution, empty_solution, quiet_stdout
from optimizer.budget.problem import LPProblem

PDLP_FEASIBILITY_TOLERANCE = 1e-6
_PDLP_PARAMS = (
    "termination_criteria { simple_optimality_criteria { eps_optimal_relative: 1e-9 "
    "eps_optimal_absolute: 1e-9 } }"
)


def _solve(problem: LPProblem, solver_name: str, time_limit_seconds: float) -> Solution:
    import ortools
    from ortools.linear_solver.python import model_builder_helper as mbh

    t0 = time.perf_counter()
    version = f"ortools {ortools.__version__}"
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        problem.col_lo.astype(float), problem.col_hi.astype(float), problem.c.astype(float),
        problem.row_lo.astype(float), problem.row_hi.astype(float), problem.A.tocsr().astype(float),
    )
    model.set_maximize(True)
    for j in np.nonzero(problem.integrality)[0]:
        model.set_var_integrality(int(j), True)
    solver = mbh.ModelSolverHelper(solver_name)
    if not solver.solver_is_supported():
        return empty_solution(SolveStatus.ERROR, solver_name, version, 0.0, f"{solver_name} is not available")
    solver.set_time_limit_in_seconds(float(time_limit_seconds))
    if solver_name == "pdlp":
        solver.set_solver_specific_parameters(_PDLP_PARAMS)
    with quiet_stdout():
        solver.solve(model)
    elapsed = time.perf_counter() - t0
    st = solver.status()
    S = mbh.SolveStatus
    text = st.name
    if st == S.INFEASIBLE:
        return empty_solution(SolveStatus.INFEASIBLE, solver_name, version, elapsed, text)
    if st == S.UNBOUNDED:
        return empty_solution(SolveStatus.UNBOUNDED, solver_name, version, elapsed, text)
    if st == S.OPTIMAL:
        status = SolveStatus.OPTIMAL
    elif st == S.FEASIBLE and solver.has_solution():
        status = SolveStatus.FEASIBLE
    else:
        return empty_solution(SolveStatus.ERROR, solver_name, version, elapsed, text)
    x = np.asarray(solver.variable_values(), dtype=float)
    row_dual = np.asarray(solver.dual_values(), dtype=float) if problem.n_rows else np.zeros(0)
    col_dual = np.asarray(solver.reduced_costs(), dtype=float)
    if solver_name == "pdlp":
        x = np.clip(x, problem.col_lo, problem.col_hi)
        act = problem.A @ x
        scale = np.maximum(1.0, np.abs(np.where(np.isfinite(problem.row_hi), problem.row_hi, problem.row_lo)))
        viol = np.maximum(np.maximum(problem.row_lo - act, act - problem.row_hi), 0.0) / scale
        worst = float(viol.max()) if viol.size else 0.0
        if worst > PDLP_FEASIBILITY_TOLERANCE:
            return empty_solution(SolveStatus.ERROR, solver_name, version, elapsed,
                                  f"PDLP's answer violates a row by {worst:.2e} (relative); use highs")
    return Solution(status, x, row_dual, col_dual, float(problem.c @ x), solver_name, version, elapsed, text)


def solve_glop(problem: LPProblem, time_limit_seconds: float = 120.0) -> Solution:
    """Solve with GLOP (primal/dual simplex)."""
    return _solve(problem, "glop", time_limit_seconds)


def solve_pdlp(problem: LPProblem, time_limit_seconds: float = 120.0) -> Solution:
    """Solve with PDLP (primal-dual hybrid gradient; approximate, checked for feasibility)."""
    return _solve(problem, "pdlp", time_limit_seconds)
