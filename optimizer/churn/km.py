"""Kaplan-Meier with confidence intervals, and restricted mean survival time (RMST).

Intervals (``conf_type``), with Greenwood's ``V(t) = sum_{t_i <= t} d_i / (n_i (n_i - d_i))``:

- ``log-log`` (default here, lifelines' and SAS's default): ``theta = log(-log S)``,
  ``se = sqrt(V) / |log S|``, interval ``[S^exp(z se), S^exp(-z se)]``; never leaves (0, 1).
- ``log`` (R ``survfit``'s default): ``S exp(+-z sqrt(V))``, the upper end capped at 1.
- ``plain``: ``S +- z S sqrt(V)``, clipped to [0, 1].

Where S is 0 every interval is NaN, and where S is 1 the log-log one too (R gives NA).

RMST: ``int_0^tau S(t) dt`` (days of expected tenure within the horizon ``tau``; the bridge from
survival to CLV), with R's variance (``survival:::survmean``): ``sum_i A_i^2 d_i / (n_i (n_i - d_i))``
over event times ``t_i <= tau``, ``A_i = int_{t_i}^tau S(t) dt``.

Tested against R 4.2.2, survival 3.5.3 (``survfit``, ``summary(fit, rmean=tau)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from optimizer.errors import DataError

CONF_TYPES = ("log-log", "log", "plain")


def _check(duration, event):
    t = np.asarray(duration, dtype=float)
    e = np.asarray(event)
    if t.size == 0 or t.size != e.size:
        raise DataError(f"duration and event have lengths {t.size} and {e.size}; they must be equal and > 0.")
    if not np.all(np.isfinite(t)) or (t < 0).any():
        raise DataError(f"{int((~np.isfinite(t) | (t < 0)).sum())} duration(s) are negative or not finite.")
    if not np.isin(e, (0, 1, True, False)).all():
        raise DataError("event must be 0/1 (1 = churned).")
    return t, e.astype(bool)


def km_table(duration, event, conf_level: float = 0.95, conf_type: str = "log-log") -> pd.DataFrame:
    """One row per distinct event time: ``time``, ``n_risk``, ``n_event``, ``surv``, ``std_err`` (of S,
    Greenwood), ``lower``, ``upper`` (``conf_level`` interval of type ``conf_type``)."""
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type is {conf_type!r}; expected one of {CONF_TYPES}.")
    t, e = _check(duration, event)
    times, d = np.unique(t[e], return_counts=True)
    n = t.size - np.searchsorted(np.sort(t), times, side="left")
    surv = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.cumsum(d / (n * (n - d)))
        z = norm.ppf(0.5 + conf_level / 2)
        if conf_type == "log-log":
            se = np.sqrt(V) / np.abs(np.log(surv))
            lower, upper = surv ** np.exp(z * se), surv ** np.exp(-z * se)
            bad = (surv <= 0) | (surv >= 1)
            lower, upper = np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)
        elif conf_type == "log":
            lower, upper = surv * np.exp(-z * np.sqrt(V)), np.minimum(surv * np.exp(z * np.sqrt(V)), 1.0)
        else:
            lower, upper = np.clip(surv - z * surv * np.sqrt(V), 0, 1), np.clip(surv + z * surv * np.sqrt(V), 0, 1)
        zero = surv <= 0  # no interval once S is 0 (R: NA)
        lower, upper = np.where(zero, np.nan, lower), np.where(zero, np.nan, upper)
        std_err = np.where(surv > 0, surv * np.sqrt(V), 0.0)  # Greenwood is inf/undefined once S hits 0
    return pd.DataFrame({"time": times, "n_risk": n, "n_event": d, "surv": surv, "std_err": std_err,
                         "lower": lower, "upper": upper})


def km_at(table: pd.DataFrame, t) -> pd.DataFrame:
    """The step function of :func:`km_table` at times ``t`` (rows of the last event time <= t)."""
    t = np.asarray(t, dtype=float)
    idx = np.searchsorted(table["time"].to_numpy(), t, side="right") - 1
    out = table.iloc[np.maximum(idx, 0)].reset_index(drop=True).copy()
    before = idx < 0
    out.loc[before, ["surv", "lower", "upper"]] = [1.0, np.nan, np.nan]
    out.loc[before, "std_err"] = 0.0
    out.insert(0, "at", t)
    return out


@dataclass(frozen=True)
class RMST:
    """Restricted mean survival time: ``rmst`` and ``se`` in days within ``tau`` days; CI bounds."""

    tau: float
    rmst: float
    se: float
    lower: float
    upper: float

    def to_dict(self) -> dict:
        return {"tau_days": self.tau, "rmst_days": self.rmst, "se_days": self.se, "lower": self.lower, "upper": self.upper}


def rmst(duration, event, tau: float, conf_level: float = 0.95) -> RMST:
    """Restricted mean survival time up to ``tau`` and its standard error (see module docstring)."""
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau is {tau}; it must be a positive number of days.")
    tab = km_table(duration, event, conf_type="plain")
    keep = tab["time"].to_numpy() <= tau
    times, surv = tab["time"].to_numpy()[keep], tab["surv"].to_numpy()[keep]
    d, n = tab["n_event"].to_numpy()[keep], tab["n_risk"].to_numpy()[keep]
    grid = np.concatenate(([0.0], times, [tau]))
    level = np.concatenate(([1.0], surv))
    areas = np.diff(grid) * level  # S is constant on [grid_j, grid_{j+1})
    total = float(areas.sum())
    # A_i: area from event time t_i to tau = sum of the areas after it
    after = np.cumsum(areas[::-1])[::-1][1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, after ** 2 * d / (n * (n - d)), 0.0)
    se = float(np.sqrt(terms.sum()))
    z = norm.ppf(0.5 + conf_level / 2)
    return RMST(float(tau), total, se, total - z * se, total + z * se)
