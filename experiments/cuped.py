"""CUPED variance reduction (Deng, Xu, Kohavi & Walker 2013) for mean and ratio metrics, and winsorizing.

CUPED subtracts the part of the metric explained by a pre-period covariate X (the same metric
measured before the experiment, unaffected by the treatment):

    Ybar_adj_i = Ybar_i - theta * (Xbar_i - Xbar),   theta = sum_i C_XY,i / sum_i M2_X,i

``theta`` is the pooled within-variant regression slope (sums over both variants of the centred
co-moments; ``theta_mode="pooled_sample"`` instead takes both variants as one sample, as
GrowthBook), and ``Xbar`` the mean of X over both variants, so the adjusted means stay unbiased
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


THETA_MODES = ("within_arm", "pooled_sample")


def _pooled_xbar(c, t):
    with np.errstate(all="ignore"):
        return (c.n * c.cov_mean + t.n * t.cov_mean) / (c.n + t.n)


def _theta(c, t, cross_c, cross_t, mode: str):
    """CUPED slope: within-arm pooled (default) or over both arms as one sample (GrowthBook).

    ``within_arm`` is the slope of the regression of Y on X with a treatment term (sums of the
    centred co-moments inside each arm); ``pooled_sample`` treats both arms as one sample, so the
    between-arm difference of means also enters (gbstats ``compute_theta``). With randomised
    arms both estimate the same slope; the within-arm one is not moved by the treatment effect
    itself, which is why it stays the default.
    """
    if mode not in THETA_MODES:
        raise ValueError(f"theta mode is {mode!r}; it must be one of {THETA_MODES}.")
    with np.errstate(all="ignore"):
        sxx = c.cov_m2 + t.cov_m2
        sxy = cross_c + cross_t
        if mode == "pooled_sample":
            w = c.n * t.n / (c.n + t.n)
            dx = t.cov_mean - c.cov_mean
            sxx = sxx + dx * dx * w
            sxy = sxy + dx * (t.mean - c.mean) * w
        return np.where(sxx > 0, sxy / sxx, 0.0)  # constant X: no adjustment


def _relative_cuped(c, t, theta, m0, m1, v1, growthbook: bool = False):
    """Lift ``(A1 - A0) / |Ybar0|`` over the *unadjusted* control mean and its delta-method variance.

    As gbstats, the denominator is the raw control mean (the adjusted one moves with theta).
    The gradient in the control arm's (Ybar0, Xbar0) is ``(-(|Y0| + lift_abs sgn Y0) / Y0^2,
    theta / |Y0|)``; the treatment arm contributes its adjusted variance over ``Y0^2``.
    ``growthbook=True`` uses gbstats' ``frequentist_variance_relative_cuped`` literally, which
    puts the raw treatment mean ``Ybar1`` where the exact gradient has ``Y0 + A1 - A0`` (they
    differ by ``theta (Xbar1 - Xbar0)``, a chance imbalance of the covariate).
    """
    with np.errstate(all="ignore"):
        y0 = c.mean
        diff = m1 - m0
        if growthbook:
            g_y = -t.mean / y0**2
            g_x = theta / y0
        else:
            g_y = -(np.abs(y0) + diff * np.sign(y0)) / y0**2
            g_x = theta / np.abs(y0)
        var_c = (g_y**2 * c.m2 + 2 * g_y * g_x * c.cross_m2 + g_x**2 * c.cov_m2) / (c.n - 1) / c.n
        var_rel = var_c + v1 / y0**2
        rel = np.where(y0 != 0, diff / np.abs(y0), np.nan)
    return rel, np.where(y0 != 0, var_rel, np.nan)


def _rescale_relative(out, rel, var_rel, alpha, df, alternative, y0):
    """Replace the test and intervals of ``out`` by those of the relative lift ``rel``."""
    from scipy import stats

    with np.errstate(all="ignore"):
        s = np.sqrt(var_rel)
        dist, kw = (stats.norm, {}) if df is None else (stats.t, {"df": df})
        stat = np.where(s > 0, rel / s, np.nan)
        if alternative == "two-sided":
            p, q = 2.0 * dist.sf(np.abs(stat), **kw), dist.ppf(1 - alpha / 2, **kw)
            lo, hi = rel - q * s, rel + q * s
        elif alternative == "greater":
            p, q = dist.sf(stat, **kw), dist.ppf(1 - alpha, **kw)
            lo, hi = rel - q * s, np.full_like(rel, np.inf)
        else:
            p, q = dist.cdf(stat, **kw), dist.ppf(1 - alpha, **kw)
            lo, hi = np.full_like(rel, -np.inf), rel + q * s
        base = np.abs(y0)
    out.update(lift_relative=rel, lift_relative_ci_low=lo, lift_relative_ci_high=hi, se_relative=s, estimate=rel,
               se_scaled=s, statistic=stat, p_value=np.minimum(p, 1.0), lift_absolute_ci_low=lo * base,
               lift_absolute_ci_high=hi * base, baseline=base)
    return out


def cuped_means_arrays(control, treatment, *, alpha: float = 0.05, alternative: str = "two-sided",
                       scale: str = "absolute", theta_mode: str = "within_arm"):
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
    theta = _theta(c, t, c.cross_m2, t.cross_m2, theta_mode)
    with np.errstate(all="ignore"):
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
    if scale == "relative":
        rel, var_rel = _relative_cuped(c, t, theta, m0, m1, v1, growthbook=theta_mode == "pooled_sample")
        out = _rescale_relative(out, rel, var_rel, alpha, df, alternative, c.mean)
    out.update(mean_control=m0, mean_treatment=m1, df=df, theta=theta, variance_reduction=reduction)
    codes = error_codes(c.n, t.n, v0 + v1, min_n=2, mu0=c.mean if scale == "relative" else None)
    codes[(np.isnan(c.cov_mean) | np.isnan(t.cov_mean)) & (c.n > 0) & (t.n > 0)] = "MISSING_COVARIATE"
    out["error_code"] = codes
    return blank_errors(out)


def cuped_ratio_arrays(control, treatment, *, alpha: float = 0.05, alternative: str = "two-sided",
                       scale: str = "absolute", theta_mode: str = "within_arm"):
    """CUPED on the delta-method linearisation of a ratio metric, per row.

    Needs the covariate and denominator columns and ``cov_den_m2``. Returns the same columns as
    :func:`cuped_means_arrays` (no ``df``: normal reference). On the relative scale the lift is
    over the adjusted control ratio (delta method on the adjusted estimates).
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
        theta = _theta(c, t, cx0, cx1, "within_arm")
        if theta_mode == "pooled_sample":
            from types import SimpleNamespace

            # One sample of the linearised ratio L: its arm means are the ratios themselves.
            theta = _theta(SimpleNamespace(n=c.n, cov_m2=c.cov_m2, cov_mean=c.cov_mean, mean=r0),
                           SimpleNamespace(n=t.n, cov_m2=t.cov_m2, cov_mean=t.cov_mean, mean=r1), cx0, cx1,
                           "pooled_sample")
        xbar = _pooled_xbar(c, t)
        means, variances = [], []
        for a, r, m2_l, cx in ((c, r0, l0, cx0), (t, r1, l1, cx1)):
            means.append(r - theta * (a.cov_mean - xbar))
            variances.append(np.maximum(m2_l - 2 * theta * cx + theta**2 * a.cov_m2, 0.0) / (a.n - 1) / a.n)
        raw = l0 / (c.n - 1) / c.n + l1 / (t.n - 1) / t.n
        v0, v1 = variances
        reduction = np.where(raw > 0, 1.0 - (v0 + v1) / raw, np.nan)
    out = difference_of_estimates(means[0], v0, means[1], v1, alpha=alpha, alternative=alternative, scale=scale)
    out.update(mean_control=means[0], mean_treatment=means[1], theta=theta, variance_reduction=reduction)
    codes = error_codes(c.n, t.n, v0 + v1, min_n=2, mu0=means[0] if scale == "relative" else None)
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
