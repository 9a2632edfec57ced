"""Continuous and count metrics (revenue per user, orders per user): Welch's t-test, vectorised.

Also home of :func:`difference_of_estimates`, the engine every frequentist family ends in: given
per-variant estimates and the variances of those estimates, it returns the lift, its interval
and p-value (normal, or Student t with per-row degrees of freedom) on ONE effect scale: the
absolute difference ``mu1 - mu0`` or the relative lift ``(mu1 - mu0) / |mu0|`` with its
delta-method variance (gbstats' convention)

    Var(lift) ~= v1 / mu0^2 + mu1^2 * v0 / mu0^4

and the other scale's interval is the same interval rescaled by ``|mu0|``, so the p-value, both
intervals and any decision read from them agree.

All inputs are numpy arrays (one row per comparison) so 20,000 comparisons cost one pass.
Defaults: two-sided, ``alpha = 0.05`` (95 % intervals), Welch (unequal variances). Student's
pooled-variance t is available with ``equal_var=True`` (R ``t.test(var.equal = TRUE)``).
Count metrics (events per user) use the same test: the per-user counts are means.
"""

from __future__ import annotations

import numpy as np

__all__ = ["difference_of_estimates", "welch_arrays", "welch_df", "relative_delta", "SCALES"]


def relative_delta(mu0, v0, mu1, v1):
    """Relative lift ``(mu1 - mu0) / |mu0|`` and the delta-method variance of that lift.

    ``v0``, ``v1`` are the variances of the estimates (not per-user variances). The variance is
    ``v1 / mu0^2 + mu1^2 v0 / mu0^4`` (the sign of ``mu0`` squares away). Dividing by ``|mu0|``
    keeps the sign of the lift the sign of ``mu1 - mu0``: with a negative control (net revenue
    -10 -> -5) the lift is +50 %, an improvement, as GrowthBook reports it (``mu1 / mu0 - 1``
    would say -50 %). Rows with ``mu0 == 0`` give NaN.
    """
    with np.errstate(all="ignore"):
        rel = np.where(mu0 != 0, (mu1 - mu0) / np.abs(mu0), np.nan)
        var = np.where(mu0 != 0, v1 / mu0**2 + mu1**2 * v0 / mu0**4, np.nan)
    return rel, var


#: Effect scales: the quantity the test statistic, the p-value and both intervals are about.
SCALES = ("absolute", "relative")


def difference_of_estimates(mu0, v0, mu1, v1, *, alpha: float = 0.05, df=None, alternative: str = "two-sided",
                            scale: str = "absolute"):
    """Lift, interval and p-value from per-variant estimates ``mu`` and their variances ``v``.

    One quantity is tested and bounded, chosen by ``scale``, so the p-value and the intervals
    always agree (``p < alpha`` exactly when the interval excludes 0):

    * ``"absolute"``: the difference ``mu1 - mu0`` with ``se = sqrt(v0 + v1)``; the relative
      interval is the absolute one divided by ``|mu0|`` (the control mean taken as known).
    * ``"relative"``: the lift ``(mu1 - mu0) / |mu0|`` with its delta-method standard error
      (GrowthBook's default); the absolute interval is the relative one times ``|mu0|``.

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
    scale : {"absolute", "relative"}
        The effect the statistic, the p-value and the intervals are about (see above).

    Returns
    -------
    dict of arrays
        ``lift_absolute``, ``lift_absolute_ci_low``, ``lift_absolute_ci_high``, ``se`` (of the
        absolute difference), ``se_relative`` (delta method), ``estimate`` and ``se_scaled`` (the
        tested effect and its standard error on ``scale``), ``statistic``, ``p_value``,
        ``lift_relative``, ``lift_relative_ci_low``, ``lift_relative_ci_high``.
    """
    from scipy import stats

    if scale not in SCALES:
        raise ValueError(f"scale is {scale!r}; it must be 'absolute' or 'relative'.")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative is {alternative!r}; it must be one of 'two-sided', 'greater', 'less'.")
    mu0, v0, mu1, v1 = (np.asarray(a, dtype=float) for a in (mu0, v0, mu1, v1))
    with np.errstate(all="ignore"):  # invalid rows become NaN and get an error code
        return _difference(mu0, v0, mu1, v1, alpha, df, alternative, scale, stats)


def _difference(mu0, v0, mu1, v1, alpha, df, alternative, scale, stats):
    diff = mu1 - mu0
    se = np.sqrt(v0 + v1)
    rel, rel_var = relative_delta(mu0, v0, mu1, v1)
    rel_se = np.sqrt(rel_var)
    est, s = (diff, se) if scale == "absolute" else (rel, rel_se)
    dist = stats.norm if df is None else stats.t
    kw = {} if df is None else {"df": np.asarray(df, dtype=float)}
    stat = np.where(s > 0, est / s, np.nan)
    if alternative == "two-sided":
        p = 2.0 * dist.sf(np.abs(stat), **kw)
        q = dist.ppf(1.0 - alpha / 2.0, **kw)
        lo, hi = est - q * s, est + q * s
    elif alternative == "greater":
        p = dist.sf(stat, **kw)
        q = dist.ppf(1.0 - alpha, **kw)
        lo, hi = est - q * s, np.full_like(est, np.inf)
    else:
        p = dist.cdf(stat, **kw)
        q = dist.ppf(1.0 - alpha, **kw)
        lo, hi = np.full_like(est, -np.inf), est + q * s
    p = np.minimum(p, 1.0)
    base = np.where(mu0 != 0, np.abs(mu0), np.nan)
    if scale == "absolute":
        alo, ahi, rlo, rhi = lo, hi, lo / base, hi / base
    else:
        alo, ahi, rlo, rhi = lo * base, hi * base, lo, hi
    return {
        "lift_absolute": diff, "lift_absolute_ci_low": alo, "lift_absolute_ci_high": ahi, "se": se,
        "se_relative": rel_se, "estimate": est, "se_scaled": s, "statistic": stat, "p_value": p,
        "lift_relative": rel, "lift_relative_ci_low": rlo, "lift_relative_ci_high": rhi, "baseline": base,
    }


def welch_arrays(n0, mean0, var0, n1, mean1, var1, *, alpha: float = 0.05, equal_var: bool = False,
                 alternative: str = "two-sided", scale: str = "absolute"):
    """Welch (or Student) two-sample t-test on per-user means, vectorised.

    Parameters
    ----------
    n0, mean0, var0, n1, mean1, var1 : array-like
        Users, mean per user and unbiased per-user variance of control and treatment.
    equal_var : bool
        False (default): Welch-Satterthwaite degrees of freedom, as R ``t.test`` default.
        True: pooled variance, ``df = n0 + n1 - 2``.
    scale : {"absolute", "relative"}
        Effect scale of the test and intervals (see :func:`difference_of_estimates`).

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
    out = difference_of_estimates(mean0, v0, mean1, v1, alpha=alpha, df=df, alternative=alternative, scale=scale)
    out["df"] = df
    out["error_code"] = error_codes(n0, n1, v0 + v1, min_n=2, mu0=mean0 if scale == "relative" else None)
    return blank_errors(out)


def welch_df(v0, v1, n0, n1):
    """Welch-Satterthwaite degrees of freedom from the variances of the two means.

    Computed on shares of the total variance so tiny variances (1e-160) do not underflow to NaN.
    """
    with np.errstate(all="ignore"):
        total = v0 + v1
        r0, r1 = v0 / total, v1 / total
        return 1.0 / (r0**2 / (n0 - 1) + r1**2 / (n1 - 1))


def error_codes(n0, n1, var_total, *, min_n: int = 2, mu0=None):
    """Per-row error code (object array, ``None`` when the row is fine), most basic first.

    With ``mu0`` (the control estimate, given on the relative scale) a zero control is
    ``ZERO_BASELINE``: a relative lift does not exist there.
    """
    n0, n1, var_total = (np.asarray(a, dtype=float) for a in (n0, n1, var_total))
    codes = np.full(n0.shape, None, dtype=object)
    # Assign in reverse priority so the most basic problem wins.
    if mu0 is not None:
        codes[np.asarray(mu0, dtype=float) == 0] = "ZERO_BASELINE"
    codes[~(var_total > 0)] = "ZERO_VARIANCE"
    codes[(n0 < min_n) | (n1 < min_n)] = "TOO_FEW_USERS"
    codes[(n0 == 0) | (n1 == 0)] = "ZERO_USERS"
    return codes


def blank_errors(out: dict) -> dict:
    """NaN out the intervals and p-values of rows that carry an error code.

    A row whose standard error on the tested scale is 0 or NaN (e.g. the relative lift of a
    treatment at 0 % conversion: exactly -100 % by the delta method) gets ``ZERO_VARIANCE``.
    """
    if "se_scaled" in out:
        codes = np.asarray(out["error_code"], dtype=object)
        with np.errstate(invalid="ignore"):
            flat = np.equal(codes, None) & ~(np.asarray(out["se_scaled"], dtype=float) > 0)
        codes[flat] = "ZERO_VARIANCE"
        if "estimate" in out:
            with np.errstate(invalid="ignore"):
                # A control mean so close to 0 that the relative lift overflows: no relative scale.
                huge = np.equal(codes, None) & (np.isinf(np.asarray(out["se_scaled"], dtype=float))
                                                | np.isinf(np.asarray(out["estimate"], dtype=float)))
            codes[huge] = "ZERO_BASELINE"
        out["error_code"] = codes
    fatal = np.not_equal(out["error_code"], None)
    if fatal.any():
        for k in ("lift_absolute_ci_low", "lift_absolute_ci_high", "statistic", "p_value",
                  "lift_relative", "lift_relative_ci_low", "lift_relative_ci_high", "estimate", "se_scaled"):
            if k not in out:
                continue
            out[k] = np.where(fatal, np.nan, out[k])
    return out
