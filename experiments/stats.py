"""Per-variant sufficient statistics: the seam between aggregation (SQL) and the statistics.

A :class:`VariantStats` holds everything the analyses need about one variant of one metric
(optionally within one dimension slice), as per-user sums:

* ``n`` users, ``sum`` = sum of Y, ``sum_sq`` = sum of Y^2 (the metric per user);
* CUPED covariate X (pre-period value per user): ``cov_sum``, ``cov_sum_sq``, ``cross_sum`` (sum X*Y);
* ratio metrics (numerator Y / denominator D per user, e.g. revenue / sessions):
  ``den_sum``, ``den_sum_sq``, ``num_den_sum`` (sum Y*D), and with a covariate ``cov_den_sum`` (sum X*D).

Raw power sums lose every digit of the variance when the mean is large compared with the spread
(``1e9 + {1, 2, 3}``: ``sum_sq - sum**2 / n`` is 0 in float64). So each instance also carries the
*centred* moments ``m2`` = sum (Y - mean)^2 and the centred co-moments (``cov_m2``, ``cross_m2``,
``den_m2``, ``num_den_m2``, ``cov_den_m2``). :meth:`VariantStats.from_values` computes them by
two passes, :meth:`VariantStats.from_moments` takes them from SQL (e.g. ``n, avg(y),
var_samp(y) * (n - 1)``), and :func:`merge` combines them with Chan et al.'s parallel formula.
When only raw sums are given (``VariantStats(name, n, sum, sum_sq)``) the centred moments are
derived from them, which is exact for 0/1 conversions and counts and adequate for metrics whose
mean is not many orders of magnitude above their spread.

All variances are unbiased (divide by ``n - 1``). Units are those of the metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Sequence

import numpy as np

from optimizer.errors import DataError

__all__ = ["VariantStats", "merge", "VariantArrays"]

_RAW_COV = ("cov_sum", "cov_sum_sq", "cross_sum")
_RAW_DEN = ("den_sum", "den_sum_sq", "num_den_sum")


def _finite(name: str, field_name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise DataError(
            f"variant {name!r}: {field_name} is {value}; it must be a finite number. "
            "Suggestion: drop or impute NaN/inf values before aggregating."
        )


@dataclass(frozen=True)
class VariantStats:
    """Sufficient statistics of one variant for one metric.

    Attributes
    ----------
    name : str
        Variant name (e.g. ``"control"``).
    n : int
        Number of users (the randomisation unit), >= 0.
    sum, sum_sq : float
        Sum of the metric Y per user and of Y^2 (metric units and units^2).
    cov_sum, cov_sum_sq, cross_sum : float or None
        Pre-period covariate X for CUPED: sum X, sum X^2, sum X*Y.
    den_sum, den_sum_sq, num_den_sum : float or None
        Ratio metrics: the denominator D per user: sum D, sum D^2, sum Y*D.
    cov_den_sum : float or None
        Ratio metrics with CUPED: sum X*D.
    rounding_error : float
        Bound on the relative rounding error of the variances (``m2``, ``cov_m2``, ``den_m2``)
        when they were derived from raw sums: ``4 eps (sum_sq + sum^2 / n) / m2``. Near or
        above 1 the variance is lost to catastrophic cancellation (the analyses then return
        ``PRECISION_LOSS``); 0 for centred moments given directly.
    m2, cov_m2, cross_m2, den_m2, num_den_m2, cov_den_m2 : float or None
        Centred (co-)moments: sum (Y-Ybar)^2, sum (X-Xbar)^2, sum (X-Xbar)(Y-Ybar),
        sum (D-Dbar)^2, sum (Y-Ybar)(D-Dbar), sum (X-Xbar)(D-Dbar). Filled from the raw sums
        when not given; given by the stable constructors.

    Raises
    ------
    DataError
        ``n`` negative or not an integer, a NaN/inf sum, a negative sum of squares, a
        covariate/denominator block given only in part, or impossible aggregates: ``sum_sq <
        sum^2 / n`` (a negative variance) beyond rounding, the same for the covariate or the
        denominator, or a co-moment larger than Cauchy-Schwarz allows.
    """

    name: str
    n: int
    sum: float
    sum_sq: float
    cov_sum: float | None = None
    cov_sum_sq: float | None = None
    cross_sum: float | None = None
    den_sum: float | None = None
    den_sum_sq: float | None = None
    num_den_sum: float | None = None
    cov_den_sum: float | None = None
    m2: float | None = field(default=None, repr=False)
    cov_m2: float | None = field(default=None, repr=False)
    cross_m2: float | None = field(default=None, repr=False)
    den_m2: float | None = field(default=None, repr=False)
    num_den_m2: float | None = field(default=None, repr=False)
    cov_den_m2: float | None = field(default=None, repr=False)
    rounding_error: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        name = self.name
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)):
            if isinstance(self.n, float) and self.n.is_integer():
                object.__setattr__(self, "n", int(self.n))
            else:
                raise DataError(f"variant {name!r}: n is {self.n!r}; it must be a whole number of users (int >= 0).")
        object.__setattr__(self, "n", int(self.n))
        if self.n < 0:
            raise DataError(
                f"variant {name!r}: n is {self.n}; the number of users must be >= 0. "
                "Suggestion: check the aggregation query for a sign error."
            )
        for f in fields(self):
            if f.name in ("name", "n"):
                continue
            v = getattr(self, f.name)
            if v is not None:
                v = float(v)
                object.__setattr__(self, f.name, v)
            _finite(name, f.name, v)
        for f_name in ("sum_sq", "cov_sum_sq", "den_sum_sq", "m2", "cov_m2", "den_m2"):
            v = getattr(self, f_name)
            if v is not None and v < 0:
                raise DataError(f"variant {name!r}: {f_name} is {v}; a sum of squares must be >= 0.")
        for block in (_RAW_COV, _RAW_DEN):
            given = [getattr(self, k) is not None for k in block]
            if any(given) and not all(given):
                missing = [k for k, g in zip(block, given) if not g]
                raise DataError(
                    f"variant {name!r}: {', '.join(missing)} missing; give all of {', '.join(block)} or none."
                )
        if self.cov_den_sum is not None and (self.cov_sum is None or self.den_sum is None):
            raise DataError(f"variant {name!r}: cov_den_sum needs both the covariate and the denominator sums.")
        n = self.n
        if n == 0:
            nonzero = [f.name for f in fields(self) if f.name not in ("name", "n", "rounding_error")
                       and getattr(self, f.name) not in (None, 0.0)]
            if nonzero:
                raise DataError(
                    f"variant {name!r}: n is 0 but {', '.join(nonzero)} is not 0; sums over no users must be 0. "
                    "Suggestion: check that n counts the same users the sums run over (for a 0/1 conversion "
                    "metric: conversions must be <= users)."
                )
            for k in ("m2", "cov_m2", "cross_m2", "den_m2", "num_den_m2", "cov_den_m2"):
                if getattr(self, k) is None and self._needed(k):
                    object.__setattr__(self, k, 0.0)
            return
        # Derive the centred moments from raw sums where they were not supplied.
        derive = {
            "m2": (self.sum_sq, self.sum, self.sum),
            "cov_m2": (self.cov_sum_sq, self.cov_sum, self.cov_sum),
            "cross_m2": (self.cross_sum, self.cov_sum, self.sum),
            "den_m2": (self.den_sum_sq, self.den_sum, self.den_sum),
            "num_den_m2": (self.num_den_sum, self.sum, self.den_sum),
            "cov_den_m2": (self.cov_den_sum, self.cov_sum, self.den_sum),
        }
        eps = np.finfo(float).eps
        worst = float(self.rounding_error)
        for k, (raw, a, b) in derive.items():
            if getattr(self, k) is None and raw is not None:
                val = raw - a * b / n
                # Rounding in sum_sq - sum^2/n (and in the sums themselves) is a few eps of the operands.
                tol = 4.0 * eps * (abs(raw) + abs(a * b / n))
                if k in ("m2", "cov_m2", "den_m2"):
                    if val < -tol:
                        sq, sm = {"m2": ("sum_sq", "sum"), "cov_m2": ("cov_sum_sq", "cov_sum"),
                                  "den_m2": ("den_sum_sq", "den_sum")}[k]
                        raise DataError(
                            f"variant {name!r}: {sq} = {raw!r} is smaller than {sm}^2 / n = {a * b / n!r} (n = {n}); "
                            "that is a negative variance, which no data can produce. Suggestion: check that "
                            f"{sq} sums the squares of the same per-user values as {sm}, over the same users."
                            + (f" For a 0/1 conversion metric this means {a!r} conversions of {n} users: conversions "
                               "must be <= users (count converting users, not events)." if raw == a else "")
                        )
                    if val > tol:
                        worst = max(worst, tol / val)
                    elif val != 0.0:
                        # Within rounding of 0 but not exactly 0 (exact for 0/1 data and constants):
                        # the true variance could be anything from 0 to ~tol.
                        worst = math.inf
                    val = max(val, 0.0)
                object.__setattr__(self, k, val)
        object.__setattr__(self, "rounding_error", worst)
        self._check_cauchy_schwarz()

    def _check_cauchy_schwarz(self) -> None:
        """A co-moment can be at most sqrt(M2_a M2_b) in size; beyond rounding it is impossible data."""
        pairs = (("cross_m2", "m2", "cov_m2"), ("num_den_m2", "m2", "den_m2"), ("cov_den_m2", "cov_m2", "den_m2"))
        for c, a, b in pairs:
            vc, va, vb = getattr(self, c), getattr(self, a), getattr(self, b)
            if vc is None or va is None or vb is None:
                continue
            limit = math.sqrt(va) * math.sqrt(vb)  # not sqrt(va * vb): the product underflows for tiny moments
            slack = 1e-9 * limit + 64 * np.finfo(float).eps * (abs(vc) + limit)
            if self.rounding_error < 1e-3 and abs(vc) > limit + slack:
                raise DataError(
                    f"variant {self.name!r}: the centred co-moment {c} = {vc!r} exceeds sqrt({a} * {b}) = {limit!r}; "
                    "a correlation above 1 is impossible. Suggestion: check that the product sums pair the same "
                    "users' values as the single sums."
                )

    def _needed(self, k: str) -> bool:
        return {
            "m2": True,
            "cov_m2": self.cov_sum is not None,
            "cross_m2": self.cov_sum is not None,
            "den_m2": self.den_sum is not None,
            "num_den_m2": self.den_sum is not None,
            "cov_den_m2": self.cov_den_sum is not None,
        }[k]

    # ----------------------------------------------------------------- properties
    @property
    def has_covariate(self) -> bool:
        """True when the CUPED covariate sums are present."""
        return self.cov_sum is not None

    @property
    def is_ratio(self) -> bool:
        """True when the ratio-metric denominator sums are present."""
        return self.den_sum is not None

    @property
    def mean(self) -> float:
        """Mean of Y per user (NaN when ``n == 0``)."""
        return self.sum / self.n if self.n > 0 else math.nan

    @property
    def var(self) -> float:
        """Unbiased variance of Y per user (NaN when ``n < 2``)."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def cov_mean(self) -> float:
        """Mean of the covariate X (NaN without a covariate or users)."""
        return self.cov_sum / self.n if (self.cov_sum is not None and self.n > 0) else math.nan

    @property
    def den_mean(self) -> float:
        """Mean of the denominator D per user (NaN for a non-ratio metric)."""
        return self.den_sum / self.n if (self.den_sum is not None and self.n > 0) else math.nan

    @property
    def ratio(self) -> float:
        """Ratio of sums Y / D (e.g. revenue per session); NaN when undefined."""
        if self.den_sum is None or self.den_sum == 0:
            return math.nan
        return self.sum / self.den_sum

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_values(
        cls,
        name: str,
        y: Sequence[float] | np.ndarray,
        x: Sequence[float] | np.ndarray | None = None,
        d: Sequence[float] | np.ndarray | None = None,
    ) -> "VariantStats":
        """Statistics of per-user values, with centred moments computed in two passes.

        Parameters
        ----------
        name : str
            Variant name.
        y : array-like
            Metric value per user (numerator for ratio metrics).
        x : array-like, optional
            Pre-period covariate per user (CUPED), same length as ``y``.
        d : array-like, optional
            Denominator per user for ratio metrics, same length as ``y``.
        """
        y = np.asarray(y, dtype=float).ravel()
        arrays = {"y": y}
        if x is not None:
            arrays["x"] = np.asarray(x, dtype=float).ravel()
        if d is not None:
            arrays["d"] = np.asarray(d, dtype=float).ravel()
        for key, arr in arrays.items():
            if arr.shape != y.shape:
                raise DataError(f"variant {name!r}: {key} has {arr.size} value(s) but y has {y.size}; they must match per user.")
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            if bad:
                raise DataError(
                    f"variant {name!r}: {bad} row(s) of {key} are NaN or infinite; values must be finite. "
                    "Suggestion: fill missing metric values with 0 for users without events, or drop them."
                )
        n = int(y.size)
        if n == 0:
            return cls(name, 0, 0.0, 0.0,
                       *((0.0, 0.0, 0.0) if x is not None else (None, None, None)),
                       *((0.0, 0.0, 0.0) if d is not None else (None, None, None)),
                       cov_den_sum=0.0 if (x is not None and d is not None) else None)
        centred = {k: a - a.mean() for k, a in arrays.items()}
        kw: dict[str, float | None] = dict(sum=float(y.sum()), sum_sq=float(y @ y), m2=float(centred["y"] @ centred["y"]))
        if "x" in arrays:
            xa, xc = arrays["x"], centred["x"]
            kw.update(cov_sum=float(xa.sum()), cov_sum_sq=float(xa @ xa), cross_sum=float(xa @ y),
                      cov_m2=float(xc @ xc), cross_m2=float(xc @ centred["y"]))
        if "d" in arrays:
            da, dc = arrays["d"], centred["d"]
            kw.update(den_sum=float(da.sum()), den_sum_sq=float(da @ da), num_den_sum=float(y @ da),
                      den_m2=float(dc @ dc), num_den_m2=float(centred["y"] @ dc))
        if "x" in arrays and "d" in arrays:
            kw.update(cov_den_sum=float(arrays["x"] @ arrays["d"]), cov_den_m2=float(centred["x"] @ centred["d"]))
        return cls(name=name, n=n, **kw)

    @classmethod
    def from_moments(
        cls,
        name: str,
        n: int,
        mean: float,
        m2: float,
        *,
        cov_mean: float | None = None,
        cov_m2: float | None = None,
        cross_m2: float | None = None,
        den_mean: float | None = None,
        den_m2: float | None = None,
        num_den_m2: float | None = None,
        cov_den_m2: float | None = None,
    ) -> "VariantStats":
        """Statistics from centred moments, as SQL delivers them stably.

        ``m2`` is sum (Y - mean)^2 = ``var_samp(y) * (n - 1)``; ``cross_m2`` is
        sum (X - Xbar)(Y - Ybar) = ``covar_samp(x, y) * (n - 1)``; likewise for the others.
        The raw sums are derived (``sum = n * mean``, ``sum_sq = m2 + n * mean^2``) for
        display only; the statistics use the centred moments.
        """
        def raw_sq(m: float, c: float) -> float:
            return c + n * m * m

        kw: dict[str, float | None] = {}
        if cov_mean is not None:
            if cov_m2 is None or cross_m2 is None:
                raise DataError(f"variant {name!r}: cov_mean needs cov_m2 and cross_m2 too.")
            kw.update(cov_sum=n * cov_mean, cov_sum_sq=raw_sq(cov_mean, cov_m2),
                      cross_sum=cross_m2 + n * cov_mean * mean, cov_m2=cov_m2, cross_m2=cross_m2)
        if den_mean is not None:
            if den_m2 is None or num_den_m2 is None:
                raise DataError(f"variant {name!r}: den_mean needs den_m2 and num_den_m2 too.")
            kw.update(den_sum=n * den_mean, den_sum_sq=raw_sq(den_mean, den_m2),
                      num_den_sum=num_den_m2 + n * mean * den_mean, den_m2=den_m2, num_den_m2=num_den_m2)
        if cov_den_m2 is not None:
            if cov_mean is None or den_mean is None:
                raise DataError(f"variant {name!r}: cov_den_m2 needs cov_mean and den_mean.")
            kw.update(cov_den_sum=cov_den_m2 + n * cov_mean * den_mean, cov_den_m2=cov_den_m2)
        for k, v in (("mean", mean), ("m2", m2)):
            _finite(name, k, v)
        return cls(name=name, n=n, sum=n * mean, sum_sq=raw_sq(mean, m2), m2=m2, **kw)

    @classmethod
    def from_counts(cls, name: str, n: int, conversions: int) -> "VariantStats":
        """A conversion metric (0/1 per user): ``conversions`` of ``n`` users converted.

        Raises
        ------
        DataError
            ``conversions`` negative or larger than ``n``.
        """
        if conversions < 0 or conversions > n:
            raise DataError(
                f"variant {name!r}: conversions is {conversions} for n = {n} users; it must be between 0 and n. "
                "Suggestion: count converting users, not conversion events (use a count metric for events)."
            )
        return cls(name=name, n=n, sum=float(conversions), sum_sq=float(conversions))

    def with_name(self, name: str) -> "VariantStats":
        """The same statistics under another name."""
        return replace(self, name=name)

    def to_dict(self) -> dict[str, float | int | str | None]:
        """JSON-safe dict of every field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def merge(a: VariantStats, b: VariantStats, name: str | None = None) -> VariantStats:
    """Combine two disjoint groups of users (Chan, Golub & LeVeque 1979 parallel update).

    ``M2 = M2_a + M2_b + delta^2 * n_a * n_b / n`` and the co-moment analogue
    ``C = C_a + C_b + delta_x * delta_y * n_a * n_b / n``; raw sums simply add.
    Both inputs must carry the same optional blocks (covariate, denominator).
    """
    if a.has_covariate != b.has_covariate or a.is_ratio != b.is_ratio or (a.cov_den_sum is None) != (b.cov_den_sum is None):
        raise DataError(f"cannot merge {a.name!r} and {b.name!r}: one has covariate/denominator sums the other lacks.")
    n = a.n + b.n
    if a.n == 0:
        return b.with_name(name or a.name)
    if b.n == 0:
        return a.with_name(name or a.name)
    w = a.n * b.n / n

    def add(k: str) -> float | None:
        va, vb = getattr(a, k), getattr(b, k)
        return None if va is None else va + vb

    dy = b.mean - a.mean
    kw: dict[str, float | None] = {k: add(k) for k in ("sum", "sum_sq", *_RAW_COV, *_RAW_DEN, "cov_den_sum")}
    kw["m2"] = a.m2 + b.m2 + dy * dy * w
    if a.has_covariate:
        dx = b.cov_mean - a.cov_mean
        kw["cov_m2"] = a.cov_m2 + b.cov_m2 + dx * dx * w
        kw["cross_m2"] = a.cross_m2 + b.cross_m2 + dx * dy * w
    if a.is_ratio:
        dd = b.den_mean - a.den_mean
        kw["den_m2"] = a.den_m2 + b.den_m2 + dd * dd * w
        kw["num_den_m2"] = a.num_den_m2 + b.num_den_m2 + dy * dd * w
        if a.cov_den_sum is not None:
            kw["cov_den_m2"] = a.cov_den_m2 + b.cov_den_m2 + (b.cov_mean - a.cov_mean) * dd * w
    kw["rounding_error"] = max(a.rounding_error, b.rounding_error)
    return VariantStats(name=name or a.name, n=n, **kw)


@dataclass(frozen=True)
class VariantArrays:
    """Column arrays of many :class:`VariantStats` (one row each), for vectorised analysis.

    Every attribute is a float array of the same length (``n`` too, as float); absent optional
    blocks are NaN. ``rounding_error`` (see :class:`VariantStats`) is 0 where the centred moments
    were given. Build with :meth:`from_stats` or :meth:`from_columns`.
    """

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    cov_mean: np.ndarray
    cov_m2: np.ndarray
    cross_m2: np.ndarray
    den_mean: np.ndarray
    den_m2: np.ndarray
    num_den_m2: np.ndarray
    cov_den_m2: np.ndarray
    rounding_error: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rounding_error is None:
            object.__setattr__(self, "rounding_error", np.zeros_like(np.asarray(self.n, dtype=float)))

    @classmethod
    def from_stats(cls, stats: Sequence[VariantStats]) -> "VariantArrays":
        """Stack a sequence of :class:`VariantStats`."""
        nan = math.nan
        cols: dict[str, list[float]] = {f.name: [] for f in fields(cls)}
        for s in stats:
            cols["n"].append(s.n)
            cols["mean"].append(s.mean)
            cols["m2"].append(s.m2)
            cols["cov_mean"].append(s.cov_mean)
            cols["cov_m2"].append(nan if s.cov_m2 is None else s.cov_m2)
            cols["cross_m2"].append(nan if s.cross_m2 is None else s.cross_m2)
            cols["den_mean"].append(s.den_mean)
            cols["den_m2"].append(nan if s.den_m2 is None else s.den_m2)
            cols["num_den_m2"].append(nan if s.num_den_m2 is None else s.num_den_m2)
            cols["cov_den_m2"].append(nan if s.cov_den_m2 is None else s.cov_den_m2)
            cols["rounding_error"].append(s.rounding_error)
        return cls(**{k: np.asarray(v, dtype=float) for k, v in cols.items()})

    @classmethod
    def from_columns(cls, n, mean, m2, **optional) -> "VariantArrays":
        """From arrays of ``n``, ``mean``, ``m2`` and optional centred columns (NaN when absent).

        Raises
        ------
        DataError
            ``n`` not a whole number >= 0 or not finite; ``mean`` not finite where ``n > 0``;
            ``m2`` negative or not finite where ``n > 0``; a second moment column negative;
            columns of different lengths.
        TypeError
            An unknown column name.
        """
        n = np.atleast_1d(np.asarray(n, dtype=float))
        cols = {"n": n, "mean": mean, "m2": m2}
        unknown = sorted(set(optional) - {f.name for f in fields(cls)} | (set(optional) & {"n", "mean", "m2"}))
        if unknown:
            raise TypeError(f"unknown column(s): {unknown}")
        cols.update(optional)
        out = {}
        for f in fields(cls):
            v = cols.get(f.name)
            if v is None:
                out[f.name] = np.full_like(n, np.nan) if f.name != "rounding_error" else np.zeros_like(n)
                continue
            arr = np.asarray(v, dtype=float)
            if arr.ndim > 1 or (arr.ndim == 1 and arr.size not in (1, n.size)):
                raise DataError(f"column {f.name} has {arr.size} value(s) but n has {n.size}; give one per row (or a scalar).")
            out[f.name] = arr * np.ones_like(n)
        _validate_columns(out)
        return cls(**out)

    def __len__(self) -> int:
        return int(self.n.shape[0])

    @property
    def var(self) -> np.ndarray:
        """Unbiased variance of Y per row (NaN where n < 2)."""
        with np.errstate(all="ignore"):
            return np.where(self.n > 1, self.m2 / np.maximum(self.n - 1, 1), np.nan)


def _rows(mask: np.ndarray, values: np.ndarray) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(f"row {i}: {float(values[i])!r}" for i in idx[:3])
    return f"{idx.size} row(s) ({shown}{', ...' if idx.size > 3 else ''})"


def _validate_columns(cols: dict[str, np.ndarray]) -> None:
    """Refuse columns no data can produce (the vectorised twin of VariantStats' checks)."""
    n = cols["n"]
    bad = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
    if bad.any():
        raise DataError(f"column n: {_rows(bad, n)} are not whole numbers >= 0; n counts users per variant.")
    users = n > 0
    for k in ("mean", "m2"):
        bad = users & ~np.isfinite(cols[k])
        if bad.any():
            raise DataError(f"column {k}: {_rows(bad, cols[k])} are NaN or infinite where n > 0; they must be finite. "
                            "Suggestion: fill missing metric values with 0 for users without events, or drop them.")
    for k in ("m2", "cov_m2", "den_m2"):
        bad = cols[k] < 0
        if bad.any():
            raise DataError(f"column {k}: {_rows(bad, cols[k])} are negative; a sum of squared deviations must be >= 0.")
