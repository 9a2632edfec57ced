"""``allocate(config) -> BudgetResult``: solve the budget LP on chords and certify the gap.

Loop: cut each concave cell curve into chord pieces, solve the LP (HiGHS by default, or greedy
water-filling when only the total budget binds), evaluate the plan on the TRUE curves (a lower
bound: chords under-estimate concave curves, so the plan is feasible and worth at least the LP
value), and compute an upper bound from the LP's duals by Lagrangian relaxation: for any signed
row prices, ``max F(x) <= prices . bounds + sum_cells max_{0<=x<=U} (a f(x) - g x)``, each term a
1-D concave problem solved exactly. If the relative gap exceeds the target
(``gap_tolerance_relative``, default 1e-4) the pieces around the plan are split and the LP is
solved again. The maths is in docs/budget-maths.md.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from optimizer.budget.backends import get_backend
from optimizer.budget.backends.base import SolveStatus, Solution
from optimizer.budget.config import BudgetConfig, MinSpend
from optimizer.budget.greedy import solve_greedy
from optimizer.budget.money import money, rate_text, response_text
from optimizer.budget.problem import (
    BudgetModel,
    Pieces,
    RowGroup,
    build_lp,
    build_model,
    initial_pieces,
    refine_pieces,
)
from optimizer.budget.sifting import solve_sifted
from optimizer.budget.results import ALLOCATION_COLUMNS, BindingConstraint, BudgetResult

#: Most breakpoint refinement rounds before reporting the gap reached.
MAX_REFINEMENT_ROUNDS = 8


def allocate(
    config: BudgetConfig,
    solver: str | None = "highs",
    currency: str | None = None,
    method: str | None = None,
) -> BudgetResult:
    """Allocate the budget.

    Parameters
    ----------
    config:
        The budget problem (see :class:`~optimizer.budget.config.BudgetConfig`).
    solver:
        "highs" (default), "cbc", "glop" or "pdlp".
    currency:
        ISO code used to format money in messages (e.g. "CNY" -> "¥").
    method:
        Overrides ``config.method``: "auto" (greedy when only the total budget binds), "lp",
        "greedy".

    Returns
    -------
    BudgetResult
        Status "optimal", "feasible", "infeasible" (with an explanation in money), "unbounded"
        or "error". Infeasibility is reported, not raised; see :func:`raise_if_infeasible`.
    """
    t0 = time.perf_counter()
    model = build_model(config)
    method = method or config.method
    use_greedy = method == "greedy" or (method == "auto" and model.is_budget_only
                                        and not isinstance(config.objective, MinSpend))
    if method == "greedy" and not (model.is_budget_only and not isinstance(config.objective, MinSpend)):
        from optimizer.errors import ScenarioError

        raise ScenarioError(
            "method is 'greedy' but the budget has limits besides the total budget (or a min_spend "
            "objective); greedy is exact only for a total budget alone. Use method: lp or auto."
        )
    solve = solve_greedy if use_greedy else get_backend(solver)
    from optimizer.budget.estimate import estimate_spend

    guess = estimate_spend(model)
    pieces = initial_pieces(model, config.pieces_per_curve, guess)
    guess = np.where(np.isfinite(guess), guess, 0.0)
    warnings: list[str] = []
    rounds = 0
    cell_group = _cell_groups(model)
    while True:
        problem, offsets = build_lp(model, pieces, guess)
        if use_greedy:
            sol = solve(problem, config.time_limit_seconds)
        else:
            sol = solve_sifted(problem, cell_group[pieces.cell], pieces.slope, solve, config.time_limit_seconds)
        if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            return _no_plan(model, sol, currency, solver, time.perf_counter() - t0, problem)
        x_cell = np.bincount(pieces.cell, weights=np.maximum(sol.x, 0.0), minlength=model.cells.n)
        lower, upper = certify(model, x_cell, sol.row_dual, offsets)
        gap = relative_gap(lower, upper)
        nonlinear = any(not c.is_piecewise_linear for c in model.curves)
        if gap <= config.gap_tolerance_relative or not nonlinear or rounds >= MAX_REFINEMENT_ROUNDS:
            break
        pieces = refine_pieces(model, pieces, x_cell)
        guess = x_cell
        rounds += 1
    status = "optimal" if sol.status == SolveStatus.OPTIMAL else "feasible"
    if not gap <= config.gap_tolerance_relative:
        status = "feasible"
        warnings.append(
            f"the certified optimality gap is {gap:.2e}, above the target {config.gap_tolerance_relative:.0e}"
            f" after {rounds} refinement rounds; the plan is valid but may be improvable by up to that fraction"
        )
    if sol.status == SolveStatus.FEASIBLE:
        warnings.append(f"solver {sol.solver} stopped before proving optimality ({sol.message})")
    return _plan(model, pieces, problem, offsets, sol, x_cell, lower, upper, gap, status, warnings,
                 currency, "greedy" if use_greedy else "lp", rounds, time.perf_counter() - t0)


def _cell_groups(model: BudgetModel) -> np.ndarray:
    """Group id per cell: cells in exactly the same rows share one (see optimizer.budget.sifting)."""
    if not model.groups:
        return np.zeros(model.cells.n, dtype=np.int64)
    key = np.stack([g.cell_row for g in model.groups], axis=1)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def relative_gap(lower: float, upper: float) -> float:
    """``(upper - lower) / min(|lower|, |upper|)`` (in the maximised form); 0 when both are 0."""
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return math.inf
    diff = max(upper - lower, 0.0)
    if diff == 0:
        return 0.0
    denom = min(abs(lower), abs(upper))
    return diff / denom if denom > 0 else math.inf


def true_objective(model: BudgetModel, x_cell: np.ndarray) -> tuple[float, np.ndarray]:
    """Objective (maximised form) of cell spends on the true curves, and each cell's response."""
    resp = cell_response(model, x_cell)
    return float(model.resp_weight * resp.sum() + model.spend_weight * x_cell.sum()), resp


def cell_response(model: BudgetModel, x_cell: np.ndarray) -> np.ndarray:
    """True response of each cell (response_unit)."""
    out = np.zeros(model.cells.n)
    for ci, curve in enumerate(model.curves):
        m = model.cells.channel == ci
        if m.any():
            out[m] = curve.value(x_cell[m])
    return out * model.cells.multiplier


def cell_marginal(model: BudgetModel, x_cell: np.ndarray) -> np.ndarray:
    """Derivative of each cell's true response at its spend (response per currency).

    The right derivative where the cell can take more, the left one where it is at its cap.
    """
    out = np.zeros(model.cells.n)
    full = x_cell >= model.cells.upper * (1 - 1e-9)
    probe = np.where(full & (x_cell > 0), x_cell * (1 - 1e-9), x_cell)
    for ci, curve in enumerate(model.curves):
        m = model.cells.channel == ci
        if m.any():
            out[m] = curve.slope(probe[m])
    return out * model.cells.multiplier


def certify(model: BudgetModel, x_cell: np.ndarray, row_dual: np.ndarray,
            offsets: list[tuple[RowGroup, int]]) -> tuple[float, float]:
    """(lower, upper) bounds on the best objective, maximised form.

    ``lower`` is the plan's true objective (the plan satisfies every row: spend rows exactly,
    response rows because chords lie below the curves). ``upper`` is the Lagrangian bound with
    the LP's row duals as prices; it is valid for ANY prices with the right signs, so duals are
    clipped to the sign their row's finite bounds allow.
    """
    lower, _ = true_objective(model, x_cell)
    n = model.cells.n
    a = np.full(n, model.resp_weight)
    g = np.full(n, -model.spend_weight)
    const = 0.0
    for grp, r0 in offsets:
        lam = row_dual[r0:r0 + len(grp.entities)].copy() if row_dual.size else np.zeros(len(grp.entities))
        lam = np.where(np.isfinite(grp.hi), lam, np.minimum(lam, 0.0))
        lam = np.where(np.isfinite(grp.lo), lam, np.maximum(lam, 0.0))
        const += float(np.sum(np.where(lam > 0, lam * np.where(np.isfinite(grp.hi), grp.hi, 0.0), 0.0)))
        const += float(np.sum(np.where(lam < 0, lam * np.where(np.isfinite(grp.lo), grp.lo, 0.0), 0.0)))
        member = grp.cell_row >= 0
        price = np.zeros(n)
        price[member] = lam[grp.cell_row[member]]
        if grp.kind == "spend":
            g += price
        else:
            a -= price
    a = a * model.cells.multiplier
    total = const
    for ci, curve in enumerate(model.curves):
        m = model.cells.channel == ci
        if m.any():
            total += float(curve.lagrangian_max(a[m], g[m], model.cells.upper[m]).sum())
    return lower, total


def _units(model: BudgetModel, spend: np.ndarray, channel_idx: np.ndarray) -> np.ndarray:
    cpu = np.array([c.cost_per_unit if c.cost_per_unit is not None else np.nan for c in model.config.channels])
    return spend / cpu[channel_idx]


def _plan(model: BudgetModel, pieces: Pieces, problem, offsets, sol: Solution, x_cell: np.ndarray,
          lower: float, upper: float, gap: float, status: str, warnings: list[str], currency: str | None,
          method: str, rounds: int, elapsed: float) -> BudgetResult:
    cfg = model.config
    cells = model.cells
    ch_names = np.array([c.name for c in cfg.channels], dtype=object)
    seg_names = np.array(model.segment_names, dtype=object)
    per_names = np.array(model.period_names, dtype=object)
    x_cell = np.where(x_cell < 1e-9 * max(1.0, float(x_cell.max(initial=0.0))), 0.0, x_cell)
    resp = cell_response(model, x_cell)
    marg = cell_marginal(model, x_cell)
    with np.errstate(invalid="ignore", divide="ignore"):
        roi = np.where(x_cell > 0, resp / np.where(x_cell > 0, x_cell, 1.0), np.nan)
    alloc = pd.DataFrame({
        "channel": ch_names[cells.channel], "segment": seg_names[cells.segment], "period": per_names[cells.period],
        "spend": x_cell, "units": _units(model, x_cell, cells.channel), "response": resp, "roi": roi,
        "marginal_roi": marg,
    })[ALLOCATION_COLUMNS]
    n_c = len(cfg.channels)
    spend_c = np.bincount(cells.channel, weights=x_cell, minlength=n_c)
    resp_c = np.bincount(cells.channel, weights=resp, minlength=n_c)
    marg_c = np.full(n_c, np.nan)
    room = x_cell < cells.upper * (1 - 1e-9)
    capped_c = np.ones(n_c, dtype=bool)
    for ci in range(n_c):
        sel = cells.channel == ci
        capped_c[ci] = not np.any(sel & room)
        w = x_cell[sel]
        if w.sum() > 0:
            # what the channel's money earns at the margin, cell by cell, weighted by spend
            used = w > 0
            marg_c[ci] = float(np.average(marg[sel][used], weights=w[used]))
        elif sel.any():
            marg_c[ci] = float(marg[sel].max())  # what its first currency unit would earn
    total_spend = float(x_cell.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        totals = pd.DataFrame({
            "channel": ch_names, "spend": spend_c, "units": _units(model, spend_c, np.arange(n_c)),
            "response": resp_c, "roi": np.where(spend_c > 0, resp_c / np.where(spend_c > 0, spend_c, 1), np.nan),
            "marginal_roi": marg_c, "share": spend_c / total_spend if total_spend > 0 else np.zeros(n_c),
        })
    ru = cfg.response_unit
    one = money(1, currency).rstrip("1") or "currency unit"
    marg_text = tuple(
        f"{name}: one more {one} returns {rate_text(v, ru, currency)}"
        + (" (the channel is at its cap: see its shadow price)" if capped else "")
        for name, v, capped in zip(ch_names, marg_c, capped_c)
    )
    binding = _binding(model, problem, offsets, sol, currency)
    objective = _natural(model, lower)
    bound = _natural(model, upper)
    table_tail = [cfg.channels[ci].name for ci, c in enumerate(model.curves) if c.kind == "table"
                  and np.any(x_cell[cells.channel == ci] > c.knots_x[-1] * (1 + 1e-9))]
    if table_tail:
        warnings.append(f"spend beyond the last measured table point earns nothing in {', '.join(table_tail)}; "
                        "the plan is at the edge of the data")
    return BudgetResult(
        status=status, objective_name=cfg.objective.kind, objective_value=objective, total_spend=total_spend,
        total_response=float(resp.sum()), optimality_gap=gap, bound=bound, allocations=alloc,
        channel_totals=totals, binding_constraints=binding, warnings=tuple(warnings), solver=sol.solver,
        solver_version=sol.solver_version, method=method, time_seconds=elapsed, n_variables=problem.n_cols,
        n_rows=problem.n_rows, refinement_rounds=rounds, currency=currency, response_unit=ru,
        marginal_roi_text=marg_text,
    )


def _natural(model: BudgetModel, value: float) -> float:
    """Maximised-form objective -> the user's objective (spend is positive for min_spend)."""
    return -value if isinstance(model.config.objective, MinSpend) else value


def _binding(model: BudgetModel, problem, offsets, sol: Solution, currency: str | None) -> tuple[BindingConstraint, ...]:
    cfg = model.config
    act = problem.A @ np.maximum(sol.x, 0.0) if problem.n_rows else np.zeros(0)
    out = []
    ru = cfg.response_unit
    what = {"max_response": "response", "max_profit": "profit", "min_spend": "spend"}[cfg.objective.kind]
    for grp, r0 in offsets:
        for k, entity in enumerate(grp.entities):
            r = r0 + k
            lo, hi, a = problem.row_lo[r], problem.row_hi[r], act[r]
            d = float(sol.row_dual[r]) if sol.row_dual.size else 0.0
            tol = 1e-7 * max(1.0, abs(a))
            at_hi = math.isfinite(hi) and a >= hi - tol
            at_lo = math.isfinite(lo) and a <= lo + tol
            if not (at_hi or at_lo):
                continue
            side = "upper" if (at_hi and (d >= 0 or not at_lo)) else "lower"
            bound = float(hi if side == "upper" else lo)
            out.append(BindingConstraint(problem.row_names[r], grp.name, entity, side, bound, d,
                                         _words(grp, entity, side, bound, d, what, ru, currency,
                                                isinstance(cfg.objective, MinSpend))))
    return tuple(out)


def _words(grp: RowGroup, entity: str, side: str, bound: float, d: float, what: str, ru: str,
           currency: str | None, minimise: bool) -> str:
    """A shadow price in a planner's words.

    ``d`` is d(maximised objective)/d(bound); for min_spend the maximised objective is -spend.
    """
    sym = money(1, currency).rstrip("1").strip()
    if grp.kind == "spend" or ru == "currency":
        unit = sym or "currency unit"
    else:
        unit = "conversion"
    label = {"total_budget": "total budget", "channel_spend": f"spend on channel {entity}",
             "segment_spend": f"spend on segment {entity}", "period_spend": f"spend in period {entity}",
             "channel_response": f"required response from channel {entity}",
             "target_response": "target response"}[grp.name]
    limit = money(bound, currency) if grp.kind == "spend" else response_text(bound, ru, currency)
    if minimise:
        return (f"one more {unit} of {label} (limit {limit}) changes the spend needed by "
                f"{rate_text(-d, 'currency', currency)}")
    rate_unit = ru if what == "response" else "currency"
    if side == "upper":
        return f"one more {unit} of {label} (now {limit}) returns {rate_text(d, rate_unit, currency)} of {what}"
    floor = {"channel_spend": f"the minimum spend on channel {entity}",
             "segment_spend": f"the minimum spend on segment {entity}",
             "period_spend": f"the minimum spend in period {entity}",
             "total_budget": "spending the whole budget",
             "channel_response": f"the response required from channel {entity}",
             "target_response": "the target response"}[grp.name]
    return f"{floor} ({limit}) costs {rate_text(-d, rate_unit, currency)} of {what} per {unit} it forces"


def _no_plan(model: BudgetModel, sol: Solution, currency: str | None, solver: str | None, elapsed: float,
             problem) -> BudgetResult:
    """A result without a plan: infeasible (explained in money), unbounded, or solver error."""
    from optimizer.budget.diagnose import explain_infeasible, explain_unbounded

    if sol.status == SolveStatus.INFEASIBLE:
        explanation = explain_infeasible(model, currency, solver)
        status = "infeasible"
    elif sol.status == SolveStatus.UNBOUNDED:
        explanation = explain_unbounded(model, currency)
        status = "unbounded"
    else:
        explanation = (f"solver {sol.solver} failed: {sol.message}. Try another solver (--solver highs, cbc or glop).",)
        status = "error"
    empty = pd.DataFrame({c: [] for c in ALLOCATION_COLUMNS})
    totals = pd.DataFrame({c: [] for c in ["channel", "spend", "units", "response", "roi", "marginal_roi", "share"]})
    nan = float("nan")
    return BudgetResult(
        status=status, objective_name=model.config.objective.kind, objective_value=nan, total_spend=nan,
        total_response=nan, optimality_gap=nan, bound=nan, allocations=empty, channel_totals=totals,
        explanation=tuple(explanation), solver=sol.solver, solver_version=sol.solver_version, method="lp",
        time_seconds=elapsed, n_variables=problem.n_cols, n_rows=problem.n_rows, currency=currency,
        response_unit=model.config.response_unit,
    )


def raise_if_infeasible(result: BudgetResult) -> BudgetResult:
    """Raise :class:`~optimizer.errors.InfeasibleError` (exit code 3) when the plan is infeasible."""
    from optimizer.errors import InfeasibleError, SolverError

    if result.status == "infeasible":
        raise InfeasibleError("The budget has no feasible plan.\n" + "\n".join(result.explanation))
    if result.status in ("unbounded", "error"):
        raise SolverError("\n".join(result.explanation))
    return result
