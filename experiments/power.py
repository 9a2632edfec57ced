"""Power, sample size and minimum detectable effect (MDE), with the expected duration from traffic.

Formulas (two variants, equal split, ``n`` users per variant; two-sided unless said otherwise):

* **Proportions** - the normal approximation of R ``power.prop.test`` (``strict = FALSE``)::

      power = Phi((sqrt(n) |p1 - p0| - z_{1-a/2} sqrt(2 pbar (1 - pbar))) / sqrt(p0 q0 + p1 q1))

  with ``pbar = (p0 + p1) / 2``.
* **Means** - R ``power.t.test(type = "two.sample")``: noncentral t with ``2 (n - 1)`` degrees
  of freedom and noncentrality ``sqrt(n / 2) delta / sd``.
* **Ratio metrics** - the means formula with the delta-method standard deviation per user of the
  linearised ratio ``sd_L = sqrt(Var(Y) - 2 R Cov(Y, D) + R^2 Var(D)) / Dbar`` (see
  :mod:`experiments.ratio`), on a normal reference (the delta method is asymptotic).

Sample sizes are the smallest whole ``n`` per variant reaching the power; MDEs are the smallest
absolute effect detectable with the given ``n``. The duration is
``ceil(n * n_variants / (daily_users * traffic_share))`` days. Defaults: alpha 0.05, power 0.8.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from experiments.results import _clean

__all__ = [
    "PowerResult", "power_proportions", "power_means", "sample_size_proportions", "sample_size_means",
    "sample_size_ratio", "mde_proportions", "mde_means", "expected_duration_days", "ratio_sd",
    "cohens_h", "power_cohens_h", "sample_size_cohens_h",
]


@dataclass(frozen=True)
class PowerResult:
    """A sample-size / MDE plan.

    Attributes
    ----------
    kind : str
        ``"proportion"``, ``"mean"`` or ``"ratio"``.
    baseline : float
        Control rate or mean (metric units).
    mde_absolute : float
        Effect the plan detects, metric units (treatment - control).
    mde_relative : float
        The same as a fraction of ``baseline``.
    n_per_variant : int
        Users per variant.
    n_total : int
        Users over all variants.
    power : float
        Probability of a significant result when the effect is ``mde_absolute``.
    alpha : float
        Two-sided significance level.
    duration_days : int or None
        Days to collect ``n_total`` users at the given traffic (None without traffic).
    end_date : str or None
        ISO date the collection ends (start date + duration), None without a start date.
    """

    kind: str
    baseline: float
    mde_absolute: float
    mde_relative: float
    n_per_variant: int
    n_total: int
    power: float
    alpha: float
    duration_days: int | None = None
    end_date: str | None = None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {k: _clean(v) for k, v in asdict(self).items()}

    def summary(self) -> pd.DataFrame:
        """One-row DataFrame."""
        return pd.DataFrame([asdict(self)])

    def __str__(self) -> str:
        days = f", {self.duration_days} day(s)" if self.duration_days is not None else ""
        return (f"{self.kind}: {self.n_per_variant} users per variant ({self.n_total} total{days}) detect "
                f"{self.mde_absolute:+.4g} ({self.mde_relative:+.2%}) on {self.baseline:.4g} with power "
                f"{self.power:.1%} at alpha {self.alpha}")


def _finite_inputs(**values: float | None) -> None:
    """Refuse NaN/inf inputs by name before they reach scipy's root finders."""
    for name, v in values.items():
        if v is not None and not (isinstance(v, numbers.Real) and math.isfinite(v)):
            raise ValueError(f"{name} is {v!r}; it must be a finite number.")


def _check(alpha: float, power: float | None = None) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is {alpha}; it must be strictly between 0 and 1 (e.g. 0.05).")
    if power is not None and not 0 < power < 1:
        raise ValueError(f"power is {power}; it must be strictly between 0 and 1 (e.g. 0.8).")


def _sides(alternative: str) -> int:
    if alternative not in ("two-sided", "one-sided"):
        raise ValueError(f"alternative is {alternative!r}; it must be 'two-sided' or 'one-sided'.")
    return 2 if alternative == "two-sided" else 1


def power_proportions(n: float, p0: float, p1: float, *, alpha: float = 0.05, alternative: str = "two-sided") -> float:
    """Power of the two-proportion test with ``n`` users per variant (R ``power.prop.test``)."""
    from scipy import stats

    _check(alpha)
    _finite_inputs(n=n, p0=p0, p1=p1)
    for name, p in (("p0", p0), ("p1", p1)):
        if not 0 < p < 1:
            raise ValueError(f"{name} is {p}; a conversion rate must be strictly between 0 and 1.")
    q = stats.norm.isf(alpha / _sides(alternative))
    pbar = (p0 + p1) / 2
    return float(stats.norm.cdf((math.sqrt(n) * abs(p1 - p0) - q * math.sqrt(2 * pbar * (1 - pbar)))
                                / math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))))


def power_means(n: float, delta: float, sd: float, *, alpha: float = 0.05, alternative: str = "two-sided",
                reference: Literal["t", "normal"] = "t") -> float:
    """Power of the two-sample t-test with ``n`` users per variant (R ``power.t.test``)."""
    from scipy import stats

    _check(alpha)
    _finite_inputs(n=n, delta=delta, sd=sd)
    if not sd > 0:
        raise ValueError(f"sd is {sd}; the standard deviation per user must be > 0.")
    ncp = math.sqrt(n / 2) * abs(delta) / sd
    if reference == "normal":
        return float(stats.norm.sf(stats.norm.isf(alpha / _sides(alternative)) - ncp))
    nu = 2 * (n - 1)
    q = stats.t.isf(alpha / _sides(alternative), nu)
    return float(stats.nct.sf(q, nu, ncp))


def cohens_h(p1: float, p0: float) -> float:
    """Cohen's effect size for two proportions, ``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))`` (R ``pwr::ES.h``)."""
    _finite_inputs(p1=p1, p0=p0)
    for name, p in (("p0", p0), ("p1", p1)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} is {p}; a conversion rate must be in [0, 1].")
    return 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p0))


def power_cohens_h(n: float, h: float, *, alpha: float = 0.05, alternative: str = "two-sided") -> float:
    """Power of the arcsine test with ``n`` users per variant and effect ``h`` (R ``pwr::pwr.2p.test``).

    The arcsine transform stabilises the variance (``Var(2 asin sqrt(p_hat)) ~ 1 / n``), so
    ``h sqrt(n / 2)`` is the expected z. Two-sided power counts both tails, as pwr does; R's
    ``power.prop.test`` (:func:`power_proportions`) uses the untransformed rates and counts one.
    ``alternative="one-sided"`` is pwr's ``"greater"`` for ``h > 0``.
    """
    from scipy import stats

    _check(alpha)
    _finite_inputs(n=n, h=h)
    if not n > 0:
        raise ValueError(f"n is {n}; users per variant must be > 0.")
    shift = h * math.sqrt(n / 2.0)
    if _sides(alternative) == 1:
        return float(stats.norm.sf(stats.norm.isf(alpha) - shift))
    q = stats.norm.isf(alpha / 2.0)
    return float(stats.norm.sf(q - shift) + stats.norm.cdf(-q - shift))


def sample_size_cohens_h(h: float, *, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided") -> float:
    """Users per variant (not rounded, as ``pwr.2p.test(h, power)$n``) to reach ``power`` with effect ``h``."""
    from scipy import optimize

    _check(alpha, power)
    _finite_inputs(h=h)
    if h == 0:
        raise ValueError("h is 0; the effect to detect must be non-zero.")
    f = lambda m: power_cohens_h(m, abs(h), alpha=alpha, alternative=alternative) - power  # noqa: E731
    return float(optimize.brentq(f, 1e-6, 1e12, xtol=1e-10, rtol=1e-14))


def _smallest_n(power_fn, target: float, hi: float = 1e12) -> int:
    """Smallest whole n >= 2 with power_fn(n) >= target (power is increasing in n)."""
    from scipy import optimize

    if power_fn(2) >= target:
        return 2
    if power_fn(hi) < target:
        raise ValueError("the effect is too small to reach the power with fewer than 1e12 users per variant.")
    root = optimize.brentq(lambda n: power_fn(n) - target, 2, hi, xtol=1e-6, rtol=1e-12)
    n = max(2, math.ceil(root - 1e-6))
    return n if power_fn(n) >= target else n + 1


def sample_size_proportions(p0: float, *, mde_relative: float | None = None, p1: float | None = None,
                            alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
                            n_variants: int = 2, daily_users: float | None = None, traffic_share: float = 1.0,
                            start_date: dt.date | None = None) -> PowerResult:
    """Users per variant to detect ``p1`` (or ``p0 * (1 + mde_relative)``) against ``p0``."""
    _check(alpha, power)
    _finite_inputs(p0=p0, mde_relative=mde_relative, p1=p1)
    if not 0 < p0 < 1:
        raise ValueError(f"p0 is {p0}; a baseline conversion rate must be strictly between 0 and 1.")
    if (mde_relative is None) == (p1 is None):
        raise ValueError("give exactly one of mde_relative (e.g. 0.05 for +5 %) or p1 (the treatment rate).")
    p1 = p0 * (1 + mde_relative) if p1 is None else p1
    if p1 == p0:
        raise ValueError(f"p1 equals p0 ({p0}); the effect to detect must be non-zero.")
    n = _smallest_n(lambda m: power_proportions(m, p0, p1, alpha=alpha, alternative=alternative), power)
    return _result("proportion", p0, p1 - p0, n, power_proportions(n, p0, p1, alpha=alpha, alternative=alternative),
                   alpha, n_variants, daily_users, traffic_share, start_date)


def sample_size_means(baseline: float, sd: float, *, mde_relative: float | None = None, delta: float | None = None,
                      alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
                      reference: Literal["t", "normal"] = "t", n_variants: int = 2, daily_users: float | None = None,
                      traffic_share: float = 1.0, start_date: dt.date | None = None, kind: str = "mean") -> PowerResult:
    """Users per variant to detect ``delta`` (or ``baseline * mde_relative``) with per-user ``sd``."""
    _check(alpha, power)
    _finite_inputs(baseline=baseline, sd=sd, mde_relative=mde_relative, delta=delta)
    if not sd > 0:
        raise ValueError(f"sd is {sd}; the standard deviation per user must be > 0.")
    if (mde_relative is None) == (delta is None):
        raise ValueError("give exactly one of mde_relative (fraction of baseline) or delta (metric units).")
    delta = baseline * mde_relative if delta is None else delta
    if delta == 0:
        raise ValueError("the effect to detect is 0; it must be non-zero.")

    def pw(m):
        return power_means(m, delta, sd, alpha=alpha, alternative=alternative, reference=reference)

    n = _smallest_n(pw, power)
    return _result(kind, baseline, delta, n, pw(n), alpha, n_variants, daily_users, traffic_share, start_date)


def ratio_sd(mean_y: float, mean_d: float, var_y: float, var_d: float, cov_yd: float) -> float:
    """Delta-method standard deviation per user of a ratio metric ``Ybar / Dbar``."""
    if mean_d == 0:
        raise ValueError("the denominator mean is 0; a ratio metric needs a non-zero denominator.")
    r = mean_y / mean_d
    v = var_y - 2 * r * cov_yd + r * r * var_d
    if not v > 0:
        raise ValueError(f"the linearised ratio variance is {v}; it must be > 0 (check the variances and covariance).")
    return math.sqrt(v) / abs(mean_d)


def sample_size_ratio(mean_y: float, mean_d: float, var_y: float, var_d: float, cov_yd: float, *,
                      mde_relative: float, alpha: float = 0.05, power: float = 0.8, **kw) -> PowerResult:
    """Users per variant for a ratio metric (delta method, normal reference)."""
    r = mean_y / mean_d
    return sample_size_means(r, ratio_sd(mean_y, mean_d, var_y, var_d, cov_yd), mde_relative=mde_relative,
                             alpha=alpha, power=power, reference="normal", kind="ratio", **kw)


def mde_means(n: int, sd: float, *, baseline: float = math.nan, alpha: float = 0.05, power: float = 0.8,
              alternative: str = "two-sided", reference: Literal["t", "normal"] = "t", n_variants: int = 2,
              kind: str = "mean") -> PowerResult:
    """Smallest absolute effect detectable with ``n`` users per variant.

    Ratio metrics: pass ``sd = ratio_sd(...)``, ``reference="normal"`` and ``kind="ratio"``.
    """
    from scipy import optimize

    _check(alpha, power)
    if n < 2:
        raise ValueError(f"n is {n}; at least 2 users per variant are needed.")
    f = lambda d: power_means(n, d, sd, alpha=alpha, alternative=alternative, reference=reference) - power  # noqa: E731
    delta = optimize.brentq(f, 1e-12 * sd, 1e3 * sd, xtol=1e-14 * sd, rtol=1e-12)
    return _result(kind, baseline, delta, n, power, alpha, n_variants, None, 1.0, None)


def mde_proportions(n: int, p0: float, *, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
                    n_variants: int = 2) -> PowerResult:
    """Smallest upward change of ``p0`` detectable with ``n`` users per variant."""
    from scipy import optimize

    _check(alpha, power)
    f = lambda p1: power_proportions(n, p0, p1, alpha=alpha, alternative=alternative) - power  # noqa: E731
    hi = 1 - 1e-12
    if f(hi) < 0:
        raise ValueError(f"with n = {n} per variant no rate above p0 = {p0} reaches power {power}.")
    p1 = optimize.brentq(f, p0 + 1e-12, hi, xtol=1e-14, rtol=1e-12)
    return _result("proportion", p0, p1 - p0, n, power, alpha, n_variants, None, 1.0, None)


def expected_duration_days(n_per_variant: int, daily_users: float, *, n_variants: int = 2, traffic_share: float = 1.0) -> int:
    """Days to enrol ``n_per_variant * n_variants`` users at ``daily_users * traffic_share`` a day."""
    if not daily_users > 0:
        raise ValueError(f"daily_users is {daily_users}; it must be > 0 (eligible users per day).")
    if not 0 < traffic_share <= 1:
        raise ValueError(f"traffic_share is {traffic_share}; it must be in (0, 1] (fraction of traffic in the test).")
    return int(math.ceil(n_per_variant * n_variants / (daily_users * traffic_share) - 1e-9))


def _result(kind, baseline, delta, n, pw, alpha, n_variants, daily_users, traffic_share, start_date) -> PowerResult:
    days = None if daily_users is None else expected_duration_days(n, daily_users, n_variants=n_variants, traffic_share=traffic_share)
    end = None if (days is None or start_date is None) else (start_date + dt.timedelta(days=days)).isoformat()
    rel = delta / baseline if baseline not in (0,) and math.isfinite(baseline) else math.nan
    return PowerResult(kind=kind, baseline=baseline, mde_absolute=delta, mde_relative=rel, n_per_variant=int(n),
                       n_total=int(n) * n_variants, power=float(pw), alpha=alpha, duration_days=days, end_date=end)
