"""Shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007).

Model. Each period a customer renews with her own probability ``1 - theta``, ``theta ~ Beta(alpha,
beta)``. For a cohort observed over periods 0..n with ``n_alive[t]`` customers still active at the
start of period t (``n_alive[0]`` = the cohort)::

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)       (churn in period t = 1, 2, ...)
    S(t)     = B(alpha, beta + t) / B(alpha, beta)               (still active after t periods)
    r(t)     = (beta + t - 1) / (alpha + beta + t - 1)           (retention rate in period t)

Log-likelihood: ``sum_t lost[t] log P(T = t) + n_alive[n] log S(n)``.

Discounted expected residual lifetime of a customer who has renewed ``k`` times (Fader & Hardie
2010, "Customer-Base Valuation in a Contractual Setting", eq. 6), with discount rate ``d`` per
period::

    DERL(d | k) = (beta + k)/(alpha + beta + k) * 2F1(1, beta + k + 1; alpha + beta + k + 1; 1/(1+d))

This is the expected discounted number of renewals still to come, the next one undiscounted
(``sum_{j>=1} S(k+j)/S(k) / (1+d)^(j-1)``: a renewal is paid when it happens). Sources: P. S. Fader,
B. G. S. Hardie (2007), "How to Project Customer Retention", Journal of Interactive Marketing
21(1), 76-90; P. S. Fader, B. G. S. Hardie (2010), Marketing Science 29(1), 85-93.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, hyp2f1

from optimizer.churn.clv._base import FittedMixin, as_float, fit_log_params, numeric_grad
from optimizer.errors import DataError


def sbg_loglik(params, n_alive) -> float:
    """Log-likelihood of a cohort's survivor counts ``n_alive`` (start of periods 0..n)."""
    alpha, beta = params
    n = np.asarray(n_alive, dtype=float)
    t = np.arange(1, n.size)
    lost = n[:-1] - n[1:]
    log_pt = betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)
    log_sn = betaln(alpha, beta + n.size - 1) - betaln(alpha, beta)
    return float(np.sum(lost * log_pt) + n[-1] * log_sn)


class ShiftedBetaGeometricModel(FittedMixin):
    """sBG estimator; ``params_`` = alpha, beta (dimensionless)."""

    MODEL = "sbg"
    PARAM_NAMES = ("alpha", "beta")

    def __init__(self, params: dict[str, float] | None = None):
        self.params_ = dict(params) if params is not None else None
        self.loglik_ = None
        self.n_ = None
        self.converged_ = True

    def fit(self, n_alive, start=(1.0, 1.0)) -> "ShiftedBetaGeometricModel":
        """Fit on survivor counts at the start of periods 0, 1, ..., n (non-increasing, n >= 1)."""
        n = as_float("n_alive", n_alive)
        if n.size < 2:
            raise DataError(f"n_alive has {n.size} value(s); the sBG needs the cohort and at least one later count.")
        if (n < 0).any() or (np.diff(n) > 0).any() or n[0] <= 0:
            raise DataError(f"n_alive {n.tolist()} must start > 0 and never increase (survivors of one cohort).")

        def negll_grad(z):
            f = lambda zz: -sbg_loglik(np.exp(zz), n)  # noqa: E731
            return f(z), numeric_grad(f, z, 1e-6)

        res = fit_log_params(negll_grad, np.array(start, dtype=float), float(n[0]), "sBG")
        self.params_ = dict(zip(self.PARAM_NAMES, map(float, res.params)))
        self.loglik_, self.n_, self.converged_ = res.loglik, int(n[0]), res.converged
        return self

    def survival(self, t) -> np.ndarray:
        """S(t): share of the cohort still active after ``t`` periods (0-1)."""
        p = self._check_fitted()
        t = np.asarray(t, dtype=float)
        return np.exp(betaln(p["alpha"], p["beta"] + t) - betaln(p["alpha"], p["beta"]))

    def retention_rate(self, t) -> np.ndarray:
        """r(t) = S(t)/S(t-1): share of those active in period t-1 who renew into t (t >= 1)."""
        p = self._check_fitted()
        t = np.asarray(t, dtype=float)
        return (p["beta"] + t - 1) / (p["alpha"] + p["beta"] + t - 1)

    def derl(self, discount_rate: float, renewals=0) -> np.ndarray:
        """Discounted expected residual lifetime (periods) after ``renewals`` renewals; see module docstring."""
        p = self._check_fitted()
        if discount_rate <= 0:
            raise ValueError(f"discount_rate is {discount_rate}; it must be > 0 (a fraction per period).")
        a, b, k = p["alpha"], p["beta"], np.asarray(renewals, dtype=float)
        return (b + k) / (a + b + k) * hyp2f1(1.0, b + k + 1, a + b + k + 1, 1.0 / (1.0 + discount_rate))
