"""MILP/LP solving for the advanced allocator: HiGHS (highspy, default), CBC and SCIP (OR-Tools).

The core backends (``optimizer.budget.backends``) solve LPs and return duals; a MILP also needs the
solver's own relative gap and dual bound, a gap target, and (for the frontier) a model that stays
loaded between solves. :func:`solve` returns a :class:`MipSolution` with ``status`` (the core
:class:`SolveStatus`), ``x``, ``objective``, ``bound`` (best bound, maximised form), ``mip_gap``
(relative, solver's definition) and row duals when the problem is an LP. FEASIBLE (time limit with
an incumbent) is never reported as OPTIMAL.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from optimizer.budget.backends.base import SolveStatus, quiet_stdout
from optimizer.budget.backends.highs import to_highs_lp
from optimizer.budget.problem import LPProblem
from optimizer.errors import ScenarioError

MIP_SOLVERS = ("highs", "cbc", "scip")

#: LP column count above which HiGHS runs its interior-point method (as the core backend does).
IPM_ABOVE_COLUMNS = 20_000


@dataclass(frozen=True)
class MipSolution:
    """A MILP/LP answer.

    Attributes
    ----------
    status:
        OPTIMAL (within the gap target), FEASIBLE (a plan, gap not closed), INFEASIBLE, UNBOUNDED, ERROR.
    x:
        Column values (empty without a point).
    objective, bound:
        Objective of ``x`` and the solver's best bound (maximised form, problem units).
    mip_gap:
        Relative gap ``|bound - objective| / |objective|`` (0 for an LP solved to optimality).
    row_dual:
        Row duals (d objective / d row bound) for LPs; empty for MILPs.
    solver, solver_version, time_seconds, message:
        Who solved it, its version, wall-clock seconds, status text.
    """

    status: SolveStatus
    x: np.ndarray
    objective: float
    bound: float
    mip_gap: float
    row_dual: np.ndarray
    solver: str
    solver_version: str
    time_seconds: float
    message: str = ""

    @property
    def has_point(self) -> bool:
        """True when ``x`` is a usable plan."""
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _none(status: SolveStatus, solver: str, version: str, t: float, msg: str) -> MipSolution:
    z = np.zeros(0)
    return MipSolution(status, z, math.nan, math.nan, math.inf, z, solver, version, t, msg)


class HighsModel:
    """A problem loaded in HiGHS, kept for re-solves (frontier: change the budget row and run again)."""

    def __init__(self, problem: LPProblem, mip_gap: float = 1e-4, time_limit_seconds: float = 120.0,
                 lp_algorithm: str = "auto") -> None:
        import highspy

        self.problem = problem
        self.h = highspy.Highs()
        self.version = f"{highspy.Highs().version()}" if hasattr(self.h, "version") else "highspy"
        h = self.h
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_seconds))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        self.is_mip = bool(problem.integrality.any())
        if lp_algorithm in ("simplex", "ipm"):
            h.setOptionValue("solver", lp_algorithm)
        elif not self.is_mip and problem.n_cols > IPM_ABOVE_COLUMNS:
            # large separable LPs: interior point (+ crossover to a vertex) beats the dual simplex here
            h.setOptionValue("solver", "ipm")
        lp = to_highs_lp(problem, highspy)
        with quiet_stdout():
            st = h.passModel(lp)
        if st == highspy.HighsStatus.kError:
            raise ScenarioError("HiGHS refused the model (passModel failed); please report this scenario.")

    def set_row_bounds(self, row: int, lo: float, hi: float) -> None:
        """Change one row's bounds (infinite = no bound); the next :meth:`run` starts from the last basis."""
        import highspy

        inf = highspy.kHighsInf
        self.h.changeRowBounds(int(row), lo if math.isfinite(lo) else -inf, hi if math.isfinite(hi) else inf)

    def run(self, start: np.ndarray | None = None) -> MipSolution:
        """Solve (an LP re-solve warm-starts from the previous basis; a MILP takes ``start`` as incumbent)."""
        import highspy

        h = self.h
        t0 = time.perf_counter()
        if start is not None and self.is_mip and start.size == self.problem.n_cols:
            sol = highspy.HighsSolution()
            sol.col_value = list(map(float, start))
            sol.value_valid = True
            h.setSolution(sol)
        with quiet_stdout():
            h.run()
        elapsed = time.perf_counter() - t0
        ms = h.getModelStatus()
        M = highspy.HighsModelStatus
        text = h.modelStatusToString(ms)
        info = h.getInfo()
        if ms == M.kInfeasible:
            return _none(SolveStatus.INFEASIBLE, "highs", self.version, elapsed, text)
        if ms in (M.kUnbounded, M.kUnboundedOrInfeasible):
            return _none(SolveStatus.UNBOUNDED if ms == M.kUnbounded else SolveStatus.INFEASIBLE, "highs",
                         self.version, elapsed, text)
        if ms == M.kOptimal or (ms == M.kModelEmpty and self.problem.n_rows == 0):
            status = SolveStatus.OPTIMAL
        elif info.primal_solution_status == 2:
            status = SolveStatus.FEASIBLE
        else:
            return _none(SolveStatus.ERROR, "highs", self.version, elapsed, text)
        s = h.getSolution()
        x = np.asarray(s.col_value, dtype=float)
        obj = float(info.objective_function_value)
        if self.is_mip:
            bound = float(info.mip_dual_bound)
            gap = float(info.mip_gap)
            duals = np.zeros(0)
        else:
            bound, gap = obj, 0.0
            duals = np.asarray(s.row_dual, dtype=float)
        return MipSolution(status, x, obj, bound, gap, duals, "highs", self.version, elapsed, text)

    def budget_ranging(self, row: int) -> tuple[float, float]:
        """(lowest, highest) value of the row's bound over which its dual stays the same (LP only)."""
        st, rng = self.h.getRanging()
        up = float(rng.row_bound_up.value_[row])
        dn = float(rng.row_bound_dn.value_[row])
        return dn, up


def solve(problem: LPProblem, solver: str = "highs", mip_gap: float = 1e-4,
          time_limit_seconds: float = 120.0, lp_algorithm: str = "auto") -> MipSolution:
    """Solve ``problem`` (maximise) with ``solver`` in ``MIP_SOLVERS``.

    ``lp_algorithm`` (HiGHS only): "auto" (interior point above :data:`IPM_ABOVE_COLUMNS` columns,
    else HiGHS' choice), "simplex" or "ipm".
    """
    key = solver.lower()
    if key == "highs":
        return HighsModel(problem, mip_gap, time_limit_seconds, lp_algorithm).run()
    if key in ("cbc", "scip"):
        return _solve_pywraplp(problem, key, mip_gap, time_limit_seconds)
    raise ScenarioError(f"mip_solver is {solver!r}; it must be one of {', '.join(MIP_SOLVERS)}. "
                        "Suggestion: omit it to use highs.")


def _solve_pywraplp(problem: LPProblem, key: str, mip_gap: float, time_limit_seconds: float) -> MipSolution:
    """CBC or SCIP through OR-Tools' pywraplp (one object per variable: for small and medium models)."""
    import ortools
    from ortools.linear_solver import pywraplp

    t0 = time.perf_counter()
    version = f"ortools {ortools.__version__} / {key.upper()}"
    s = pywraplp.Solver.CreateSolver(key.upper())
    if s is None:
        return _none(SolveStatus.ERROR, key, version, 0.0, f"{key} is not available in this OR-Tools build")
    inf = s.infinity()
    v = []
    for j in range(problem.n_cols):
        lo = float(problem.col_lo[j]) if math.isfinite(problem.col_lo[j]) else -inf
        hi = float(problem.col_hi[j]) if math.isfinite(problem.col_hi[j]) else inf
        v.append(s.IntVar(lo, hi, f"v{j}") if problem.integrality[j] else s.NumVar(lo, hi, f"v{j}"))
    A = problem.A.tocsr()
    for r in range(problem.n_rows):
        lo = float(problem.row_lo[r]) if math.isfinite(problem.row_lo[r]) else -inf
        hi = float(problem.row_hi[r]) if math.isfinite(problem.row_hi[r]) else inf
        ct = s.Constraint(lo, hi)
        for j, a in zip(A.indices[A.indptr[r]:A.indptr[r + 1]], A.data[A.indptr[r]:A.indptr[r + 1]]):
            ct.SetCoefficient(v[int(j)], float(a))
    obj = s.Objective()
    for j in np.nonzero(problem.c)[0]:
        obj.SetCoefficient(v[int(j)], float(problem.c[j]))
    obj.SetMaximization()
    s.SetTimeLimit(int(time_limit_seconds * 1000))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, float(mip_gap))
    with quiet_stdout():
        st = s.Solve(params)
    elapsed = time.perf_counter() - t0
    S = pywraplp.Solver
    if st == S.INFEASIBLE:
        return _none(SolveStatus.INFEASIBLE, key, version, elapsed, "infeasible")
    if st == S.UNBOUNDED:
        return _none(SolveStatus.UNBOUNDED, key, version, elapsed, "unbounded")
    if st not in (S.OPTIMAL, S.FEASIBLE):
        return _none(SolveStatus.ERROR, key, version, elapsed, f"status {st}")
    x = np.array([var.solution_value() for var in v])
    val = float(obj.Value())
    is_mip = bool(problem.integrality.any())
    bound = float(obj.BestBound()) if is_mip else val
    gap = abs(bound - val) / max(abs(val), 1e-12) if is_mip else 0.0
    status = SolveStatus.OPTIMAL if st == S.OPTIMAL else SolveStatus.FEASIBLE
    duals = np.zeros(0) if is_mip else np.array([c.dual_value() for c in s.constraints()])
    return MipSolution(status, x, val, bound, gap, duals, key, version, elapsed, "optimal" if st == S.OPTIMAL else "feasible")
