"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

Model. A customer's transaction values are Gamma(p, nu) with her own rate ``nu ~ Gamma(q, gamma)``;
spend is independent of the purchase process. Data: ``x`` repeat transactions (>= 1) and their mean
value ``m`` (currency per transaction). Density of the mean (FHL 2005b, eq. 3 of the note)::

    f(m | p, q, gamma, x) = G(px+q) / (G(px) G(q)) * gamma^q x^(px) m^(px-1) / (gamma + x m)^(px+q)

Conditional expected spend per transaction (eq. 5)::

    E[M | m, x] = (q - 1)/(px + q - 1) * p*gamma/(q - 1) + px/(px + q - 1) * m
                = p (gamma + x m) / (px + q - 1)        (currency per transaction; needs q > 1)

a weighted mean of the population mean ``p gamma/(q-1)`` and the customer's own mean.

Source: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis", Journal of Marketing Research 42(4), 415-430, and B. G. S. Hardie's note
"The Gamma-Gamma Model of Monetary Value" (2013).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from optimizer.churn.clv._base import FittedMixin, as_float, fit_log_params
from optimizer.errors import DataError


def gammagamma_loglik(params, x, m, grad: bool = False, _pre=None):
    """Total log-likelihood of the mean spends ``m`` given ``x`` (and its log-parameter gradient).

    ``_pre`` = (log m, log x, x m) may be passed to skip recomputing them at each iteration.
    """
    p, q, g = params
    log_m, log_x, xm = _pre if _pre is not None else (np.log(m), np.log(x), x * m)
    px = p * x
    lgm = np.log(g + xm)
    ll_i = (gammaln(px + q) - gammaln(px) + (px - 1) * log_m + px * log_x - (px + q) * lgm)
    ll = float(np.sum(ll_i)) + x.size * (q * np.log(g) - gammaln(q))
    if not grad:
        return ll
    dpq = digamma(px + q)
    d_p = np.dot(x, dpq - digamma(px) + log_m + log_x - lgm)
    d_q = np.sum(dpq - lgm) + x.size * (np.log(g) - digamma(q))
    d_g = x.size * q / g - np.sum((px + q) / (g + xm))
    return ll, np.array([d_p * p, d_q * q, d_g * g])


class GammaGammaModel(FittedMixin):
    """Gamma-Gamma estimator; ``params_`` = p, q, gamma (gamma in currency per transaction)."""

    MODEL = "gammagamma"
    PARAM_NAMES = ("p", "q", "gamma")

    def __init__(self, params: dict[str, float] | None = None):
        self.params_ = dict(params) if params is not None else None
        self.loglik_ = None
        self.n_ = None
        self.converged_ = True

    def fit(self, frequency, monetary, start=(1.0, 1.0, 1.0)) -> "GammaGammaModel":
        """Fit on customers with at least one repeat purchase (``frequency >= 1``, ``monetary > 0``).

        Rows with ``frequency == 0`` are ignored (they carry no repeat-spend information); a
        ``monetary <= 0`` among the others is a :class:`DataError`.
        """
        x, m = as_float("frequency", frequency), as_float("monetary", monetary)
        keep = x > 0
        x, m = x[keep], m[keep]
        if x.size == 0:
            raise DataError("Gamma-Gamma needs customers with at least one repeat purchase; there are none.")
        if (m <= 0).any():
            raise DataError(f"{int((m <= 0).sum())} customer(s) with repeat purchases have monetary <= 0; "
                            "Gamma-Gamma needs a positive mean spend (handle returns before fitting).")
        start = np.array(start, dtype=float)
        start[2] = float(np.mean(m)) if start[2] == 1.0 else start[2]
        pre = (np.log(m), np.log(x), x * m)
        res = fit_log_params(lambda z: tuple(-v for v in gammagamma_loglik(np.exp(z), x, m, grad=True, _pre=pre)),
                             start, float(x.size), "Gamma-Gamma")
        self.params_ = dict(zip(self.PARAM_NAMES, map(float, res.params)))
        self.loglik_, self.n_, self.converged_ = res.loglik, int(x.size), res.converged
        return self

    def population_mean_spend(self) -> float:
        """E[M] = p gamma / (q - 1), currency per transaction (inf when q <= 1)."""
        p = self._check_fitted()
        return p["p"] * p["gamma"] / (p["q"] - 1) if p["q"] > 1 else float("inf")

    def expected_spend(self, frequency, monetary) -> np.ndarray:
        """E[M | m, x] per transaction (currency); customers with x = 0 get the population mean."""
        pr = self._check_fitted()
        p, q, g = pr["p"], pr["q"], pr["gamma"]
        x = np.asarray(frequency, dtype=float)
        m = np.where(x > 0, np.asarray(monetary, dtype=float), 0.0)
        return p * (g + x * m) / (p * x + q - 1)
