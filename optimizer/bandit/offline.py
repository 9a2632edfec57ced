"""Offline (off-policy) evaluation of a candidate policy from decision logs.

A log row is one decision: the arm served, its reward, and its *propensity* (the probability the
logging policy had of serving that arm; :class:`~optimizer.bandit.engine.Decision` records it),
plus optional context features. The candidate is described by ``target``: an (n x K) array of the
probability it would give each arm on each logged row, or a fitted policy (its current state
gives those probabilities, per row's context for contextual policies).

Estimators of the candidate's value (mean reward per decision, reward units):

- **replay** (Li, Chu, Langford & Wang 2011): draw the candidate's arm for each row; keep the rows
  where it matches the logged arm; average their rewards. Unbiased only for uniformly random
  logging (a warning says so otherwise); uses ~n/K rows.
- **ips**: ``mean(w_i r_i)``, ``w_i = target(a_i | x_i) / propensity_i``. Unbiased; high variance
  when weights are large.
- **snips** (self-normalized, Swaminathan & Joachims 2015): ``sum(w r) / sum(w)``; slightly
  biased, far less variance.
- **dr** (doubly robust, Dudik, Langford & Li 2011): ``mean(sum_a target(a|x) rhat(x, a) +
  w (r - rhat(x, a_i)))`` with a reward model rhat: per-arm mean reward of the log
  (``reward_model="per_arm"``, default) or a per-arm ridge regression on the context
  (``"linear"``). Unbiased if either the propensities or the reward model are right.

Confidence intervals are normal (CLT) intervals at ``level`` (default 0.95): ``value +- z * se``
with ``se = sd / sqrt(n)`` of the per-row terms (replay: of the matched rewards; snips: the
delta-method standard error). Coverage is checked by simulation in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from optimizer.errors import DataError

ESTIMATORS = ("replay", "ips", "snips", "dr")


@dataclass(frozen=True)
class Estimate:
    """One estimator's result.

    Attributes
    ----------
    estimator : str
        "replay", "ips", "snips" or "dr".
    value : float
        Estimated mean reward per decision of the candidate, reward units (NaN if no row usable).
    se : float
        Standard error of ``value``, reward units.
    ci_low, ci_high : float
        Normal confidence interval at the result's ``level``.
    n_used : int
        Rows that entered the estimate (replay: matched rows; others: all rows).
    """

    estimator: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    n_used: int


@dataclass(frozen=True)
class OfflineResult:
    """Result of :func:`evaluate_offline`.

    Attributes
    ----------
    status : str
        "ok", or "no_data" when no row could be used.
    warnings : tuple of str
        E.g. replay on non-uniform logging, small effective sample size.
    level : float
        Confidence level of the intervals, 0-1.
    n_rows : int
        Rows in the log.
    effective_sample_size : float
        ``(sum w)^2 / sum w^2``: how many rows the weighted estimates are worth.
    logged_value : float
        Mean logged reward (the logging policy's on-policy value), reward units.
    estimates : tuple of Estimate
    """

    status: str
    warnings: tuple[str, ...]
    level: float
    n_rows: int
    effective_sample_size: float
    logged_value: float
    estimates: tuple[Estimate, ...]

    def __getitem__(self, estimator: str) -> Estimate:
        for e in self.estimates:
            if e.estimator == estimator:
                return e
        raise KeyError(estimator)

    def summary(self):
        """One row per estimator: value, se, ci_low, ci_high, n_used."""
        import pandas as pd

        return pd.DataFrame([{"estimator": e.estimator, "value": e.value, "se": e.se, "ci_low": e.ci_low,
                              "ci_high": e.ci_high, "n_used": e.n_used} for e in self.estimates]).set_index("estimator")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN -> None)."""
        def c(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {"status": self.status, "warnings": list(self.warnings), "level": self.level, "n_rows": self.n_rows,
                "effective_sample_size": c(self.effective_sample_size), "logged_value": c(self.logged_value),
                "estimates": [{"estimator": e.estimator, "value": c(e.value), "se": c(e.se), "ci_low": c(e.ci_low),
                               "ci_high": c(e.ci_high), "n_used": e.n_used} for e in self.estimates]}

    def __str__(self) -> str:
        lines = [f"Offline evaluation of {self.n_rows} logged decisions (logged value {self.logged_value:.5g}, "
                 f"effective sample size {self.effective_sample_size:.0f}), {self.level:.0%} intervals:"]
        for e in self.estimates:
            lines.append(f"  {e.estimator:<7} {e.value:.5g}  [{e.ci_low:.5g}, {e.ci_high:.5g}]  (n={e.n_used})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _column(log: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(log[name])
    except (KeyError, IndexError, ValueError):
        cols = list(log.keys()) if hasattr(log, "keys") else []
        raise DataError(f"the log has no column {name!r}; columns are {', '.join(map(str, cols))}.") from None


def target_probabilities(policy: Any, contexts: np.ndarray | None, n: int) -> np.ndarray:
    """(n x K) probabilities of a fitted policy on each logged row (its current state)."""
    if policy.contextual:
        if contexts is None:
            raise DataError(f"policy {policy.kind} is contextual; pass context_cols to evaluate it.")
        return np.vstack([policy.probabilities(policy.check_context(x)) for x in contexts])
    return np.tile(policy.probabilities(), (n, 1))


def evaluate_offline(
    log: Any,
    target: Any,
    arms: Sequence[str],
    *,
    arm_col: str = "arm",
    reward_col: str = "reward",
    propensity_col: str = "propensity",
    context_cols: Sequence[str] | None = None,
    reward_model: str = "per_arm",
    ridge: float = 1.0,
    level: float = 0.95,
    seed: int | None = None,
) -> OfflineResult:
    """Estimate a candidate policy's value from a decision log; see the module docstring.

    Parameters
    ----------
    log : pandas.DataFrame or mapping of column -> sequence
        One row per logged decision.
    target : numpy.ndarray (n x K) or Policy
        The candidate's probability of each arm on each row, or a fitted policy.
    arms : list of str
        Arm names, in the column order of ``target``.
    reward_model : {"per_arm", "linear"}
        Reward model of the doubly robust estimate.
    level : float
        Confidence level in (0, 1).
    seed : int or None
        Seed of the replay draws.

    Raises
    ------
    DataError
        Missing columns, unknown arms, propensities outside (0, 1], non-finite rewards, target rows
        that are not probability distributions.
    """
    from scipy import special

    from optimizer.seeding import make_rng

    if not 0 < level < 1:
        raise DataError(f"level is {level}; it must be in (0, 1), e.g. 0.95.")
    if reward_model not in ("per_arm", "linear"):
        raise DataError(f"reward_model is {reward_model!r}; allowed: 'per_arm', 'linear'.")
    arms = list(arms)
    k = len(arms)
    logged = _column(log, arm_col)
    n = len(logged)
    index = {a: i for i, a in enumerate(arms)}
    unknown = sorted({str(a) for a in logged if a not in index})
    if unknown:
        raise DataError(f"{arm_col} holds {len(unknown)} unknown arm(s): {', '.join(unknown[:5])}; arms are {', '.join(arms)}.")
    a_idx = np.array([index[a] for a in logged], dtype=np.int64)
    r = _column(log, reward_col).astype(float)
    prop = _column(log, propensity_col).astype(float)
    bad = int(np.sum(~np.isfinite(r)))
    if bad:
        raise DataError(f"{reward_col}: {bad} row(s) are NaN or infinite; rewards must be finite.")
    bad = int(np.sum(~(np.isfinite(prop) & (prop > 0) & (prop <= 1))))
    if bad:
        raise DataError(f"{propensity_col}: {bad} row(s) are outside (0, 1]; a logged arm must have had a positive probability.")
    X = None
    if context_cols:
        X = np.column_stack([_column(log, c).astype(float) for c in context_cols])
        if not np.all(np.isfinite(X)):
            raise DataError("context columns hold NaN or infinity; features must be finite.")
    if hasattr(target, "probabilities"):
        if list(target.arms) != arms:
            raise DataError(f"target policy arms {list(target.arms)} differ from arms {arms}.")
        pi = target_probabilities(target, X, n)
    else:
        pi = np.asarray(target, dtype=float)
        if pi.shape != (n, k):
            raise DataError(f"target has shape {pi.shape}; expected ({n}, {k}) (rows x arms).")
    rows_bad = int(np.sum(~np.all(np.isfinite(pi) & (pi >= 0), axis=1) | (np.abs(pi.sum(axis=1) - 1) > 1e-6)))
    if rows_bad:
        raise DataError(f"target: {rows_bad} row(s) are not probability distributions (>= 0, summing to 1).")
    if n == 0:
        nan = math.nan
        return OfflineResult("no_data", ("the log is empty",), level, 0, 0.0, nan,
                             tuple(Estimate(e, nan, nan, nan, nan, 0) for e in ESTIMATORS))

    z = float(special.ndtri(0.5 + level / 2))
    rng, _ = make_rng(seed)
    warnings: list[str] = []

    def est(name: str, terms: np.ndarray) -> Estimate:
        m = len(terms)
        if m == 0:
            return Estimate(name, math.nan, math.nan, math.nan, math.nan, 0)
        value = float(terms.mean())
        se = float(terms.std(ddof=1) / math.sqrt(m)) if m > 1 else math.inf
        return Estimate(name, value, se, value - z * se, value + z * se, m)

    # replay: sample the candidate's arm per row, keep matches
    cum = np.cumsum(pi, axis=1)
    draw = (rng.random(n)[:, None] * cum[:, -1:] >= cum).sum(axis=1)
    replay = est("replay", r[draw == a_idx])
    if np.ptp(prop) > 1e-9 or abs(prop[0] - 1 / k) > 1e-9:
        warnings.append("replay assumes uniformly random logging (propensity 1/K everywhere); this log is not, "
                        "so its replay estimate is biased: read ips/snips/dr instead")

    w = pi[np.arange(n), a_idx] / prop
    ips = est("ips", w * r)
    sw = w.sum()
    if sw > 0:
        v = float((w * r).sum() / sw)
        se = float(math.sqrt(np.sum(w * w * (r - v) ** 2)) / sw)
        snips = Estimate("snips", v, se, v - z * se, v + z * se, n)
    else:
        snips = Estimate("snips", math.nan, math.nan, math.nan, math.nan, 0)
        warnings.append("the candidate gives probability 0 to every logged arm: no weighted estimate is possible")
    ess = float(sw * sw / np.sum(w * w)) if sw > 0 else 0.0
    if ess < 0.1 * n:
        warnings.append(f"effective sample size is {ess:.0f} of {n} rows: the candidate differs much from the logging "
                        "policy, intervals are wide and may undercover")

    rhat = _reward_model(reward_model, a_idx, r, X, k, ridge)
    dm = np.sum(pi * rhat, axis=1)
    dr = est("dr", dm + w * (r - rhat[np.arange(n), a_idx]))
    return OfflineResult("ok", tuple(warnings), level, n, ess, float(r.mean()), (replay, ips, snips, dr))


def _reward_model(kind: str, a_idx: np.ndarray, r: np.ndarray, X: np.ndarray | None, k: int, ridge: float) -> np.ndarray:
    """(n x K) predicted reward of every arm on every row."""
    n = len(r)
    overall = float(r.mean())
    if kind == "linear" and X is not None:
        Xb = np.column_stack([np.ones(n), X])
        d = Xb.shape[1]
        out = np.empty((n, k))
        for j in range(k):
            sel = a_idx == j
            A = ridge * np.eye(d) + Xb[sel].T @ Xb[sel]
            theta = np.linalg.solve(A, Xb[sel].T @ r[sel])
            out[:, j] = Xb @ theta
        return out
    counts = np.bincount(a_idx, minlength=k)
    sums = np.bincount(a_idx, weights=r, minlength=k)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), overall)
    return np.tile(means, (n, 1))
