"""Geometric adstock (carry-over) in the budget section's convention, with derivatives.

Effective spend ``e_t = sum_{l=0..L} decay^l * x_{t-l}`` (currency per period), weights NOT
normalised (they sum to ``S(decay) = (1 - decay^(L+1)) / (1 - decay)``), exactly the formula of
``budget.advanced.rules[].adstock`` (optimizer/budget/advanced/config.py ``Adstock``) so a fitted
``decay`` and ``max_lag`` carry over unchanged. Spend before the first observed period is taken as
0 (as Robyn and PyMC-Marketing do), so the first ``L`` periods are slightly under-adstocked.

Spending ``x`` every period gives ``e = S(decay) * x`` in steady state: that factor turns the fitted
curve of effective spend into the per-period curve of sustained spend written to the curves file.
"""

from __future__ import annotations

import numpy as np


def lag_matrix(x: np.ndarray, max_lag: int) -> np.ndarray:
    """``out[..., t, l] = x[..., t - l]`` (0 before the start); ``x`` has time on its last axis."""
    x = np.asarray(x, dtype=float)
    T = x.shape[-1]
    out = np.zeros(x.shape + (max_lag + 1,))
    for lag in range(max_lag + 1):
        out[..., lag:, lag] = x[..., : T - lag]
    return out


def weights(decay: np.ndarray | float, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``decay^l`` (l = 0..L) and their derivative ``l * decay^(l-1)``; last axis is the lag."""
    d = np.asarray(decay, dtype=float)[..., None]
    lags = np.arange(max_lag + 1, dtype=float)
    w = np.power(d, lags)
    dw = np.where(lags > 0, lags * np.power(d, np.maximum(lags - 1, 0)), 0.0)
    return w, dw


def geometric(x: np.ndarray, decay: float, max_lag: int) -> np.ndarray:
    """Effective spend of one series ``x`` (currency per period)."""
    w, _ = weights(decay, max_lag)
    return lag_matrix(x, max_lag) @ w


def steady_state_factor(decay: np.ndarray | float, max_lag: int) -> np.ndarray:
    """``S = sum_{l=0..L} decay^l``: effective spend per currency spent every period."""
    w, _ = weights(decay, max_lag)
    return w.sum(axis=-1)


def steady_state_factor_grad(decay: np.ndarray | float, max_lag: int) -> np.ndarray:
    """``dS/d decay``."""
    _, dw = weights(decay, max_lag)
    return dw.sum(axis=-1)
