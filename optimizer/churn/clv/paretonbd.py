"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), likelihood as in Fader, Hardie & Lee (2005).

Model. While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; her
unobserved lifetime is exponential with rate ``mu ~ Gamma(s, beta)``. Data as for BG/NBD
(``x``, ``t_x``, ``T`` in one time unit).

Likelihood (Fader, Hardie & Lee 2005, "A Note on Deriving the Pareto/NBD Model and Related
Expressions", eq. 22)::

    L = G(r+x) alpha^r beta^s / G(r) * [ 1 / ((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) * A0 ]

with, for alpha >= beta (the other case swaps alpha and beta and uses r+x instead of s+1),
``A0 = F(t_x) - F(T)``, ``F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x)``.

Numerical care. ``2F1(m, b; m+1; z)`` grows without bound as z -> 1 for large ``m``; we evaluate its
logarithm through Euler's transformation ``2F1(m, b; m+1; z) = (1-z)^(1-b) 2F1(1, m+1-b; m+1; z)``,
whose right-hand series has bounded terms, and form ``log(F(t_x) - F(T))`` with ``log1p(-exp(.))``.
The gradient is by central differences over the collapsed unique rows; the hypergeometric terms
are evaluated once per distinct (x, t_x) and (x, T) pair.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from optimizer.churn.clv._base import PurchaseModel, check_rfm, collapse, fit_log_params, logaddexp, numeric_grad


def _log_hyp_m(m, b, z):
    """log 2F1(m, b; m+1; z) for 0 <= z < 1 via Euler's transformation (see module docstring)."""
    return (1.0 - b) * np.log1p(-z) + np.log(hyp2f1(1.0, m + 1.0 - b, m + 1.0, z))


def _log_f(params, x, y):
    """log F(y) of the module docstring for each (x, y) pair."""
    r, alpha, s, beta = params
    m = r + s + x
    if alpha >= beta:
        base, bb, c = alpha, s + 1.0, alpha - beta
    else:
        base, bb, c = beta, r + x, beta - alpha
    return _log_hyp_m(m, bb, c / (base + y)) - m * np.log(base + y)


class _Pairs:
    """Distinct (x, t_x) and (x, T) pairs: F(t_x) and F(T) depend on those pairs only, and with
    whole-day data there are several times fewer pairs than (x, t_x, T) rows."""

    def __init__(self, x, tx, T):
        p1, self.i1 = np.unique(np.column_stack([x, tx]), axis=0, return_inverse=True)
        p2, self.i2 = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        self.x1, self.y1, self.x2, self.y2 = p1[:, 0], p1[:, 1], p2[:, 0], p2[:, 1]
        self.i1, self.i2 = self.i1.ravel(), self.i2.ravel()


def _log_a0(params, x, tx, T, pairs: _Pairs | None = None):
    """log A0 (``-inf`` where t_x == T, where A0 is 0)."""
    if pairs is None:
        lf1, lf2 = _log_f(params, x, tx), _log_f(params, x, T)
    else:
        lf1 = _log_f(params, pairs.x1, pairs.y1)[pairs.i1]
        lf2 = _log_f(params, pairs.x2, pairs.y2)[pairs.i2]
    diff = np.minimum(lf2 - lf1, 0.0)
    with np.errstate(divide="ignore"):
        return lf1 + np.log(-np.expm1(diff))


def paretonbd_loglik(params, x, tx, T, weights=None, pairs: _Pairs | None = None) -> float:
    """Total log-likelihood; ``params`` = (r, alpha, s, beta), all > 0 (``pairs``: see :class:`_Pairs`)."""
    r, alpha, s, beta = params
    w = np.ones_like(x) if weights is None else weights
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    t1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    t2 = np.log(s) - np.log(r + s + x) + _log_a0(params, x, tx, T, pairs)
    return float(np.sum(w * (head + logaddexp(t1, t2))))


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD estimator; ``params_`` = r, alpha, s, beta (alpha and beta per time unit of T)."""

    MODEL = "paretonbd"
    PARAM_NAMES = ("r", "alpha", "s", "beta")
    _LOGLIK = staticmethod(paretonbd_loglik)

    def __init__(self, params: dict[str, float] | None = None):
        self.params_ = dict(params) if params is not None else None
        self.loglik_ = None
        self.n_ = None
        self.converged_ = True

    def fit(self, frequency, recency, T, start=None) -> "ParetoNBDModel":
        """Maximum likelihood on a (frequency, recency, T) summary; returns self."""
        x, tx, t = check_rfm(frequency, recency, T)
        (ux, utx, ut), w = collapse(x, tx, t)
        scale = max(float(np.mean(t)) / 3.0, 1e-3)
        start = np.array(start if start is not None else (0.5, scale, 0.5, scale), dtype=float)

        pairs = _Pairs(ux, utx, ut)

        def negll(z):
            return -paretonbd_loglik(np.exp(z), ux, utx, ut, w, pairs)

        def negll_grad(z):
            with np.errstate(all="ignore"):
                f0 = negll(z)
                # Forward differences (5 evaluations, not 9): the step error, ~1e-7 relative, is far
                # below the published precision of the estimates.
                return f0, numeric_grad(negll, z, 1e-7, f0=f0)

        res = fit_log_params(negll_grad, start, float(x.size), "Pareto/NBD")
        self.params_ = dict(zip(self.PARAM_NAMES, map(float, res.params)))
        self.loglik_, self.n_, self.converged_ = res.loglik, int(x.size), res.converged
        return self

    def _p(self):
        p = self._check_fitted()
        return p["r"], p["alpha"], p["s"], p["beta"]

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(still active at T | x, t_x, T), 0-1 (FHL 2005 note, eq. 18)."""
        r, alpha, s, beta = params = self._p()
        x, tx, t = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(frequency, recency, T))
        term = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + t) + s * np.log(beta + t)
                + _log_a0(params, x, tx, t))
        return expit(-term)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T] in the next ``t`` time units (FHL 2005 note, eq. 41)."""
        r, alpha, s, beta = self._p()
        x, tx, tt = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        L = np.log(beta + tt) - np.log(beta + tt + t)
        # [1 - ((beta+T)/(beta+T+t))^(s-1)] / (s-1), continuous at s = 1.
        frac = -np.expm1((s - 1) * L) / (s - 1) if abs(s - 1) > 1e-10 else -L
        return (r + x) * (beta + tt) / (alpha + tt) * frac * self.p_alive(x, tx, tt)
