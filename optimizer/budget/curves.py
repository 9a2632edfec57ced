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
    BudgetConfig,
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

    def scaled(self, share: float) -> "Curve":
        """The curve of a segment holding ``share`` (0 < share <= 1) of the audience: ``share * f(x / share)``.

        The perspective of ``f``: the same spend per head earns the same response per head, so a
        segment with a third of the audience reaches a third of the response at a third of the
        spend. It is concave when ``f`` is, and ``sum_k s_k f(x_k / s_k) = f(x)`` when spend is
        split in proportion to the shares, so splitting an audience into segments that behave
        alike changes nothing. Closed forms (same kind, new parameters):

        * linear ``r x``: unchanged;
        * hill ``M x^n / (x^n + h^n)``: ``M -> s M``, ``h -> s h`` (shape unchanged);
        * log ``a ln(1 + x / h)``: ``a -> s a``, ``h -> s h``;
        * power ``c x^e``: ``c -> c s^(1 - e)``;
        * table: both axes of every point times ``s``.
        """
        s = float(share)
        if not (0 < s <= 1) or not math.isfinite(s):
            raise ValueError(f"share is {share!r}; it must be in (0, 1]")
        if s == 1.0 or self.kind == "linear":
            return self
        k, p = self.kind, self.params
        if k == "hill":
            return Curve("hill", (p[0] * s, p[1] * s, p[2]))
        if k == "log":
            return Curve("log", (p[0] * s, p[1] * s))
        if k == "power":
            return Curve("power", (p[0] * s ** (1.0 - p[1]), p[1]))
        if k == "table":
            return Curve("table", (), self.knots_x * s, self.knots_y * s)
        raise AssertionError(k)

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


def curve_for(channel: Channel, response: object | None = None) -> Curve:
    """The :class:`Curve` of a channel's ``response`` config (or of ``response``, e.g. a segment's own curve)."""
    return curve_of_response(channel.response if response is None else response, channel.cost_per_unit)


def curve_of_response(r: object, cost_per_unit: float | None = None) -> Curve:
    """The :class:`Curve` of one concave response model (``cost_per_unit`` reads a linear ``value_per_unit``).

    The one place that maps the YAML curve kinds to curves: the budget and the curves files both use it.
    """
    if isinstance(r, LinearResponse):
        if r.roi is None and cost_per_unit is None:
            raise ValueError("a linear curve given by value_per_unit needs cost_per_unit; give roi instead")
        roi = r.roi if r.roi is not None else r.value_per_unit / cost_per_unit  # type: ignore[operator]
        return Curve("linear", (float(roi),))
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


def cell_curves(config: BudgetConfig) -> tuple[tuple[Curve, ...], np.ndarray, np.ndarray, np.ndarray]:
    """The curves of the (channel, segment) cells: ``(curves, curve_channel, curve_share, curve_of)``.

    ``curve_of[c, s]`` is the index of channel ``c``'s curve in segment ``s``; ``curve_channel[k]``
    and ``curve_share[k]`` are the channel and audience share of curve ``k``. In a segment of
    audience share ``s`` a channel's curve is its own curve scaled, ``s * f(x / s)``
    (:meth:`Curve.scaled`), unless the segment gives its own curve for the channel
    (``segments[k].responses``), used as written (its share is then reported as 1). Segments of
    equal share share one curve per channel, so without segments (or with equal shares) there is
    one curve per channel and ``curve_of[c, :] == c``.
    """
    shares = config.segment_shares
    n_c, n_s = len(config.channels), len(shares)
    curves: list[Curve] = []
    curve_channel: list[int] = []
    curve_share: list[float] = []
    curve_of = np.zeros((n_c, n_s), dtype=np.int64)
    for ci, ch in enumerate(config.channels):
        base = curve_for(ch)
        seen: dict[float, int] = {}
        for si, share in enumerate(shares):
            own = (config.segments[si].responses or {}).get(ch.name) if config.segments else None
            if own is None and share in seen:
                curve_of[ci, si] = seen[share]
                continue
            curve_of[ci, si] = len(curves)
            curves.append(curve_for(ch, own) if own is not None else base.scaled(share))
            curve_channel.append(ci)
            curve_share.append(1.0 if own is not None else share)
            if own is None:
                seen[share] = curve_of[ci, si]
    return tuple(curves), np.array(curve_channel, dtype=np.int64), np.array(curve_share), curve_of
