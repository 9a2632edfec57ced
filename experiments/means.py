"""Continuous and count metrics (revenue per user, orders per user): Welch's t-test, vectorised.

Also home of :func:`difference_of_estimates`, the engine every frequentist family ends in: given
per-variant estimates and the variances of those estimates, it returns the absolute lift with its
interval and p-value (normal, or Student t with per-row degrees of freedom), and the relative
lift ``mu1 / mu0 - 1`` with a delta-method interval (gbstats' convention):

    Var(mu1 / mu0) ~= v1 / mu0^2 + mu1^2 * v0 / mu0^4

All inputs are numpy arrays (one row per comparison) so 20,000 comparisons cost one pass.
Defaults: two-sided, ``alpha = 0.05`` (95 % intervals), Welch (unequal variances). Student's
pooled-variance t is available with ``equal_var=True`` (R ``t.test(var.equal = TRUE)``).
Count metrics (events per user) use the same test: the per-user counts are means.
"""

from __future__ import annotations

import numpy as np

__all__ = ["difference_of_estimates", "welch_arrays", "welch_df", "relative_delta"]


def relative_delta(mu0, v0, mu1, v1):
    """Relative lift ``mu1/mu0 - 1`` and the delta-method variance of the ratio ``mu1/mu0``.

    ``v0``, ``v1`` are the variances of the estimates (not per-user variances).
    Rows with ``mu0 == 0`` give NaN.
    """
    with np.errstate(all="ignore"):
        rel = np.where(mu0 != 0, mu1 / mu0 - 1.0, np.nan)
        var = np.where(mu0 != 0, v1 / mu0**2 + mu1**2 * v0 / mu0**4, np.nan)
    return rel, var


def difference_of_estimates(mu0, v0, mu1, v1, *, alpha: float = 0.05, df=None, alternative: str = "two-sided"):
    """Lift, interval and p-value from per-variant estimates ``mu`` and their variances ``v``.

    Parameters
    ----------
    mu0, v0, mu1, v1 : array-like
        Control/treatment estimates and the variances of the estimates.
    alpha : float
        1 - confidence level (0.05 gives 95 % intervals).
    df : array-like or None
        Degrees of freedom of a Student t reference; ``None`` uses the standard normal.
    alternative : {"two-sided", "greater", "less"}
        Direction of the p-value; intervals are one-sided accordingly (the open end is +-inf).

    Returns
    -------
    dict of arrays
        ``lift_absolute``, ``lift_absolute_ci_low``, ``lift_absolute_ci_high``, ``se``,
        ``statistic``, ``p_value``, ``lift_relative``, ``lift_relative_ci_low``,
        ``lift_relative_ci_high``.
    """
    from scipy import stats

    mu0, v0, mu1, v1 = (np.asarray(a, dtype=float) for a in (mu0, v0, mu1, v1))
    with np.errstate(all="ignore"):  # invalid rows become NaN and get an error code
        return _difference(mu0, v0, mu1, v1, alpha, df, alternative, stats)


def _difference(mu0, v0, mu1, v1, alpha, df, alternative, stats):
    diff = mu1 - mu0
    se = np.sqrt(v0 + v1)
    dist = stats.norm if df is None else stats.t
    kw = {} if df is None else {"df": np.asarray(df, dtype=float)}
    stat = np.where(se > 0, diff / se, np.nan)
    if alternative == "two-sided":
        p = 2.0 * dist.sf(np.abs(stat), **kw)
        q = dist.ppf(1.0 - alpha / 2.0, **kw)
        lo, hi = diff - q * se, diff + q * se
    elif alternative == "greater":
        p = dist.sf(stat, **kw)
        q = dist.ppf(1.0 - alpha, **kw)
        lo, hi = diff - q * se, np.full_like(diff, np.inf)
    elif alternative == "less":
        p = dist.cdf(stat, **kw)
        q = dist.ppf(1.0 - alpha, **kw)
        lo, hi = np.full_like(diff, -np.inf), diff + q * se
    else:
        raise ValueError(f"alternative is {alternative!r}; it must be one of 'two-sided', 'greater', 'less'.")
    p = np.minimum(p, 1.0)
    rel, rel_var = relative_delta(mu0, v0, mu1, v1)
    rel_se = np.sqrt(rel_var)
    if alternative == "two-sided":
        rlo, rhi = rel - q * rel_se, rel + q * rel_se
    elif alternative == "greater":
        rlo, rhi = rel - q * rel_se, np.full_like(rel, np.inf)
    else:
        rlo, rhi = np.full_like(rel, -np.inf), rel + q * rel_se
    return {
        "lift_absolute": diff, "lift_absolute_ci_low": lo, "lift_absolute_ci_high": hi, "se": se,
        "statistic": stat, "p_value": p,
        "lift_relative": rel, "lift_relative_ci_low": rlo, "lift_relative_ci_high": rhi,
    }


def welch_arrays(n0, mean0, var0, n1, mean1, var1, *, alpha: float = 0.05, equal_var: bool = False,
                 alternative: str = "two-sided"):
    """Welch (or Student) two-sample t-test on per-user means, vectorised.

    Parameters
    ----------
    n0, mean0, var0, n1, mean1, var1 : array-like
        Users, mean per user and unbiased per-user variance of control and treatment.
    equal_var : bool
        False (default): Welch-Satterthwaite degrees of freedom, as R ``t.test`` default.
        True: pooled variance, ``df = n0 + n1 - 2``.

    Returns
    -------
    dict of arrays
        The :func:`difference_of_estimates` columns plus ``df`` and ``error_code``
        (``None``, ``"ZERO_USERS"``, ``"TOO_FEW_USERS"``, ``"ZERO_VARIANCE"``). A control mean of 0
        is not an error: the relative lift is NaN and the absolute lift stands.
    """
    n0, mean0, var0, n1, mean1, var1 = (np.asarray(a, dtype=float) for a in (n0, mean0, var0, n1, mean1, var1))
    with np.errstate(all="ignore"):
        if equal_var:
            sp = ((n0 - 1) * var0 + (n1 - 1) * var1) / (n0 + n1 - 2)
            v0, v1 = sp / n0, sp / n1
            df = n0 + n1 - 2
        else:
            v0, v1 = var0 / n0, var1 / n1
            df = welch_df(v0, v1, n0, n1)
    out = difference_of_estimates(mean0, v0, mean1, v1, alpha=alpha, df=df, alternative=alternative)
    out["df"] = df
    out["error_code"] = error_codes(n0, n1, v0 + v1, min_n=2)
    return blank_errors(out)


def welch_df(v0, v1, n0, n1):
    """Welch-Satterthwaite degrees of freedom from the variances of the two means.

    Computed on shares of the total variance so tiny variances (1e-160) do not underflow to NaN.
    """
    with np.errstate(all="ignore"):
        total = v0 + v1
        r0, r1 = v0 / total, v1 / total
        return 1.0 / (r0**2 / (n0 - 1) + r1**2 / (n1 - 1))


def error_codes(n0, n1, var_total, *, min_n: int = 2):
    """Per-row error code (object array, ``None`` when the row is fine), most basic first."""
    n0, n1, var_total = (np.asarray(a, dtype=float) for a in (n0, n1, var_total))
    codes = np.full(n0.shape, None, dtype=object)
    # Assign in reverse priority so the most basic problem wins.
    codes[~(var_total > 0)] = "ZERO_VARIANCE"
    codes[(n0 < min_n) | (n1 < min_n)] = "TOO_FEW_USERS"
    codes[(n0 == 0) | (n1 == 0)] = "ZERO_USERS"
    return codes


def blank_errors(out: dict) -> dict:
    """NaN out the intervals and p-values of rows that carry an error code."""
    fatal = np.not_equal(out["error_code"], None)
    if fatal.any():
        for k in ("lift_absolute_ci_low", "lift_absolute_ci_high", "statistic", "p_value",
                  "lift_relative", "lift_relative_ci_low", "lift_relative_ci_high"):
            out[k] = np.where(fatal, np.nan, out[k])
    return out
