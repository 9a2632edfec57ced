"""Vectorised response curves: value, slope, initial breakpoints and the 1-D Lagrangian maximum.

Every curve maps spend ``x`` (currency, in one cell) to response (``response_unit``) with
``f(0) = 0``, non-decreasing and concave, so that chords under-estimate it (the LP on chords is an
inner approximation) and the exact 1-D problem ``max a*f(x) - g*x`` over ``[0, U]`` has a closed
form or a monotone root (used for the certified upper bound, see docs/budget-maths.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.budget.config import (
    Channel,
    HillResponse,
    LinearResponse,
    LogResponse,
    PowerResponse,
    TableResponse,
)


@dataclass(frozen=True)
class Curve:
    """A concave response curve of spend in one cell.

    Attributes
    ----------
    kind:
        "linear", "hill", "log", "power" or "table".
    params:
        Curve parameters (see :func:`curve_for`).
    knots_x, knots_y:
        For tables (and linear curves, two points), the exact breakpoints in currency and
        response_unit, starting at (0, 0).
    """

    kind: str
    params: tuple[float, ...]
    knots_x: np.ndarray | None = None
    knots_y: np.ndarray | None = None

    @property
    def is_piecewise_linear(self) -> bool:
        """True when chords are exact (linear and table curves)."""
        return self.kind in ("linear", "table")

    def value(self, x: np.ndarray) -> np.ndarray:
        """Response at spend ``x`` (array, currency)."""
        x = np.asarray(x, dtype=float)
        k, p = self.kind, self.params
        if k == "linear":
            return p[0] * x
        if k == "hill":
            m, h, n = p
            # x^n/(x^n+h^n) written as 1/(1+(h/x)^n) to avoid overflow at large x
            with np.errstate(divide="ignore"):
                return np.where(x > 0, m / (1.0 + np.power(h / np.maximum(x, 1e-300), n)), 0.0)
        if k == "log":
            s, h = p
            return s * np.log1p(x / h)
        if k == "power":
            c, e = p
            return c * np.power(np.maximum(x, 0.0), e)
        # table: flat after the last point
        return np.interp(x, self.knots_x, self.knots_y)

    def slope(self, x: np.ndarray) -> np.ndarray:
        """Derivative of the response at ``x`` (response per currency); right derivative for tables."""
        x = np.asarray(x, dtype=float)
        k, p = self.kind, self.params
        if k == "linear":
            return np.full_like(x, p[0])
        if k == "hill":
            m, h, n = p
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                r = np.power(x / h, n)
                d = m * n * r / (x * (1.0 + r) ** 2)
                return np.where(x > 0, d, np.inf if n < 1 else m / h)
        if k == "log":
            s, h = p
            return s / (h + x)
        if k == "power":
            c, e = p
            with np.errstate(divide="ignore"):
                return np.where(x > 0, c * e * np.power(np.maximum(x, 1e-300), e - 1.0), np.inf)
        kx, ky = self.knots_x, self.knots_y
        seg = np.diff(ky) / np.diff(kx)
        idx = np.searchsorted(kx, x, side="right") - 1
        out = np.zeros_like(x)
        inside = idx < len(seg)
        out[inside] = seg[np.clip(idx[inside], 0, len(seg) - 1)]
        return out

    def _argmax_stationary(self, t: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """Spend where the slope equals ``t`` (>0), clipped to [0, upper]. Slopes decrease."""
        k, p = self.kind, self.params
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if k == "log":
                s, h = p
                x = s / t - h
            elif k == "power":
                c, e = p
                x = np.power(t / (c * e), 1.0 / (e - 1.0))
            elif k == "hill" and p[2] == 1.0:
                m, h, _ = p
                x = np.sqrt(m * h / t) - h
            elif k == "hill":
                # slope is decreasing in x: bisection on [0, upper] in log space, vectorised
                hi_cap = np.where(np.isfinite(upper), upper, 1e18)
                lo = np.zeros_like(t)
                hi = hi_cap.copy()
                for _ in range(200):
                    mid = 0.5 * (lo + hi)
                    go_right = self.slope(mid) > t
                    lo = np.where(go_right, mid, lo)
                    hi = np.where(go_right, hi, mid)
                    if np.all(hi - lo <= 1e-12 * np.maximum(hi, 1.0)):
                        break
                x = 0.5 * (lo + hi)
            else:
                raise AssertionError(k)
        x = np.where(np.isnan(x), 0.0, x)
        return np.clip(x, 0.0, upper)

    def lagrangian_max(self, a: np.ndarray, g: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """``max over x in [0, upper] of a*f(x) - g*x``, elementwise (the exact 1-D subproblem).

        ``a`` is the weight on response, ``g`` on spend (both arrays, any sign). Concave when
        ``a >= 0``: the maximum is at a stationary point or an end; for ``a < 0`` at an end.
        """
        a = np.asarray(a, dtype=float)
        g = np.asarray(g, dtype=float)
        upper = np.asarray(upper, dtype=float)
        finite = np.isfinite(upper)
        u = np.where(finite, upper, 0.0)
        best = np.zeros_like(a)  # x = 0 gives 0
        end = a * self.value(u) - g * u
        best = np.maximum(best, np.where(finite, end, -np.inf))
        # growth at infinity (only linear/table can be uncapped): unbounded if the tail slope pays
        if not finite.all():
            tail = self.params[0] if self.kind == "linear" else 0.0
            if self.kind not in ("linear", "table"):
                tail = 0.0
            unbounded = (~finite) & (a * tail - g > 0)
            best = np.where(unbounded, np.inf, best)
        if self.is_piecewise_linear:
            if self.kind == "table":
                for kx in self.knots_x[1:]:
                    ok = kx <= upper
                    val = a * self.value(np.array(kx)) - g * kx
                    best = np.where(ok, np.maximum(best, val), best)
            return best
        pos = (a > 0) & (g > 0)
        if pos.any():
            with np.errstate(over="ignore"):  # a tiny weight on response: the slope target is huge
                t = np.where(pos, g / np.where(pos, a, 1.0), 1.0)
            t = np.minimum(t, 1e300)
            up = np.where(finite, upper, 1e18)
            xs = self._argmax_stationary(t, up)
            val = a * self.value(xs) - g * xs
            best = np.where(pos, np.maximum(best, val), best)
        return best

    def initial_breakpoints(self, upper: float, n_pieces: int) -> np.ndarray:
        """Breakpoints 0 = b0 < ... < bn = upper (currency) for the chord approximation.

        Exact knots for linear/table curves; otherwise points chosen so the chord error of each
        piece is about equal (placed by equal steps of the slope's square root, which
        concentrates points where curvature is high), refined later from the certified gap.
        """
        if self.kind == "linear":
            return np.array([0.0, upper])
        if self.kind == "table":
            kx = self.knots_x[self.knots_x < upper]
            return np.concatenate([kx, [upper]]) if math.isfinite(upper) else np.concatenate([kx, [np.inf]])
        if not math.isfinite(upper) or upper <= 0:
            return np.array([0.0, upper]) if upper > 0 else np.array([0.0])
        # Quadratic spacing puts more points near 0, where these curves bend most; the
        # certified-gap loop then refines the pieces the optimum actually uses.
        return upper * (np.arange(n_pieces + 1) / n_pieces) ** 2

    def max_chord_error(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Largest ``f(x) - chord(x)`` on each piece [lo, hi] (response_unit), exact at the tangent point."""
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        if self.is_piecewise_linear:
            return np.zeros_like(lo)
        w = hi - lo
        fl, fh = self.value(lo), self.value(hi)
        s = np.where(w > 0, (fh - fl) / np.where(w > 0, w, 1.0), 0.0)
        xs = self._argmax_stationary(np.maximum(s, 1e-300), hi)
        xs = np.clip(xs, lo, hi)
        return np.maximum(self.value(xs) - (fl + s * (xs - lo)), 0.0)


def curve_for(channel: Channel) -> Curve:
    """The :class:`Curve` of a channel's ``response`` config."""
    r = channel.response
    if isinstance(r, LinearResponse):
        return Curve("linear", (float(channel.roi_if_linear),))
    if isinstance(r, HillResponse):
        return Curve("hill", (r.max_response, r.half_saturation_spend, r.shape))
    if isinstance(r, LogResponse):
        return Curve("log", (r.scale, r.saturation_spend))
    if isinstance(r, PowerResponse):
        return Curve("power", (r.coefficient, r.exponent))
    if isinstance(r, TableResponse):
        pts = [(0.0, 0.0)] + [(float(a), float(b)) for a, b in r.points if a > 0]
        kx = np.array([p[0] for p in pts])
        ky = np.array([p[1] for p in pts])
        return Curve("table", (), kx, ky)
    raise TypeError(f"unknown response kind {type(r).__name__}")
