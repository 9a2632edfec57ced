"""Probability that each arm's random score is the largest, by one-dimensional quadrature.

For independent continuous scores ``X_i`` with CDF ``F_i`` and quantile function ``Q_i``::

    P(arm i is best) = E[ prod_{j != i} F_j(X_i) ] = integral prod_{j != i} F_j(Q_i(Phi(z))) phi(z) dz

Writing ``X_i = Q_i(Phi(z))`` with z standard normal puts every arm's posterior on the same
footing whatever its shape (a Beta(10000, 190000) is a needle in x but a unit normal in z) and
reaches deep into the tails (|z| <= 9, tail mass 1e-19), where a rival's small chance of being
best lives. The integrand is smooth in z, so the trapezoid rule on 256 nodes is accurate to
~1e-7 (checked against 4e6 Monte Carlo draws in the tests), deterministic, and 40 times cheaper
than the 40,000 Monte Carlo draws a 0.01 tolerance would need at 4 standard errors.

``ppf_z(z)`` must return the quantile at ``Phi(z)`` computed accurately in both tails (use the
complementary inverse for z > 0).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

PpfZ = Callable[[np.ndarray], np.ndarray]
Cdf = Callable[[np.ndarray], np.ndarray]

N_NODES = 256
Z_MAX = 9.0
_Z = np.linspace(-Z_MAX, Z_MAX, N_NODES)
_W = np.exp(-0.5 * _Z * _Z)
_W /= _W.sum()


def prob_best(ppfs: Sequence[PpfZ], cdfs: Sequence[Cdf]) -> np.ndarray:
    """Probabilities (summing to 1) that each of the given arms draws the largest score."""
    k = len(ppfs)
    if k == 1:
        return np.ones(1)
    out = np.empty(k)
    for i in range(k):
        x = ppfs[i](_Z)
        prod = _W.copy()
        for j in range(k):
            if j != i:
                prod *= cdfs[j](x)
        out[i] = prod.sum()
    total = out.sum()
    if not total > 0:  # every arm degenerate at the same point: fall back to uniform
        return np.full(k, 1.0 / k)
    return out / total


BETA_NODES = 64


def beta_prob_best(a: np.ndarray, b: np.ndarray, scale: np.ndarray | None = None,
                   nodes: int = BETA_NODES) -> np.ndarray:
    """P(arm i has the largest Beta(a_i, b_i) / scale_i), for Beta posteriors, fast.

    The quantile-based rule above needs ``betaincinv`` (~1 us per call here) at every node; for
    Beta arms a shared grid avoids it. Each arm contributes ``nodes`` points spread over its
    posterior through the logit-normal approximation (the logit of a Beta has mean
    digamma(a) - digamma(b) and variance trigamma(a) + trigamma(b), exactly); every arm's CDF is
    evaluated once on the union grid (K x K*nodes calls of ``betainc`` instead of K*K*256 calls
    plus K*256 inversions), and ``P_i = integral prod_{j != i} F_j dF_i`` is summed with the
    trapezoid rule in F_i. Error <= 1e-3 at 64 nodes on the cases in the tests (1e6-draw
    references), 5-10 times faster than the quantile rule.
    """
    from scipy import special

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    k = len(a)
    if k == 1:
        return np.ones(1)
    c = np.ones(k) if scale is None else np.asarray(scale, dtype=float)
    mu = special.digamma(a) - special.digamma(b)
    sd = np.sqrt(special.polygamma(1, a) + special.polygamma(1, b))
    z = np.linspace(-Z_MAX, Z_MAX, nodes)
    x = (special.expit(mu[:, None] + sd[:, None] * z[None, :]) / c[:, None]).ravel()
    x = np.unique(np.concatenate(([0.0], x, 1.0 / c)))
    F = special.betainc(a[:, None], b[:, None], np.clip(x[None, :] * c[:, None], 0.0, 1.0))
    # prod_{j != i} F_j for every i at once: exclusive products from prefix and suffix products
    ones = np.ones((1, F.shape[1]))
    prefix = np.cumprod(np.vstack([ones, F[:-1]]), axis=0)
    suffix = np.cumprod(np.vstack([ones, F[:0:-1]]), axis=0)[::-1]
    others = prefix * suffix
    dF = F[:, 1:] - F[:, :-1]
    out = np.sum(dF * 0.5 * (others[:, :-1] + others[:, 1:]), axis=1)
    total = out.sum()
    if not total > 0:
        return np.full(k, 1.0 / k)
    return out / total


def beta_ppf_z(a: float, b: float, scale: float = 1.0) -> PpfZ:
    """Quantile of Beta(a, b) / scale at Phi(z), accurate in both tails."""
    from scipy import special

    def ppf(z: np.ndarray) -> np.ndarray:
        lo = special.betaincinv(a, b, special.ndtr(np.minimum(z, 0.0)))
        hi = special.betainccinv(a, b, special.ndtr(-np.maximum(z, 0.0)))
        return np.where(z <= 0, lo, hi) / scale

    return ppf


def beta_cdf(a: float, b: float, scale: float = 1.0) -> Cdf:
    """CDF of Beta(a, b) / scale."""
    from scipy import special

    return lambda x: special.betainc(a, b, np.clip(x * scale, 0.0, 1.0))


def t_ppf_z(loc: float, scale: float, df: float) -> PpfZ:
    """Quantile of loc + scale * t_df at Phi(z) (the t is symmetric: use the lower tail twice)."""
    from scipy import special

    def ppf(z: np.ndarray) -> np.ndarray:
        t = special.stdtrit(df, special.ndtr(-np.abs(z)))  # <= 0
        return loc + scale * np.where(z <= 0, t, -t)

    return ppf


def t_cdf(loc: float, scale: float, df: float) -> Cdf:
    """CDF of loc + scale * t_df."""
    from scipy import special

    return lambda x: special.stdtr(df, (x - loc) / scale)


def normal_ppf_z(loc: float, sd: float) -> PpfZ:
    """Quantile of N(loc, sd^2) at Phi(z): exactly loc + sd * z."""
    return lambda z: loc + sd * z


def normal_cdf(loc: float, sd: float) -> Cdf:
    """CDF of N(loc, sd^2)."""
    from scipy import special

    return lambda x: special.ndtr((x - loc) / sd)


def expand(p_eligible: np.ndarray, mask: Sequence[bool] | None, n_arms: int) -> np.ndarray:
    """Put probabilities computed over the eligible arms back into an all-arms vector."""
    if mask is None:
        return p_eligible
    out = np.zeros(n_arms)
    out[np.flatnonzero(np.asarray(mask, dtype=bool))] = p_eligible
    return out


def eligible_indices(mask: Sequence[bool] | None, n_arms: int) -> list[int]:
    """Indices of the eligible arms (all when ``mask`` is None)."""
    return list(range(n_arms)) if mask is None else [i for i in range(n_arms) if mask[i]]
