"""Spend caps for a ``min_spend`` plan without a total budget ("how much do I need").

The chord LP needs a finite spend range per cell; without a budget nothing gives one, so these
caps are derived from the response the plan must reach (see :func:`min_spend_caps` for the proof
that they never cut off an optimal plan, and for the one heuristic case). Money in the scenario
currency; response in ``response_unit``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from optimizer.budget.config import BudgetConfig
from optimizer.budget.curves import Curve

if TYPE_CHECKING:  # the model is built by problem.py, which imports this module
    from optimizer.budget.problem import BudgetModel


#: A cell whose curve cannot reach the response requirement alone is capped where it reaches this
#: fraction of its limit (only for min_spend plans without a total budget; see min_spend_caps).
SATURATION_FRACTION = 1 - 1e-6


def min_spend_caps(config: BudgetConfig, curves: tuple[Curve, ...], curve_idx: np.ndarray, mult: np.ndarray,
                   channel_min: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spend caps per cell for a min_spend plan without a total budget, and which are only heuristic.

    Let ``R`` be the largest response any row asks for (the target, or a channel's
    min_response) and ``L`` the sum of every minimum spend (channels, segments, periods). In an
    optimal plan no cell spends more than ``max(L, x_R)`` where ``m f(x_R) = R``: cutting such a cell
    back to that amount keeps every minimum-spend row (each still holds at least ``L``) and every
    response row (the cell alone still delivers ``R``) while spending less. That cap is proven.
    A cell whose curve never reaches ``R`` (a Hill curve saturating below it) is capped where it
    comes within ``delta`` of its limit: ``delta`` is a 1e-3 share of the slack (what all cells
    can deliver at most, minus ``R``) when every curve saturates, else ``1 - SATURATION_FRACTION``
    of the cell's limit. That cap is a heuristic, flagged so that a plan reaching it is reported as
    ``feasible`` with a warning rather than ``optimal``.
    """
    obj = config.objective
    need = max([obj.target_response] + [c.min_response or 0.0 for c in config.channels])  # type: ignore[union-attr]
    L = float(np.sum(channel_min))
    for items in (config.segments, config.periods):
        L += sum(x.min_spend or 0.0 for x in items or [])
    sup = np.array([_limit(curves[k]) for k in curve_idx]) * mult  # most each cell can deliver
    total = float(sup.sum())
    cap = np.zeros(curve_idx.size)
    heuristic = np.zeros(curve_idx.size, dtype=bool)
    for i, k in enumerate(curve_idx):
        if math.isfinite(total) and total > need:
            delta = 1e-3 * (total - need) * sup[i] / total / mult[i]  # keeps the target within reach
        else:
            delta = (1 - SATURATION_FRACTION) * sup[i] / mult[i]
        x, proven = _spend_to_reach(curves[k], need / mult[i], delta)
        cap[i] = max(L, x)
        heuristic[i] = not proven
    return cap, heuristic


def _limit(curve: Curve) -> float:
    """The most response a curve approaches as spend grows (inf for linear, log and power)."""
    if curve.kind == "hill":
        return float(curve.params[0])
    if curve.kind == "table":
        return float(curve.knots_y[-1])
    return math.inf


def _spend_to_reach(curve: Curve, level: float, delta: float) -> tuple[float, bool]:
    """(spend where ``curve`` reaches ``level``, True) or, when it never does, (spend where it comes within
    ``delta`` of its limit, False)."""
    k, p = curve.kind, curve.params
    if k == "linear":
        return (level / p[0], True) if p[0] > 0 else (0.0, True)
    if k == "table":
        ky, kx = curve.knots_y, curve.knots_x
        if ky[-1] >= level:
            return float(np.interp(level, ky, kx)), True
        return float(kx[-1]), True  # flat beyond the last point: spend there never pays
    if k == "log":
        return float(p[1] * math.expm1(level / p[0])) if level / p[0] < 700 else math.inf, True
    if k == "power":
        return float((level / p[0]) ** (1.0 / p[1])), True
    if k == "hill":
        M, h, n = p
        if M > level * (1 + 1e-12):
            return float(h * (level / (M - level)) ** (1.0 / n)), True
        d = min(max(delta, 1e-300), 0.5 * M)
        return float(h * ((M - d) / d) ** (1.0 / n)), False
    raise AssertionError(k)


def implicit_cap_warning(model: BudgetModel, x_cell: np.ndarray) -> str | None:
    """A sentence when the plan spends up to a heuristic cap of :func:`min_spend_caps`, else None."""
    flag = model.cells.implicit_cap
    if flag is None or not flag.any():
        return None
    hit = flag & (x_cell >= model.cells.upper * (1 - 1e-6))
    if not hit.any():
        return None
    names = sorted({model.config.channels[c].name for c in model.cells.channel[hit]})
    return (f"min_spend without total_budget: channel(s) {', '.join(names)} reach the spend where their curve is "
            "within a hair of its limit; the plan is valid but not proven to be the least "
            "spend. Add a total_budget or max_spend to those channels.")
