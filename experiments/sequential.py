"""Sequential monitoring: group-sequential alpha spending (default) and always-valid mSPRT.

**Group sequential (Lan & DeMets 1983).** The experiment is looked at weekly; each look k at
information fraction ``t_k`` (users so far / planned users, in (0, 1]) may stop for efficacy if
``|Z_k| >= c_k``. The two-sided level ``alpha`` is split equally between the sides and spent
over time by a spending function of ``t`` (per side, ``a = alpha / 2``):

* O'Brien-Fleming type (default): ``a(t) = 2 - 2 Phi(z_{1-a/2} / sqrt(t))`` - nearly nothing early,
  close to the fixed-horizon critical value at the end;
* Pocock type: ``a(t) = a ln(1 + (e - 1) t)`` - roughly constant boundaries.

Boundaries are found look by look so that the probability, under no effect, of first crossing at
look k equals the alpha spent between ``t_{k-1}`` and ``t_k``. That probability is computed by
recursive numerical integration of the density of the score ``S_k = Z_k sqrt(t_k)`` (a Brownian
motion, independent increments) over the continuation region (Armitage, McPherson & Rowe 1969;
Jennison & Turnbull 2000, ch. 19), on a 1,201-point trapezoid grid per look. Because the
boundaries depend only on the looks already made, unplanned or irregular looks are allowed.

At each look the result gives the *repeated confidence interval* ``estimate +- c_k * se``
(Jennison & Turnbull ch. 9): it is valid at whatever look you stop, and it is wider than the
fixed-horizon interval ``estimate +- z_{1-alpha/2} se`` because ``c_k > z_{1-alpha/2}``: the
alpha not yet spent is kept for later looks. :attr:`SequentialResult.explanation` says this in words.

**Always valid (mSPRT, Johari et al. 2017/2022).** With a normal mixing distribution
``N(0, tau^2)`` over the effect, the likelihood ratio at a look with estimate ``d`` and variance
``V`` is ``Lambda = sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2)))``; the always-valid
p-value is ``min(1, 1 / max_k Lambda_k)`` and the confidence sequence is
``d +- sqrt(V (V + tau^2) / tau^2 * (ln((V + tau^2) / V) - 2 ln alpha))``, intersected over looks.
Valid under continuous peeking, at the cost of wider intervals. ``tau`` is in metric units; a
good choice is the size of effect you expect (e.g. the MDE).

**Conditional power** (for "continue" decisions): with the current trend ``theta = z / sqrt(t)``
(expected final z), the probability that the final test rejects in the observed direction if the
experiment runs to total information ``T`` is ``1 - Phi((c sqrt(T) - z sqrt(t) - theta (T - t)) /
sqrt(T - t))``; :func:`information_for_conditional_power` solves it for the ``T`` that reaches a
target, which gives the projected end date.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from experiments.results import _clean

__all__ = [
    "spending", "boundaries", "SequentialResult", "group_sequential", "msprt", "conditional_power",
    "information_for_conditional_power", "growthbook_rho", "classical_boundaries", "crossing_probability",
]

Spending = Literal["obrien_fleming", "pocock"]
_GRID = 1201


def spending(t, alpha: float = 0.05, kind: Spending = "obrien_fleming"):
    """Cumulative two-sided alpha spent by information fraction ``t`` (both sides together)."""
    from scipy import stats

    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    a = alpha / 2.0
    with np.errstate(all="ignore"):
        if kind == "obrien_fleming":
            side = np.where(t > 0, 2.0 * stats.norm.sf(stats.norm.isf(a / 2.0) / np.sqrt(t)), 0.0)
        elif kind == "pocock":
            side = a * np.log1p((math.e - 1.0) * t)
        else:
            raise ValueError(f"spending is {kind!r}; it must be 'obrien_fleming' or 'pocock'.")
    return 2.0 * side


def _check_fractions(t) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("information fractions must be a non-empty 1-d sequence, e.g. [0.2, 0.4, 0.6, 0.8, 1.0].")
    if not np.all(np.isfinite(t)) or (t <= 0).any() or (t > 1 + 1e-12).any() or (np.diff(t) <= 0).any():
        raise ValueError(f"information fractions are {t.tolist()}; they must be increasing and in (0, 1].")
    return np.minimum(t, 1.0)


def boundaries(info_fractions: Sequence[float], alpha: float = 0.05, kind: Spending = "obrien_fleming") -> np.ndarray:
    """Two-sided symmetric z boundaries ``c_k`` at the given looks (Lan-DeMets alpha spending).

    Parameters
    ----------
    info_fractions : sequence of float
        Increasing information fractions in (0, 1]; the last is 1 at the planned end.
    alpha : float
        Overall two-sided level.
    kind : {"obrien_fleming", "pocock"}
        Spending function.

    Returns
    -------
    numpy.ndarray
        ``c_k``: reject at look k when ``|Z_k| >= c_k``. A look with (numerically) nothing to
        spend gets ``inf``.
    """
    from scipy import optimize, stats

    t = _check_fractions(info_fractions)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is {alpha}; it must be strictly between 0 and 1.")
    spent = spending(t, alpha, kind)
    incr = np.diff(np.concatenate([[0.0], spent]))
    bounds = np.empty(t.size)
    # Look 1: plain normal tail.
    bounds[0] = stats.norm.isf(incr[0] / 2.0) if incr[0] > 1e-15 else np.inf
    grid, dens = None, None  # density of S_k on the continuation region (trapezoid weights folded in)

    def continuation(k, c):
        s_max = c * math.sqrt(t[k]) if math.isfinite(c) else 8.5 * math.sqrt(t[k])
        g = np.linspace(-s_max, s_max, _GRID)
        w = np.full(_GRID, g[1] - g[0])
        w[0] = w[-1] = w[0] / 2
        return g, w

    g, w = continuation(0, bounds[0])
    dens = stats.norm.pdf(g, scale=math.sqrt(t[0])) * w
    for k in range(1, t.size):
        sd = math.sqrt(t[k] - t[k - 1])

        def cross(c, g=g, dens=dens, sd=sd, k=k):
            b = c * math.sqrt(t[k])
            return float(np.sum(dens * (stats.norm.sf((b - g) / sd) + stats.norm.cdf((-b - g) / sd))))

        if incr[k] <= 1e-15:
            bounds[k] = np.inf
        else:
            lo, hi = 1e-3, 12.0
            if cross(lo) < incr[k]:
                bounds[k] = lo  # everything left is spent here
            else:
                bounds[k] = optimize.brentq(lambda c: cross(c) - incr[k], lo, hi, xtol=1e-10)
        if k < t.size - 1:
            g_new, w_new = continuation(k, bounds[k])
            kern = stats.norm.pdf((g_new[:, None] - g[None, :]) / sd) / sd
            dens = (kern @ dens) * w_new
            g = g_new
    return bounds


def crossing_probability(bounds: Sequence[float], info_fractions: Sequence[float], *, grid: int = _GRID) -> float:
    """Probability under no effect that ``|Z_k| >= c_k`` at some look (same recursive integration,
    ``grid`` trapezoid points per look)."""
    from scipy import stats

    t = _check_fractions(info_fractions)
    c = np.asarray(bounds, dtype=float)
    if c.shape != t.shape:
        raise ValueError(f"{c.size} boundary value(s) for {t.size} look(s); give one per look.")
    g = np.linspace(-c[0] * math.sqrt(t[0]), c[0] * math.sqrt(t[0]), grid)
    w = np.full(grid, g[1] - g[0])
    w[0] = w[-1] = w[0] / 2
    dens = stats.norm.pdf(g, scale=math.sqrt(t[0])) * w
    total = 2.0 * float(stats.norm.sf(c[0]))
    for k in range(1, t.size):
        sd = math.sqrt(t[k] - t[k - 1])
        b = c[k] * math.sqrt(t[k])
        total += float(np.sum(dens * (stats.norm.sf((b - g) / sd) + stats.norm.cdf((-b - g) / sd))))
        g_new = np.linspace(-b, b, grid)
        w_new = np.full(grid, g_new[1] - g_new[0])
        w_new[0] = w_new[-1] = w_new[0] / 2
        dens = (stats.norm.pdf((g_new[:, None] - g[None, :]) / sd) / sd @ dens) * w_new
        g = g_new
    return total


ClassicalKind = Literal["pocock_1977", "obrien_fleming_1979"]


def classical_boundaries(n_looks: int, alpha: float = 0.05, kind: ClassicalKind = "pocock_1977") -> tuple[float, np.ndarray]:
    """The classical group-sequential tests for ``n_looks`` equally spaced looks (two-sided).

    Not to be confused with the Lan-DeMets *spending functions* of the same families
    (:func:`boundaries` with ``kind="pocock"`` or ``"obrien_fleming"``), which reproduce their
    shapes approximately and allow unplanned looks. These are the originals, for a fixed number of
    equally spaced looks:

    * ``"pocock_1977"``: one constant ``C_P(K, alpha)`` at every look (Pocock 1977);
    * ``"obrien_fleming_1979"``: ``c_k = C_B(K, alpha) sqrt(K / k)`` (O'Brien & Fleming 1979).

    The constant is found so that the probability of any crossing under no effect is ``alpha``
    (Jennison & Turnbull 2000, tables 2.1 and 2.3). Returns ``(constant, boundaries)``.
    """
    from scipy import optimize

    if isinstance(n_looks, bool) or not isinstance(n_looks, (int, np.integer)) or not 1 <= n_looks <= 50:
        raise ValueError(f"n_looks is {n_looks!r}; it must be a whole number of looks from 1 to 50.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is {alpha}; it must be strictly between 0 and 1.")
    k = np.arange(1, n_looks + 1)
    t = k / n_looks
    if kind == "pocock_1977":
        shape = np.ones(n_looks)
    elif kind == "obrien_fleming_1979":
        shape = np.sqrt(n_looks / k)
    else:
        raise ValueError(f"kind is {kind!r}; it must be 'pocock_1977' or 'obrien_fleming_1979'.")
    # 401 points per look: the constants agree with the 1,201-point grid to < 1e-5 at a tenth of the cost.
    const = optimize.brentq(lambda cc: crossing_probability(cc * shape, t, grid=401) - alpha, 1.0, 6.0, xtol=1e-7)
    return float(const), const * shape


@dataclass(frozen=True)
class SequentialResult:
    """The state of a sequentially monitored comparison at the latest look.

    Attributes
    ----------
    method : str
        ``"group_sequential_obrien_fleming"``, ``"group_sequential_pocock"`` or ``"msprt"``.
    look : int
        1-based index of the latest look.
    information_fraction : float
        Users so far / planned users (group sequential); NaN for mSPRT.
    estimate : float
        Latest estimate of the effect (metric units, treatment - control).
    se : float
        Its standard error.
    z : float
        ``estimate / se``.
    critical_value : float
        |z| needed to reject at this look (group sequential), or the equivalent for mSPRT.
    fixed_horizon_critical_value : float
        ``z_{1-alpha/2}`` of a single test at the same level.
    ci_low, ci_high : float
        Repeated confidence intervals (group sequential) or the confidence sequence (mSPRT)
        intersected over the looks so far: valid whenever you stop, and it excludes 0 exactly
        when a boundary has been crossed at some look (``rejected``; for mSPRT when
        ``p_value <= alpha``), so interval, test and decision agree.
    fixed_ci_low, fixed_ci_high : float
        The fixed-horizon interval, for comparison only (not valid after peeking).
    p_value : float
        Always-valid p-value (mSPRT); for group sequential NaN (use ``rejected``).
    rejected : bool
        True if a boundary was crossed at this or an earlier look (the effect is significant).
    rejected_at_look : int or None
        First look that crossed.
    alpha : float
        Overall two-sided level.
    boundaries : tuple of float
        Critical values of all looks so far.
    explanation : str
        Why the interval is wider than a fixed-horizon one, in words.
    scale : str
        ``"absolute"`` (metric units) or ``"relative"`` (fraction of control): the scale of
        ``estimate``, ``se`` and the intervals, as the analysis' ``effect_scale``.
    """

    method: str
    look: int
    information_fraction: float
    estimate: float
    se: float
    z: float
    critical_value: float
    fixed_horizon_critical_value: float
    ci_low: float
    ci_high: float
    fixed_ci_low: float
    fixed_ci_high: float
    p_value: float
    rejected: bool
    rejected_at_look: int | None
    alpha: float
    boundaries: tuple[float, ...]
    explanation: str
    scale: str = "absolute"

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {k: _clean(v) for k, v in asdict(self).items()}

    def summary(self) -> pd.DataFrame:
        """One row per look's boundary with the latest state repeated."""
        d = self.to_dict()
        d["boundaries"] = ", ".join(f"{b:.3f}" for b in self.boundaries)
        return pd.DataFrame([d])

    def __str__(self) -> str:
        state = f"REJECTED at look {self.rejected_at_look}" if self.rejected else "not significant yet"
        return (f"{self.method} look {self.look}: estimate {self.estimate:+.4g} "
                f"(CI {self.ci_low:+.4g} .. {self.ci_high:+.4g}), z = {self.z:.3f}, "
                f"critical {self.critical_value:.3f}: {state}. {self.explanation}")


def _as_looks(estimates, ses) -> tuple[np.ndarray, np.ndarray]:
    e = np.atleast_1d(np.asarray(estimates, dtype=float))
    s = np.atleast_1d(np.asarray(ses, dtype=float))
    if e.shape != s.shape or e.ndim != 1 or e.size == 0:
        raise ValueError("give one estimate and one standard error per look (same non-zero length).")
    bad_e = np.flatnonzero(~np.isfinite(e))
    if bad_e.size:
        raise ValueError(f"estimates: look(s) {(bad_e + 1).tolist()} are {e[bad_e].tolist()}; every estimate must be "
                         "a finite number (a NaN estimate usually means a variant without users at that look).")
    bad_s = np.flatnonzero(~np.isfinite(s) | (s <= 0))
    if bad_s.size:
        raise ValueError(f"standard errors: look(s) {(bad_s + 1).tolist()} are {s[bad_s].tolist()}; every standard "
                         "error must be a finite number > 0.")
    return e, s


def group_sequential(estimates: Sequence[float], ses: Sequence[float], info_fractions: Sequence[float], *,
                     alpha: float = 0.05, kind: Spending = "obrien_fleming", scale: str = "absolute") -> SequentialResult:
    """Group-sequential test over the looks made so far.

    Parameters
    ----------
    estimates, ses : sequence of float
        Effect estimate and standard error at each look (cumulative data).
    info_fractions : sequence of float
        Information fraction at each look (e.g. users so far / planned users), increasing in (0, 1].
    """
    from scipy import stats

    e, s = _as_looks(estimates, ses)
    t = _check_fractions(info_fractions)
    if t.size != e.size:
        raise ValueError(f"{e.size} look(s) of estimates but {t.size} information fraction(s); give one per look.")
    c = boundaries(t, alpha, kind)
    z = e / s
    crossed = np.flatnonzero(np.abs(z) >= c)
    first = int(crossed[0]) + 1 if crossed.size else None
    k = e.size - 1
    zf = float(stats.norm.isf(alpha / 2))
    ck = float(c[k])
    spent = float(spending(t[k], alpha, kind))
    with np.errstate(invalid="ignore"):
        halves = np.where(np.isfinite(c), c * s, np.inf)
    # Repeated CIs hold simultaneously (Jennison & Turnbull ch. 9), so their intersection does too;
    # it excludes 0 exactly when some look crossed its boundary.
    lo_k, hi_k = float(np.max(e - halves)), float(np.min(e + halves))
    expl = (f"Look {k + 1} at {t[k]:.0%} of the planned users: the {kind.replace('_', '-')} spending plan has used "
            f"{spent:.4f} of alpha = {alpha} so far, so a result needs |z| >= {ck:.3f} instead of {zf:.3f} for a single "
            f"fixed-horizon test; the interval is {ck / zf:.2f}x as wide because it must stay valid at every weekly look "
            "(the remaining alpha is kept for later looks).")
    return SequentialResult(
        method=f"group_sequential_{kind}", look=k + 1, information_fraction=float(t[k]), estimate=float(e[k]),
        se=float(s[k]), z=float(z[k]), critical_value=ck, fixed_horizon_critical_value=zf,
        ci_low=lo_k, ci_high=hi_k, fixed_ci_low=float(e[k] - zf * s[k]),
        fixed_ci_high=float(e[k] + zf * s[k]), p_value=math.nan, rejected=first is not None, rejected_at_look=first,
        alpha=alpha, boundaries=tuple(float(x) for x in c), explanation=expl, scale=scale)


def growthbook_rho(alpha: float, tuning_n: float) -> float:
    """GrowthBook's mixing parameter rho from its tuning parameter N* (two-sided).

    ``rho = sqrt((-2 ln alpha + ln(-2 ln alpha + 1)) / N*)`` (gbstats ``sequential_rho``; Waudby-Smith
    et al. 2023, eq. 161): the mixture is tuned to be tightest at N* total users.
    """
    if not (math.isfinite(tuning_n) and tuning_n > 0):
        raise ValueError(f"tuning_n is {tuning_n}; GrowthBook's N* must be a number of users > 0 (e.g. 5000).")
    la = -2.0 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1.0)) / tuning_n)


def msprt(estimates: Sequence[float], ses: Sequence[float], *, tau: float | None = None, alpha: float = 0.05,
          tuning_n: float | None = None, n: Sequence[float] | None = None, scale: str = "absolute") -> SequentialResult:
    """Always-valid mixture SPRT over the looks so far.

    Parametrise the normal mixture either by ``tau`` (its scale, in the units of the estimates)
    or, as GrowthBook does, by the tuning parameter ``tuning_n`` (N*, total users at which the
    interval is tightest) with ``n`` = total users at each look. The two are the same test: with
    ``s2 = se^2 n`` (variance per user) GrowthBook's mixture is ``tau = rho sqrt(s2)`` with
    :func:`growthbook_rho`, and then the half-width and p-value here equal gbstats'
    ``SequentialTwoSidedTTest`` (eq. 9 and 155 of Waudby-Smith et al.). GrowthBook reports the
    latest look only; here the p-value is the running minimum and the interval the running
    intersection, which are also always valid.
    """
    from scipy import stats

    e, s = _as_looks(estimates, ses)
    if (tau is None) == (tuning_n is None):
        raise ValueError("give exactly one of tau (mixing scale, units of the estimate) or tuning_n (GrowthBook's N*).")
    if tau is not None:
        if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
            raise ValueError(f"tau is {tau}; the mixing scale must be a finite number > 0 (about the effect you expect).")
        tau2 = np.full_like(e, float(tau) ** 2)
    else:
        if n is None:
            raise ValueError("tuning_n needs n, the total users at each look (one per estimate).")
        n_arr = np.atleast_1d(np.asarray(n, dtype=float))
        if n_arr.shape != e.shape or not np.all(np.isfinite(n_arr)) or (n_arr <= 0).any():
            raise ValueError(f"n is {n_arr.tolist()}; give one total number of users > 0 per look.")
        rho = growthbook_rho(alpha, tuning_n)
        tau2 = rho**2 * s**2 * n_arr  # rho^2 times the per-user variance s2 = se^2 n
    v = s**2
    log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 * e**2 / (2 * v * (v + tau2))
    p = np.minimum(1.0, np.exp(-np.maximum.accumulate(log_lr)))
    half = np.sqrt(v * (v + tau2) / tau2 * (np.log((v + tau2) / v) - 2 * math.log(alpha)))
    lo = np.maximum.accumulate(e - half)
    hi = np.minimum.accumulate(e + half)
    crossed = np.flatnonzero(p <= alpha)
    first = int(crossed[0]) + 1 if crossed.size else None
    k = e.size - 1
    zf = float(stats.norm.isf(alpha / 2))
    ck = float(half[k] / s[k])
    expl = (f"Always-valid (mSPRT) interval at look {k + 1}: it holds under continuous peeking, so it uses "
            f"{ck:.3f} standard errors instead of the fixed-horizon {zf:.3f} ({ck / zf:.2f}x as wide), "
            "and it is intersected with the intervals of earlier looks.")
    return SequentialResult(
        method="msprt", look=k + 1, information_fraction=math.nan, estimate=float(e[k]), se=float(s[k]),
        z=float(e[k] / s[k]), critical_value=ck, fixed_horizon_critical_value=zf, ci_low=float(lo[k]),
        ci_high=float(hi[k]), fixed_ci_low=float(e[k] - zf * s[k]), fixed_ci_high=float(e[k] + zf * s[k]),
        p_value=float(p[k]), rejected=first is not None, rejected_at_look=first, alpha=alpha, boundaries=(),
        explanation=expl, scale=scale)


def conditional_power(z: float, t: float, *, critical_value: float, total_information: float = 1.0,
                      theta: float | None = None) -> float:
    """Probability that the final test at information ``total_information`` rejects, in z's direction.

    ``t`` and ``total_information`` are fractions of the planned information (1 = as planned);
    ``theta`` is the drift (expected z at t = 1), default the current trend ``z / sqrt(t)``.
    """
    from scipy import stats

    if not 0 < t <= total_information:
        raise ValueError(f"t is {t}; it must be in (0, total_information = {total_information}].")
    sgn = 1.0 if z >= 0 else -1.0
    zz = abs(z)
    th = zz / math.sqrt(t) if theta is None else sgn * theta
    if total_information == t:
        return float(zz >= critical_value)
    rest = total_information - t
    b = zz * math.sqrt(t)
    return float(stats.norm.sf((critical_value * math.sqrt(total_information) - b - th * rest) / math.sqrt(rest)))


def information_for_conditional_power(z: float, t: float, *, critical_value: float, target: float = 0.8,
                                      max_information: float = 4.0) -> float | None:
    """Smallest total information (fraction of plan, >= t) with conditional power >= ``target``.

    Returns None when the current trend is not in a direction that can reach ``target`` by
    ``max_information`` (e.g. a zero or tiny trend): the test is then underpowered.
    """
    from scipy import optimize

    f = lambda T: conditional_power(z, t, critical_value=critical_value, total_information=T) - target  # noqa: E731
    if abs(z) >= critical_value and f(t + 1e-12) >= 0:
        return t
    if f(max_information) < 0:
        return None
    lo = t + 1e-9
    if f(lo) >= 0:
        return lo
    return float(optimize.brentq(f, lo, max_information, xtol=1e-9))
