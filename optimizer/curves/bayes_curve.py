"""The curve to plan on when the fit has posterior draws: the Hill curve closest to their mean.

A plan that maximises the response of the posterior-MEAN curve ``m(x) = mean_s f_s(x)`` maximises the
expected response under the posterior (the response is a sum over channels, so the expectation is
too): the Bayes decision. The point fit (MAP) is the single most likely curve instead; on S-shaped
truths the two differ, because averaging curves whose thresholds disagree gives a smoother curve
and plans that commit less to any one threshold. Measured (docs/performance-curves.md, session 4):
on 56 simulated histories the plans on the posterior-mean curves lost 0.5 +- 0.25 points less
response than the plans on the MAP curves.

The curves file and the budget take closed-form curves (and ``table`` curves only when concave), so
``m`` is carried as the Hill curve (any shape, ``hill`` or ``s_hill``) closest to it in least squares
on a grid of spends: :func:`closest_hill`. On the same 56 sets that curve kept the whole gain of the
exact mean (0.48 +- 0.24 points).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

#: Spends of the least-squares grid: this many equal steps from 0 (excluded) to the grid's top.
N_GRID = 120


def hill_value(x: np.ndarray, max_response: float, half_saturation_spend: float, shape: float) -> np.ndarray:
    """``max_response / (1 + (h / x)^n)``: 0 at x = 0, no overflow warning."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return max_response / (1.0 + np.where(x > 0, (half_saturation_spend / np.maximum(x, 1e-300)) ** shape, np.inf))


def mean_of_hill_draws(draws: dict[str, list[float]], x: np.ndarray) -> np.ndarray:
    """Mean over draws of Hill curves given as columns ``max_response``, ``half_saturation_spend``, ``shape``."""
    m, h, n = (np.asarray(draws[k], dtype=float)[:, None]
               for k in ("max_response", "half_saturation_spend", "shape"))
    return hill_value(np.asarray(x, dtype=float)[None, :], m, h, n).mean(axis=0)


def closest_hill(x: np.ndarray, y: np.ndarray, start: tuple[float, float, float],
                 shape_bounds: tuple[float, float] = (0.05, 10.0)) -> tuple[float, float, float]:
    """``(max_response, half_saturation_spend, shape)`` of the Hill curve closest to ``y`` at spends ``x``.

    Least squares on the log parameters (all positive), relative to ``max(y)``, from ``start`` (e.g.
    the point fit's curve), shape within ``shape_bounds``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    scale = float(np.max(np.abs(y))) or 1.0
    p0 = np.log(np.clip(np.asarray(start, dtype=float), 1e-300, None))
    p0[2] = np.clip(p0[2], np.log(shape_bounds[0]), np.log(shape_bounds[1]))
    lo = np.array([-np.inf, -np.inf, np.log(shape_bounds[0])])
    hi = np.array([np.inf, np.inf, np.log(shape_bounds[1])])

    def resid(p: np.ndarray) -> np.ndarray:
        m, h, n = np.exp(p)
        return (hill_value(x, m, h, n) - y) / scale

    m, h, n = np.exp(least_squares(resid, p0, bounds=(lo, hi), x_scale="jac").x)
    return float(m), float(h), float(n)


def posterior_mean_curve(draws: dict[str, list[float]], start: dict, top: float,
                         shape_bounds: tuple[float, float] = (0.05, 10.0)) -> dict:
    """The budget curve (``hill`` or ``s_hill``) closest to the mean of Hill ``draws`` on ``(0, top]``.

    ``start``: the point fit's curve (budget schema), the starting point; a flat (``linear``) start or
    draws whose mean is 0 everywhere return ``start`` unchanged. ``shape_bounds``: the shapes allowed
    (e.g. the fit's bounds for the channel's saturation kind).
    """
    if start.get("kind") == "linear" or set(draws) != {"max_response", "half_saturation_spend", "shape"}:
        return start
    x = np.linspace(top / N_GRID, top, N_GRID)
    y = mean_of_hill_draws(draws, x)
    if not np.any(y > 0):
        return start
    m, h, n = closest_hill(x, y, (start["max_response"], start["half_saturation_spend"], start.get("shape", 1.0)),
                           shape_bounds)
    return {"kind": "hill" if n <= 1 else "s_hill", "max_response": m, "half_saturation_spend": h, "shape": n}
