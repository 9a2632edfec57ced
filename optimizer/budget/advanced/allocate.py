"""``allocate_advanced(config) -> BudgetResult``: MILP rules, S-curves, adstock and targets.

Builds the problem (:mod:`.formulation`), solves it with HiGHS (or CBC / SCIP), evaluates the plan
on the TRUE curves (lower bound) and certifies it: ``upper = solver bound + sum of each cell's
largest chord error`` (chords under-estimate concave pieces by at most that; on convex pieces of an
S-curve they lie above the curve), so ``gap = (upper - lower) / lower`` bounds how far the plan can
be from the best plan on the true curves. Every answer is cleaned and its certificate verified
(:mod:`.certificate`) before the status is decided: "optimal" iff the certified gap meets
``gap_tolerance_relative`` (the one meaning of every budget result). Infeasible problems are
explained in money (:mod:`.explain`); a target no budget can reach names the best achievable ROAS /
CPA. Frontier and risk runs are attached when the config asks for them. These strategies sit behind
``optimizer.budget.allocate``. Maths: docs/budget-advanced.md.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from optimizer.budget.advanced.formulation import Formulation, build, minimises
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.advanced.solve import MipSolution, solve
from optimizer.budget.allocation import budget_amount, relative_gap
from optimizer.budget.backends.base import SolveStatus
from optimizer.budget.report import marginal_roi_sentences
from optimizer.budget.results import BudgetResult, certified_status, empty_tables, gap_warning, plan_tables


#: Chord tolerance of the first pieces of an LP (refined around the plan until the dual bound certifies).
LP_START_TOLERANCE = 5e-2

#: First pieces per smooth curve of an LP: only to locate the plan, the later rounds localize them.
LP_START_PIECES = 16

#: Largest adstock LP (columns) solved with the dual simplex rather than interior point.
SIMPLEX_MAX_COLUMNS = 400_000

#: Largest certified gap of a decomposition plan the LP fallback centres its first pieces on.
LOCALIZED_START_MAX_GAP = 1e-3

#: Most local refinement rounds of an LP.
MAX_LP_ROUNDS = 8

#: Most rounds of adding breakpoints where a plan lands inside a coarse convex piece of an S-curve.
MAX_CONVEX_ROUNDS = 6

#: Most re-solves of a MILP with finer pieces when the chord error keeps the gap above the target.
MAX_TOLERANCE_ROUNDS = 2


def convex_refinement(form: Formulation, sol: MipSolution, tolerance_relative: float) -> dict[int, np.ndarray]:
    """Breakpoints to add, by channel: the plan's effective spend and 8 points across each convex piece
    it lands strictly inside where the chord over-states the curve by more than the tolerance."""
    from optimizer.budget.advanced.scurve import SCurve

    cells = form.model.cells
    x = np.maximum(sol.x[form.x_col:form.x_col + cells.n], 0.0)
    eff = x if form.adstock_matrix is None else form.adstock_matrix @ x + form.adstock_carry
    out: dict[int, list[np.ndarray]] = {}
    for ci, curve in enumerate(form.curves):
        if not isinstance(curve, SCurve):
            continue
        m = np.nonzero(cells.curve == ci)[0]
        sel = np.isin(form.piece_cell, m)
        lo, hi, pc = form.piece_lo[sel], form.piece_hi[sel], form.piece_cell[sel]
        e = eff[pc]
        inside = (lo < e - 1e-9 * np.maximum(hi, 1.0)) & (e < hi - 1e-9 * np.maximum(hi, 1.0)) & (hi <= curve.inflection * (1 + 1e-12))
        if not inside.any():
            continue
        a, b, ee = lo[inside], hi[inside], e[inside]
        chord = curve.value(a) + (curve.value(b) - curve.value(a)) * (ee - a) / (b - a)
        top = float(curve.value(np.array(hi.max())))
        over = chord - curve.value(ee) > tolerance_relative * top
        if over.any():
            grid = a[over, None] + (b[over] - a[over])[:, None] * np.linspace(0, 1, 9)[None, 1:-1]
            out.setdefault(ci, []).extend([ee[over], grid.ravel()])
    return {ci: np.unique(np.concatenate(v)) for ci, v in out.items()}


def evaluate(form: Formulation, x_cell: np.ndarray) -> dict[str, np.ndarray]:
    """True effective spend, response and marginal response per cell for cell spends ``x_cell``."""
    cells = form.model.cells
    eff = x_cell if form.adstock_matrix is None else form.adstock_matrix @ x_cell + form.adstock_carry
    resp = np.zeros(cells.n)
    slope = np.zeros(cells.n)
    for ci, curve in enumerate(form.curves):
        m = cells.curve == ci
        if m.any():
            resp[m] = curve.value(eff[m])
            slope[m] = curve.slope(eff[m])
    resp *= cells.multiplier
    slope = np.nan_to_num(slope * cells.multiplier, posinf=np.inf)
    # spend in period t also works in t+1..t+L: the marginal of spend is D^T (slope of effective)
    marg = slope if form.adstock_matrix is None else form.adstock_matrix.T @ np.where(np.isfinite(slope), slope, 0.0)
    return {"effective": eff, "response": resp, "marginal": marg}


def _binary(x: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.zeros(cols.size)
    ok = cols >= 0
    out[ok] = np.round(x[cols[ok]])
    return out


def allocate_advanced(cfg: AdvancedBudget, solver: str | None = None, currency: str | None = None,
                      with_frontier: bool = True, progress: Callable[[int, int], None] | None = None) -> BudgetResult:
    """Plan the budget with the advanced options of ``cfg``.

    Parameters
    ----------
    cfg:
        The budget with ``advanced`` options (:class:`AdvancedBudget`).
    solver:
        "highs", "cbc" or "scip"; None uses ``cfg.advanced.mip_solver`` (default highs).
    currency:
        ISO code used to format money in messages.
    with_frontier:
        Compute the frontier when ``cfg.advanced.frontier`` is set.
    progress:
        ``progress(done, total)`` after each frontier level (the CLI shows the count on stderr).

    Returns
    -------
    BudgetResult
        Infeasibility is reported in the result (status "infeasible" + explanation), not raised.
    """
    if progress is not None and with_frontier and cfg.advanced.frontier is not None and cfg.advanced.uncertainty is None:
        # the same plan, then its frontier with counted levels
        result = allocate_advanced(cfg, solver=solver, currency=currency, with_frontier=False)
        if not result.has_plan:
            return result
        from dataclasses import replace

        from optimizer.budget.advanced.frontier import frontier

        return replace(result, frontier=frontier(cfg, currency=currency, progress=progress))
    t0 = time.perf_counter()
    adv = cfg.advanced
    if adv.uncertainty is not None:
        from optimizer.budget.advanced.risk import allocate_risk

        return allocate_risk(cfg, currency=currency)
    name = solver or adv.mip_solver
    if adv.adstock_method != "lp" and any(r.adstock is not None for r in adv.rules):
        from optimizer.budget.advanced import decompose

        skeleton = build(cfg, one_piece=True, chord_errors=False)
        if decompose.applies(skeleton) and (name == "highs" or adv.adstock_method == "decomposition"):
            if decompose.rows_feasible(skeleton):
                return _allocate_decomposed(cfg, skeleton, currency, t0, with_frontier)
            # no plan meets the spend rows: the LP path reports it, explained in money
            return _no_plan(cfg, skeleton, solve(skeleton.problem, "highs", solver_mip_gap(cfg), adv.time_limit_seconds),
                            currency, time.perf_counter() - t0)
        if adv.adstock_method == "decomposition":
            from optimizer.errors import ScenarioError

            raise ScenarioError(
                "budget.advanced.adstock_method is 'decomposition', but this plan has integer rules, S-curves, a "
                "target, response minimums or a curve that is not strictly concave (linear, table); the "
                "decomposition needs hill (shape <= 1), log or power (< 1) curves and spend limits only. "
                "Use adstock_method: auto or lp.")
    first = build(cfg, tolerance_relative=max(adv.curve_tolerance_relative, LP_START_TOLERANCE), n_start=LP_START_PIECES)
    from optimizer.budget.advanced import lagrange

    if lagrange.applies(first) and name == "highs":
        return _allocate_lp(cfg, first, currency, t0, with_frontier)
    mip_gap = solver_mip_gap(cfg)
    tol = adv.curve_tolerance_relative
    for attempt in range(MAX_TOLERANCE_ROUNDS + 1):
        extra: dict[int, np.ndarray] = {}
        for _ in range(MAX_CONVEX_ROUNDS + 1):
            form = build(cfg, extra_breaks=extra, tolerance_relative=tol)
            sol = solve(form.problem, name, mip_gap, adv.time_limit_seconds)
            if not sol.has_point:
                return _no_plan(cfg, form, sol, currency, time.perf_counter() - t0)
            more = convex_refinement(form, sol, tol)
            if not more:
                break
            for ci, pts in more.items():
                extra[ci] = np.unique(np.concatenate([extra.get(ci, np.zeros(0)), pts]))
        result = read_plan(cfg, form, sol, currency, time.perf_counter() - t0)
        # the certified gap is MIP gap + chord errors: when the chords keep it above the target, cut
        # finer pieces (error falls with the square of the piece width) rather than report "feasible"
        chord = form.model.resp_weight * float(form.cell_error.sum())
        value = abs(result.objective_value) if math.isfinite(result.objective_value) else 0.0
        if (result.optimality_gap <= cfg.gap_tolerance_relative or not math.isfinite(result.optimality_gap)
                or value <= 0 or chord <= 0.5 * cfg.gap_tolerance_relative * value):
            break
        tol = tol * max(0.05, min(0.5, 0.4 * cfg.gap_tolerance_relative * value / chord))
    return _attach_frontier(result, cfg, currency, with_frontier)


def solver_mip_gap(cfg: AdvancedBudget) -> float:
    """The MIP gap asked of the solver: ``mip_gap_relative``, but at most half the certified-gap target
    (the other half is left for the chord error), so that a plan can be certified ``optimal``."""
    return min(cfg.advanced.mip_gap_relative, 0.5 * cfg.gap_tolerance_relative)


def _attach_frontier(result: BudgetResult, cfg: AdvancedBudget, currency: str | None,
                     with_frontier: bool) -> BudgetResult:
    """``result`` with the budget frontier when the config asks for one (and the caller wants it)."""
    if not with_frontier or cfg.advanced.frontier is None:
        return result
    from dataclasses import replace

    from optimizer.budget.advanced.frontier import frontier

    return replace(result, frontier=frontier(cfg, currency=currency))


def _allocate_decomposed(cfg: AdvancedBudget, skeleton: Formulation, currency: str | None, t0: float,
                         with_frontier: bool = True) -> BudgetResult:
    """Adstock plan on the exact curves by price decomposition (:mod:`.decompose`); the LP if uncertified."""
    from dataclasses import replace

    from optimizer.budget.advanced import decompose, lagrange

    adv = cfg.advanced
    target = cfg.gap_tolerance_relative
    res = decompose.solve_decomposed(skeleton, target, adv.time_limit_seconds)
    gap = res.gap
    if gap > target:
        # hand over to the LP, its pieces centred on the best plan found when that plan is close (no
        # coarse locating round); from a poor plan the LP starts from its own coarse pieces
        if res.x is not None and gap <= LOCALIZED_START_MAX_GAP:
            eff = skeleton.adstock_matrix @ res.x + skeleton.adstock_carry
            first = build(cfg, pieces=lagrange.localize(skeleton, eff), chord_errors=False)
        else:
            first = build(cfg, tolerance_relative=max(adv.curve_tolerance_relative, LP_START_TOLERANCE),
                          n_start=LP_START_PIECES)
        result = _allocate_lp(cfg, first, currency, t0, with_frontier)
        note = (f"the price decomposition stopped at a certified gap of {gap:.1e} ({res.message}); "
                "the plan comes from the piecewise-linear LP instead")
        return replace(result, warnings=(*result.warnings, note), method="lp after decomposition")
    n = skeleton.n_cells
    x = np.zeros(skeleton.problem.n_cols)
    x[skeleton.x_col:skeleton.x_col + n] = res.x
    # bounds that differ by rounding only (gap 0, e.g. nothing pays and both are ~0) certify the plan itself
    upper = res.lower if gap == 0.0 else res.upper
    sol = MipSolution(SolveStatus.OPTIMAL, x, res.lower, upper, 0.0, res.row_dual, "dmpopt-decomposition",
                      f"Newton on numpy {np.__version__}", res.seconds, res.message)
    result = read_plan(cfg, skeleton, sol, currency, time.perf_counter() - t0, clean=False, true_bound=True)
    n_priced = skeleton.problem.n_rows - n
    result = replace(result, n_variables=n, n_rows=n_priced, method="decomposition", details={
        **result.details, "price_iterations": res.outer_iterations,
        "newton_steps": res.newton_iterations})
    return _attach_frontier(result, cfg, currency, with_frontier)


def _allocate_lp(cfg: AdvancedBudget, form: Formulation, currency: str | None, t0: float,
                 with_frontier: bool = True) -> BudgetResult:
    """LP path: coarse pieces, dual (Lagrangian) bound, refine pieces around the plan until certified."""
    from dataclasses import replace

    from optimizer.budget.advanced import lagrange

    adv = cfg.advanced
    target = cfg.gap_tolerance_relative
    warm = None
    fine_tried = False
    for rnd in range(MAX_LP_ROUNDS + 1):
        # adstock LPs: the dual simplex beat interior point up to ~2.5e5 columns here (3.3 vs 10.5 CPU s
        # at 52 weeks x 200 channels) but not at 1e6 (63 s vs ~45 s): see docs/performance-budget-advanced.md
        alg = ("simplex" if form.adstock_matrix is not None and form.problem.n_cols <= SIMPLEX_MAX_COLUMNS
               else "auto")
        sol, basis = None, None
        if warm is not None:
            # warm start: the previous round's basis mapped onto the new pieces (same basis matrix)
            sol, basis = _solve_warm(form, warm, adv.mip_gap_relative, adv.time_limit_seconds)
        if sol is None or not sol.has_point:
            sol, basis = _solve_lp(form, adv.mip_gap_relative, adv.time_limit_seconds, alg, None)
        if (sol.status == SolveStatus.INFEASIBLE and not fine_tried
                and any(g.kind == "response" for g in form.model.groups)):
            # response floors were tested on coarse chords, which lie below the curves: cut the pieces to
            # the curve tolerance before calling the plan infeasible (issue #10, defect 3)
            fine_tried = True
            form, warm = build(cfg), None
            sol, basis = _solve_lp(form, adv.mip_gap_relative, adv.time_limit_seconds, "auto", None)
        if not sol.has_point:
            return _no_plan(cfg, form, sol, currency, time.perf_counter() - t0)
        x = np.maximum(sol.x[form.x_col:form.x_col + form.n_cells], 0.0)
        ev = evaluate(form, x)
        lower = form.model.resp_weight * float(ev["response"].sum()) + form.model.spend_weight * float(x.sum())
        upper = lagrange.dual_bound(form, sol)
        if relative_gap(lower, upper) <= target or rnd == MAX_LP_ROUNDS:
            break
        # re-centre a fixed fine grid on the plan (the piece count per cell does not grow)
        prev = form
        # the dual bound certifies these rounds: skip the per-piece chord errors (cell_error = 0)
        form = build(cfg, pieces=lagrange.localize(form, ev["effective"]), chord_errors=False)
        # warm start only between localized rounds: from the coarse first plan, which lies far from the
        # optimum, a cold solve (with presolve) was 5x faster than the mapped basis
        warm = None if basis is None or rnd == 0 else (prev, sol, basis)
    # the Lagrangian dual bound holds on the true curves: no chord errors to add
    sol = replace(sol, bound=upper)
    result = read_plan(cfg, form, sol, currency, time.perf_counter() - t0, true_bound=True)
    result = _attach_frontier(result, cfg, currency, with_frontier)
    return replace(result, refinement_rounds=rnd)


def _solve_lp(form: Formulation, mip_gap: float, time_limit: float, alg: str,
              start_basis: tuple[np.ndarray, np.ndarray] | None) -> tuple[MipSolution, tuple[np.ndarray, np.ndarray] | None]:
    """Solve the LP of ``form`` with HiGHS (from ``start_basis`` if given); also return the final basis."""
    import highspy

    from optimizer.budget.advanced.solve import HighsModel

    hm = HighsModel(form.problem, mip_gap, time_limit, lp_algorithm=alg)
    if start_basis is not None:
        kinds = list(highspy.HighsBasisStatus.__members__.values())
        by_value = {int(k.value): k for k in kinds}
        b = highspy.HighsBasis()
        b.col_status = [by_value[v] for v in start_basis[0].tolist()]
        b.row_status = [by_value[v] for v in start_basis[1].tolist()]
        b.valid = True
        if hm.h.setBasis(b) == highspy.HighsStatus.kError:
            return hm.run(), None  # rejected: HiGHS solves from scratch
    sol = hm.run()
    basis = None
    if sol.has_point:
        hb = hm.h.getBasis()
        if hb.valid:
            basis = (np.array([int(v.value) for v in hb.col_status], dtype=np.int8),
                     np.array([int(v.value) for v in hb.row_status], dtype=np.int8))
    return sol, basis


def _solve_warm(form: Formulation, warm: tuple, mip_gap: float, time_limit: float
                ) -> tuple[MipSolution | None, tuple[np.ndarray, np.ndarray] | None]:
    """Solve ``form`` with the dual simplex from the previous round's basis mapped onto the new pieces.

    Piece columns are unit columns of their cell's link row, and the rows, x columns and the other
    rows do not change between rounds: a cell's basic piece maps to the new piece holding the cell's
    effective spend (a breakpoint of the new grid), the other pieces sit at the bound matching that
    spend. The basis matrix is the same, hence nonsingular and primal feasible at the old plan.
    Returns (None, None) when the layouts differ (the caller solves cold).
    """
    prev, psol, (pcol, prow) = warm
    n = form.n_cells
    p_old, p_new = prev.problem, form.problem
    n_old, n_new = prev.piece_cell.size, form.piece_cell.size
    if (p_old.n_rows != p_new.n_rows or prev.link_row != form.link_row or prev.x_col != 0 or form.x_col != 0
            or prev.y_col != n or form.y_col != n or p_old.n_cols != n + n_old or p_new.n_cols != n + n_new
            or pcol.size != p_old.n_cols or prow.size != p_old.n_rows):
        return None, None
    y_old = pcol[n:]
    e = np.bincount(prev.piece_cell, weights=psol.x[n:n + n_old], minlength=n)
    # pieces start at 0: a cell's effective spend is the sum of its piece fills
    basic_cell = np.zeros(n, dtype=bool)
    cnt = np.bincount(prev.piece_cell[y_old == 1], minlength=n)
    if cnt.max(initial=0) > 1:
        return None, None
    basic_cell[cnt == 1] = True
    pc, lo, hi = form.piece_cell, form.piece_lo, form.piece_hi
    ec = e[pc]
    tol = 1e-9 * np.maximum(np.abs(ec), 1.0)
    status = np.where(hi <= ec + tol, 2, 0).astype(np.int8)
    holds = basic_cell[pc] & (lo <= ec + tol) & (ec <= hi + tol)
    # one basic piece per such cell: the first that holds its spend
    idx = np.nonzero(holds)[0]
    first = idx[np.r_[True, pc[idx][1:] != pc[idx][:-1]]] if idx.size else idx
    if np.unique(pc[first]).size != int(basic_cell.sum()) or first.size != int(basic_cell.sum()):
        return None, None
    status[first] = 1
    col = np.r_[pcol[:n], status]
    return _solve_lp(form, mip_gap, time_limit, "simplex", (col, prow.copy()))


def read_plan(cfg: AdvancedBudget, form: Formulation, sol: MipSolution, currency: str | None,
              elapsed: float, clean: bool = True, method: str | None = None, true_bound: bool = False
              ) -> BudgetResult:
    """Turn a solver answer into a :class:`BudgetResult` with a verified certificate.

    ``clean`` removes solver noise (:func:`.certificate.clean_plan`: sub-tolerance spend, flags and
    units recomputed, rows re-checked); the decomposition's plan has exact zeros already and small
    spends that floors may need. The bound is checked (:func:`.certificate.verify_bound`) and the
    certified gap is computed on the TRUE curves: ``upper = bound + sum of chord errors`` (``true_bound``:
    the bound already holds on the true curves, e.g. a Lagrangian dual bound).
    """
    from optimizer.budget.advanced.certificate import clean_plan, verify_bound

    model = form.model
    cells = model.cells
    n = cells.n
    cpu = np.array([c.cost_per_unit if c.cost_per_unit is not None else np.nan for c in cfg.channels])
    warnings: list[str] = []
    full = np.asarray(sol.x, dtype=float)
    x = np.maximum(full[form.x_col:form.x_col + n], 0.0)
    used, active = _binary(full, form.used_of_cell), _binary(full, form.active_of_channel)
    used = np.where(form.used_of_cell >= 0, used, (x > 0).astype(float))
    active_c = np.bincount(cells.channel, weights=x, minlength=len(cfg.channels)) > 0
    active = np.where(form.active_of_channel >= 0, active, active_c.astype(float))
    if clean:
        cp = clean_plan(form, full, cpu)
        x, used, active, full = cp.x, cp.used, cp.active, cp.full
        warnings.extend(cp.warnings)
    target = cfg.gap_tolerance_relative
    check = verify_bound(form, sol, full, solver_mip_gap(cfg), cfg.advanced.time_limit_seconds)
    warnings.extend(check.warnings)
    ev = evaluate(form, x)
    setup = float(form.setup_cost_cell @ used + form.setup_cost_channel @ active)
    total_spend = float(x.sum())
    rw, sw = model.resp_weight, model.spend_weight
    lower = rw * float(ev["response"].sum()) + sw * (total_spend + setup)
    upper = check.bound + (0.0 if true_bound else rw * float(form.cell_error.sum()))
    gap = relative_gap(lower, upper)
    proved = sol.status == SolveStatus.OPTIMAL and check.proved
    status = certified_status(gap, target, proved)
    if sol.status == SolveStatus.FEASIBLE:
        warnings.append(f"solver {sol.solver} stopped before closing the MIP gap ({sol.message}); MIP gap {sol.mip_gap:.2e}")
    if gap > target:
        warnings.append(gap_warning(gap, target, " (lower curve_tolerance_relative or mip_gap_relative)"))
    # response rows were solved on chords: check them on the true curves
    for g in model.groups:
        if g.kind != "response":
            continue
        got = np.bincount(g.cell_row[g.cell_row >= 0], weights=ev["response"][g.cell_row >= 0], minlength=len(g.entities))
        short = got < g.lo * (1 - 1e-6)
        for e, gv, lv in zip(np.array(g.entities)[short], got[short], g.lo[short]):
            warnings.append(f"{g.name}[{e}]: the plan delivers {gv:,.6g} on the true curve, below the required {lv:,.6g}"
                            " (chord error on an S-curve); lower curve_tolerance_relative")
    t = cfg.advanced.target
    if t is not None:
        spend_all = total_spend + setup
        resp_all = float(ev["response"].sum())
        if t.kind == "roas" and resp_all < t.min_roas * spend_all * (1 - 1e-6):
            warnings.append(f"on the true curves the plan's ROAS is {resp_all / spend_all:.4g}, below the target {t.min_roas:g}")
        if t.kind == "cpa" and spend_all > t.max_cpa * resp_all * (1 + 1e-6):
            warnings.append(f"on the true curves the plan's CPA is {spend_all / resp_all:.4g}, above the target {t.max_cpa:g}")
    ch_names = [c.name for c in cfg.channels]
    n_c = len(ch_names)
    setup_c = form.setup_cost_channel * active + np.bincount(cells.channel, weights=form.setup_cost_cell * used,
                                                                minlength=n_c)
    alloc, totals = plan_tables(
        channel_names=ch_names, segment_names=model.segment_names, period_names=model.period_names,
        cell_channel=cells.channel, cell_segment=cells.segment, cell_period=cells.period, spend=x,
        response=ev["response"], marginal=ev["marginal"], cost_per_unit=cpu, budget=budget_amount(cfg),
        effective=ev["effective"], used=used, active=active, setup_cost_channel=setup_c)
    sign = -1.0 if minimises(cfg) else 1.0
    n_int = int(form.problem.integrality.sum())
    binding = ()
    if n_int == 0 and model.groups:
        from optimizer.budget.shadow import binding_constraints

        binding = binding_constraints(model, x, ev["response"], ev["marginal"], currency)
    return BudgetResult(
        status=status, objective_name=cfg.objective.kind, objective_value=sign * lower, bound=sign * upper,
        optimality_gap=gap, mip_gap=check.mip_gap, total_spend=total_spend, setup_cost=setup,
        total_response=float(ev["response"].sum()), allocations=alloc, channel_totals=totals,
        binding_constraints=binding, warnings=tuple(warnings), solver=sol.solver, solver_version=sol.solver_version,
        method=method or ("milp" if n_int else "lp"), n_variables=form.problem.n_cols, n_integer=n_int,
        n_rows=form.problem.n_rows, time_seconds=elapsed, currency=currency, response_unit=cfg.response_unit,
        marginal_roi_text=marginal_roi_sentences(totals, cfg.response_unit, currency), gap_target=target,
    )


def _no_plan(cfg: AdvancedBudget, form: Formulation, sol: MipSolution, currency: str | None,
             elapsed: float) -> BudgetResult:
    """A result without a plan, explained in money where we can."""
    explanation: list[str] = []
    status = sol.status.value
    if sol.status == SolveStatus.INFEASIBLE:
        from optimizer.budget.advanced.explain import explain_infeasible

        explanation = explain_infeasible(cfg, currency)
    elif sol.status == SolveStatus.UNBOUNDED:
        explanation = ["the objective can grow without limit: add a total_budget or max_spend on the channels"]
    else:
        explanation = [f"solver {sol.solver} failed: {sol.message}"]
    alloc, totals = empty_tables()
    n_int = int(form.problem.integrality.sum())
    return BudgetResult(
        status=status, objective_name=cfg.objective.kind, objective_value=math.nan, bound=math.nan,
        optimality_gap=math.nan, mip_gap=math.nan, total_spend=math.nan, setup_cost=math.nan,
        total_response=math.nan, allocations=alloc, channel_totals=totals, explanation=tuple(explanation),
        solver=sol.solver, solver_version=sol.solver_version, method="milp" if n_int else "lp",
        n_variables=form.problem.n_cols, n_integer=n_int, n_rows=form.problem.n_rows, time_seconds=elapsed,
        currency=currency, response_unit=cfg.response_unit, gap_target=cfg.gap_tolerance_relative,
    )
