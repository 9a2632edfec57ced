"""Quantities conditional on the tenure a customer has already reached.

A customer who has stayed ``a`` days is not a new customer: with ``S`` the fitted survival,

- probability of churning within the next ``w`` days: ``1 - S(a + w) / S(a)``;
- conditional survival curve: ``S(a + u) / S(a)`` for ``u >= 0`` days ahead;
- residual median lifetime: the first ``u`` with ``S(a + u) / S(a) <= 0.5`` (a CDF level of 0.5
  of the *remaining* lifetime);
- hazard: the instantaneous churn rate at ``a + u`` does not depend on conditioning; we report
  the average hazard per day over bins, ``(H(a+u+d) - H(a+u)) / d`` with ``H = -log S``.

Percentiles are CDF levels throughout: ``residual_percentile(p=0.25)`` is the time by which 25 %
of customers like this one have churned. (lifelines' ``predict_percentile(p)`` takes a
*survival* level, the opposite convention: a known trap.)

Nonparametric curves (Kaplan-Meier, Cox baseline) are unknown past the last event time; there
the functions return ``reached = False`` rather than a made-up number.
"""

from __future__ import annotations

import numpy as np

from optimizer.churn.fitters import AFTModel, CoxModel, KMModel


def _as_rows(tenure, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(tenure, dtype=float), (n,)).astype(float)


def churn_within(model, X: np.ndarray, tenure, window_days: float, strata=None) -> np.ndarray:
    """P(churn in (a, a + w] | alive at a) per customer (probability 0-1)."""
    a = _as_rows(tenure, X.shape[0])
    return window_risk(model, X, a, window_days, strata)


def _log_ratio(log_num: np.ndarray, log_den: np.ndarray) -> np.ndarray:
    """log(S(t2)/S(t1)); where S(t1) = 0 (a step curve that reached 0) the ratio is taken as 0."""
    with np.errstate(invalid="ignore"):
        out = log_num - log_den
    return np.where(np.isneginf(log_den), -np.inf, np.minimum(out, 0.0))


def window_risk(model, X: np.ndarray, t: np.ndarray, window_days: float, strata=None) -> np.ndarray:
    """1 - S(t + w)/S(t) computed on the log scale (``t`` shape (n,) or (n, m))."""
    if hasattr(model, "log_survival_ratio"):
        lr = np.minimum(model.log_survival_ratio(t, t + window_days, X, strata), 0.0)
        return -np.expm1(lr)
    lr = _log_ratio(model.log_survival(t + window_days, X, strata), model.log_survival(t, X, strata))
    return -np.expm1(lr)


def conditional_survival(model, X: np.ndarray, tenure, days_ahead: np.ndarray, strata=None) -> np.ndarray:
    """S(a + u) / S(a) for each customer (rows) and each ``u`` in ``days_ahead`` (columns)."""
    a = _as_rows(tenure, X.shape[0])
    u = np.asarray(days_ahead, dtype=float)
    log_a = model.log_survival(a, X, strata)
    log_s = model.log_survival(a[:, None] + u[None, :], X, strata)
    return np.exp(_log_ratio(log_s, log_a[:, None]))


def hazard_curve(model, X: np.ndarray, tenure, days_ahead: np.ndarray, strata=None) -> np.ndarray:
    """Average churn hazard per day over ``[a+u_j, a+u_{j+1})`` (shape (n, len(days_ahead) - 1))."""
    a = _as_rows(tenure, X.shape[0])
    u = np.asarray(days_ahead, dtype=float)
    H = -model.log_survival(a[:, None] + u[None, :], X, strata)
    return np.diff(H, axis=1) / np.diff(np.asarray(days_ahead, dtype=float))[None, :]


def residual_percentile(model, X: np.ndarray, tenure, p: float = 0.5, strata=None) -> tuple[np.ndarray, np.ndarray]:
    """Days until a fraction ``p`` (CDF level) of customers like each one, alive at ``a``, has churned.

    Returns
    -------
    days, reached:
        ``days[i]`` is the residual time (days); ``reached[i]`` is False where the curve does not
        fall that far within the data (then ``days[i]`` is NaN; nonparametric models only).
    """
    if not 0 < p < 1:
        raise ValueError(f"p is {p}; it must be a CDF level strictly between 0 and 1.")
    n = X.shape[0]
    a = _as_rows(tenure, n)
    target = (1 - p) * model.survival(a, X, strata)  # survival level to reach
    if isinstance(model, AFTModel):
        with np.errstate(divide="ignore"):
            t = model.time_at_survival(target, X)
        return np.maximum(t - a, 0.0), np.isfinite(t)
    if isinstance(model, KMModel):
        # first event time whose S <= target (surv is non-increasing)
        idx = np.searchsorted(-model.surv, -target, side="left")
        reached = idx < model.surv.size
        t = np.where(reached, model.times[np.minimum(idx, model.surv.size - 1)], np.nan)
        return np.where(reached, np.maximum(t - a, 0.0), np.nan), reached
    if isinstance(model, CoxModel):
        fit = model.fit
        r = np.exp((X - fit.mean) @ fit.params)
        with np.errstate(divide="ignore"):
            need = -np.log(target) / r  # baseline cumulative hazard to reach
        out, reached = np.full(n, np.nan), np.zeros(n, dtype=bool)
        keys = [None] if strata is None else np.unique(strata)
        for key in keys:
            times, H0 = fit.strata_to_baseline[key]
            rows = np.ones(n, dtype=bool) if key is None else strata == key
            idx = np.searchsorted(H0, need[rows], side="left")
            ok = idx < H0.size
            t = times[np.minimum(idx, H0.size - 1)]
            out[rows] = np.where(ok, np.maximum(t - a[rows], 0.0), np.nan)
            reached[rows] = ok
        return out, reached
    raise TypeError(f"unsupported model {type(model).__name__}")
