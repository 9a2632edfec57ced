"""Shadow prices of binding limits: the TRUE marginal value of each limit, from the plan's KKT conditions.

The LP on chord pieces has duals too, but they are chord slopes: at a channel cap the piece above
the cap (from the cap to the outer limit) is what the solver prices, so a cap worth ¥0.38 per ¥ was
reported as ¥0 (issue #10, defect 2). Here the prices come from the true curves instead.

At an optimum of ``max F(x)`` s.t. binding rows ``row_r(x) = b_r``, every cell strictly between
0 and its outer limit satisfies stationarity (KKT)::

    dF/dx_j = sum_r d_r * d row_r / d x_j

with ``dF/dx_j = resp_weight * R'_j + spend_weight`` (``R'_j``: true marginal response of spend in
cell j, carry-over included), ``d row_r/dx_j = 1`` for spend rows and ``R'_j`` for response rows.
The multipliers ``d_r`` are the derivatives of the optimal value with respect to the bounds
``b_r`` (envelope theorem): ``d >= 0`` for a binding upper limit, ``<= 0`` for a binding floor.
They are found by bound-constrained least squares over the free cells (exact for a unique
multiplier; the tests compare each with a finite-difference re-solve of the plan with the limit
moved by +-h). Units: objective per unit of the limit (currency or response_unit).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from optimizer.budget.money import money, rate_text, response_text, spent_unit
from optimizer.budget.results import BindingConstraint

#: Relative distance of a row's activity to its bound that still counts as binding.
BINDING_TOL = 1e-6

#: Largest free-cells x binding-rows matrix solved densely (exact BVLS); above, sparse TRF.
DENSE_MAX_ENTRIES = 2_000_000


def _activity(group, x: np.ndarray, response: np.ndarray) -> np.ndarray:
    m = group.cell_row >= 0
    w = x if group.kind == "spend" else response
    return np.bincount(group.cell_row[m], weights=w[m], minlength=len(group.entities))


def kkt_prices(model, x: np.ndarray, response: np.ndarray, marginal: np.ndarray,
               outer: np.ndarray | None = None) -> list[tuple[object, int, str, float, float]]:
    """``[(group, k, side, bound, price, tied)]`` for every binding row (price = d objective / d bound;
    ``tied``: the row is linearly dependent on other binding rows, so its price is one of many)."""
    from scipy.optimize import lsq_linear

    cells = model.cells
    outer = cells.outer if outer is None else outer
    rows = []
    for g in model.groups:
        act = _activity(g, x, response)
        for k in range(len(g.entities)):
            lo, hi, a = float(g.lo[k]), float(g.hi[k]), float(act[k])
            at_hi = math.isfinite(hi) and a >= hi - BINDING_TOL * max(1.0, abs(hi))
            at_lo = math.isfinite(lo) and a <= lo + BINDING_TOL * max(1.0, abs(lo))
            if at_hi or at_lo:
                rows.append((g, k, at_lo, at_hi))
    if not rows:
        return []
    grad = model.resp_weight * marginal + model.spend_weight
    free = (x > 0) & (x < outer * (1 - 1e-9))
    idx = np.nonzero(free)[0]
    # E[i, j] = d row_j / d x_i over free cells i; sparse (each cell lies in at most one row per group)
    r_i, c_j, v = [], [], []
    for j, (g, k, _, _) in enumerate(rows):
        member = np.nonzero(g.cell_row[idx] == k)[0]
        r_i.append(member)
        c_j.append(np.full(member.size, j))
        v.append(np.ones(member.size) if g.kind == "spend" else marginal[idx][member])
    E = sp.csr_matrix((np.concatenate(v), (np.concatenate(r_i), np.concatenate(c_j))), shape=(idx.size, len(rows)))
    lb = np.array([-np.inf if at_lo else 0.0 for (_, _, at_lo, _) in rows])
    ub = np.array([np.inf if at_hi else 0.0 for (_, _, _, at_hi) in rows])
    n = len(rows)
    tied = np.zeros(n, dtype=bool)
    if idx.size == 0 or E.nnz == 0:
        d = np.zeros(n)
    elif idx.size * n <= DENSE_MAX_ENTRIES:
        # bound-constrained least squares; a column with no free cell stays at the bound nearest 0
        A, b = E.toarray(), grad[idx]
        tied = _tied_columns(A)
        if tied.any():
            # Dependent binding rows (e.g. period budgets that add up to the total budget): the
            # multipliers are not unique and plain BVLS returns huge values that cancel. Take the
            # (near) minimum-norm solution instead, by a tiny ridge on the tied columns only.
            ridge = np.sqrt(TIE_RIDGE) * np.diag(tied.astype(float))
            A, b = np.vstack([A, ridge]), np.concatenate([b, np.zeros(n)])
        d = lsq_linear(A, b, bounds=(lb, ub), method="bvls").x
    else:  # large plans: the same problem, sparse, by a trust-region reflective method
        A = sp.vstack([E, np.sqrt(TIE_RIDGE) * sp.identity(n)]).tocsr()  # min-norm pick if rows are tied
        d = lsq_linear(A, np.concatenate([grad[idx], np.zeros(n)]), bounds=(lb, ub), method="trf",
                       lsq_solver="lsmr", tol=1e-12).x
    out = []
    for (g, k, at_lo, at_hi), dj, tj in zip(rows, d, tied):
        side = "upper" if at_hi and (dj > 0 or not at_lo) else "lower"
        bound = float(g.hi[k] if side == "upper" else g.lo[k])
        out.append((g, k, side, bound, float(dj), bool(tj)))
    return out


#: Ridge weight that picks the minimum-norm multipliers among tied (linearly dependent) binding rows.
TIE_RIDGE = 1e-10


def _tied_columns(A: np.ndarray) -> np.ndarray:
    """Columns of ``A`` in its null space (rows whose prices cannot be told apart), as a mask."""
    if A.shape[0] < A.shape[1]:
        return np.ones(A.shape[1], dtype=bool)
    _, sv, vt = np.linalg.svd(A, full_matrices=False)
    small = sv <= sv.max() * A.shape[0] * np.finfo(float).eps * 1e3
    if not small.any():
        return np.zeros(A.shape[1], dtype=bool)
    return (np.abs(vt[small]) > 1e-8).any(axis=0)


def binding_constraints(model, x: np.ndarray, response: np.ndarray, marginal: np.ndarray, currency: str | None,
                        outer: np.ndarray | None = None) -> tuple[BindingConstraint, ...]:
    """Binding limits of the plan ``x`` with their true marginal values and sentences."""
    cfg = model.config
    what = {"max_response": "response", "max_profit": "profit", "min_spend": "spend"}[cfg.objective.kind]
    minimise = cfg.objective.kind == "min_spend"
    out = []
    for g, k, side, bound, d, tied in kkt_prices(model, x, response, marginal, outer):
        entity = g.entities[k]
        name = f"{g.name}[{entity}]"
        text = words(g, entity, side, bound, d, what, cfg.response_unit, currency, minimise)
        if tied:
            text += " (tied with other binding limits, e.g. period budgets that add up to the total: not unique)"
        out.append(BindingConstraint(name, g.name, entity, side, bound, d, text))
    return tuple(out)


def words(grp, entity: str, side: str, bound: float, d: float, what: str, ru: str,
          currency: str | None, minimise: bool) -> str:
    """A shadow price in a planner's words. ``d`` is d(maximised objective)/d(bound)."""
    one = spent_unit(currency)
    unit = one if grp.kind == "spend" or ru == "currency" else "conversion"
    label = {"total_budget": "total budget", "channel_spend": f"spend on channel {entity}",
             "segment_spend": f"spend on segment {entity}", "period_spend": f"spend in period {entity}",
             "channel_response": f"required response from channel {entity}",
             "target_response": "target response"}.get(grp.name, f"{grp.name} {entity}")
    limit = money(bound, currency) if grp.kind == "spend" else response_text(bound, ru, currency)
    if minimise:
        return (f"one more {unit} of {label} (limit {limit}) changes the spend needed by "
                f"{rate_text(-d, 'currency', currency)} per {unit}")
    rate_unit = ru if what == "response" else "currency"
    if side == "upper":
        return (f"one more {unit} of {label} (now {limit}) returns {rate_text(d, rate_unit, currency)} of {what} "
                f"per {unit}")
    floor = {"channel_spend": f"the minimum spend on channel {entity}",
             "segment_spend": f"the minimum spend on segment {entity}",
             "period_spend": f"the minimum spend in period {entity}",
             "total_budget": "spending the whole budget",
             "channel_response": f"the response required from channel {entity}",
             "target_response": "the target response"}.get(grp.name, f"the floor of {grp.name} {entity}")
    return f"{floor} ({limit}) costs {rate_text(-d, rate_unit, currency)} of {what} per {unit} it forces"
