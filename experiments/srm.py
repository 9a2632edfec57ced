"""Sample-ratio-mismatch (SRM) check: overall and per dimension, with multiplicity control.

An SRM means the observed users per variant do not match the planned split (e.g. 50/50), which
signals broken assignment or logging; the effect estimates are then untrustworthy and "ship" is
blocked. The test is Pearson's chi-square goodness of fit against the planned shares (R
``chisq.test(x, p = shares)``), ``df = k - 1``. Default threshold ``alpha = 0.001`` (the usual
SRM convention: a strict threshold, since the check runs every look and on every slice).

Per dimension (country, device, ...), each slice is tested and the p-values are adjusted with
Holm (default) across all slices of all dimensions, so checking 40 slices does not raise 40
times the false-alarm rate.
"""

from __future__ import annotations

import math

from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from experiments.results import _clean

__all__ = ["SRMResult", "srm_check", "srm_by_dimension"]


@dataclass(frozen=True)
class SRMResult:
    """Outcome of one SRM test.

    Attributes
    ----------
    dimension : str
        ``""`` for overall, else e.g. ``"country=FR"``.
    variant_to_users : dict
        Observed users per variant.
    variant_to_expected_share : dict
        Planned share per variant (fractions summing to 1).
    chi2 : float
        Pearson chi-square statistic.
    p_value : float
        Raw p-value.
    p_value_adjusted : float
        p-value after the multiplicity correction (equal to ``p_value`` for a single test).
    alpha : float
        Threshold applied to ``p_value_adjusted``.
    status : str
        ``"ok"``, ``"fail"`` (SRM detected) or ``"error"`` (test not possible).
    error_code : str or None
        ``"ZERO_USERS"`` (no users at all) or ``"SINGLE_VARIANT"``.
    warnings : tuple of str
        E.g. expected counts below 5 (chi-square approximation poor).
    """

    dimension: str
    variant_to_users: dict
    variant_to_expected_share: dict
    chi2: float
    p_value: float
    p_value_adjusted: float
    alpha: float
    status: str
    error_code: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """True when a mismatch was detected."""
        return self.status == "fail"

    @property
    def max_share_deviation(self) -> float:
        """Largest ``|observed share / planned share - 1|`` over the variants (fraction; NaN without users)."""
        total = sum(self.variant_to_users.values())
        if not total:
            return math.nan
        return max(abs(self.variant_to_users[v] / total / self.variant_to_expected_share[v] - 1.0)
                   for v in self.variant_to_users)

    def severity(self, tolerance_relative: float = 0.01) -> str:
        """``"none"`` (no mismatch), ``"tiny"`` or ``"harmful"`` (or ``"n/a"`` when not testable).

        A mismatch is *tiny* when the test detects it (large samples detect anything) but every
        variant's share is within ``tolerance_relative`` of its planned share (0.01: 50.0 % planned,
        49.5-50.5 % observed); such a split cannot move a lift by more than about that fraction.
        Anything larger is *harmful*: the assignment or the logging is broken.
        """
        if self.status == "error":
            return "n/a"
        if not self.failed:
            return "none"
        return "tiny" if self.max_share_deviation < tolerance_relative else "harmful"

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {k: _clean(v) for k, v in asdict(self).items()}

    def summary(self) -> pd.DataFrame:
        """One-row DataFrame."""
        d = self.to_dict()
        d["warnings"] = "; ".join(self.warnings)
        return pd.DataFrame([d])

    def __str__(self) -> str:
        where = self.dimension or "overall"
        if self.status == "error":
            return f"SRM {where}: not testable ({self.error_code})"
        users = ", ".join(f"{k}={v}" for k, v in self.variant_to_users.items())
        return f"SRM {where}: {self.status.upper()} ({users}; chi2 = {self.chi2:.3f}, p = {self.p_value:.3g}, adjusted p = {self.p_value_adjusted:.3g}, alpha = {self.alpha})"


def _shares(variants: Sequence[str], expected: Mapping[str, float] | None) -> np.ndarray:
    if expected is None:
        return np.full(len(variants), 1.0 / len(variants))
    unknown = sorted(set(expected) - set(variants))
    missing = [v for v in variants if v not in expected]
    if unknown or missing:
        raise ValueError(f"expected shares name variants {sorted(expected)} but the counts have {list(variants)}; "
                         "give one share per variant.")
    s = np.array([float(expected[v]) for v in variants])
    if not np.all(np.isfinite(s)) or (s <= 0).any():
        raise ValueError(f"expected shares are {dict(expected)}; every share must be a finite number > 0.")
    if abs(s.sum() - 1.0) > 1e-6:
        raise ValueError(f"expected shares sum to {s.sum():.6g}; they must sum to 1 (e.g. 0.5 and 0.5).")
    return s


def srm_check(variant_to_users: Mapping[str, int], expected_shares: Mapping[str, float] | None = None, *,
              alpha: float = 0.001, dimension: str = "") -> SRMResult:
    """Chi-square goodness-of-fit test of the observed split against the planned one.

    Parameters
    ----------
    variant_to_users : mapping
        Users per variant (counts >= 0).
    expected_shares : mapping, optional
        Planned share per variant (sums to 1); default equal split.
    alpha : float
        Threshold (default 0.001).
    """
    from scipy import stats

    variants = list(variant_to_users)
    counts = np.array([variant_to_users[v] for v in variants], dtype=float)
    if not np.all(np.isfinite(counts)) or (counts < 0).any():
        raise ValueError(f"user counts are {dict(variant_to_users)}; counts must be finite and >= 0.")
    kw = dict(dimension=dimension, variant_to_users={v: int(c) for v, c in zip(variants, counts)}, alpha=alpha)
    if len(variants) < 2:
        return SRMResult(variant_to_expected_share={v: 1.0 for v in variants}, chi2=np.nan, p_value=np.nan,
                         p_value_adjusted=np.nan, status="error", error_code="SINGLE_VARIANT", **kw)
    shares = _shares(variants, expected_shares)
    kw["variant_to_expected_share"] = {v: float(s) for v, s in zip(variants, shares)}
    total = counts.sum()
    if total == 0:
        return SRMResult(chi2=np.nan, p_value=np.nan, p_value_adjusted=np.nan, status="error", error_code="ZERO_USERS", **kw)
    exp = total * shares
    chi2 = float(np.sum((counts - exp) ** 2 / exp))
    p = float(stats.chi2.sf(chi2, len(variants) - 1))
    warn = ("expected users below 5 in a variant; the chi-square approximation is poor",) if (exp < 5).any() else ()
    return SRMResult(chi2=chi2, p_value=p, p_value_adjusted=p, status="fail" if p < alpha else "ok", warnings=warn, **kw)


def srm_by_dimension(frame: pd.DataFrame, expected_shares: Mapping[str, float] | None = None, *,
                     variant_col: str = "variant", users_col: str = "n", dimension_cols: Sequence[str] = (),
                     alpha: float = 0.001, method: str = "holm") -> list[SRMResult]:
    """SRM test overall and for every slice of every dimension column, multiplicity-adjusted.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per (variant, slice) with users in ``users_col``; dimension columns hold slice values.
    dimension_cols : sequence of str
        E.g. ``("country", "device")``; each column's slices are tested.
    method : str
        Correction across all slices (:func:`experiments.multiple.adjust_pvalues`); the overall
        test is not part of the family (it is the primary check).

    Returns
    -------
    list of SRMResult
        Overall first, then each slice as ``"column=value"``.
    """
    from experiments.multiple import adjust_pvalues

    for c in (variant_col, users_col, *dimension_cols):
        if c not in frame.columns:
            raise ValueError(f"column {c!r} is not in the table; available: {list(frame.columns)}.")
    overall = frame.groupby(variant_col, sort=False)[users_col].sum()
    results = [srm_check(overall.to_dict(), expected_shares, alpha=alpha)]
    slices = []
    for col in dimension_cols:
        for value, sub in frame.groupby(col, sort=True):
            counts = sub.groupby(variant_col, sort=False)[users_col].sum().reindex(overall.index, fill_value=0)
            slices.append(srm_check(counts.to_dict(), expected_shares, alpha=alpha, dimension=f"{col}={value}"))
    adj = adjust_pvalues([r.p_value for r in slices], method)
    for r, pa in zip(slices, adj):
        status = r.status if r.status == "error" else ("fail" if pa < alpha else "ok")
        results.append(SRMResult(**{**asdict(r), "p_value_adjusted": float(pa), "status": status}))
    return results
