"""One fitted-model interface over Kaplan-Meier, Cox and the AFT models.

Every fitted model offers ``survival(t, X, strata)`` (S(t | x), ``t`` in days of tenure, shape
(n,) or (n, m)) and ``log_survival`` (the same on the log scale: conditional ratios
S(t + w)/S(t) of far tails underflow otherwise), ``risk_score(X)`` (higher = churns sooner, for Harrell's C), ``last_time``
(largest event time: nonparametric curves are flat and unknown beyond it), ``loglik`` /
``n_params`` / ``aic`` and ``coefficients()`` (a DataFrame).

Kinds (the ``model`` key of the ``churn:`` section):

=================  ============================================================
``kaplan_meier``   no covariates; the baseline every model must beat
``weibull``        univariate Weibull (no covariates)
``weibull_aft``    Weibull AFT with covariates
``loglogistic_aft``  log-logistic AFT
``lognormal_aft``  log-normal AFT
``cox``            Cox proportional hazards (Efron ties, optional strata, penalizer)
=================  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.churn.aft import AFTFit, fit_aft
from optimizer.churn.coxph import CoxFit, fit_cox
from optimizer.errors import SolverError

MODEL_KINDS = ("kaplan_meier", "weibull", "weibull_aft", "loglogistic_aft", "lognormal_aft", "cox")


def kaplan_meier(duration: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate: (distinct event times ascending, S just after each), days."""
    t_ev, d = np.unique(duration[event.astype(bool)], return_counts=True)
    at_risk = duration.size - np.searchsorted(np.sort(duration), t_ev, side="left")
    return t_ev, np.cumprod(1.0 - d / at_risk)


def step_eval(times: np.ndarray, values: np.ndarray, t: np.ndarray, before: float = 1.0) -> np.ndarray:
    """Right-continuous step function through ``(times, values)`` at ``t`` (``before`` left of the first)."""
    return np.concatenate(([before], values))[np.searchsorted(times, t, side="right")]


@dataclass(frozen=True)
class KMModel:
    """Kaplan-Meier curve: same survival for every customer."""

    times: np.ndarray
    surv: np.ndarray
    n: int
    kind: str = "kaplan_meier"

    @property
    def last_time(self) -> float:
        return float(self.times[-1])

    loglik = None
    n_params = 0
    aic = None

    def survival(self, t, X, strata=None):
        t = np.broadcast_to(np.asarray(t, float), (X.shape[0],) if np.ndim(t) <= 1 else (X.shape[0], np.shape(t)[-1]))
        return step_eval(self.times, self.surv, t)

    def log_survival(self, t, X, strata=None):
        with np.errstate(divide="ignore"):
            return np.log(self.survival(t, X, strata))

    def risk_score(self, X):
        return np.zeros(X.shape[0])

    def coefficients(self) -> pd.DataFrame:
        return pd.DataFrame(columns=["coef", "se"])


@dataclass(frozen=True)
class CoxModel:
    """Cox model adapter."""

    fit: CoxFit
    columns: tuple[str, ...]
    kind: str = "cox"

    @property
    def last_time(self) -> float:
        return self.fit.last_time()

    @property
    def loglik(self) -> float:
        """Log *partial* likelihood: not comparable with full likelihoods."""
        return self.fit.loglik

    @property
    def n_params(self) -> int:
        return int(self.fit.params.size)

    aic = None  # partial-likelihood AIC is not comparable with the parametric models

    def survival(self, t, X, strata=None):
        return np.exp(-self.fit.cumulative_hazard(t, X, strata))

    def log_survival(self, t, X, strata=None):
        return -self.fit.cumulative_hazard(t, X, strata)

    def log_survival_ratio(self, t1, t2, X, strata=None):
        """log(S(t2)/S(t1)) with one relative-risk product (scoring speed)."""
        n = X.shape[0]
        dh = self.fit.baseline(t2, n, strata) - self.fit.baseline(t1, n, strata)
        lin = self.fit.relative_risk(X)
        return -dh * (lin[:, None] if dh.ndim == 2 else lin)

    def risk_score(self, X):
        return X @ self.fit.params

    def coefficients(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"coef": self.fit.params, "se": self.fit.se, "hazard_ratio": np.exp(self.fit.params)},
            index=list(self.columns),
        )


@dataclass(frozen=True)
class AFTModel:
    """AFT model adapter (``weibull`` is the AFT with no covariates)."""

    fit: AFTFit
    columns: tuple[str, ...]
    kind: str

    last_time = float("inf")

    @property
    def loglik(self) -> float:
        return self.fit.loglik

    @property
    def n_params(self) -> int:
        return int(self.fit.params.size + 2)

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.fit.loglik

    def _X(self, X):
        return X if self.fit.params.size else np.zeros((X.shape[0], 0))

    def survival(self, t, X, strata=None):
        return np.exp(self.fit.log_survival(t, self._X(X)))

    def log_survival(self, t, X, strata=None):
        return self.fit.log_survival(t, self._X(X))

    def log_survival_ratio(self, t1, t2, X, strata=None):
        """log(S(t2)/S(t1)) computing the location once (scoring speed)."""
        from optimizer.churn.aft import log_survival0

        mu = self.fit.location(self._X(X))
        t1, t2 = np.asarray(t1, dtype=float), np.asarray(t2, dtype=float)
        if t1.ndim == 2 or t2.ndim == 2:
            mu = mu[:, None]
        inv = 1.0 / self.fit.sigma
        with np.errstate(divide="ignore"):
            z1 = (np.log(t1) - mu) * inv
            z2 = (np.log(t2) - mu) * inv
        return log_survival0(self.fit.dist, z2) - log_survival0(self.fit.dist, z1)

    def time_at_survival(self, q, X):
        return self.fit.time_at_survival(q, self._X(X))

    def risk_score(self, X):
        return -self.fit.location(self._X(X))

    def coefficients(self) -> pd.DataFrame:
        names = ["(intercept)"] + list(self.columns if self.fit.params.size else ()) + ["log(sigma)"]
        coef = np.concatenate(([self.fit.intercept], self.fit.params, [self.fit.log_sigma]))
        return pd.DataFrame({"coef": coef, "se": self.fit.se}, index=names)


def fit_kind(kind: str, duration, event, X, columns, *, strata=None, penalizer: float = 0.0):
    """Fit one model kind; returns its adapter."""
    if kind == "kaplan_meier":
        t, s = kaplan_meier(duration, event)
        return KMModel(t, s, int(duration.size))
    if kind == "weibull":
        return AFTModel(fit_aft(duration, event, np.zeros((duration.size, 0)), "weibull"), (), kind)
    if kind == "cox":
        try:
            fit = fit_cox(duration, event, X, strata=strata, penalizer=penalizer)
        except SolverError as exc:
            cols = getattr(exc, "separated", None)
            if cols is None:
                raise
            names = [list(columns)[j] for j in cols]
            msg = str(exc).replace(f"covariate column(s) {cols}", f"covariate(s) {names}")
            raise SolverError(msg) from None
        return CoxModel(fit, tuple(columns))
    if kind in ("weibull_aft", "loglogistic_aft", "lognormal_aft"):
        return AFTModel(fit_aft(duration, event, X, kind.removesuffix("_aft")), tuple(columns), kind)
    raise ValueError(f"model is {kind!r}; it must be one of {list(MODEL_KINDS)} or 'auto'.")
