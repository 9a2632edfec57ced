"""The fit itself: variable projection over per-channel nonlinear parameters (no I/O, no pandas).

Model on the (mean-scaled) KPI ``y``::

    y_t = B_t . gamma + sum_c beta_c * z_c(theta_c)_t + noise,   beta_c >= 0, gamma free

``B`` holds intercept, trend, Fourier seasonality, holiday dummies and controls; ``z_c`` is the
saturation (:mod:`.saturation`) of the channel's adstocked spend (:mod:`.adstock`) scaled by the
channel's steady-state effective spend ``S(decay) * m_c`` (``m_c`` = mean spend when on), so that
``kappa`` is the half-saturation of SUSTAINED spend in units of ``m_c`` whatever the decay.
``theta_c = (decay, log kappa, n)``.

Variable projection: for fixed ``theta`` the best ``(gamma, beta)`` is a bounded linear least-squares
problem, solved exactly by projecting ``B`` out (``P = I - Q Q^T``, ``Q`` from a QR of ``B``) and
running Lawson-Hanson NNLS (``scipy.optimize.nnls``) on ``(P Z, P y)``. The outer problem
``F(theta) = min_{gamma, beta >= 0} ||y - B gamma - Z(theta) beta||^2 (+ lift-test rows + ridge)``
is minimised by L-BFGS-B within bounds, from several seeded starts. Its gradient is analytic: the
constraints ``beta >= 0`` do not depend on ``theta``, so by the envelope theorem
``dF/dtheta_ck = -2 r^T (dz_c/dtheta_ck) beta_c`` with ``r`` the residual at the inner optimum
(Golub-Pereyra; the derivative of the inner solution drops out).

Lift tests enter as extra rows on ``beta``: ``w_i (beta_c * (z_c^ss(x_i + dx_i) - z_c^ss(x_i)) - dy_i)``
where ``z^ss(x) = z(x / m_c)`` is the saturation of STEADY-STATE effective spend (the test is read as
sustained spend, carry-over included: ``e = S x`` and ``u = e / (S m_c)``) and ``w_i = sigma_noise / sigma_i`` weights it against
the KPI rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from scipy.optimize import minimize, nnls

from optimizer.curves.adstock import weights
from optimizer.curves.saturation import value_and_grads


@dataclass(frozen=True)
class Design:
    """Arrays of one fit problem (all rows; ``train`` selects the rows fitted).

    Attributes
    ----------
    y: KPI divided by ``y_scale`` (T,).
    base: baseline/control design (T, p).
    lagged: lagged spend per channel (C, T, L+1), currency per period.
    scale: per-channel spend scale (mean spend when on), currency per period (C,).
    kinds: saturation kind per channel.
    bounds: (C, 3, 2) lower/upper bounds of (decay, log kappa, n).
    max_lag: L.
    lift: lift-test rows ``(channel index, x, delta_x, delta_y / y_scale, weight)`` or empty.
    ridge: ridge penalty on beta (scaled units).
    """

    y: np.ndarray
    base: np.ndarray
    lagged: np.ndarray
    scale: np.ndarray
    kinds: tuple[str, ...]
    bounds: np.ndarray
    max_lag: int
    lift: tuple[tuple[int, float, float, float, float], ...] = ()
    ridge: float = 0.0
    prior_mean: tuple[float, float, float] | np.ndarray = (0.3, 0.0, 1.0)  # or (C, 3) per channel
    prior_sd: tuple[float, float, float] = (0.0, 0.0, 0.0)
    noise_var: float = 1.0

    @property
    def n_channels(self) -> int:
        return len(self.kinds)

    def rows(self, train: np.ndarray | None) -> "Design":
        """The same problem restricted to rows ``train`` (adstock already carries earlier spend)."""
        if train is None:
            return self
        return replace(self, y=self.y[train], base=self.base[train], lagged=self.lagged[:, train])

    def penalty(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``noise_var * sum ((theta - mean) / sd)^2`` over the parameters with a prior (sd > 0) and its gradient.

        Multiplying by the noise variance puts the Gaussian prior on the scale of the sum of squares,
        so the minimum is the MAP estimate under Gaussian noise (a weakly informative prior: it
        only decides what the data leave open, e.g. shape and half-saturation of a channel whose
        spend barely moves).
        """
        sd = np.asarray(self.prior_sd, dtype=float)
        on = sd > 0
        if not on.any():
            return 0.0, np.zeros_like(theta)
        z = np.where(on, (theta - np.asarray(self.prior_mean)) / np.where(on, sd, 1.0), 0.0)
        z[:, ~on] = 0.0
        val = float(self.noise_var * np.sum(z**2))
        grad = np.where(on, 2.0 * self.noise_var * z / np.where(on, sd, 1.0), 0.0)
        return val, grad


@dataclass(frozen=True)
class InnerSolution:
    """Inner least-squares solution at one ``theta``."""

    objective: float
    gamma: np.ndarray
    beta: np.ndarray
    z: np.ndarray           # (T, C) media features
    residual: np.ndarray    # (T,) y - fitted
    gradient: np.ndarray    # (C*3,)


def features(design: Design, theta: np.ndarray, with_grad: bool = True):
    """Media features ``z`` (C, T) and their derivatives along (decay, log kappa, n)."""
    d, lk, n = theta[:, 0], theta[:, 1], theta[:, 2]
    w, dw = weights(d, design.max_lag)
    S = w.sum(axis=1)
    dS = dw.sum(axis=1)
    e = np.einsum("ctl,cl->ct", design.lagged, w)
    unit = (design.scale * S)[:, None]
    u = e / unit
    z = np.empty_like(u)
    gd = np.empty_like(u)
    gk = np.empty_like(u)
    gn = np.empty_like(u)
    if with_grad:
        # u = e / (scale * S(d)):  du/dd = (de/dd - e S'/S) / (scale S)
        du = (np.einsum("ctl,cl->ct", design.lagged, dw) - e * (dS / S)[:, None]) / unit
    for kind in set(design.kinds):
        g = np.array([k == kind for k in design.kinds])
        zz, dzu, dzk, dzn = value_and_grads(kind, u[g], lk[g, None], n[g, None])
        z[g] = zz
        if with_grad:
            gd[g], gk[g], gn[g] = dzu * du[g], dzk, dzn
    return z, gd, gk, gn


def _steady(design: Design, theta: np.ndarray, c: int, x: float):
    """``z^ss(x)`` of channel c and its derivatives along theta_c."""
    d, lk, n = theta[c]
    # steady state: e = S x, so u = x / scale does not depend on the decay
    u = np.array([x / design.scale[c]])
    z, dzu, dzk, dzn = value_and_grads(design.kinds[c], u, lk, n)
    return float(z[0]), 0.0, float(dzk[0]), float(dzn[0])


class Projector:
    """Projects the baseline columns out of vectors: ``P v = v - Q (Q^T v)``."""

    def __init__(self, base: np.ndarray):
        self.q, _ = np.linalg.qr(base) if base.shape[1] else (np.zeros((base.shape[0], 0)), None)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        return v - self.q @ (self.q.T @ v)


def solve_inner(design: Design, theta: np.ndarray, proj: Projector | None = None, with_grad: bool = True,
                y: np.ndarray | None = None, lift_targets: np.ndarray | None = None) -> InnerSolution:
    """Exact bounded least squares at ``theta`` and the envelope gradient of its objective."""
    proj = proj or Projector(design.base)
    y = design.y if y is None else y
    C = design.n_channels
    z, gd, gk, gn = features(design, theta, with_grad)
    Z = z.T
    A = proj(Z)
    b = proj(y)
    extra_A, extra_b = [], []
    lift_rows = []
    for i, (c, x, dx, dy, wt) in enumerate(design.lift):
        z1, d1, k1, n1 = _steady(design, theta, c, x + dx)
        z0, d0, k0, n0 = _steady(design, theta, c, x)
        row = np.zeros(C)
        row[c] = wt * (z1 - z0)
        target = dy if lift_targets is None else lift_targets[i]
        extra_A.append(row)
        extra_b.append(wt * target)
        lift_rows.append((c, wt, np.array([d1 - d0, k1 - k0, n1 - n0])))
    if design.ridge > 0:
        extra_A.append(np.sqrt(design.ridge) * np.eye(C))
        extra_b.append(np.zeros(C))
    if extra_A:
        A_full = np.vstack([A] + [np.atleast_2d(a) for a in extra_A])
        b_full = np.concatenate([b] + [np.atleast_1d(v) for v in extra_b])
    else:
        A_full, b_full = A, b
    beta, _ = nnls(A_full, b_full, maxiter=50 * max(C, 10))
    r_all = b_full - A_full @ beta
    objective = float(r_all @ r_all)
    r = r_all[: len(b)]
    gamma = np.zeros(design.base.shape[1])
    if not with_grad and design.base.shape[1]:  # only the final solve needs gamma
        gamma = np.linalg.lstsq(design.base, y - Z @ beta, rcond=None)[0]
    grad = np.zeros((C, 3))
    if with_grad:
        # envelope theorem: dF/dtheta = -2 r^T (dZ/dtheta) beta; P r = r, so the raw derivative serves
        grad[:, 0] = -2.0 * (gd @ r) * beta
        grad[:, 1] = -2.0 * (gk @ r) * beta
        grad[:, 2] = -2.0 * (gn @ r) * beta
        for i, (c, wt, dz) in enumerate(lift_rows):
            ri = r_all[len(b) + i]
            grad[c] += -2.0 * ri * wt * dz * beta[c]
    return InnerSolution(objective, gamma, beta, Z, r, grad.ravel())


@dataclass(frozen=True)
class OuterResult:
    """Best point of the multi-start search."""

    theta: np.ndarray
    inner: InnerSolution
    start_objectives: tuple[float, ...]
    n_evaluations: int
    converged: bool


def start_points(design: Design, n_starts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A central start (decay 0.3, kappa = S, n = 1 clipped) and ``n_starts - 1`` seeded random ones."""
    lo, hi = design.bounds[:, :, 0], design.bounds[:, :, 1]
    centre = np.column_stack([np.full(len(lo), 0.3), np.zeros(len(lo)), np.ones(len(lo))])
    pts = [np.clip(centre, lo, hi)]
    for _ in range(max(n_starts - 1, 0)):
        d = rng.uniform(0.0, 0.8, len(lo))
        lk = rng.uniform(-1.0, 1.2, len(lo))
        n = rng.uniform(0.6, 2.5, len(lo))
        pts.append(np.clip(np.column_stack([d, lk, n]), lo, hi))
    return pts


def minimise(design: Design, starts: list[np.ndarray], max_iter: int = 500,
             y: np.ndarray | None = None, lift_targets: np.ndarray | None = None,
             on_start: Callable[[int], None] | None = None, ftol: float = 1e-12) -> OuterResult:
    """L-BFGS-B from every start; the best objective wins (ties: the first).

    ``ftol`` is L-BFGS-B's relative reduction test (1e-12 for the point fit; the bootstrap refits
    use 1e-9: their spread is the sampling noise, far above that).
    """
    proj = Projector(design.base)
    bounds = [tuple(b) for b in design.bounds.reshape(-1, 2)]
    C = design.n_channels
    n_eval = 0

    def fun(flat: np.ndarray):
        nonlocal n_eval
        n_eval += 1
        theta = flat.reshape(C, 3)
        sol = solve_inner(design, theta, proj, True, y, lift_targets)
        pen, pen_grad = design.penalty(theta)
        return sol.objective + pen, sol.gradient + pen_grad.ravel()

    from threadpoolctl import threadpool_limits

    best, best_val, objectives, converged = None, np.inf, [], False
    # L-BFGS-B's small dense updates go through BLAS: with 2 BLAS threads on a busy 2-core machine each
    # call paid ~4 ms of thread hand-off (x200 slower than one thread), so pin BLAS to one thread.
    with threadpool_limits(limits=1):
        for i, x0 in enumerate(starts):
            res = minimize(fun, x0.ravel(), jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": max_iter, "ftol": ftol, "gtol": 1e-8})
            objectives.append(float(res.fun))
            if res.fun < best_val:
                best, best_val, converged = res.x, float(res.fun), bool(res.success)
            if on_start is not None:
                on_start(i)
    theta = np.asarray(best).reshape(C, 3)
    inner = solve_inner(design, theta, proj, False, y, lift_targets)
    return OuterResult(theta, inner, tuple(objectives), n_eval, converged)
