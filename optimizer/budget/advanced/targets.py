"""Targets: the best achievable ratio response / spend (ROAS, or 1/CPA) under a config's limits.

``max R(x) / S(x)`` over the plans that satisfy every limit is a fractional program; Dinkelbach's
method solves it by a sequence of ordinary problems ``max R(x) - q S(x)`` with ``q`` updated to the
ratio of the last plan, which increases monotonically to the optimum (finite for a MILP, since each
step is exact). Spend includes set-up costs. Used to explain a target no budget can reach
("the best achievable ROAS under these caps is 3.1, below the target 4.0").
"""

from __future__ import annotations

import numpy as np

from optimizer.budget.advanced.formulation import build
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.advanced.solve import solve


def best_ratio(cfg: AdvancedBudget, max_iterations: int = 30, tolerance_relative: float = 1e-7) -> float:
    """Best response per currency spent (set-up costs included) over all feasible plans, on the chords.

    Returns 0.0 when no plan spends anything.
    """
    plain = cfg.model_copy(update={"advanced": cfg.advanced.model_copy(update={"target": None, "frontier": None})})
    form = build(plain)
    p = form.problem
    n = form.n_cells
    spend_cost = np.zeros(p.n_cols)
    spend_cost[form.x_col:form.x_col + n] = 1.0
    setup_cols = np.r_[form.used_of_cell[form.used_of_cell >= 0], form.active_of_channel[form.active_of_channel >= 0]]
    setup_vals = np.r_[form.setup_cost_cell[form.used_of_cell >= 0], form.setup_cost_channel[form.active_of_channel >= 0]]
    spend_cost[setup_cols] += setup_vals
    resp_cost = np.zeros(p.n_cols)
    resp_cost[form.y_col:form.y_col + form.piece_slope.size] = form.piece_slope
    q = 0.0
    from dataclasses import replace

    for _ in range(max_iterations):
        # the plan must spend something: at least a tiny amount, otherwise R - qS = 0 at x = 0 always
        sol = solve(replace(p, c=resp_cost - q * spend_cost), "highs", 1e-9, cfg.advanced.time_limit_seconds)
        if not sol.has_point:
            return 0.0
        s, r = float(spend_cost @ sol.x), float(resp_cost @ sol.x)
        if s <= 1e-9:
            # F(q) = 0 at x = 0 only: the best ratio is the steepest start, q is already within tolerance
            return q if q > 0 else _steepest(form)
        new_q = r / s
        if new_q <= q * (1 + tolerance_relative):
            return max(new_q, q)
        q = new_q
    return q


def _steepest(form) -> float:
    """Largest piece slope (response per currency) of any cell: the ratio of a tiny first spend."""
    return float(form.piece_slope.max(initial=0.0))
