"""When to contact each customer, whether it pays, and the weekly contact schedule.

Timing. For a customer alive at tenure ``a`` the window risk ``q(t) = 1 - S(t + w) / S(t)`` is
the probability of churning in the ``w`` days after tenure ``t`` (given alive at ``t``). On a
daily grid ``t = a, a + 1, ..., a + horizon_days`` the *crossing* is the first ``t`` with
``q(t) >= threshold``; the contact goes out ``lead_days`` earlier (but not before today)::

    contact_in_days = max(crossing - a - lead_days, 0)

Status per customer, never inf or NaN:

- ``crosses``: the risk crosses the threshold within the horizon;
- ``never_crosses``: the risk stays below the threshold over the whole horizon;
- ``beyond_data``: a nonparametric model (Kaplan-Meier, Cox) cannot say, because ``t + w`` passes
  the last observed event time before any crossing.

Economics. A contact on day ``c`` (days from today) can prevent churn in the ``lead + w`` days
after it. Given alive today, the chance of that churn is
``p_save = (S(a + c) - S(a + c + lead + w)) / S(a)`` (with lead 0 and c 0 this is exactly
P(churn within w | tenure a)). The contact's expected value (scenario currency, per contact)::

    value = p_save * uplift * (clv - incentive) - (1 - p_save) * acceptance_if_staying * incentive - contact_cost

(Neslin et al. 2006, per customer; with no incentive it is ``p_save * uplift * clv - contact_cost``).
``uplift`` is the fraction of that churn a contact prevents (0-1; a number, or per segment).
A customer is contacted only if the risk crosses and ``value > 0``; with zero uplift nobody is
contacted, whatever the risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from optimizer.churn.conditional import window_risk

CHUNK_ROWS = 20_000  # rows per block of the (rows x grid days) risk matrix: ~20k x 366 doubles


@dataclass(frozen=True)
class TimingSettings:
    """Settings of the contact rule (see module docstring; all in days, threshold 0-1)."""

    window_days: float
    threshold: float
    lead_days: int
    horizon_days: int


def crossing_days(model, X: np.ndarray, tenure: np.ndarray, settings: TimingSettings, strata=None):
    """First day ahead (0..horizon) at which the window risk reaches the threshold.

    Returns
    -------
    days_ahead, status:
        ``days_ahead`` int array (-1 where there is no crossing), ``status`` as in the module docstring.
    """
    n = X.shape[0]
    grid = np.arange(settings.horizon_days + 1, dtype=float)
    last = model.last_time
    days = np.full(n, -1, dtype=np.int64)
    status = np.empty(n, dtype=object)
    for lo in range(0, n, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, n)
        a = tenure[lo:hi]
        t = a[:, None] + grid[None, :]
        xs = X[lo:hi]
        st = None if strata is None else strata[lo:hi]
        q = window_risk(model, xs, t, settings.window_days, st)
        valid = (t + settings.window_days) <= last
        hit = (q >= settings.threshold) & valid
        any_hit = hit.any(axis=1)
        first = np.argmax(hit, axis=1)
        days[lo:hi] = np.where(any_hit, first, -1)
        st_chunk = np.where(any_hit, "crosses", np.where(valid.all(axis=1), "never_crosses", "beyond_data"))
        status[lo:hi] = st_chunk
    return days, status.astype(str)


def continuous_crossing(model, X, tenure, cross, settings: TimingSettings, strata=None) -> np.ndarray:
    """The crossing on a continuous scale: the root of q(t) = threshold between the whole days
    ``cross - 1`` and ``cross`` by linear interpolation of q (0 where the risk is already past the
    threshold today, -1 where it never crosses: never NaN). Days ahead, like ``crossing_in_days``."""
    out = np.where(cross == 0, 0.0, -1.0)
    rows = np.flatnonzero(cross > 0)
    if rows.size:
        st = None if strata is None else strata[rows]
        a = tenure[rows] + cross[rows]
        q_hi = window_risk(model, X[rows], a, settings.window_days, st)
        q_lo = window_risk(model, X[rows], a - 1.0, settings.window_days, st)
        frac = (settings.threshold - q_lo) / np.where(q_hi > q_lo, q_hi - q_lo, 1.0)
        out[rows] = cross[rows] - 1 + np.clip(frac, 0.0, 1.0)
    return out


def plan_contacts(
    model,
    X: np.ndarray,
    tenure: np.ndarray,
    settings: TimingSettings,
    *,
    uplift: np.ndarray | float,
    clv: np.ndarray | float,
    contact_cost: float,
    strata=None,
    incentive_cost: float = 0.0,
    acceptance_if_staying: float = 1.0,
) -> pd.DataFrame:
    """Per-customer timing and economics (one row per customer, in input order).

    Columns: ``tenure_days``, ``p_churn_window`` (P(churn within w | tenure), 0-1),
    ``status``, ``crossing_in_days`` (-1 if none), ``crossing_in_days_continuous`` (-1 if none; see
    :func:`continuous_crossing`), ``contact_in_days`` (-1 if none),
    ``p_save`` (0-1), ``uplift``, ``clv``, ``value`` (currency per contact, NaN-free: 0 where no
    crossing; net of the contact and the expected incentive), ``expected_cost`` (contact +
    expected incentive, currency, 0 where not contacted), ``contact`` (bool).
    """
    from optimizer.churn.conditional import _log_ratio, churn_within

    n = X.shape[0]
    tenure = np.asarray(tenure, dtype=float)
    cross, status = crossing_days(model, X, tenure, settings, strata)
    crosses = cross >= 0
    contact_in = np.where(crosses, np.maximum(cross - settings.lead_days, 0), -1)
    c = np.maximum(contact_in, 0).astype(float)
    log_a = model.log_survival(tenure, X, strata)
    log_c = model.log_survival(tenure + c, X, strata)
    log_end = model.log_survival(tenure + c + settings.lead_days + settings.window_days, X, strata)
    # (S(a+c) - S(end)) / S(a) = S(a+c)/S(a) * (1 - S(end)/S(a+c)), on the log scale
    p_save = np.exp(_log_ratio(log_c, log_a)) * -np.expm1(_log_ratio(log_end, log_c))
    p_save = np.where(crosses, np.clip(p_save, 0.0, 1.0), 0.0)
    uplift = np.broadcast_to(np.asarray(uplift, dtype=float), (n,))
    clv = np.broadcast_to(np.asarray(clv, dtype=float), (n,))
    # Neslin et al. (2006) per customer (optimizer.churn.economics): the incentive is paid by saved
    # churners and by would-stay customers who accept it; with no incentive this is
    # p_save * uplift * clv - contact_cost.
    d, psi = float(incentive_cost), float(acceptance_if_staying)
    value = np.where(crosses, p_save * uplift * (clv - d) - (1 - p_save) * psi * d - contact_cost, 0.0)
    contact = crosses & (value > 0)
    expected_cost = np.where(contact, contact_cost + d * (p_save * uplift + (1 - p_save) * psi), 0.0)
    return pd.DataFrame(
        {
            "tenure_days": tenure,
            "p_churn_window": churn_within(model, X, tenure, settings.window_days, strata),
            "status": status,
            "crossing_in_days": cross,
            "crossing_in_days_continuous": continuous_crossing(model, X, tenure, cross, settings, strata),
            "contact_in_days": contact_in,
            "p_save": p_save,
            "uplift": uplift,
            "clv": clv,
            "value": value,
            "expected_cost": expected_cost,
            "contact": contact,
        }
    )


def weekly_schedule(plan: pd.DataFrame, start_date: date, contact_cost: float, segment: np.ndarray | None = None) -> pd.DataFrame:
    """Contacts per week (and segment): ``week_start``, ``segment``, ``n_contacts``, ``cost``, ``expected_value``.

    ``cost`` is contact spend in the week (currency); ``expected_value`` is the sum of the
    contacts' ``value`` (net of cost, currency).
    """
    chosen = plan[plan["contact"]].copy()
    seg = np.full(len(plan), "all", dtype=object) if segment is None else np.asarray(segment, dtype=object)
    chosen["segment"] = seg[plan["contact"].to_numpy()]
    week = chosen["contact_in_days"].to_numpy() // 7
    chosen["week_start"] = [start_date + timedelta(days=int(7 * w)) for w in week]
    cols = ["week_start", "segment", "n_contacts", "cost", "expected_value"]
    if chosen.empty:
        return pd.DataFrame(columns=cols)
    out = (
        chosen.groupby(["week_start", "segment"], sort=True)
        .agg(n_contacts=("contact", "size"), expected_value=("value", "sum"))
        .reset_index()
    )
    if "expected_cost" in chosen:  # contacts plus the incentives expected to be paid
        out["cost"] = chosen.groupby(["week_start", "segment"], sort=True)["expected_cost"].sum().to_numpy()
    else:
        out["cost"] = out["n_contacts"] * contact_cost
    return out[cols]


def customer_list(plan: pd.DataFrame, ids: np.ndarray, start_date: date, segment: np.ndarray | None = None) -> pd.DataFrame:
    """The per-customer CSV: id, segment, dates as ISO strings (empty where no contact)."""
    out = plan.copy()
    out.insert(0, "customer_id", ids)
    out.insert(1, "segment", "all" if segment is None else segment)
    out["contact_date"] = [
        (start_date + timedelta(days=int(d))).isoformat() if ok else ""
        for d, ok in zip(out["contact_in_days"], out["contact"])
    ]
    return out
