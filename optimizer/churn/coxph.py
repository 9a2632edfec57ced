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
    event_rows: np.ndarray  # sorted positions of the event rows (grouped by event time, ascending)
    group_starts: np.ndarray  # per event time: offset of its first row in event_rows


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
    event_rows = np.flatnonzero(e)
    group_starts = (np.cumsum(d) - d).astype(np.intp)
    return _Stratum(order, t, e, event_times, first, d, event_k, row_k_upto, term_k, term_f, event_rows, group_starts)


def _revcumsum(a: np.ndarray) -> np.ndarray:
    return np.cumsum(a[::-1], axis=0)[::-1]


def _efron(s: _Stratum, X: np.ndarray, beta: np.ndarray, x_event_sum: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information of one stratum (X already sorted).

    ``x_event_sum`` is the sum of X over event rows (constant across iterations, so precomputed).
    """
    xb = X @ beta
    shift = xb.max()
    r = np.exp(xb - shift)  # shifting cancels in every ratio; added back in the loglik
    rx = X * r[:, None]
    R0 = _revcumsum(r)[s.first_at_risk]
    R1 = _revcumsum(rx)[s.first_at_risk]
    # death-set sums: event rows are contiguous per event time, so reduceat beats bincount
    D0 = np.add.reduceat(r[s.event_rows], s.group_starts)
    D1 = np.add.reduceat(rx[s.event_rows], s.group_starts, axis=0)
    k, f = s.term_k, s.term_f
    den = R0[k] - f * D0[k]
    m = (R1[k] - f[:, None] * D1[k]) / den[:, None]
    loglik = float(xb[s.event_rows].sum() - (np.log(den) + shift).sum())
    score = x_event_sum - m.sum(axis=0)
    inv_den = 1.0 / den
    K = len(s.d)
    a = np.bincount(k, weights=inv_den, minlength=K)
    b = np.bincount(k, weights=f * inv_den, minlength=K)
    cum_a = np.concatenate(([0.0], np.cumsum(a)))
    c = r * cum_a[s.row_k_upto]
    c[s.event_rows] -= r[s.event_rows] * b[s.event_k]
    info = X.T @ (X * c[:, None]) - m.T @ m
    return loglik, score, info


WARM_START_ROWS = 100_000


def _null_loglik(s: _Stratum) -> float:
    """Efron log partial likelihood at beta = 0: every r = 1, so only risk-set counts matter."""
    at_risk = s.t_sorted.size - s.first_at_risk
    den = at_risk[s.term_k] - s.term_f * s.d[s.term_k]
    return float(-np.log(den).sum())


def _efron_loglik(s: _Stratum, X: np.ndarray, beta: np.ndarray) -> float:
    """The Efron log partial likelihood alone (for step halving: no n x p work beyond X @ beta)."""
    xb = X @ beta
    shift = xb.max()
    r = np.exp(xb - shift)
    R0 = _revcumsum(r)[s.first_at_risk]
    D0 = np.add.reduceat(r[s.event_rows], s.group_starts)
    den = R0[s.term_k] - s.term_f * D0[s.term_k]
    return float(xb[s.event_rows].sum() - (np.log(den) + shift).sum())


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

    def relative_risk(self, X: np.ndarray) -> np.ndarray:
        """exp((x - mean)'beta) per customer."""
        return np.exp(X @ self.params - self.mean @ self.params)

    def baseline(self, t: np.ndarray, n: int, strata: np.ndarray | None = None) -> np.ndarray:
        """Baseline cumulative hazard H0(t) (at the mean covariates) for n customers, shape of ``t`` broadcast to rows."""
        t = np.asarray(t, dtype=float)
        t = np.broadcast_to(t, (n,) if t.ndim <= 1 else (n, t.shape[-1]))
        if strata is None:
            times, H0 = self._baseline_of(None)
            return np.concatenate(([0.0], H0))[np.searchsorted(times, t, side="right")]
        h0 = np.empty(t.shape)
        for key in pd_unique(strata):
            times, H0 = self._baseline_of(key)
            rows = strata == key
            h0[rows] = np.concatenate(([0.0], H0))[np.searchsorted(times, t[rows], side="right")]
        return h0

    def _baseline_of(self, key):
        if key not in self.strata_to_baseline:
            raise SolverError(
                f"stratum {key!r} was not seen when the Cox model was fitted; known strata: {sorted(map(str, self.strata_to_baseline))[:10]}.")
        return self.strata_to_baseline[key]

    def cumulative_hazard(self, t: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None) -> np.ndarray:
        """H(t | x) for customers ``X`` (n, p) at times ``t`` (scalar, (n,) or (n, m) days)."""
        h0 = self.baseline(t, X.shape[0], strata)
        lin = self.relative_risk(X)
        return h0 * (lin[:, None] if h0.ndim == 2 else lin)

    def last_time(self, strata: np.ndarray | None = None) -> float:
        """Largest event time in the data (days): beyond it the baseline hazard is unknown."""
        return float(max(times[-1] for times, _ in self.strata_to_baseline.values()))


def pd_unique(a: np.ndarray) -> np.ndarray:
    """Distinct values of ``a`` in first-seen order."""
    _, idx = np.unique(a, return_index=True)
    return a[np.sort(idx)]


#: |coefficient| per standard deviation of its covariate above which a fit is treated as
#: (quasi-)separated: exp(10) = a hazard ratio of 22,026 per sd, never a real customer effect.
SEPARATION_BETA = 10.0


def _separation_error(beta_std: np.ndarray, how: str, suggestion: str) -> SolverError:
    """A SolverError naming the columns whose standardised coefficient is huge (``exc.separated``)."""
    cols = [int(j) for j in np.flatnonzero(np.abs(beta_std) > SEPARATION_BETA)] or [int(np.argmax(np.abs(beta_std)))]
    exc = SolverError(f"Cox fit failed: (quasi-)separation: {how}; covariate column(s) {cols} (almost) perfectly "
                      f"order churn (standardised coefficients {np.round(beta_std[cols], 1).tolist()}). {suggestion}")
    exc.separated = cols
    return exc


def fit_cox(
    duration: np.ndarray,
    event: np.ndarray,
    X: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    penalizer: float = 0.0,
    max_steps: int = 50,
    tol: float = 1e-9,
    warm_start: bool = True,
) -> CoxFit:
    """Fit a Cox model; see the module docstring for the method.

    With more than ``WARM_START_ROWS`` rows (and ``warm_start``), Newton starts from a fit on a
    fixed subsample of that many rows: the full-data iterations drop from ~4 to ~2. The estimate
    is still the full-data maximum, so it does not depend on the subsample.

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
    Z = X - mean
    Z /= std
    keys = [None] if strata is None else list(pd_unique(strata))
    parts = []
    for key in keys:
        if key is None:  # no strata: avoid copying every row twice
            s = _prepare(duration, event)
            Zs = Z[s.order]
        else:
            rows = np.flatnonzero(strata == key)
            s = _prepare(duration[rows], event[rows])
            Zs = Z[rows[s.order]]
        parts.append((key, s, Zs, Zs[s.event_rows].sum(axis=0)))
    del Z
    pen = n * penalizer

    def loglik_only(b: np.ndarray) -> float:
        return sum(_efron_loglik(s, Zs, b) for _, s, Zs, _ in parts if len(s.d)) - 0.5 * pen * b @ b

    def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        ll, g, h = 0.0, np.zeros(p), np.zeros((p, p))
        for _, s, Zs, zsum in parts:
            if len(s.d) == 0:
                continue
            a, bb, c = _efron(s, Zs, b, zsum)
            ll, g, h = ll + a, g + bb, h + c
        return ll - 0.5 * pen * b @ b, g - pen * b, h + pen * np.eye(p)

    suggestion = (
        "Suggestion: set a penalizer (e.g. penalizer: 0.1), drop covariates that (almost) perfectly "
        "predict churn, or merge rare categories."
    )
    beta = np.zeros(p)
    if warm_start and n > 2 * WARM_START_ROWS:
        sub = np.sort(np.random.default_rng(0).choice(n, WARM_START_ROWS, replace=False))
        try:
            first = fit_cox(duration[sub], event[sub], X[sub], strata=None if strata is None else strata[sub],
                            penalizer=penalizer, max_steps=max_steps, warm_start=False)
            beta = first.params * std
        except SolverError:
            beta = np.zeros(p)  # the subsample failed: start from 0 and let the full data speak
    ll, g, h = evaluate(beta)
    ll_null = sum(_null_loglik(s) for _, s, _, _ in parts if len(s.d))
    steps = 0
    for steps in range(1, max_steps + 1):
        try:
            delta = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            raise SolverError(f"Cox fit failed: the information matrix is singular (collinear covariates?). {suggestion}") from None
        step = 1.0
        while True:  # step halving on the (cheap) log-likelihood alone
            cand = beta + step * delta
            ll_c = loglik_only(cand)
            if np.isfinite(ll_c) and ll_c >= ll - 1e-12 * abs(ll):
                break
            step /= 2
            if step < 1e-8:
                raise SolverError(f"Cox fit failed: Newton-Raphson could not improve the likelihood. {suggestion}")
        done = abs(ll_c - ll) <= tol * max(1.0, abs(ll)) and np.max(np.abs(step * delta)) < 1e-7
        beta, ll = cand, ll_c
        if not done:
            ll, g, h = evaluate(beta)
        # when done, the information of the previous iterate (< 1e-7 away) serves for the variance
        if np.max(np.abs(beta)) > 30:
            raise _separation_error(beta, f"coefficients diverge (|standardised beta| = {np.max(np.abs(beta)):.0f})",
                                    suggestion)
        if done:
            break
    else:
        if np.max(np.abs(beta)) > SEPARATION_BETA:
            raise _separation_error(beta, f"Newton did not converge in {max_steps} steps", suggestion)
        raise SolverError(f"Cox fit did not converge in {max_steps} Newton steps. {suggestion}")
    if penalizer == 0 and np.max(np.abs(beta)) > SEPARATION_BETA:
        # Quasi-separation: the likelihood flattens out while a coefficient drifts to infinity, so
        # Newton "converges" to a hazard ratio of 1e10 or more. Report it instead of that number.
        raise _separation_error(beta, "the likelihood is flat in the direction of huge coefficients", suggestion)
    try:
        cov_std = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        raise SolverError(f"Cox fit: the information matrix is singular at the estimate. {suggestion}") from None
    params = beta / std
    variance = cov_std / np.outer(std, std)
    unpen = ll + 0.5 * pen * beta @ beta

    baselines = {}
    for key, s, Zs, _ in parts:
        r = np.exp(Zs @ beta)  # Zs @ beta = (x - mean)'params
        risk = _revcumsum(r)
        if len(s.d):
            h0 = s.d / risk[s.first_at_risk]
            baselines[key] = (s.event_times, np.cumsum(h0))
        else:
            baselines[key] = (np.array([np.inf]), np.array([0.0]))
    return CoxFit(params, np.sqrt(np.diag(variance)), variance, float(unpen), float(ll_null), steps, mean, baselines)
