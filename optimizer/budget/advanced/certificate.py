"""Clean a solver's plan and verify its certificate before anything is reported.

Solvers answer within tolerances, and some certificates are wrong (SOLVER-NOTES: CBC 2.10.3
claimed "optimal, MIP gap 0" on plans 0.085 % and 0.39 % worse than feasible plans above its own
bound; SCIP left 7e-4 of spend in a cell flagged unused). So every answer goes through:

1. :func:`clean_plan` -- spend below one cent or below 1e-6 of the largest cell is set to 0, the
   used / active flags and whole-unit counts are recomputed from the spend, and every row that
   involves only spend, flags and units (budget incl. set-up costs, limits, minimum spend if used,
   ``max_active_channels``) is re-checked. If the cleaned plan breaks a row, the flags are recomputed
   on the uncleaned spend instead; if that breaks a row too, the plan is kept as the solver gave it,
   with a warning naming the rows.
2. :func:`verify_bound` -- the claimed bound must not lie below the value of the (cleaned) plan
   on the solver's own model; a plan known to be better than the claimed bound proves the bound
   wrong. For solvers other than HiGHS on integer models, an independent bound comes from HiGHS
   (started from the solver's plan): it replaces the claimed one, and a claimed certificate that
   does not hold is reported in a warning. The certified gap is then computed on the true curves
   by the caller (``optimizer.budget.advanced.allocate.read_plan``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Spend below this (currency) is solver noise.
CENT = 0.01
#: Spend below this fraction of the largest cell spend is solver noise.
NOISE_RELATIVE = 1e-6
#: Relative tolerance of row checks and bound comparisons.
ROW_TOL = 1e-6
#: Longest independent HiGHS check of another solver's MIP certificate (seconds).
CHECK_TIME_LIMIT_SECONDS = 60.0


@dataclass(frozen=True)
class CleanPlan:
    """A plan after cleaning: spend per cell, flags, the full column vector and notes."""

    x: np.ndarray
    used: np.ndarray
    active: np.ndarray
    full: np.ndarray
    warnings: tuple[str, ...]
    n_zeroed: int


def _checkable_rows(form) -> np.ndarray:
    """Rows whose columns are only spend, used/active flags and units (no pieces, no links)."""
    p = form.problem
    n = form.n_cells
    ok_col = np.zeros(p.n_cols, dtype=bool)
    ok_col[form.x_col:form.x_col + n] = True
    for cols in (form.used_of_cell, form.active_of_channel, form.units_of_cell):
        ok_col[cols[cols >= 0]] = True
    A = p.A.tocsr()
    bad = np.zeros(p.n_rows, dtype=bool)
    coo = A.tocoo()
    np.logical_or.at(bad, coo.row, ~ok_col[coo.col])
    return ~bad


def row_violations(form, full: np.ndarray, rows: np.ndarray | None = None) -> list[str]:
    """Names of rows (among ``rows``) that ``full`` breaks by more than :data:`ROW_TOL` (relative)."""
    p = form.problem
    if p.n_rows == 0:
        return []
    act = p.A @ full
    scale = np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(p.row_lo), p.row_lo, 0.0)),
                                       np.abs(np.where(np.isfinite(p.row_hi), p.row_hi, 0.0))))
    broken = (act < p.row_lo - ROW_TOL * scale) | (act > p.row_hi + ROW_TOL * scale)
    if rows is not None:
        broken &= rows
    names = p.row_names if len(p.row_names) == p.n_rows else tuple(f"row {i}" for i in range(p.n_rows))
    return [names[i] for i in np.nonzero(broken)[0]]


def _with(form, sol_x: np.ndarray, x: np.ndarray, cpu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full column vector with spend ``x`` and flags / units recomputed from it."""
    cells = form.model.cells
    full = np.asarray(sol_x, dtype=float).copy()
    full[form.x_col:form.x_col + form.n_cells] = x
    used = (x > 0).astype(float)
    m = form.used_of_cell >= 0
    full[form.used_of_cell[m]] = used[m]
    spend_c = np.bincount(cells.channel, weights=x, minlength=form.active_of_channel.size)
    active = (spend_c > 0).astype(float)
    m = form.active_of_channel >= 0
    full[form.active_of_channel[m]] = active[m]
    m = form.units_of_cell >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        units = np.round(x / cpu[cells.channel])
    full[form.units_of_cell[m]] = units[m]
    return full, used, active


def clean_plan(form, sol_x: np.ndarray, cost_per_unit: np.ndarray) -> CleanPlan:
    """Zero sub-tolerance spend, recompute flags and units, re-check the rows (see module docstring)."""
    n = form.n_cells
    x0 = np.maximum(np.asarray(sol_x[form.x_col:form.x_col + n], dtype=float), 0.0)
    top = float(np.max(x0, initial=0.0))
    small = (x0 > 0) & ((x0 < CENT) | (x0 < NOISE_RELATIVE * top))
    rows = _checkable_rows(form)
    before = set(row_violations(form, np.asarray(sol_x, dtype=float), rows))
    x1 = np.where(small, 0.0, x0)
    full, used, active = _with(form, sol_x, x1, cost_per_unit)
    broken = [r for r in row_violations(form, full, rows) if r not in before]
    if not broken:
        return CleanPlan(x1, used, active, full, (), int(small.sum()))
    # a floor may need the tiny spend: keep it, with flags that say the cell is used
    full, used, active = _with(form, sol_x, x0, cost_per_unit)
    broken2 = [r for r in row_violations(form, full, rows) if r not in before]
    if not broken2:
        return CleanPlan(x0, used, active, full, (), 0)
    full = np.asarray(sol_x, dtype=float).copy()
    used = np.where(form.used_of_cell >= 0, np.round(full[np.maximum(form.used_of_cell, 0)]), (x0 > 0).astype(float))
    spend_c = np.bincount(form.model.cells.channel, weights=x0, minlength=form.active_of_channel.size)
    active = np.where(form.active_of_channel >= 0, np.round(full[np.maximum(form.active_of_channel, 0)]),
                      (spend_c > 0).astype(float))
    return CleanPlan(x0, used, active, full, (
        f"the solver's plan holds its rows only within solver tolerance ({', '.join(broken2[:5])}); "
        "it is reported as the solver gave it",), 0)


@dataclass(frozen=True)
class BoundCheck:
    """The bound to certify with (maximised form, solver's model) and what the check found."""

    bound: float
    mip_gap: float
    warnings: tuple[str, ...]
    independent: bool
    proved: bool


def verify_bound(form, sol, full: np.ndarray, mip_gap: float, time_limit_seconds: float) -> BoundCheck:
    """Check the solver's claimed bound against the cleaned plan; for CBC / SCIP on integer models,
    replace it by an independent HiGHS bound (HiGHS run to ``mip_gap``). Maximised form throughout."""
    p = form.problem
    value = float(p.c @ full)
    claimed = float(sol.bound)
    tol = ROW_TOL * max(1.0, abs(value))
    warnings: list[str] = []
    ok = math.isfinite(claimed) and claimed >= value - tol
    if not ok:
        warnings.append(f"solver {sol.solver} claimed a bound of {claimed:,.6g}, below the value {value:,.6g} of its "
                        "own (cleaned) plan; its certificate is rejected")
    is_mip = bool(p.integrality.any())
    if is_mip and sol.solver != "highs":
        from optimizer.budget.advanced.solve import HighsModel

        hm = HighsModel(p, mip_gap, min(time_limit_seconds, CHECK_TIME_LIMIT_SECONDS))
        chk = hm.run(start=full)
        if chk.has_point and math.isfinite(chk.bound):
            better = float(chk.objective)
            if ok and better > claimed + tol:
                warnings.append(
                    f"solver {sol.solver} claimed MIP gap {sol.mip_gap:.1e}, but HiGHS found a plan worth {better:,.6g} "
                    f"above its claimed bound {claimed:,.6g}: the certificate does not hold; the plan is certified "
                    "with HiGHS's bound instead")
            bound = max(float(chk.bound), value)
            gap = (bound - value) / max(abs(value), 1e-12)
            return BoundCheck(bound, gap, tuple(warnings), True, True)
        warnings.append(f"the independent HiGHS check of solver {sol.solver}'s certificate did not finish "
                        f"({chk.message}); the plan is not certified")
        return BoundCheck(math.inf, math.inf, tuple(warnings), True, False)
    if not ok:
        return BoundCheck(math.inf, math.inf, tuple(warnings), False, False)
    return BoundCheck(claimed, float(sol.mip_gap), tuple(warnings), False, True)
