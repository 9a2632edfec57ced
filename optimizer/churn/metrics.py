"""Model quality: Harrell's C, the IPCW Brier score and its integral, calibration at a horizon.

Brier score at time t (Graf et al. 1999, inverse probability of censoring weights)::

    BS(t) = 1/n * sum_i [ S_i(t)^2 * 1{T_i <= t, event_i} / G(T_i-)  +  (1 - S_i(t))^2 * 1{T_i > t} / G(t) ]

with ``G`` the Kaplan-Meier estimate of the *censoring* distribution (censored rows are the
"events"). Customers censored before t carry no weight; the weights make the score unbiased
under independent censoring. The integrated score is the trapezoid integral of BS over the
given times divided by their span (as scikit-survival's ``integrated_brier_score``). 0 is
perfect; 0.25 is the score of always predicting S = 0.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.churn.fitters import kaplan_meier, step_eval


def concordance(duration: np.ndarray, event: np.ndarray, risk_score: np.ndarray, strata=None) -> float:
    """Harrell's C: share of comparable pairs where the higher risk churned first (ties = 1/2).

    With ``strata``, only pairs within the same stratum are compared and the counts are pooled
    over strata (R ``concordance(..., strata)``, lifelines' stratified ``CoxPHFitter``): the
    baseline hazards of different strata are not comparable, so neither are their risk scores.
    """
    from lifelines.utils import concordance_index

    if strata is None:
        return float(concordance_index(duration, -risk_score, event))
    from lifelines.utils.concordance import _concordance_summary_statistics

    strata = np.asarray(strata)
    correct = tied = pairs = 0.0
    for key in np.unique(strata):
        rows = strata == key
        if rows.sum() < 2 or not np.asarray(event)[rows].any():
            continue
        c, t, p = _concordance_summary_statistics(np.asarray(duration, float)[rows], -np.asarray(risk_score, float)[rows],
                                                  np.asarray(event, bool)[rows])
        correct, tied, pairs = correct + c, tied + t, pairs + p
    return float((correct + 0.5 * tied) / pairs) if pairs else float("nan")


def censoring_survival(duration: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier of the censoring time: (times, G just after each)."""
    return kaplan_meier(duration, 1 - event.astype(np.int8))


def brier_scores(
    duration: np.ndarray,
    event: np.ndarray,
    surv: np.ndarray,
    times: np.ndarray,
    censoring: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """IPCW Brier score at each of ``times``.

    Parameters
    ----------
    duration, event:
        Evaluation customers (days, 0/1).
    surv:
        Predicted S(times[j] | x_i), shape (n, len(times)).
    times:
        Evaluation times (days).
    censoring:
        ``censoring_survival`` of the data G is estimated from (default: the evaluation data).
    """
    g_t, g_s = censoring if censoring is not None else censoring_survival(duration, event)
    e = event.astype(bool)
    # G(T_i-): the censoring survival just before T_i (censorings at T_i come after the event)
    g_before = step_eval(g_t, g_s, np.nextafter(duration, -np.inf))
    g_at = step_eval(g_t, g_s, times)
    out = np.empty(len(times))
    for j, t in enumerate(times):
        died = e & (duration <= t)
        alive = duration > t
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(died, surv[:, j] ** 2 / g_before, 0.0) + np.where(alive, (1 - surv[:, j]) ** 2 / g_at[j], 0.0)
        out[j] = term.sum() / duration.size
    return out


def integrated_brier_score(duration, event, surv, times, censoring=None) -> float:
    """Trapezoid integral of :func:`brier_scores` over ``times``, divided by their span."""
    bs = brier_scores(duration, event, surv, times, censoring)
    return float(np.trapezoid(bs, times) / (times[-1] - times[0]))


def calibration_at(
    duration: np.ndarray, event: np.ndarray, churn_prob: np.ndarray, horizon_days: float, n_groups: int = 10
) -> tuple[pd.DataFrame, float]:
    """Predicted vs Kaplan-Meier-observed P(churn by horizon) in risk groups (quantiles).

    Returns the table (group, n, predicted, observed) and the size-weighted mean absolute
    difference (days-free, probability units).
    """
    n_groups = max(1, min(n_groups, duration.size // 20 or 1))
    ranks = pd.Series(churn_prob).rank(method="first").to_numpy()
    group = np.minimum((ranks - 1) * n_groups // duration.size, n_groups - 1).astype(int)
    rows = []
    for g in range(n_groups):
        m = group == g
        if not m.any():
            continue
        if event[m].sum() == 0:
            observed = 0.0
        else:
            t, s = kaplan_meier(duration[m], event[m])
            observed = 1.0 - float(step_eval(t, s, np.array([horizon_days]))[0])
        rows.append((g + 1, int(m.sum()), float(churn_prob[m].mean()), observed))
    table = pd.DataFrame(rows, columns=["group", "n", "predicted", "observed"])
    err = float(np.average(np.abs(table.predicted - table.observed), weights=table.n))
    return table, err
