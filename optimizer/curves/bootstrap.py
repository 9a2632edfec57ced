"""Moving-block bootstrap of residuals (keeps their autocorrelation), seeded.

A draw is ``y* = fitted + r*`` where ``r*`` concatenates blocks of ``block_length`` consecutive
residuals starting at uniformly drawn positions, cut to length T (Kuensch 1989). The default block
length is ``ceil(T^(1/3))`` (6 for 156 weeks).
"""

from __future__ import annotations

import math

import numpy as np


def default_block_length(n: int) -> int:
    """``ceil(n^(1/3))``, at least 2."""
    return max(2, math.ceil(n ** (1 / 3)))


def block_resample(residual: np.ndarray, rng: np.random.Generator, block_length: int | None = None) -> np.ndarray:
    """One moving-block resample of ``residual`` (same length)."""
    r = np.asarray(residual, dtype=float)
    n = len(r)
    b = min(block_length or default_block_length(n), n)
    n_blocks = math.ceil(n / b)
    starts = rng.integers(0, n - b + 1, n_blocks)
    idx = (starts[:, None] + np.arange(b)[None, :]).ravel()[:n]
    return r[idx]
