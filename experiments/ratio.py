"""Ratio metrics (ROAS = revenue / spend, revenue per session): delta method, vectorised.

The user is the randomisation unit but the metric is a ratio of sums ``R = sum Y / sum D``
(``Y`` numerator and ``D`` denominator per user), so the users' ratios are not independent
observations of R. The delta method linearises R around the means (Deng et al. 2018,
"Applying the Delta Method in Metric Analytics"):

    Var(R) ~= (Var(Y) - 2 R Cov(Y, D) + R^2 Var(D)) / (n * Dbar^2)

with per-user (unbiased) variances. The difference of two independent ratios is then tested
with a z statistic (normal reference; the delta method is asymptotic). Units: those of Y per
unit of D (currency per session, revenue per unit of spend).
"""

from __future__ import annotations

import numpy as np

from experiments.means import blank_errors, difference_of_estimates, error_codes

__all__ = ["ratio_estimate", "ratio_arrays"]


def ratio_estimate(n, mean_y, mean_d, m2_y, m2_d, m2_yd):
    """Ratio ``R = Ybar / Dbar`` and the delta-method variance of R, per row.

    ``m2_*`` are the centred (co-)moment sums (``sum (Y-Ybar)^2`` etc.); rows with ``n < 2`` or
    ``Dbar == 0`` give NaN.
    """
    n, mean_y, mean_d, m2_y, m2_d, m2_yd = (np.asarray(a, dtype=float) for a in (n, mean_y, mean_d, m2_y, m2_d, m2_yd))
    with np.errstate(all="ignore"):
        r = mean_y / mean_d
        dof = n - 1
        var_l = (m2_y - 2 * r * m2_yd + r * r * m2_d) / dof  # variance of the linearised Y - R D
        var_r = np.maximum(var_l, 0.0) / (n * mean_d**2)
    return r, var_r


def ratio_arrays(control, treatment, *, alpha: float = 0.05, alternative: str = "two-sided", scale: str = "absolute"):
    """Compare ratio metrics row by row.

    Parameters
    ----------
    control, treatment : VariantArrays
        Rows with the denominator columns (``den_mean``, ``den_m2``, ``num_den_m2``) filled.
    scale : {"absolute", "relative"}
        Effect scale of the test and intervals (see :func:`~experiments.means.difference_of_estimates`).

    Returns
    -------
    dict of arrays
        :func:`~experiments.means.difference_of_estimates` columns with ``mean_control`` and
        ``mean_treatment`` set to the ratios, and ``error_code`` (``MISSING_DENOMINATOR``,
        ``ZERO_DENOMINATOR`` and the usual ones).
    """
    c, t = control, treatment
    r0, v0 = ratio_estimate(c.n, c.mean, c.den_mean, c.m2, c.den_m2, c.num_den_m2)
    r1, v1 = ratio_estimate(t.n, t.mean, t.den_mean, t.m2, t.den_m2, t.num_den_m2)
    out = difference_of_estimates(r0, v0, r1, v1, alpha=alpha, alternative=alternative, scale=scale)
    out["mean_control"], out["mean_treatment"] = r0, r1
    codes = error_codes(c.n, t.n, v0 + v1, min_n=2, mu0=r0 if scale == "relative" else None)
    zero_den = ((c.den_mean == 0) | (t.den_mean == 0)) & (c.n > 0) & (t.n > 0)
    codes[zero_den] = "ZERO_DENOMINATOR"
    codes[np.isnan(c.den_mean) & (c.n > 0) | np.isnan(t.den_mean) & (t.n > 0)] = "MISSING_DENOMINATOR"
    codes[(c.n == 0) | (t.n == 0)] = "ZERO_USERS"
    out["error_code"] = codes
    return blank_errors(out)
