"""The budget frontier: response, ROI and marginal ROI at many budget levels (warm-started re-solves).

The model is loaded in HiGHS once; for each level (ascending) only the total budget row's bound
changes and the solver restarts from the previous basis (LP) or from the previous plan as incumbent
(MILP: a plan for a smaller budget stays feasible for a larger one). For an LP the budget row's
dual is the marginal ROI and HiGHS ranging gives the budget up to which it holds ("this marginal
ROI holds until the budget reaches ¥X"); for a MILP the marginal ROI is the slope between levels.
Money in the scenario currency; response in response_unit; response on the TRUE curves.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable

import numpy as np
import pandas as pd

from optimizer.budget.advanced.formulation import build
from optimizer.budget.results import FrontierResult
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.advanced.solve import HighsModel
from optimizer.budget.allocation import relative_gap
from optimizer.budget.backends.base import SolveStatus
from optimizer.budget.money import money, rate_text
from optimizer.budget.results import certified_status


def budget_levels(cfg: AdvancedBudget) -> np.ndarray:
    """The budget levels (currency), ascending: ``n_levels`` evenly spaced between min and max."""
    opts = cfg.advanced.frontier
    amount = cfg.total_budget.amount
    lo = opts.min_budget if opts.min_budget is not None else 0.02 * amount
    hi = opts.max_budget if opts.max_budget is not None else 2.0 * amount
    return np.linspace(lo, hi, opts.n_levels)


def frontier(cfg: AdvancedBudget, currency: str | None = None, levels: np.ndarray | None = None,
             progress: Callable[[int, int], None] | None = None) -> FrontierResult:
    """Re-solve the plan at every budget level; see the module docstring.

    ``progress(done, total)`` is called after each level (the CLI shows the count on stderr).
    """
    from optimizer.budget.advanced.allocate import evaluate

    t0 = time.perf_counter()
    levels = budget_levels(cfg) if levels is None else np.sort(np.asarray(levels, dtype=float))
    # one model for every level: no per-level convex refinement, so convex pieces start fine
    form = build(cfg, total_budget=float(levels[-1]),
                 convex_tolerance_relative=cfg.advanced.curve_tolerance_relative)
    hm = HighsModel(form.problem, min(cfg.advanced.mip_gap_relative, 0.5 * cfg.gap_tolerance_relative), cfg.advanced.time_limit_seconds)
    row = form.budget_row
    equal = cfg.total_budget.mode == "equal"
    n = form.n_cells
    rows = []
    prev = None
    from optimizer.budget.advanced import lagrange

    use_dual_bound = not hm.is_mip and lagrange.applies(form)
    for i_level, b in enumerate(levels):
        if progress is not None:
            progress(i_level, len(levels))
        hm.set_row_bounds(row, b if equal else -math.inf, b)
        sol = hm.run(start=prev)
        if not sol.has_point:
            rows.append({"budget": b, "status": sol.status.value, "optimality_gap": math.nan, "spend": math.nan,
                         "response": math.nan,
                         "roi": math.nan, "marginal_roi": math.nan, "holds_until_budget": math.nan})
            continue
        x = np.maximum(sol.x[:n], 0.0)
        used = np.zeros(n)
        ok = form.used_of_cell >= 0
        used[ok] = np.round(sol.x[form.used_of_cell[ok]])
        act = np.zeros(form.active_of_channel.size)
        ok2 = form.active_of_channel >= 0
        act[ok2] = np.round(sol.x[form.active_of_channel[ok2]])
        setup = float(form.setup_cost_cell @ used + form.setup_cost_channel @ act)
        resp = float(evaluate(form, x)["response"].sum())
        spend = float(x.sum()) + setup
        marg, until = math.nan, math.nan
        if not hm.is_mip:
            marg = float(sol.row_dual[row])
            try:
                until = hm.budget_ranging(row)[1]
            except Exception:  # noqa: BLE001 - ranging is informative only; a failure must not lose the table
                until = math.nan
        # the plan's status, in the one meaning of every budget result: certified gap on the true curves
        lower = form.model.resp_weight * resp + form.model.spend_weight * spend
        if use_dual_bound:  # an LP on concave curves: the Lagrangian bound from its duals (tight)
            lo_b, hi_b = form.problem.row_lo.copy(), form.problem.row_hi.copy()
            lo_b[row], hi_b[row] = (b if equal else -math.inf), b  # the level's budget, as loaded in HiGHS
            at_level = replace(form, problem=replace(form.problem, row_lo=lo_b, row_hi=hi_b))
            upper = lagrange.dual_bound(at_level, sol)
        else:  # a MILP: the solver's bound plus every cell's largest chord error
            upper = sol.bound + form.model.resp_weight * float(form.cell_error.sum())
        gap = relative_gap(lower, upper)
        status = certified_status(gap, cfg.gap_tolerance_relative, sol.status == SolveStatus.OPTIMAL)
        rows.append({"budget": b, "status": status, "optimality_gap": gap, "spend": spend, "response": resp,
                     "roi": resp / spend if spend > 0 else math.nan, "marginal_roi": marg,
                     "holds_until_budget": until if (math.isnan(until) or until < 1e30) else math.inf})
        prev = sol.x if hm.is_mip and not equal else None
    table = pd.DataFrame(rows)
    if hm.is_mip:
        r = table["response"].to_numpy()
        table["marginal_roi"] = np.r_[np.nan, np.diff(r) / np.diff(levels)]
    sentences = ranging_sentences(table, cfg.response_unit, currency)
    if progress is not None:
        progress(len(levels), len(levels))
    return FrontierResult(table, sentences, time.perf_counter() - t0)


def ranging_sentences(table: pd.DataFrame, response_unit: str, currency: str | None) -> tuple[str, ...]:
    """"From budget ¥A, each extra ¥ returns ¥m, until the budget reaches ¥B" for each marginal-ROI plateau."""
    out = []
    last = None
    one = money(1, currency).rstrip("1") or "currency unit"
    for r in table.itertuples(index=False):
        m = r.marginal_roi
        if not math.isfinite(m) if isinstance(m, float) else True:
            continue
        if last is not None and abs(m - last) <= 1e-9 * max(1.0, abs(last)):
            continue
        last = m
        if isinstance(r.holds_until_budget, float) and math.isfinite(r.holds_until_budget):
            tail = f"; this marginal ROI holds until the budget reaches {money(r.holds_until_budget, currency)}"
        elif isinstance(r.holds_until_budget, float) and math.isinf(r.holds_until_budget):
            tail = "; this marginal ROI holds for any larger budget"
        else:
            tail = ""
        out.append(f"at a budget of {money(r.budget, currency)} one more {one} returns "
                   f"{rate_text(m, response_unit, currency)}{tail}")
    return tuple(out)
