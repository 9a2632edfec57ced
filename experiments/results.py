"""Result types of the experiment statistics: error codes, one comparison, a table of comparisons.

Every analysis returns a result, never raises, for conditions it can report: a comparison that
cannot be computed carries ``status="error"``, an :class:`ErrorCode` and a message, and NaN
estimates (gbstats' ``ZERO_NEGATIVE_VARIANCE`` style). Impossible *data* (negative user counts,
NaN sums) is refused earlier, when a :class:`~experiments.stats.VariantStats` is built.

Units: ``lift_absolute`` is in metric units (e.g. conversion-rate points as a fraction, currency
per user); ``lift_relative`` is a fraction of the control value (0.05 = +5 %); p-values and
``alpha`` are probabilities; ``ci_level`` is e.g. 0.95.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from enum import Enum
from typing import Any, Iterator

import numpy as np
import pandas as pd

__all__ = ["ErrorCode", "ComparisonResult", "ComparisonTable", "ERROR_MESSAGES"]


class ErrorCode(str, Enum):
    """Why a comparison could not be computed (``status == "error"``)."""

    ZERO_USERS = "ZERO_USERS"
    """A variant has no users."""
    TOO_FEW_USERS = "TOO_FEW_USERS"
    """A variant has fewer than 2 users: no variance can be estimated."""
    ZERO_VARIANCE = "ZERO_VARIANCE"
    """Both variants have zero variance (e.g. 0 % or 100 % conversion everywhere)."""
    INVALID_PROPORTION = "INVALID_PROPORTION"
    """Conversions outside [0, n] for a proportion metric."""
    ZERO_DENOMINATOR = "ZERO_DENOMINATOR"
    """A ratio metric whose denominator sums to 0 in a variant."""
    MISSING_COVARIATE = "MISSING_COVARIATE"
    """CUPED was asked for but the covariate sums are absent."""
    MISSING_DENOMINATOR = "MISSING_DENOMINATOR"
    """A ratio analysis was asked for but the denominator sums are absent."""
    SINGLE_VARIANT = "SINGLE_VARIANT"
    """Only one variant: nothing to compare."""
    ZERO_BASELINE = "ZERO_BASELINE"
    """The control mean is 0, so a relative lift (the chosen effect scale) does not exist."""
    PRECISION_LOSS = "PRECISION_LOSS"
    """The variance derived from raw sums is lost to rounding (catastrophic cancellation)."""


ERROR_MESSAGES: dict[str, str] = {
    "ZERO_USERS": "a variant has 0 users; wait for traffic or check the assignment join",
    "TOO_FEW_USERS": "a variant has fewer than 2 users; a variance needs at least 2",
    "ZERO_VARIANCE": "the metric has zero variance in both variants; no test is possible",
    "INVALID_PROPORTION": "conversions exceed users (or are negative); a conversion metric counts converting users",
    "ZERO_DENOMINATOR": "the ratio denominator sums to 0 in a variant",
    "MISSING_COVARIATE": "CUPED needs the pre-period covariate sums (cov_sum, cov_sum_sq, cross_sum)",
    "MISSING_DENOMINATOR": "a ratio metric needs the denominator sums (den_sum, den_sum_sq, num_den_sum)",
    "SINGLE_VARIANT": "only one variant was given; a comparison needs a control and at least one treatment",
    "ZERO_BASELINE": "the control mean is 0, so there is no relative lift; use effect_scale='absolute' for this metric",
    "PRECISION_LOSS": ("the variance computed from raw sums (sum_sq - sum^2 / n) is lost to rounding because the values "
                       "are large compared with their spread; aggregate centred moments instead "
                       "(VariantStats.from_moments / from_values, or the SQL moments path: var_samp(y) * (n - 1))"),
}


def _clean(v: Any) -> Any:
    """JSON-safe scalar: numpy to Python, NaN/inf to None."""
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, tuple):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class ComparisonResult:
    """One treatment-versus-control comparison of one metric (in one dimension slice).

    Attributes
    ----------
    metric, variant, control, dimension : str
        What was compared; ``dimension`` is ``""`` for the overall population or e.g.
        ``"country=FR"``.
    method : str
        The test and its conventions, e.g. ``"z_pooled_cc"``, ``"welch"``, ``"delta_ratio"``,
        ``"welch_cuped"``, ``"bayes_beta"``.
    n_control, n_treatment : int
        Users per variant.
    mean_control, mean_treatment : float
        Metric value per variant (rate, mean per user, or ratio of sums), CUPED-adjusted when
        ``method`` says so.
    lift_absolute, lift_absolute_ci_low, lift_absolute_ci_high : float
        Treatment minus control, metric units, with its interval.
    lift_relative, lift_relative_ci_low, lift_relative_ci_high : float
        (Treatment - control) / |control| (fraction; an improvement is positive even when the
        control mean is negative), with its interval.
    p_value : float
        Two-sided p-value unless the analysis says otherwise (NaN for Bayesian results). It tests
        the effect on the analysis' ``effect_scale`` (``extra``-free column ``effect_scale`` of
        the table): relative (delta method) or absolute; both intervals are that one interval
        (the other scale's is rescaled by ``|control|``), so ``p < alpha`` exactly when either
        interval excludes 0 (R-convention proportion tests excepted, see their warning).
    statistic : float
        z or t statistic (NaN for Bayesian results).
    ci_level : float
        Confidence (or credible) level of the intervals, e.g. 0.95.
    status : str
        ``"ok"`` or ``"error"``.
    error_code : str or None
        An :class:`ErrorCode` value when ``status == "error"``.
    error_message : str
        Human-readable reason when ``status == "error"``.
    warnings : tuple of str
        Conditions to read with care (small samples, ...).
    extra : dict
        Method-specific values: ``df`` (Welch), ``chance_to_beat_control`` and
        ``expected_loss`` (Bayes), ``variance_reduction`` (CUPED, fraction), ``theta``.
    """

    metric: str
    variant: str
    control: str
    dimension: str
    method: str
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    lift_absolute: float
    lift_absolute_ci_low: float
    lift_absolute_ci_high: float
    lift_relative: float
    lift_relative_ci_low: float
    lift_relative_ci_high: float
    p_value: float
    statistic: float
    ci_level: float
    status: str = "ok"
    error_code: str | None = None
    error_message: str = ""
    warnings: tuple[str, ...] = ()
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the comparison was computed."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN becomes None)."""
        return {f.name: _clean(getattr(self, f.name)) for f in fields(self)}

    def summary(self) -> pd.DataFrame:
        """One-row DataFrame of this comparison."""
        d = asdict(self)
        extra = d.pop("extra")
        d.update({f"extra_{k}": v for k, v in extra.items()})
        d["warnings"] = "; ".join(self.warnings)
        return pd.DataFrame([d])

    def __str__(self) -> str:
        head = f"{self.metric} [{self.dimension or 'all'}] {self.variant} vs {self.control} ({self.method})"
        if not self.ok:
            return f"{head}: ERROR {self.error_code}: {self.error_message}"
        pct = int(round(self.ci_level * 100))
        return (
            f"{head}: {self.mean_treatment:.6g} vs {self.mean_control:.6g}; "
            f"lift {self.lift_absolute:+.4g} ({pct}% CI {self.lift_absolute_ci_low:+.4g} .. {self.lift_absolute_ci_high:+.4g}), "
            f"relative {self.lift_relative:+.2%} ({self.lift_relative_ci_low:+.2%} .. {self.lift_relative_ci_high:+.2%}), "
            f"p = {self.p_value:.4g}"
        )


def _split_warnings(text: Any) -> tuple[str, ...]:
    """The ``"; "``-joined warnings column of a table row as a tuple ("" or NaN -> ())."""
    if not isinstance(text, str) or not text:
        return ()
    return tuple(w for w in text.split("; ") if w)


#: Columns every vectorised analysis returns, in order (besides labels and extras).
CORE_COLUMNS = (
    "n_control", "n_treatment", "mean_control", "mean_treatment",
    "lift_absolute", "lift_absolute_ci_low", "lift_absolute_ci_high",
    "lift_relative", "lift_relative_ci_low", "lift_relative_ci_high",
    "p_value", "statistic",
)
LABEL_COLUMNS = ("metric", "variant", "control", "dimension", "method")
_KNOWN = frozenset(LABEL_COLUMNS) | frozenset(CORE_COLUMNS) | {"ci_level", "status", "error_code", "error_message", "warnings"}


@dataclass(frozen=True)
class ComparisonTable:
    """Many comparisons at once (the vectorised path), one row per comparison.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns ``metric, variant, control, dimension, method``, the :data:`CORE_COLUMNS`
        (same meaning and units as in :class:`ComparisonResult`), ``ci_level``, ``status``,
        ``error_code`` (None when ok) and method-specific extras (``df``, ``p_value_adjusted`` ...).
    """

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    def summary(self) -> pd.DataFrame:
        """The table itself (a copy)."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe ``{"comparisons": [row, ...]}`` (each row as :meth:`ComparisonResult.to_dict`)."""
        cols = self._columns

        def clean(values):
            return [None if (isinstance(v, float) and not math.isfinite(v)) else v for v in values]

        n = len(self)
        fixed = {k: clean(cols[k]) for k in (*LABEL_COLUMNS, *CORE_COLUMNS, "ci_level", "status")}
        fixed["n_control"] = [int(v) for v in cols["n_control"]]
        fixed["n_treatment"] = [int(v) for v in cols["n_treatment"]]
        codes = [None if (c is None or (isinstance(c, float) and math.isnan(c))) else str(c)
                 for c in cols.get("error_code", [None] * n)]
        extras = {k: clean([float(v) for v in cols[k]]) for k in self._extra_columns}
        rows = []
        for i in range(n):
            d = {k: v[i] for k, v in fixed.items()}
            d["error_code"] = codes[i]
            d["error_message"] = ERROR_MESSAGES.get(codes[i], "") if codes[i] else ""
            d["warnings"] = list(_split_warnings(cols.get("warnings", [""] * n)[i]))
            d["extra"] = {k: v[i] for k, v in extras.items()}
            rows.append(d)
        return {"comparisons": rows}

    @cached_property
    def _columns(self) -> dict[str, list]:
        # Columns as Python lists once, so row(i) is a list lookup instead of a pandas .iloc (~1 ms a row).
        return {k: self.frame[k].tolist() for k in self.frame.columns}

    @cached_property
    def _extra_columns(self) -> tuple[str, ...]:
        return tuple(k for k in self.frame.columns if k not in _KNOWN and self.frame[k].dtype.kind in "fiu")

    def row(self, i: int) -> ComparisonResult:
        """Row ``i`` as a :class:`ComparisonResult`."""
        cols = self._columns
        extra = {k: float(cols[k][i]) for k in self._extra_columns}
        code = cols["error_code"][i] if "error_code" in cols else None
        code = None if code is None or (isinstance(code, float) and math.isnan(code)) else str(code)
        return ComparisonResult(
            **{k: str(cols[k][i]) for k in LABEL_COLUMNS},
            n_control=int(cols["n_control"][i]), n_treatment=int(cols["n_treatment"][i]),
            **{k: float(cols[k][i]) for k in CORE_COLUMNS if k not in ("n_control", "n_treatment")},
            ci_level=float(cols["ci_level"][i]), status=str(cols["status"][i]), error_code=code,
            error_message=ERROR_MESSAGES.get(code, "") if code else "",
            warnings=_split_warnings(cols["warnings"][i]) if "warnings" in cols else (),
            extra=extra,
        )

    def __iter__(self) -> Iterator[ComparisonResult]:
        return (self.row(i) for i in range(len(self)))

    def __str__(self) -> str:
        n_err = int((self.frame["status"] != "ok").sum()) if len(self) else 0
        return f"ComparisonTable: {len(self)} comparison(s), {n_err} error(s)\n" + self.frame.head(20).to_string()
