"""Seeded BG/NBD customers with known parameters (for recovery tests and benchmarks)."""

from __future__ import annotations

import numpy as np


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T, seed: int | None = None):
    """Summaries (frequency, recency, T) of ``n`` customers drawn from BG/NBD(r, alpha, a, b).

    Each customer draws ``lambda ~ Gamma(r, rate alpha)`` and ``p ~ Beta(a, b)``; purchases follow a
    Poisson(lambda) process from time 0 (the first purchase, not counted); after each repeat purchase
    she drops out with probability ``p`` (FHL 2005, assumptions i-v). ``T`` is a number or an array.
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    tx = np.zeros(n)
    t = np.zeros(n)
    active = np.arange(n)
    while active.size:
        t[active] += rng.exponential(1.0, active.size) / lam[active]
        bought = t[active] <= T[active]
        active = active[bought]
        x[active] += 1
        tx[active] = t[active]
        active = active[rng.random(active.size) >= p[active]]
    return x, tx, T
