"""Conversion metrics (0/1 per user): two-proportion z-tests and intervals, vectorised.

Conventions are explicit switches, because tools disagree and users compare with them:

* ``pooled`` (default True): the z statistic's standard error uses the pooled rate
  ``(x0 + x1) / (n0 + n1)`` (the score test; its square is Pearson's chi-square). False uses the
  unpooled (Wald) standard error.
* ``continuity`` (default False): Yates' correction, ``|d|`` reduced by
  ``min(0.5 * (1/n0 + 1/n1), |d|)`` in the statistic and added to the interval's half-width.
* ``ci`` (default ``"wald"``): the interval of the difference. ``"wald"`` is
  ``d +- z * sqrt(p0 q0 / n0 + p1 q1 / n1)`` (+ the continuity term when ``continuity``),
  clipped to [-1, 1]; ``"newcombe"`` is Newcombe's (1998) hybrid score interval, method 10
  (Wilson limits of each rate combined by the square-and-add rule), better on small samples and
  near 0 or 1.

**R's ``prop.test(c(x1, x0), c(n1, n0))``** (``correct = TRUE`` by default) is reproduced by
``pooled=True, continuity=True, ci="wald"``; ``prop.test(..., correct = FALSE)`` by
``pooled=True, continuity=False, ci="wald"``. statsmodels' ``proportions_ztest`` is the pooled
statistic without correction. statsmodels' ``confint_proportions_2indep(method="score")`` is not
used: it has an open bug on small samples; the Newcombe interval here is implemented directly.

The relative lift ``p1/p0 - 1`` has a delta-method interval (see :mod:`experiments.means`).
"""

from __future__ import annotations

import numpy as np

from experiments.means import blank_errors, difference_of_estimates

__all__ = ["proportions_arrays", "wilson_interval", "newcombe_interval"]


def wilson_interval(x, n, *, alpha: float = 0.05):
    """Wilson score interval of a single proportion (R ``prop.test(x, n, correct=FALSE)$conf.int``)."""
    from scipy import stats

    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    with np.errstate(all="ignore"):
        p = x / n
        denom = n + z * z
        centre = (x + z * z / 2.0) / denom
        half = z * np.sqrt(n * p * (1.0 - p) + z * z / 4.0) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def newcombe_interval(x0, n0, x1, n1, *, alpha: float = 0.05):
    """Newcombe (1998) method 10 interval for ``p1 - p0`` (hybrid score, no continuity correction).

    ``L = d - sqrt((p1 - l1)^2 + (u0 - p0)^2)``, ``U = d + sqrt((u1 - p1)^2 + (p0 - l0)^2)``
    with ``(l, u)`` the Wilson limits of each rate.
    """
    x0, n0, x1, n1 = (np.asarray(a, dtype=float) for a in (x0, n0, x1, n1))
    with np.errstate(all="ignore"):
        p0, p1 = x0 / n0, x1 / n1
    l0, u0 = wilson_interval(x0, n0, alpha=alpha)
    l1, u1 = wilson_interval(x1, n1, alpha=alpha)
    d = p1 - p0
    return d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def proportions_arrays(n0, x0, n1, x1, *, alpha: float = 0.05, pooled: bool = True, continuity: bool = False,
                       ci: str = "wald", alternative: str = "two-sided"):
    """Two-proportion comparison per row: treatment (``x1/n1``) minus control (``x0/n0``).

    Parameters
    ----------
    n0, x0, n1, x1 : array-like
        Users and converting users of control and treatment.
    alpha : float
        1 - confidence level.
    pooled, continuity, ci : see the module docstring.
    alternative : {"two-sided", "greater", "less"}
        Direction of the p-value (the Wald interval follows it; the Newcombe interval is two-sided).

    Returns
    -------
    dict of arrays
        The :func:`~experiments.means.difference_of_estimates` columns (with the statistic and
        interval replaced per the conventions), and ``error_code`` per row: ``ZERO_USERS``,
        ``INVALID_PROPORTION`` (x < 0 or x > n), ``ZERO_VARIANCE`` (the chosen standard error is 0).
    """
    from scipy import stats

    if ci not in ("wald", "newcombe"):
        raise ValueError(f"ci is {ci!r}; it must be 'wald' or 'newcombe'.")
    n0, x0, n1, x1 = (np.asarray(a, dtype=float) for a in (n0, x0, n1, x1))
    with np.errstate(all="ignore"):  # invalid rows get an error code below
        return _proportions(n0, x0, n1, x1, alpha, pooled, continuity, ci, alternative, stats)


def _proportions(n0, x0, n1, x1, alpha, pooled, continuity, ci, alternative, stats):
    p0, p1 = x0 / n0, x1 / n1
    v0, v1 = p0 * (1 - p0) / n0, p1 * (1 - p1) / n1
    out = difference_of_estimates(p0, v0, p1, v1, alpha=alpha, alternative=alternative)
    d = p1 - p0
    inv = 1.0 / n0 + 1.0 / n1
    if pooled:
        pp = (x0 + x1) / (n0 + n1)
        se_test = np.sqrt(pp * (1 - pp) * inv)
    else:
        se_test = np.sqrt(v0 + v1)
    cc = np.minimum(0.5 * inv, np.abs(d)) if continuity else np.zeros_like(d)
    stat = np.where(se_test > 0, np.sign(d) * (np.abs(d) - cc) / se_test, np.nan)
    if alternative == "two-sided":
        p = 2.0 * stats.norm.sf(np.abs(stat))
    elif alternative == "greater":
        p = stats.norm.sf(stat)
    else:
        p = stats.norm.cdf(stat)
    out["statistic"], out["p_value"] = stat, np.minimum(p, 1.0)
    if ci == "newcombe":
        lo, hi = newcombe_interval(x0, n0, x1, n1, alpha=alpha)
    else:
        lo = np.maximum(out["lift_absolute_ci_low"] - cc, -1.0)
        hi = np.minimum(out["lift_absolute_ci_high"] + cc, 1.0)
    out["lift_absolute_ci_low"], out["lift_absolute_ci_high"] = lo, hi
    codes = np.full(n0.shape, None, dtype=object)
    codes[~(se_test > 0)] = "ZERO_VARIANCE"
    codes[(x0 < 0) | (x1 < 0) | (x0 > n0) | (x1 > n1)] = "INVALID_PROPORTION"
    codes[(n0 <= 0) | (n1 <= 0)] = "ZERO_USERS"
    out["error_code"] = codes
    return blank_errors(out)
