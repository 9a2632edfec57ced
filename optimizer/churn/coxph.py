"""Cox proportional hazards by vectorised Newton-Raphson (Efron ties, strata, ridge penalizer).

Why not lifelines' ``CoxPHFitter``: it loops over distinct times in Python and took 23.5 s for
1M customers x 8 covariates here (brief: <= 20 s). This fitter computes the Efron partial
likelihood, gradient and information with sorted cumulative sums and one ``X.T @ (c * X)`` per
iteration, O(n p^2).

It follows lifelines' conventions so that the two agree to optimiser precision: covariates are
standardised (mean 0, sample std 1, ddof=1 as pandas) before fitting; the penalty is
``n * penalizer * 0.5 * ||beta_std||^2`` on the standardised coefficients; the variance is the
inverse of the penalised information, mapped back to the original scale. With ``penalizer=0`` the
estimates equal R's ``coxph(..., ties="efron")``.

Efron (1977) for a distinct event time with ``d`` deaths, risk-set sums ``R0, R1, R2`` and
death-set sums ``D0, D1, D2`` of ``r = exp(x'b)``, ``r x``, ``r x x'``: for ``f = l/d``,
``l = 0..d-1``, ``den = R0 - f D0``, ``m = (R1 - f D1)/den``::

    loglik  = sum_events x'b - sum_terms log(den)
    score   = sum_events x   - sum_terms m
    info    = sum_terms (R2 - f D2)/den - m m'

The ``R2`` part is ``sum_i r_i x_i x_i' A_i`` with ``A_i`` the cumulative sum of ``1/den`` over
terms whose time is <= ``T_i`` (so no p x p matrix per time is ever formed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.errors import SolverError


@dataclass(frozen=True)
class _Stratum:
    """Precomputed, time-sorted structure of one stratum."""

    order: np.ndarray  # row positions sorted by time
    t_sorted: np.ndarray
    e_sorted: np.ndarray  # bool
    event_times: np.ndarray  # distinct event times, ascending
    first_at_risk: np.ndarray  # per event time: first sorted index with T >= t_k
    d: np.ndarray  # deaths per event time
    event_k: np.ndarray  # per event row (in sorted order): its event-time index
    row_k_upto: np.ndarray  # per sorted row: number of event times <= T_i
    term_k: np.ndarray  # per Efron term: event-time index
    term_f: np.ndarray  # per Efron term: l / d


def _prepare(duration: np.ndarray, event: np.ndarray) -> _Stratum:
    order = np.argsort(duration, kind="stable")
    t = duration[order]
    e = event[order].astype(bool)
    et = t[e]
    event_times, d = np.unique(et, return_counts=True)
    first = np.searchsorted(t, event_times, side="left")
    event_k = np.searchsorted(event_times, et)
    row_k_upto = np.searchsorted(event_times, t, side="right")
    term_k = np.repeat(np.arange(len(d)), d)
    starts = np.repeat(np.cumsum(d) - d, d)
    term_f = (np.arange(term_k.size) - starts) / d[term_k]
    return _Stratum(order, t, e, event_times, first, d, event_k, row_k_upto, term_k, term_f)


def _revcumsum(a: np.ndarray) -> np.ndarray:
    return np.cumsum(a[::-1], axis=0)[::-1]


def _efron(s: _Stratum, X: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information of one stratum (X already sorted)."""
    xb = X @ beta
    shift = xb.max()
    r = np.exp(xb - shift)  # shifting cancels in every ratio; added back in the loglik
    rx = r[:, None] * X
    R0 = _revcumsum(r)[s.first_at_risk]
    R1 = _revcumsum(rx)[s.first_at_risk]
    K = len(s.d)
    ek = s.event_k
    D0 = np.bincount(ek, weights=r[s.e_sorted], minlength=K)
    D1 = np.stack([np.bincount(ek, weights=rx[s.e_sorted, j], minlength=K) for j in range(X.shape[1])], axis=1) \
        if X.shape[1] else np.zeros((K, 0))
    k, f = s.term_k, s.term_f
    den = R0[k] - f * D0[k]
    m = (R1[k] - f[:, None] * D1[k]) / den[:, None]
    loglik = float(xb[s.e_sorted].sum() - (np.log(den) + shift).sum())
    score = X[s.e_sorted].sum(axis=0) - m.sum(axis=0)
    a = np.bincount(k, weights=1.0 / den, minlength=K)
    b = np.bincount(k, weights=f / den, minlength=K)
    cum_a = np.concatenate(([0.0], np.cumsum(a)))
    c = r * cum_a[s.row_k_upto]
    c[s.e_sorted] -= r[s.e_sorted] * b[ek]
    info = X.T @ (c[:, None] * X) - m.T @ m
    return loglik, score, info


@dataclass(frozen=True)
class CoxFit:
    """Fitted Cox model on the original covariate scale.

    Attributes
    ----------
    params:
        Log hazard ratios per covariate (per unit of the covariate).
    se:
        Standard errors of ``params``.
    variance:
        Variance matrix of ``params``.
    loglik:
        Log partial likelihood at the estimate (unpenalised).
    loglik_null:
        Log partial likelihood at beta = 0.
    n_iterations:
        Newton steps taken.
    mean:
        Covariate means used to centre the baseline hazard.
    strata_to_baseline:
        Stratum -> (times ascending, Breslow cumulative baseline hazard at the centred covariates).
    """

    params: np.ndarray
    se: np.ndarray
    variance: np.ndarray
    loglik: float
    loglik_null: float
    n_iterations: int
    mean: np.ndarray
    strata_to_baseline: dict

    def cumulative_hazard(self, t: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None) -> np.ndarray:
        """H(t | x) for customers ``X`` (n, p) at times ``t`` (scalar, (n,) or (n, m) days)."""
        n = X.shape[0]
        t = np.asarray(t, dtype=float)
        t = np.broadcast_to(t, (n,) if t.ndim <= 1 else (n, t.shape[-1]))
        lin = np.exp((X - self.mean) @ self.params)
        if t.ndim == 2:
            lin = lin[:, None]
        h0 = np.empty(t.shape)
        keys = [None] if strata is None else list(pd_unique(strata))
        for key in keys:
            if key not in self.strata_to_baseline:
                raise SolverError(f"stratum {key!r} was not seen when the Cox model was fitted.")
            times, H0 = self.strata_to_baseline[key]
            rows = slice(None) if key is None else (strata == key)
            h0[rows] = np.concatenate(([0.0], H0))[np.searchsorted(times, t[rows], side="right")]
        return h0 * lin

    def last_time(self, strata: np.ndarray | None = None) -> float:
        """Largest event time in the data (days): beyond it the baseline hazard is unknown."""
        return float(max(times[-1] for times, _ in self.strata_to_baseline.values()))


def pd_unique(a: np.ndarray) -> np.ndarray:
    """Distinct values of ``a`` in first-seen order."""
    _, idx = np.unique(a, return_index=True)
    return a[np.sort(idx)]


def fit_cox(
    duration: np.ndarray,
    event: np.ndarray,
    X: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    penalizer: float = 0.0,
    max_steps: int = 50,
    tol: float = 1e-9,
) -> CoxFit:
    """Fit a Cox model; see the module docstring for the method.

    Raises
    ------
    SolverError
        Newton-Raphson failed (singular information, or coefficients diverging as under
        complete separation); the message suggests a penalizer.
    """
    n, p = X.shape
    mean = X.mean(axis=0)
    std = X.std(axis=0, ddof=1) if n > 1 else np.ones(p)  # ddof=1 as lifelines (pandas .std)
    std = np.where(std > 0, std, 1.0)
    Z = (X - mean) / std
    keys = [None] if strata is None else list(pd_unique(strata))
    parts = []
    for key in keys:
        rows = np.arange(n) if key is None else np.flatnonzero(strata == key)
        s = _prepare(duration[rows], event[rows])
        parts.append((key, rows, s, np.ascontiguousarray(Z[rows][s.order])))
    pen = n * penalizer

    def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        ll, g, h = 0.0, np.zeros(p), np.zeros((p, p))
        for _, _, s, Zs in parts:
            if len(s.d) == 0:
                continue
            a, bb, c = _efron(s, Zs, b)
            ll, g, h = ll + a, g + bb, h + c
        return ll - 0.5 * pen * b @ b, g - pen * b, h + pen * np.eye(p)

    suggestion = (
        "Suggestion: set a penalizer (e.g. penalizer: 0.1), drop covariates that (almost) perfectly "
        "predict churn, or merge rare categories."
    )
    beta = np.zeros(p)
    ll, g, h = evaluate(beta)
    ll_null = ll
    steps = 0
    for steps in range(1, max_steps + 1):
        try:
            delta = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            raise SolverError(f"Cox fit failed: the information matrix is singular (collinear covariates?). {suggestion}") from None
        step = 1.0
        while True:
            cand = beta + step * delta
            ll_c, g_c, h_c = evaluate(cand)
            if np.isfinite(ll_c) and ll_c >= ll - 1e-12 * abs(ll):
                break
            step /= 2
            if step < 1e-8:
                raise SolverError(f"Cox fit failed: Newton-Raphson could not improve the likelihood. {suggestion}")
        done = abs(ll_c - ll) <= tol * max(1.0, abs(ll)) and np.max(np.abs(step * delta)) < 1e-7
        beta, ll, g, h = cand, ll_c, g_c, h_c
        if np.max(np.abs(beta)) > 30:
            raise SolverError(
                f"Cox fit failed: coefficients diverge (|standardised beta| = {np.max(np.abs(beta)):.0f}), "
                f"a sign of complete separation. {suggestion}"
            )
        if done:
            break
    else:
        raise SolverError(f"Cox fit did not converge in {max_steps} Newton steps. {suggestion}")
    try:
        cov_std = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        raise SolverError(f"Cox fit: the information matrix is singular at the estimate. {suggestion}") from None
    params = beta / std
    variance = cov_std / np.outer(std, std)
    unpen = ll + 0.5 * pen * beta @ beta

    baselines = {}
    for key, rows, s, Zs in parts:
        r = np.exp((X[rows][s.order] - mean) @ params)
        risk = _revcumsum(r)
        if len(s.d):
            h0 = s.d / risk[s.first_at_risk]
            baselines[key] = (s.event_times, np.cumsum(h0))
        else:
            baselines[key] = (np.array([np.inf]), np.array([0.0]))
    return CoxFit(params, np.sqrt(np.diag(variance)), variance, float(unpen), float(ll_null), steps, mean, baselines)
