"""Shared machinery of the customer-base models: input checks, weighting, maximum likelihood.

Every model is fitted by maximum likelihood over the *logarithms* of its (positive) parameters with
L-BFGS-B, from vectorised log-likelihoods (``scipy.special``). Customers with the same summary row
(same ``x``, ``t_x``, ``T``) contribute the same term, so rows are collapsed to unique rows with a
count weight first: with day-resolution data this divides the work by 10-1000.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize

from optimizer.errors import ConvergenceWarning, DataError, NotFittedError


def as_float(name: str, values) -> np.ndarray:
    """1-d float array; NaN/inf is a :class:`DataError` naming the field."""
    a = np.asarray(values, dtype=float).ravel()
    bad = ~np.isfinite(a)
    if bad.any():
        raise DataError(f"{name}: {int(bad.sum())} value(s) are NaN or infinite; every value must be a finite number.")
    return a


def check_rfm(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a (frequency, recency, T) summary; messages count the bad rows.

    ``frequency`` = repeat purchases (integer >= 0), ``recency`` = age at the last purchase
    (0 when frequency is 0), ``T`` = age at the end of observation (> 0, >= recency).
    """
    x, tx, t = as_float("frequency", frequency), as_float("recency", recency), as_float("T", T)
    if not (x.size == tx.size == t.size):
        raise DataError(f"frequency, recency and T have lengths {x.size}, {tx.size}, {t.size}; they must be equal.")
    if x.size == 0:
        raise DataError("the summary has 0 customers; at least one is needed.")
    checks = [
        ((x < 0) | (x != np.round(x)), "frequency is negative or not a whole number"),
        (tx < 0, "recency is negative"),
        (t <= 0, "T is <= 0"),
        (tx > t * (1 + 1e-12), "recency is larger than T"),
        ((x == 0) & (tx != 0), "recency is not 0 although frequency is 0"),
    ]
    for mask, what in checks:
        if mask.any():
            raise DataError(f"{int(mask.sum())} customer(s): {what} (first at row {int(np.argmax(mask))}).")
    return x, tx, np.maximum(t, tx)


def logaddexp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(exp(a) + exp(b)) for arrays where ``b`` may be ``-inf``.

    numpy's ``logaddexp`` took 13 ms on 68k values with ``-inf`` entries (a slow path per such
    value) against ~1 ms for this max-plus-log1p form, which gives the same numbers.
    """
    mx = np.maximum(a, b)
    return mx + np.log1p(np.exp(-np.abs(a - b)))


def collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the columns and their counts (the likelihood weights).

    Each column is coded by a 1-d ``np.unique`` and the codes are combined into one int64 key:
    four 1-d sorts instead of a lexicographic row sort (10x faster at 1M rows).
    """
    key = np.zeros(columns[0].size, dtype=np.int64)
    values = []
    for c in columns:
        u, code = np.unique(c, return_inverse=True)
        values.append(u)
        key = key * u.size + code  # < n**3 for three columns, well inside int64 for n < 2e6 uniques each
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return [c[first] for c in columns], counts.astype(float)


@dataclass(frozen=True)
class MLEResult:
    """Outcome of :func:`fit_log_params`: parameters, log-likelihood (total over customers), status."""

    params: np.ndarray
    loglik: float
    converged: bool
    n_iter: int
    message: str


def fit_log_params(negll_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], start: np.ndarray,
                   n_total: float, name: str, maxiter: int = 2000) -> MLEResult:
    """Minimise ``negll(log theta)`` (total negative log-likelihood) from ``start`` (natural scale).

    The objective is divided by ``n_total`` inside the optimiser so that its tolerances do not depend
    on the number of customers. A fit that stops early warns with :class:`ConvergenceWarning`.
    """

    def f(z):
        v, g = negll_and_grad(z)
        if not np.isfinite(v):
            return 1e300, np.zeros_like(z)
        return v / n_total, g / n_total

    from threadpoolctl import threadpool_limits

    z0 = np.log(np.asarray(start, dtype=float))
    # One BLAS thread: the likelihoods' dot products are short, and on a busy 2-core machine a
    # multi-threaded ddot of 68k values took 35-70 ms (threads spinning) against < 1 ms.
    with np.errstate(all="ignore"), threadpool_limits(1):
        res = minimize(f, z0, jac=True, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * z0.size,
                       options={"maxiter": maxiter, "gtol": 1e-10, "ftol": 1e-15})
    converged = bool(res.success or np.max(np.abs(res.jac)) < 1e-6)
    if not converged:
        warnings.warn(f"{name}: the likelihood maximisation stopped before converging ({res.message}); "
                      "read the parameters with care.", ConvergenceWarning, stacklevel=3)
    return MLEResult(np.exp(res.x), float(-res.fun * n_total), converged, int(res.nit), str(res.message))


def numeric_grad(fun: Callable[[np.ndarray], float], z: np.ndarray, h: float = 1e-6,
                 f0: float | None = None) -> np.ndarray:
    """Central differences, or forward differences from ``f0 = fun(z)`` when given (half the
    evaluations; for likelihoods without an analytic gradient, e.g. Pareto/NBD)."""
    g = np.empty_like(z)
    for j in range(z.size):
        e = np.zeros_like(z)
        e[j] = h
        g[j] = (fun(z + e) - f0) / h if f0 is not None else (fun(z + e) - fun(z - e)) / (2 * h)
    return g


class FittedMixin:
    """``params_`` as a dict once fitted; calling a prediction before ``fit`` raises."""

    PARAM_NAMES: tuple[str, ...] = ()
    params_: dict[str, float]

    def _check_fitted(self) -> dict[str, float]:
        p = getattr(self, "params_", None)
        if p is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(...) first or pass params=.")
        return p

    def summary(self):
        """Parameters, log-likelihood and sample size as a one-row-per-parameter DataFrame."""
        import pandas as pd

        p = self._check_fitted()
        return pd.DataFrame({"parameter": list(p), "estimate": list(p.values())})

    def to_dict(self) -> dict:
        """JSON-safe: model name, parameters, log-likelihood, n."""
        p = self._check_fitted()
        return {"model": self.MODEL, "params": {k: float(v) for k, v in p.items()},
                "loglik": getattr(self, "loglik_", None), "n_customers": getattr(self, "n_", None),
                "converged": getattr(self, "converged_", True)}

    def __str__(self) -> str:
        p = getattr(self, "params_", None)
        if p is None:
            return f"{type(self).__name__}(not fitted)"
        body = ", ".join(f"{k}={v:.4g}" for k, v in p.items())
        ll = getattr(self, "loglik_", None)
        return f"{self.MODEL}({body})" + (f", log-likelihood {ll:.2f} over {self.n_} customers" if ll is not None else "")

    MODEL = ""


class PurchaseModel(FittedMixin):
    """A purchase model fitted on (frequency, recency, T) summaries (BG/NBD, Pareto/NBD).

    ``_LOGLIK(params, x, t_x, T, weights)`` is the model's total log-likelihood function.
    """

    _LOGLIK: Callable

    def loglik(self, frequency, recency, T) -> float:
        """Total log-likelihood of a (frequency, recency, T) summary under the fitted parameters."""
        p = self._check_fitted()
        x, tx, t = check_rfm(frequency, recency, T)
        (ux, utx, ut), w = collapse(x, tx, t)
        return float(type(self)._LOGLIK(tuple(p[k] for k in self.PARAM_NAMES), ux, utx, ut, w))
