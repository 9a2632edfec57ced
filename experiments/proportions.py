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

**Effect scale.** The conventions above are about the absolute difference (``scale="absolute"``).
On the relative scale (``scale="relative"``, GrowthBook's default) the lift ``(p1 - p0) / p0`` is
tested with its delta-method (unpooled) standard error and the interval is its dual, so the
pooled, continuity and Newcombe switches do not apply there. ``reference="welch_t"`` uses a
Student t quantile with Welch-Satterthwaite degrees of freedom computed from ``p (1 - p)`` and
``n`` per arm, as gbstats does for proportions; the default is the normal reference.

**Duality.** The unpooled Wald test and the Wald interval are duals (``p < alpha`` exactly when
the interval excludes 0). R's conventions (pooled score statistic, Yates, Newcombe) test and bound
with different standard errors, so near the boundary they can disagree; rows where they do carry
the warning ``TEST_INTERVAL_DISAGREE`` in ``warnings`` and the decision reads the interval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from experiments.means import blank_errors, difference_of_estimates

__all__ = ["proportions_arrays", "wilson_interval", "newcombe_interval", "k_group_test", "KGroupTestResult"]


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
                       ci: str = "wald", alternative: str = "two-sided", scale: str = "absolute",
                       reference: str = "normal"):
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
    scale : {"absolute", "relative"}
        Effect scale (module docstring); ``"relative"`` ignores ``pooled`` and refuses
        ``continuity=True`` and ``ci="newcombe"``.
    reference : {"normal", "welch_t"}
        Reference distribution of the statistic and interval quantile.

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
    if reference not in ("normal", "welch_t"):
        raise ValueError(f"reference is {reference!r}; it must be 'normal' or 'welch_t'.")
    if scale == "relative" and (continuity or ci == "newcombe"):
        raise ValueError("continuity=True and ci='newcombe' are conventions of the absolute difference; "
                         "use scale='absolute' with them, or drop them for the relative scale.")
    n0, x0, n1, x1 = (np.asarray(a, dtype=float) for a in (n0, x0, n1, x1))
    with np.errstate(all="ignore"):  # invalid rows get an error code below
        return _proportions(n0, x0, n1, x1, alpha, pooled, continuity, ci, alternative, scale, reference, stats)


def _codes(n0, x0, n1, x1, var_total, p0, scale):
    codes = np.full(n0.shape, None, dtype=object)
    if scale == "relative":
        codes[p0 == 0] = "ZERO_BASELINE"
    codes[~(var_total > 0)] = "ZERO_VARIANCE"
    codes[(x0 < 0) | (x1 < 0) | (x0 > n0) | (x1 > n1)] = "INVALID_PROPORTION"
    codes[(n0 <= 0) | (n1 <= 0)] = "ZERO_USERS"
    return codes


def _proportions(n0, x0, n1, x1, alpha, pooled, continuity, ci, alternative, scale, reference, stats):
    from experiments.means import welch_df

    p0, p1 = x0 / n0, x1 / n1
    v0, v1 = p0 * (1 - p0) / n0, p1 * (1 - p1) / n1
    df = welch_df(v0, v1, n0, n1) if reference == "welch_t" else None
    out = difference_of_estimates(p0, v0, p1, v1, alpha=alpha, alternative=alternative, df=df, scale=scale)
    if df is not None:
        out["df"] = df
    if scale == "relative" or not (pooled or continuity or ci == "newcombe"):
        # Wald statistic and Wald interval: duals by construction.
        if scale == "absolute":  # a difference of rates lies in [-1, 1]; clipping keeps 0 where it was
            base = np.where(p0 != 0, np.abs(p0), np.nan)
            for k in ("lift_absolute_ci_low", "lift_absolute_ci_high"):
                out[k] = np.clip(out[k], -1.0, 1.0)
            out["lift_relative_ci_low"] = out["lift_absolute_ci_low"] / base
            out["lift_relative_ci_high"] = out["lift_absolute_ci_high"] / base
        out["error_code"] = _codes(n0, x0, n1, x1, v0 + v1, p0, scale)
        return blank_errors(out)
    d = p1 - p0
    inv = 1.0 / n0 + 1.0 / n1
    if pooled:
        pp = (x0 + x1) / (n0 + n1)
        se_test = np.sqrt(pp * (1 - pp) * inv)
    else:
        se_test = np.sqrt(v0 + v1)
    cc = np.minimum(0.5 * inv, np.abs(d)) if continuity else np.zeros_like(d)
    stat = np.where(se_test > 0, np.sign(d) * (np.abs(d) - cc) / se_test, np.nan)
    dist, kw = (stats.norm, {}) if df is None else (stats.t, {"df": df})
    if alternative == "two-sided":
        p = 2.0 * dist.sf(np.abs(stat), **kw)
    elif alternative == "greater":
        p = dist.sf(stat, **kw)
    else:
        p = dist.cdf(stat, **kw)
    out["statistic"], out["p_value"] = stat, np.minimum(p, 1.0)
    if ci == "newcombe":
        lo, hi = newcombe_interval(x0, n0, x1, n1, alpha=alpha)
    else:
        lo = np.maximum(out["lift_absolute_ci_low"] - cc, -1.0)
        hi = np.minimum(out["lift_absolute_ci_high"] + cc, 1.0)
    out["lift_absolute_ci_low"], out["lift_absolute_ci_high"] = lo, hi
    base = np.where(p0 != 0, np.abs(p0), np.nan)
    out["lift_relative_ci_low"], out["lift_relative_ci_high"] = lo / base, hi / base
    out["statistic"] = stat
    excludes = (lo > 0) | (hi < 0)
    out["test_interval_disagree"] = ((out["p_value"] < alpha) != excludes).astype(float)
    out["error_code"] = _codes(n0, x0, n1, x1, se_test**2, p0, "absolute")
    return blank_errors(out)


@dataclass(frozen=True)
class KGroupTestResult:
    """Chi-square test that k groups share one conversion rate (R ``prop.test(x, n)`` with k groups).

    Attributes
    ----------
    statistic : float
        Pearson's X-squared on the 2 x k table (no continuity correction for k > 2, as R).
    df : int
        Degrees of freedom, ``k - 1``.
    p_value : float
        Upper tail of chi-square(df) at ``statistic``.
    rates : tuple of float
        Observed rate of each group (fraction).
    pooled_rate : float
        Rate of all groups together.
    """

    statistic: float
    df: int
    p_value: float
    rates: tuple[float, ...]
    pooled_rate: float

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        from experiments.results import _clean

        return {k: _clean(v) for k, v in asdict(self).items()}

    def summary(self):
        """One row per group: rate, and the test repeated."""
        import pandas as pd

        return pd.DataFrame({"group": range(len(self.rates)), "rate": self.rates, "statistic": self.statistic,
                             "df": self.df, "p_value": self.p_value})

    def __str__(self) -> str:
        return f"X-squared = {self.statistic:.6g}, df = {self.df}, p-value = {self.p_value:.4g}"


def k_group_test(x, n, *, correct: bool = True) -> KGroupTestResult:
    """Test that k >= 2 groups have equal conversion rates (Pearson chi-square, R ``prop.test``).

    ``x`` converting users and ``n`` users per group. With k = 2 and ``correct`` (R's default)
    Yates' correction ``min(0.5, |x - n pbar|)`` applies, as in R; for k > 2 R never corrects.

    Raises
    ------
    DataError
        Fewer than 2 groups, lengths differ, n <= 0, x outside [0, n], or all rates 0 or 1
        (no variance: the statistic is undefined).
    """
    from scipy import stats

    from optimizer.errors import DataError

    x, n = np.asarray(x, dtype=float).ravel(), np.asarray(n, dtype=float).ravel()
    if x.shape != n.shape or x.size < 2:
        raise DataError(f"x has {x.size} and n {n.size} value(s); give one conversion count and one user count "
                        "per group, for at least 2 groups.")
    if not (np.isfinite(x).all() and np.isfinite(n).all()) or (n <= 0).any() or (x < 0).any() or (x > n).any():
        raise DataError(f"x = {x.tolist()} of n = {n.tolist()}; every n must be > 0 and every x in [0, n].")
    pbar = x.sum() / n.sum()
    if pbar in (0.0, 1.0):
        raise DataError(f"every group converts at {pbar:.0%}; a test of equal rates needs some variation.")
    expected = np.stack([n * pbar, n * (1 - pbar)])
    observed = np.stack([x, n - x])
    dev = np.abs(observed - expected)
    if x.size == 2 and correct:
        dev = dev - min(0.5, float(np.min(np.abs(x - n * pbar))))
    stat = float(np.sum(dev**2 / expected))
    df = int(x.size - 1)
    return KGroupTestResult(statistic=stat, df=df, p_value=float(stats.chi2.sf(stat, df)),
                            rates=tuple(float(v) for v in x / n), pooled_rate=float(pbar))
