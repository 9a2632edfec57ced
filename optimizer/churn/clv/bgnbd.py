"""BG/NBD: beta-geometric / negative-binomial model of repeat purchasing (Fader, Hardie & Lee 2005).

Model. While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``
(shape ``r``, rate ``alpha``); after each purchase she drops out for good with probability
``p ~ Beta(a, b)``. Data per customer: ``x`` repeat purchases, ``t_x`` age at the last one, ``T``
age at the end of observation (any time unit: days or weeks; ``alpha`` is in that unit).

Likelihood (FHL 2005, eq. 6), with ``B`` the beta function::

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

computed as ``A1 + A2 + logaddexp(A3, A4)`` with ``gammaln`` (no overflow for large ``x``) and an
analytic gradient, so 1M customers fit in seconds.

Source: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284; expected purchases with the
Gaussian hypergeometric function (eq. 10) and P(alive) (eq. 13 of the technical note).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from optimizer.churn.clv._base import PurchaseModel, check_rfm, collapse, fit_log_params, logaddexp


def bgnbd_loglik(params, x, tx, T, weights=None, grad: bool = False):
    """Total log-likelihood (and optionally its gradient w.r.t. log-parameters).

    ``params`` = (r, alpha, a, b), all > 0.
    """
    r, alpha, a, b = params
    w = np.ones_like(x) if weights is None else weights
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    A3 = -(r + x) * np.log(alpha + T)
    pos = x > 0
    bx1 = np.where(pos, b + x - 1, 1.0)
    A4 = np.where(pos, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
    M = logaddexp(A3, A4)
    ll = float(np.sum(w * (A1 + A2 + M)))
    if not grad:
        return ll
    w3 = np.exp(A3 - M)
    w4 = np.where(pos, np.exp(A4 - M), 0.0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
    g = np.array([np.sum(w * d_r) * r, np.sum(w * d_alpha) * alpha, np.sum(w * d_a) * a, np.sum(w * d_b) * b])
    return ll, g


class _Prepared:
    """Collapsed rows with the per-``x``, per-``T`` and per-``t_x`` codes of :func:`fast_loglik`.

    Terms that depend on ``x`` alone (the gamma functions) are summed over the distinct ``x``
    values with their total weight, and logs of ``alpha + T`` are taken over the distinct ``T``
    only: with integer days that turns ~10 special-function calls per row into a few per value.
    """

    def __init__(self, x, tx, T, w):
        self.x, self.w = x, w
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.wx = np.bincount(self.ix, weights=w)
        self.uT, self.iT = np.unique(T, return_inverse=True)
        self.utx, self.itx = np.unique(tx, return_inverse=True)
        self.pos = x > 0


def fast_loglik(params, d: _Prepared):
    """Same value and gradient as ``bgnbd_loglik(params, ..., grad=True)`` on prepared data."""
    r, alpha, a, b = params
    ux, wx, w, x = d.ux, d.wx, d.w, d.x
    A1 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux)
    LT = np.log(alpha + d.uT)[d.iT]
    Ltx = np.log(alpha + d.utx)[d.itx]
    rx = r + x
    bx1_u = np.where(ux > 0, b + ux - 1, 1.0)
    A3 = -rx * LT
    A4 = np.where(d.pos, np.log(a) - np.log(bx1_u)[d.ix] - rx * Ltx, -np.inf)
    M = logaddexp(A3, A4)
    ll = float(wx @ (A1 + A2) + w @ M)
    w3 = w * np.exp(A3 - M)
    w4 = np.where(d.pos, w * np.exp(A4 - M), 0.0)
    w4x = np.bincount(d.ix, weights=w4, minlength=ux.size)
    d_r = wx @ (digamma(r + ux) - digamma(r) + np.log(alpha)) - w3 @ LT - w4 @ Ltx
    d_alpha = (wx.sum() * r / alpha - (w3 * rx) @ (1.0 / (alpha + d.uT))[d.iT]
               - (w4 * rx) @ (1.0 / (alpha + d.utx))[d.itx])
    d_a = wx @ (digamma(a + b) - digamma(a + b + ux)) + w4.sum() / a
    d_b = wx @ (digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux)) - w4x @ (1.0 / bx1_u)
    return ll, np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


class BetaGeoModel(PurchaseModel):
    """BG/NBD estimator (scikit-learn manner: ``fit`` returns self, fitted state ends in ``_``).

    Parameters
    ----------
    params:
        Optional known parameters ``{"r", "alpha", "a", "b"}`` (skip fitting, e.g. published values).

    Attributes (after fit)
    ----------------------
    params_: dict r, alpha (per time unit of T), a, b.
    loglik_: total log-likelihood; n_: number of customers; converged_: optimiser status.
    """

    MODEL = "bgnbd"
    PARAM_NAMES = ("r", "alpha", "a", "b")
    _LOGLIK = staticmethod(bgnbd_loglik)

    def __init__(self, params: dict[str, float] | None = None):
        self.params_ = dict(params) if params is not None else None
        self.loglik_ = None
        self.n_ = None
        self.converged_ = True

    def fit(self, frequency, recency, T, start=(1.0, 1.0, 1.0, 1.0)) -> "BetaGeoModel":
        """Maximum likelihood on a (frequency, recency, T) summary; returns self."""
        x, tx, t = check_rfm(frequency, recency, T)
        (ux, utx, ut), w = collapse(x, tx, t)
        # Start alpha near the scale of the data so the optimiser begins in the right basin.
        start = np.array(start, dtype=float)
        start[1] = max(float(np.mean(t)) / 8.0, 1e-3) if start[1] == 1.0 else start[1]
        prepared = _Prepared(ux, utx, ut, w)
        res = fit_log_params(lambda z: tuple(-v for v in fast_loglik(np.exp(z), prepared)),
                             start, float(x.size), "BG/NBD")
        self.params_ = dict(zip(self.PARAM_NAMES, map(float, res.params)))
        self.loglik_, self.n_, self.converged_ = res.loglik, int(x.size), res.converged
        return self

    def _p(self):
        p = self._check_fitted()
        return p["r"], p["alpha"], p["a"], p["b"]

    def log_odds_dead(self, frequency, recency, T) -> np.ndarray:
        """log[(1 - P(alive)) / P(alive)] (``-inf`` for customers with no repeat purchase)."""
        r, alpha, a, b = self._p()
        x, tx, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        pos = x > 0
        bx1 = np.where(pos, b + x - 1, 1.0)
        term = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        return np.where(pos, term, -np.inf)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(still active at T | x, t_x, T), 0-1 (FHL 2005 technical note, eq. 13)."""
        return expit(-self.log_odds_dead(frequency, recency, T))

    def expected_purchases_new(self, t) -> np.ndarray:
        """E[X(t)]: purchases of a new customer in her first ``t`` time units (FHL 2005 eq. 7)."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (FHL 2005 eq. 10)."""
        r, alpha, a, b = self._p()
        x, tx, tt = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        z = t / (alpha + tt + t)
        ratio = np.exp((r + x) * (np.log(alpha + tt) - np.log(alpha + tt + t)))
        body = (a + b + x - 1) / (a - 1) * (1 - ratio * hyp2f1(r + x, b + x, a + b + x - 1, z))
        return body * self.p_alive(x, tx, tt)
