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

from dataclasses import replace

import math
import time

import numpy as np

from optimizer.budget.backends import get_backend
from optimizer.budget.backends.base import SolveStatus, Solution
from optimizer.budget.config import BudgetConfig, MinSpend
from optimizer.budget.greedy import solve_greedy
from optimizer.budget.problem import (
    BudgetModel,
    Pieces,
    RowGroup,
    build_lp,
    build_model,
    implicit_cap_warning,
    initial_pieces,
    make_pieces,
    refine_pieces,
)
from optimizer.budget.sifting import solve_sifted
from optimizer.budget.report import marginal_roi_sentences
from optimizer.budget.results import (
    BindingConstraint,
    BudgetResult,
    certified_status,
    empty_tables,
    gap_warning,
    plan_tables,
)

#: Most breakpoint refinement rounds before reporting the gap reached.
MAX_REFINEMENT_ROUNDS = 8

#: Most refinements toward response floors before an infeasible chord LP is reported as infeasible.
MAX_FLOOR_ROUNDS = 6

#: A response floor the true curves miss by at most this fraction of it is met "at capacity": a floor set
#: to exactly what a channel can deliver (e.g. computed from its cap) is only reached at one exact plan,
#: which chords approach but never hit; the plan then delivers the floor less this sliver, and says so.
FLOOR_TOLERANCE = 1e-6


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
    from optimizer.budget.estimate import check_size, estimate_spend, lp_size

    # refuse a model that cannot fit before building it (a MemoryError traceback helps nobody)
    check_size(lp_size(model, config.pieces_per_curve), f"the budget LP ({model.cells.n:,} cells x "
               f"{config.pieces_per_curve} pieces_per_curve)",
               "lower pieces_per_curve (10 is the default; refinement adds breakpoints only where the plan is), "
               "or plan fewer channels x segments x periods at once")
    guess = estimate_spend(model)
    pieces = initial_pieces(model, config.pieces_per_curve, guess)
    guess = np.where(np.isfinite(guess), guess, 0.0)
    warnings: list[str] = []
    rounds = 0
    floor_attempts = 0
    cell_group = _cell_groups(model)
    while True:
        problem, offsets = build_lp(model, pieces, guess)
        if use_greedy:
            sol = solve(problem, config.time_limit_seconds)
        else:
            sol = solve_sifted(problem, cell_group[pieces.cell], pieces.slope, solve, config.time_limit_seconds)
        if sol.status == SolveStatus.INFEASIBLE and not use_greedy and floor_attempts < MAX_FLOOR_ROUNDS:
            # response floors are tested on chords, which lie below the curves: refine at the plan that
            # comes closest to the floors before calling the problem infeasible (issue #10, defect 3)
            floor_attempts += 1
            repaired = _refine_for_floors(model, pieces, problem, offsets, get_backend(solver),
                                          config.time_limit_seconds, relax=floor_attempts == MAX_FLOOR_ROUNDS)
            if repaired is not None:
                pieces, guess, relaxed, note = repaired
                if relaxed is not None:
                    model = relaxed
                    warnings.append(note)
                continue
        if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            return _no_plan(model, sol, currency, solver, time.perf_counter() - t0, problem, pieces)
        x_cell = clean_spend(np.bincount(pieces.cell, weights=np.maximum(sol.x, 0.0), minlength=model.cells.n))
        lower, upper = certify(model, x_cell, sol.row_dual, offsets)
        gap = relative_gap(lower, upper)
        nonlinear = any(not c.is_piecewise_linear for c in model.curves)
        if gap <= config.gap_tolerance_relative or not nonlinear or rounds >= MAX_REFINEMENT_ROUNDS:
            break
        pieces = refine_pieces(model, pieces, x_cell)
        guess = x_cell
        rounds += 1
    status = certified_status(gap, config.gap_tolerance_relative, sol.status == SolveStatus.OPTIMAL)
    if not gap <= config.gap_tolerance_relative:
        warnings.append(gap_warning(gap, config.gap_tolerance_relative, f" (after {rounds} refinement rounds)"))
    cap_note = implicit_cap_warning(model, x_cell)  # min_spend without a budget: a chosen cap reached
    if cap_note is not None:
        warnings.append(cap_note)
        status = "feasible" if status == "optimal" else status
    if sol.status == SolveStatus.FEASIBLE:
        warnings.append(f"solver {sol.solver} stopped before proving optimality ({sol.message})")
    return _plan(model, pieces, problem, offsets, sol, x_cell, lower, upper, gap, status, warnings,
                 currency, "greedy" if use_greedy else "lp", rounds, time.perf_counter() - t0)


def _split_at(model: BudgetModel, pieces: Pieces, x_cell: np.ndarray) -> Pieces:
    """``pieces`` with a breakpoint at each cell's spend (there the chords equal the true curve)."""
    x = x_cell[pieces.cell]
    inside = (pieces.lo < x) & (x < pieces.hi)
    cell = np.concatenate([pieces.cell, pieces.cell[inside]])
    lo = np.concatenate([pieces.lo, x[inside]])
    hi = np.concatenate([np.where(inside, x, pieces.hi), pieces.hi[inside]])
    keep = hi > lo  # a cell at its outer limit can hold an empty piece; it has no chord
    return make_pieces(model, cell[keep], lo[keep], hi[keep])


def _refine_for_floors(model: BudgetModel, pieces: Pieces, problem, offsets, solve, time_limit: float,
                       relax: bool = False) -> tuple[Pieces, np.ndarray, BudgetModel | None, str | None] | None:
    """``(pieces, plan, relaxed model or None, note or None)`` with which the response floors can be met,
    or None when the spend rows alone conflict.

    Phase 1: the chord LP with a slack on every response floor, minimising the total shortfall
    (relative to each floor). Its plan is then checked on the TRUE curves: if it meets the floors it is
    a feasible plan, and a breakpoint at its spend makes the chord LP feasible too; on the last attempt
    (``relax``), if it misses them by at most :data:`FLOOR_TOLERANCE` (a floor at exactly what the
    channel can deliver), those floors are lowered to what the plan delivers and the note says by how
    much; otherwise the pieces are refined
    around it (the caller tries again, a bounded number of times).
    """
    import scipy.sparse as sp

    from optimizer.budget.problem import LPProblem

    resp_rows = [(g, r0) for g, r0 in offsets if g.kind == "response"]
    if not resp_rows:
        return None
    rows = np.concatenate([np.arange(r0, r0 + len(g.entities)) for g, r0 in resp_rows])
    scale = np.maximum(np.abs(problem.row_lo[rows]), 1.0)
    slack = sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(problem.n_rows, rows.size))
    phase1 = LPProblem(
        np.r_[np.zeros(problem.n_cols), -1.0 / scale], sp.hstack([problem.A, slack]).tocsr(), problem.row_lo,
        problem.row_hi, np.r_[problem.col_lo, np.zeros(rows.size)], np.r_[problem.col_hi, np.full(rows.size, np.inf)],
        np.zeros(problem.n_cols + rows.size, dtype=np.int32), problem.row_names)
    sol = solve(phase1, time_limit)
    if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return None  # the spend rows conflict: infeasible whatever the curves
    x_cell = np.bincount(pieces.cell, weights=np.maximum(sol.x[:problem.n_cols], 0.0), minlength=model.cells.n)
    resp = cell_response(model, x_cell)
    meets, close = True, True
    groups, notes = list(model.groups), []
    for g, _ in resp_rows:
        m = g.cell_row >= 0
        got = np.bincount(g.cell_row[m], weights=resp[m], minlength=len(g.entities))
        scale = np.maximum(np.abs(g.lo), 1.0)
        short = g.lo - got
        meets &= bool(np.all(short <= 1e-9 * scale))
        close &= bool(np.all(short <= FLOOR_TOLERANCE * scale))
        at_cap = (short > 0) & (short <= FLOOR_TOLERANCE * scale)
        if at_cap.any():
            groups[model.groups.index(g)] = replace(g, lo=np.where(at_cap, got, g.lo))
            notes += [f"{g.entities[i]}: floor {g.lo[i]:,.4f}, delivered {got[i]:,.4f} (short by {short[i]:.3g})"
                      for i in np.flatnonzero(at_cap)]
    if meets and not (relax and notes):
        return _split_at(model, pieces, x_cell), x_cell, None, None
    if close and relax:
        note = (f"response floor(s) at exactly what the channel can deliver: {', '.join(notes)}; met to within "
                f"{FLOOR_TOLERANCE:g} of the floor (the exact maximum is one plan that a piecewise-linear model "
                "approaches but cannot reach).")
        return _split_at(model, pieces, x_cell), x_cell, replace(model, groups=tuple(groups)), note
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty piece at an outer limit has no chord
        fine = refine_pieces(model, _split_at(model, pieces, x_cell), x_cell)
    return _split_at(model, fine, np.full(model.cells.n, -1.0)), x_cell, None, None  # (drops empty pieces)


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
        m = model.cells.curve == ci
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
        m = model.cells.curve == ci
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
        m = model.cells.curve == ci
        if m.any():
            total += float(curve.lagrangian_max(a[m], g[m], model.cells.upper[m]).sum())
    return lower, total


def clean_spend(x: np.ndarray) -> np.ndarray:
    """Cell spends with LP noise removed (below 1e-9 of the largest spend -> 0). An LP's spend is exact
    up to the solver's tolerance, and rows such as an ``equal`` budget must still add up; integer plans
    are cleaned harder (optimizer.budget.advanced.certificate)."""
    top = float(np.max(x, initial=0.0))
    return np.where(x < 1e-9 * max(1.0, top), 0.0, x)


def budget_amount(cfg) -> float | None:
    """The total budget (currency) for ``share_of_budget``; None without one."""
    tb = getattr(cfg, "total_budget", None)
    return float(tb.amount) if tb is not None and getattr(tb, "amount", None) is not None else None


def _plan(model: BudgetModel, pieces: Pieces, problem, offsets, sol: Solution, x_cell: np.ndarray,
          lower: float, upper: float, gap: float, status: str, warnings: list[str], currency: str | None,
          method: str, rounds: int, elapsed: float) -> BudgetResult:
    cfg = model.config
    cells = model.cells
    resp = cell_response(model, x_cell)
    marg = cell_marginal(model, x_cell)
    cpu = np.array([c.cost_per_unit if c.cost_per_unit is not None else np.nan for c in cfg.channels])
    alloc, totals = plan_tables(
        channel_names=[c.name for c in cfg.channels], segment_names=model.segment_names,
        period_names=model.period_names, cell_channel=cells.channel, cell_segment=cells.segment,
        cell_period=cells.period, spend=x_cell, response=resp, marginal=marg, cost_per_unit=cpu,
        budget=budget_amount(cfg))
    n_c = len(cfg.channels)
    room = x_cell < cells.upper * (1 - 1e-9)
    capped = {cfg.channels[ci].name: not np.any((cells.channel == ci) & room) for ci in range(n_c)}
    total_spend = float(x_cell.sum())
    ru = cfg.response_unit
    marg_text = marginal_roi_sentences(totals, ru, currency, capped)
    binding = _binding(model, x_cell, resp, marg, currency)
    objective = _natural(model, lower)
    bound = _natural(model, upper)
    table_tail = sorted({cfg.channels[model.curve_channel[ci]].name for ci, c in enumerate(model.curves) if c.kind == "table"
                         and np.any(x_cell[cells.curve == ci] > c.knots_x[-1] * (1 + 1e-9))})
    if table_tail:
        warnings.append(f"spend beyond the last measured table point earns nothing in {', '.join(table_tail)}; "
                        "the plan is at the edge of the data")
    return BudgetResult(
        status=status, objective_name=cfg.objective.kind, objective_value=objective, total_spend=total_spend,
        total_response=float(resp.sum()), optimality_gap=gap, bound=bound, allocations=alloc,
        channel_totals=totals, binding_constraints=binding, warnings=tuple(warnings), solver=sol.solver,
        solver_version=sol.solver_version, method=method, time_seconds=elapsed, n_variables=problem.n_cols,
        n_rows=problem.n_rows, refinement_rounds=rounds, currency=currency, response_unit=ru,
        marginal_roi_text=marg_text, gap_target=cfg.gap_tolerance_relative,
    )


def _natural(model: BudgetModel, value: float) -> float:
    """Maximised-form objective -> the user's objective (spend is positive for min_spend)."""
    return -value if isinstance(model.config.objective, MinSpend) else value


def _binding(model: BudgetModel, x_cell: np.ndarray, resp: np.ndarray, marg: np.ndarray,
             currency: str | None) -> tuple[BindingConstraint, ...]:
    """Binding limits with their TRUE marginal values (KKT on the true curves, optimizer.budget.shadow),
    not the chord-piece duals of the LP."""
    from optimizer.budget.shadow import binding_constraints

    return binding_constraints(model, x_cell, resp, marg, currency)


def _no_plan(model: BudgetModel, sol: Solution, currency: str | None, solver: str | None, elapsed: float,
             problem, pieces=None) -> BudgetResult:
    """A result without a plan: infeasible (explained in money), unbounded, or solver error."""
    from optimizer.budget.diagnose import explain_infeasible, explain_unbounded

    if sol.status == SolveStatus.INFEASIBLE:
        explanation = explain_infeasible(model, currency, solver, pieces)
        status = "infeasible"
    elif sol.status == SolveStatus.UNBOUNDED:
        explanation = explain_unbounded(model, currency)
        status = "unbounded"
    else:
        explanation = (f"solver {sol.solver} failed: {sol.message}. Try another solver (--solver highs, cbc or glop).",)
        status = "error"
    empty, totals = empty_tables()
    nan = float("nan")
    return BudgetResult(
        status=status, objective_name=model.config.objective.kind, objective_value=nan, total_spend=nan,
        total_response=nan, optimality_gap=nan, bound=nan, allocations=empty, channel_totals=totals,
        explanation=tuple(explanation), solver=sol.solver, solver_version=sol.solver_version, method="lp",
        time_seconds=elapsed, n_variables=problem.n_cols, n_rows=problem.n_rows, currency=currency,
        response_unit=model.config.response_unit, gap_target=model.config.gap_tolerance_relative, mip_gap=nan,
    )


def raise_if_infeasible(result: BudgetResult) -> BudgetResult:
    """Raise :class:`~optimizer.errors.InfeasibleError` (exit code 3) when the plan is infeasible."""
    from optimizer.errors import InfeasibleError, SolverError

    if result.status == "infeasible":
        raise InfeasibleError("The budget has no feasible plan.\n" + "\n".join(result.explanation))
    if result.status in ("unbounded", "error"):
        raise SolverError("\n".join(result.explanation))
    return result
