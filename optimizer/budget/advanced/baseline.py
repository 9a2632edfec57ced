"""Baseline the allocator is compared with: multi-start SLSQP on the smooth curves (scipy).

This is what gradient-based MMM allocators do (Robyn, PyMC-Marketing): maximise ``sum_c f_c(x_c)``
subject to ``sum_c x_c <= budget`` and ``0 <= x_c <= cap_c`` from random starts. On S-curves each
start may stop at a local optimum; the best of ``n_starts`` is reported. Used by tests and
benchmarks only. Money in currency; response in response_unit.
"""

from __future__ import annotations

import numpy as np


def multistart_slsqp(curves, budget: float, caps: np.ndarray, n_starts: int = 20,
                     seed: int | None = 0) -> tuple[float, np.ndarray]:
    """(best objective, best spend per channel) over ``n_starts`` SLSQP runs from random feasible starts."""
    import warnings

    from scipy.optimize import minimize

    from optimizer.seeding import make_rng

    rng, _ = make_rng(seed)
    caps = np.asarray(caps, dtype=float)
    scale = max(budget, 1.0)

    def f(z):
        x = z * scale
        return -sum(float(c.value(np.array(xi))) for c, xi in zip(curves, x)) / scale

    def g(z):
        x = z * scale
        return -np.array([float(c.slope(np.array(max(xi, 1e-12)))) for c, xi in zip(curves, x)])

    cons = [{"type": "ineq", "fun": lambda z: budget / scale - z.sum(), "jac": lambda z: -np.ones_like(z)}]
    bounds = [(0.0, cap / scale) for cap in caps]
    best, best_x = -np.inf, np.zeros(len(curves))
    for _ in range(n_starts):
        w = rng.dirichlet(np.ones(len(curves))) * budget
        z0 = np.minimum(w, caps) / scale
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SLSQP's own "values outside bounds" notes on restarts
            res = minimize(f, z0, jac=g, method="SLSQP", bounds=bounds, constraints=cons,
                           options={"maxiter": 500, "ftol": 1e-12})
        x = np.clip(res.x * scale, 0.0, caps)
        if x.sum() > budget:
            x *= budget / x.sum()
        val = sum(float(c.value(np.array(xi))) for c, xi in zip(curves, x))
        if val > best:
            best, best_x = val, x
    return best, best_x
