"""A quick estimate of each cell's optimal spend, used to place the first breakpoints.

Solves the problem with only its budget (or response target) kept, on the true curves, by one
price: each cell spends where its marginal response equals the price (``x(t) = f'^-1(t)``, read
off a log-spaced slope table per channel), and the price is bisected until the budget (or the
target) is met. The answer only places breakpoints; the certified gap decides quality, so an
estimate that is off merely costs a refinement round.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.budget.config import MinSpend
from optimizer.budget.problem import BudgetModel

_GRID = 600


def _inverse_tables(model: BudgetModel) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """channel -> (slopes ascending, spend) so that ``np.interp(t, slopes, spend)`` ~ f'^-1(t)."""
    out = {}
    for ci, curve in enumerate(model.curves):
        if curve.is_piecewise_linear:
            continue
        up = model.cells.upper[model.cells.channel == ci]
        top = float(np.max(up[np.isfinite(up)], initial=0.0))
        if top <= 0:
            continue
        xs = np.geomspace(top * 1e-9, top, _GRID)
        sl = curve.slope(xs)
        out[ci] = (sl[::-1], xs[::-1])
    return out


def estimate_spend(model: BudgetModel) -> np.ndarray:
    """Estimated optimal spend per cell (currency); nan for linear/table cells."""
    cells = model.cells
    tables = _inverse_tables(model)
    est = np.full(cells.n, np.nan)
    if not tables:
        return est
    sel = np.isin(cells.channel, list(tables))
    idx = np.nonzero(sel)[0]
    mult = cells.multiplier[idx]
    up = cells.upper[idx]
    ch = cells.channel[idx]

    def spend_at(t_cell: np.ndarray) -> np.ndarray:
        x = np.empty_like(t_cell)
        for ci, (sl, xs) in tables.items():
            m = ch == ci
            x[m] = np.interp(t_cell[m], sl, xs, left=xs[0], right=0.0)
        return np.minimum(x, up)

    def response_at(x: np.ndarray) -> float:
        total = 0.0
        for ci in tables:
            m = ch == ci
            total += float((model.curves[ci].value(x[m]) * mult[m]).sum())
        return total

    cfg = model.config
    if isinstance(cfg.objective, MinSpend):
        # price mu on response: cell spends where mu * m * f'(x) = 1; more mu -> more response
        target = cfg.objective.target_response
        lo, hi = -30.0, 30.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if response_at(spend_at(1.0 / (math.exp(mid) * mult))) < target:
                lo = mid
            else:
                hi = mid
        est[idx] = spend_at(1.0 / (math.exp(hi) * mult))
        return est
    amount = cfg.total_budget.amount if cfg.total_budget is not None else math.inf
    base = -model.spend_weight  # profit: a cell needs m f' >= 1 before any budget price
    x0 = spend_at((base + 1e-12) / mult)
    if x0.sum() <= amount:
        est[idx] = x0
        return est
    lo, hi = -30.0, 30.0  # log of the budget price
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if spend_at((base + math.exp(mid)) / mult).sum() > amount:
            lo = mid
        else:
            hi = mid
    est[idx] = spend_at((base + math.exp(hi)) / mult)
    return est
