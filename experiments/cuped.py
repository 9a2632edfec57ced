"""CUPED variance reduction (Deng, Xu, Kohavi & Walker 2013) for mean and ratio metrics, and winsorizing.

CUPED subtracts the part of the metric explained by a pre-period covariate X (the same metric
measured before the experiment, unaffected by the treatment):

    Ybar_adj_i = Ybar_i - theta * (Xbar_i - Xbar),   theta = sum_i C_XY,i / sum_i M2_X,i

``theta`` is the pooled within-variant regression slope (sums over both variants of the centred
co-moments), and ``Xbar`` the mean of X over both variants, so the adjusted means stay unbiased
for the treatment effect (X is balanced by randomisation). The per-user variance becomes
``Var(Y) - 2 theta Cov(X, Y) + theta^2 Var(X)``, i.e. ``Var(Y) (1 - rho^2)`` at the optimum.

**Ratio metrics**: the ratio is linearised first, ``L = (Y - R D) / Dbar`` (the delta method's
influence function), and CUPED is applied to L with ``Cov(X, L) = (Cov(X, Y) - R Cov(X, D)) / Dbar``
(needs ``cov_den_sum`` = sum X*D). Tested with a z (normal) reference.

Mean metrics use Welch's t on the adjusted values. ``theta`` is treated as known (its estimation
error is O(1/n) and ignored, as in the paper). Winsorizing (capping extreme values) works on raw
per-user values: :func:`winsorize` computes the caps on all variants pooled, so every variant is
capped at the same value (per-variant caps would bias the comparison).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from experiments.means import blank_errors, difference_of_estimates, error_codes, welch_df

__all__ = ["cuped_means_arrays", "cuped_ratio_arrays", "winsorize", "winsorize_caps"]


def _pooled_xbar(c, t):
    with np.errstate(all="ignore"):
        return (c.n * c.cov_mean + t.n * t.cov_mean) / (c.n + t.n)


def cuped_means_arrays(control, treatment, *, alpha: float = 0.05, alternative: str = "two-sided"):
    """CUPED-adjusted Welch comparison of mean metrics, per row.

    Parameters
    ----------
    control, treatment : VariantArrays
        Rows with the covariate columns (``cov_mean``, ``cov_m2``, ``cross_m2``) filled.

    Returns
    -------
    dict of arrays
        Lift columns on adjusted means, ``mean_control``/``mean_treatment`` (adjusted), ``df``,
        ``theta``, ``variance_reduction`` (fraction of the unadjusted variance of the difference
        removed) and ``error_code`` (``MISSING_COVARIATE`` among others).
    """
    c, t = control, treatment
    with np.errstate(all="ignore"):
        sxx = c.cov_m2 + t.cov_m2
        theta = np.where(sxx > 0, (c.cross_m2 + t.cross_m2) / sxx, 0.0)  # constant X: no adjustment
        xbar = _pooled_xbar(c, t)
        adj = []
        for a in (c, t):
            mean = a.mean - theta * (a.cov_mean - xbar)
            m2 = np.maximum(a.m2 - 2 * theta * a.cross_m2 + theta**2 * a.cov_m2, 0.0)
            var_mean = m2 / (a.n - 1) / a.n
            adj.append((mean, var_mean))
        (m0, v0), (m1, v1) = adj
        df = welch_df(v0, v1, c.n, t.n)
        raw = c.m2 / (c.n - 1) / c.n + t.m2 / (t.n - 1) / t.n
        reduction = np.where(raw > 0, 1.0 - (v0 + v1) / raw, np.nan)
    out = difference_of_estimates(m0, v0, m1, v1, alpha=alpha, df=df, alternative=alternative)
    out.update(mean_control=m0, mean_treatment=m1, df=df, theta=theta, variance_reduction=reduction)
    codes = error_codes(c.n, t.n, v0 + v1, min_n=2)
    codes[(np.isnan(c.cov_mean) | np.isnan(t.cov_mean)) & (c.n > 0) & (t.n > 0)] = "MISSING_COVARIATE"
    out["error_code"] = codes
    return blank_errors(out)


def cuped_ratio_arrays(control, treatment, *, alpha: float = 0.05, alternative: str = "two-sided"):
    """CUPED on the delta-method linearisation of a ratio metric, per row.

    Needs the covariate and denominator columns and ``cov_den_m2``. Returns the same columns as
    :func:`cuped_means_arrays` (no ``df``: normal reference).
    """
    c, t = control, treatment
    with np.errstate(all="ignore"):
        parts = []
        for a in (c, t):
            r = a.mean / a.den_mean
            m2_l = (a.m2 - 2 * r * a.num_den_m2 + r * r * a.den_m2) / a.den_mean**2
            cross_xl = (a.cross_m2 - r * a.cov_den_m2) / a.den_mean
            parts.append((r, np.maximum(m2_l, 0.0), cross_xl))
        (r0, l0, cx0), (r1, l1, cx1) = parts
        sxx = c.cov_m2 + t.cov_m2
        theta = np.where(sxx > 0, (cx0 + cx1) / sxx, 0.0)
        xbar = _pooled_xbar(c, t)
        means, variances = [], []
        for a, r, m2_l, cx in ((c, r0, l0, cx0), (t, r1, l1, cx1)):
            means.append(r - theta * (a.cov_mean - xbar))
            variances.append(np.maximum(m2_l - 2 * theta * cx + theta**2 * a.cov_m2, 0.0) / (a.n - 1) / a.n)
        raw = l0 / (c.n - 1) / c.n + l1 / (t.n - 1) / t.n
        v0, v1 = variances
        reduction = np.where(raw > 0, 1.0 - (v0 + v1) / raw, np.nan)
    out = difference_of_estimates(means[0], v0, means[1], v1, alpha=alpha, alternative=alternative)
    out.update(mean_control=means[0], mean_treatment=means[1], theta=theta, variance_reduction=reduction)
    codes = error_codes(c.n, t.n, v0 + v1, min_n=2)
    alive = (c.n > 0) & (t.n > 0)
    codes[((c.den_mean == 0) | (t.den_mean == 0)) & alive] = "ZERO_DENOMINATOR"
    codes[(np.isnan(c.den_mean) | np.isnan(t.den_mean)) & alive] = "MISSING_DENOMINATOR"
    codes[(np.isnan(c.cov_mean) | np.isnan(t.cov_mean) | np.isnan(c.cov_den_m2) | np.isnan(t.cov_den_m2)) & alive] = "MISSING_COVARIATE"
    out["error_code"] = codes
    return blank_errors(out)


def winsorize_caps(variant_to_values: Mapping[str, np.ndarray], *, upper_quantile: float = 0.99,
                   lower_quantile: float | None = None) -> tuple[float | None, float]:
    """Caps ``(lower, upper)`` computed on all variants' values pooled.

    ``upper_quantile`` (fraction, default 0.99) and optional ``lower_quantile``. Use the caps in
    SQL as ``least(greatest(y, lower), upper)`` before aggregating.
    """
    for q, label in ((upper_quantile, "upper_quantile"), (lower_quantile, "lower_quantile")):
        if q is not None and not 0.0 < q < 1.0:
            raise ValueError(f"{label} is {q}; it must be strictly between 0 and 1.")
    pooled = np.concatenate([np.asarray(v, dtype=float).ravel() for v in variant_to_values.values()])
    if pooled.size == 0:
        raise ValueError("winsorize needs at least one value; all variants are empty.")
    upper = float(np.quantile(pooled, upper_quantile))
    lower = None if lower_quantile is None else float(np.quantile(pooled, lower_quantile))
    return lower, upper


def winsorize(variant_to_values: Mapping[str, np.ndarray], *, upper_quantile: float = 0.99,
              lower_quantile: float | None = None) -> dict[str, np.ndarray]:
    """Cap every variant's per-user values at the pooled quantile caps (see :func:`winsorize_caps`)."""
    lower, upper = winsorize_caps(variant_to_values, upper_quantile=upper_quantile, lower_quantile=lower_quantile)
    lo = -np.inf if lower is None else lower
    return {k: np.clip(np.asarray(v, dtype=float), lo, upper) for k, v in variant_to_values.items()}
