"""S-shaped Hill curves and chord breakpoints with a bounded, certified chord error.

``f(x) = m x^n / (x^n + h^n)`` with shape ``n > 1`` is convex on ``[0, x_i]`` and concave after the
inflection ``x_i = h ((n-1)/(n+1))^(1/n)``. Chords over a convex piece lie ABOVE the curve, chords
over a concave piece BELOW it by at most the piece's chord error (largest at the point where the
slope equals the chord's). :func:`breakpoints` puts the inflection on a breakpoint, so each piece is
all convex or all concave, and halves pieces until every concave piece's chord error is below the
tolerance (and likewise every convex piece's excess of the chord over the curve, else the MILP
would buy the chord's optimism); the certified bound of a plan adds the errors below the curve
(docs/budget-advanced.md).
Money in currency per cell; response in response_unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.budget.curves import Curve


@dataclass(frozen=True)
class SCurve:
    """An S-shaped Hill curve (see module docstring)."""

    max_response: float
    half_saturation_spend: float
    shape: float
    kind: str = "s_hill"

    @property
    def is_piecewise_linear(self) -> bool:
        """False: chords only approximate this curve."""
        return False

    @property
    def inflection(self) -> float:
        """Spend (currency) where the curve turns from convex to concave."""
        n = self.shape
        return self.half_saturation_spend * ((n - 1.0) / (n + 1.0)) ** (1.0 / n)

    def value(self, x: np.ndarray) -> np.ndarray:
        """Response at spend ``x`` (array, currency)."""
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        m, h, n = self.max_response, self.half_saturation_spend, self.shape
        with np.errstate(divide="ignore", over="ignore"):
            return np.where(x > 0, m / (1.0 + np.power(h / np.maximum(x, 1e-300), n)), 0.0)

    def slope(self, x: np.ndarray) -> np.ndarray:
        """Derivative of the response (response per currency) at ``x``."""
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        m, h, n = self.max_response, self.half_saturation_spend, self.shape
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            r = np.power(x / h, n)
            d = m * n * r / (np.maximum(x, 1e-300) * (1.0 + r) ** 2)
        return np.where((x > 0) & np.isfinite(d), d, 0.0)

    def max_chord_error(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Largest ``f - chord`` on each piece (0 on convex pieces, where the chord lies above)."""
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        out = np.zeros_like(lo)
        concave = lo >= self.inflection * (1 - 1e-12)
        if not concave.any():
            return out
        a, b = lo[concave], hi[concave]
        fa, fb = self.value(a), self.value(b)
        s = (fb - fa) / np.where(b > a, b - a, 1.0)
        # slope decreases on a concave piece: bisection for slope(x) = s
        left, right = a.copy(), b.copy()
        for _ in range(60):
            mid = 0.5 * (left + right)
            go = self.slope(mid) > s
            left = np.where(go, mid, left)
            right = np.where(go, right, mid)
        xs = 0.5 * (left + right)
        out[concave] = np.maximum(self.value(xs) - (fa + s * (xs - a)), 0.0)
        return out


    def max_chord_excess(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Largest ``chord - f`` on each piece (> 0 only on convex pieces, where the chord lies above)."""
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        out = np.zeros_like(lo)
        convex = hi <= self.inflection * (1 + 1e-12)
        if not convex.any():
            return out
        a, b = lo[convex], hi[convex]
        fa, fb = self.value(a), self.value(b)
        s = (fb - fa) / np.where(b > a, b - a, 1.0)
        # slope increases on a convex piece: bisection for slope(x) = s
        left, right = a.copy(), b.copy()
        for _ in range(60):
            mid = 0.5 * (left + right)
            go = self.slope(mid) < s
            left = np.where(go, mid, left)
            right = np.where(go, right, mid)
        xs = 0.5 * (left + right)
        out[convex] = np.maximum((fa + s * (xs - a)) - self.value(xs), 0.0)
        return out


AnyCurve = Curve | SCurve


def chord_excess(curve: AnyCurve, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Largest amount by which the chord exceeds ``curve`` on each piece (0 for concave curves)."""
    if isinstance(curve, SCurve):
        return curve.max_chord_excess(lo, hi)
    return np.zeros(np.shape(lo))


def chord_error(curve: AnyCurve, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Largest amount by which ``curve`` exceeds its chord on each piece [lo, hi] (>= 0)."""
    if curve.is_piecewise_linear:
        return np.zeros(np.shape(lo))
    return curve.max_chord_error(lo, hi)


def breakpoints(curve: AnyCurve, upper: float, tolerance_relative: float, max_pieces: int = 4096,
                convex_tolerance_relative: float | None = None, extra: np.ndarray | None = None,
                n_start: int = 16) -> np.ndarray:
    """Breakpoints ``0 = b0 < ... < bK = upper`` (currency) with small chord errors.

    Linear curves get one piece, tables their knots; smooth curves start from 16 pieces (quadratic
    spacing for concave curves, uniform plus the inflection for S-curves) and pieces are halved until
    every concave piece's ``f - chord <= tolerance_relative x f(upper)`` (``n_start`` first pieces) and every convex piece's
    ``chord - f <= convex_tolerance_relative x f(upper)`` (default: the same tolerance). A coarse
    convex tolerance keeps the number of binaries small; :func:`allocate_advanced` then refines the
    pieces a plan actually lands in (``extra`` breakpoints).
    """
    if not math.isfinite(upper):
        if curve.kind == "linear":
            return np.array([0.0, math.inf])
        if curve.kind == "table":
            return np.concatenate([curve.knots_x, [math.inf]])
        raise ValueError("a smooth curve needs a finite spend cap")
    if upper <= 0:
        return np.array([0.0])
    if curve.kind == "linear":
        return np.array([0.0, upper])
    if curve.kind == "table":
        kx = curve.knots_x[curve.knots_x < upper]
        return np.concatenate([kx, [upper]])
    if curve.kind == "s_hill":
        b = np.linspace(0.0, upper, n_start + 1)
        if 0 < curve.inflection < upper:
            b = np.unique(np.concatenate([b, [curve.inflection]]))
    else:
        b = upper * (np.arange(n_start + 1) / n_start) ** 2
    if extra is not None and extra.size:
        b = np.unique(np.concatenate([b, extra[(extra > 0) & (extra < upper)]]))
    scale = float(curve.value(np.array(upper)))
    tol = tolerance_relative * scale
    ctol = (convex_tolerance_relative if convex_tolerance_relative is not None else tolerance_relative) * scale

    def errors(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        under = chord_error(curve, lo, hi) - tol
        over = chord_excess(curve, lo, hi) - ctol
        return np.maximum(under, over)

    lo, hi = b[:-1], b[1:]
    excess = errors(lo, hi)
    done_lo, done_hi = [], []
    # only the pieces just split are re-examined: each round costs O(new pieces)
    for _ in range(40):
        bad = excess > 0
        done_lo.append(lo[~bad])
        done_hi.append(hi[~bad])
        if not bad.any() or sum(a.size for a in done_lo) + 2 * int(bad.sum()) > max_pieces:
            done_lo.append(lo[bad])
            done_hi.append(hi[bad])
            break
        mid = 0.5 * (lo[bad] + hi[bad])
        lo = np.concatenate([lo[bad], mid])
        hi = np.concatenate([mid, hi[bad]])
        excess = errors(lo, hi)
    else:
        done_lo.append(lo)
    pts = np.unique(np.concatenate(done_lo + [np.array([upper])]))
    return pts
