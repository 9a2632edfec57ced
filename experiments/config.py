"""Pydantic model of ``experiments.yaml``: which experiments to analyse and where their data lives.

An experiments file is a mapping with one key, ``experiments``: a list of experiments. Each
experiment names its data source (a per-user table, a raw event log, or inline per-variant summary
statistics), its variants (one is the control), its metrics and its decision settings (alpha,
sequential looks, non-inferiority margins). Paths are relative to the YAML file's folder.

Units and defaults
------------------
- ``alpha`` is a two-sided type-I error rate (fraction, default 0.05).
- ``non_inferiority_margin`` is a *relative* margin (fraction of the control mean, default none).
- ``expected_weekly_users`` counts users entering the experiment per week, all variants together.
- ``traffic_split`` maps variant -> planned share (fractions summing to 1; default equal shares).
- Dates are ISO dates (``2026-11-02``); report weeks are ISO weeks (``2026-W47``).

Load a file with :func:`load_experiments_config`; it raises :class:`~optimizer.errors.ScenarioError`
with one ``file:line: field is value; expected ...`` line per defect.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from optimizer.errors import ScenarioError

_NAME = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
# Event names and variant labels are compared inside SQL string literals shared by DuckDB and
# Spark; forbidding quotes and backslashes keeps one literal syntax valid in both engines.
_LITERAL = r"^[^'\"\\\n]+$"
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_iso_week(text: str) -> tuple[dt.date, dt.date]:
    """``"2026-W47"`` -> (Monday, Sunday) of that ISO week.

    Raises
    ------
    ScenarioError
        The text is not ``YYYY-Www`` or the week does not exist in that year.
    """
    m = _ISO_WEEK.match(text.strip())
    if not m:
        raise ScenarioError(f"week is {text!r}; expected an ISO week such as '2026-W47'.")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        monday = dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ScenarioError(f"week is {text!r}; {year} has no ISO week {week} (weeks run 1..52 or 53).") from None
    return monday, monday + dt.timedelta(days=6)


def iso_week_label(day: dt.date) -> str:
    """The ISO week of ``day`` as ``YYYY-Www``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsersSource(_Model):
    """One row per user: variant, metric values per user, optional covariates and exposure time."""

    kind: Literal["users"] = Field(description="Per-user rows (CSV or Parquet).")
    path: str = Field(description="CSV or Parquet file (or glob), relative to the experiments file's folder.")
    user_col: str = Field("user_id", description="Column holding the user id.")
    variant_col: str = Field("variant", description="Column holding the variant name.")
    timestamp_col: str | None = Field(
        None,
        description="Exposure time column; enables week-to-date looks (users exposed by each week's end).",
    )


class EventsSource(_Model):
    """Raw events: one row per event; per-user values are aggregated in SQL first."""

    kind: Literal["events"] = Field(description="Raw event rows (CSV or Parquet).")
    path: str = Field(description="CSV or Parquet file (or glob), relative to the experiments file's folder.")
    user_col: str = Field("user_id", description="Column holding the user id.")
    variant_col: str = Field("variant", description="Column holding the variant the user was assigned to.")
    timestamp_col: str | None = Field(
        "timestamp", description="Event time column (UTC); enables week-to-date looks. None: one look."
    )
    event_col: str = Field("event", description="Column holding the event name.")


class SummaryRow(_Model):
    """Per-variant sufficient statistics for one metric (optionally as of one week's end)."""

    variant: str = Field(description="Variant name.")
    metric: str = Field(description="Metric name (one of the experiment's metrics).")
    week: str | None = Field(None, description="ISO week these week-to-date sums are as of; None: latest.")
    n: int = Field(description="Users in the variant (count, >= 0).")
    sum: float = Field(description="Sum over users of the metric value.", allow_inf_nan=False)
    sum_sq: float | None = Field(
        None, description="Sum over users of the squared metric value (optional for proportions).", allow_inf_nan=False
    )
    cov_sum: float | None = Field(None, description="Sum of the pre-period covariate X.", allow_inf_nan=False)
    cov_sum_sq: float | None = Field(None, description="Sum of X squared.", allow_inf_nan=False)
    cross_sum: float | None = Field(None, description="Sum of X * metric value.", allow_inf_nan=False)
    den_sum: float | None = Field(None, description="Ratio metrics: sum of the denominator D.", allow_inf_nan=False)
    den_sum_sq: float | None = Field(None, description="Ratio metrics: sum of D squared.", allow_inf_nan=False)
    num_den_sum: float | None = Field(None, description="Ratio metrics: sum of numerator * D.", allow_inf_nan=False)


class SummarySource(_Model):
    """Inline per-variant summary statistics (no raw data)."""

    kind: Literal["summary"] = Field(description="Sufficient statistics given inline.")
    rows: list[SummaryRow] = Field(min_length=1, description="One row per (variant, metric[, week]).")
    dimension_counts: dict[str, dict[str, dict[str, int]]] = Field(
        default_factory=dict,
        description="Optional users per dimension level per variant for SRM: {dimension: {level: {variant: n}}}.",
    )


DataSource = Annotated[Union[UsersSource, EventsSource, SummarySource], Field(discriminator="kind")]


class MetricConfig(_Model):
    """One metric of an experiment.

    For ``users`` data ``column`` names the per-user value (0/1 for proportions, counts >= 0 for
    counts). For ``events`` data the per-user value is built from events named ``event``:
    proportion = had at least one, count = how many, mean = sum of ``column`` (or of 1s).
    Ratio metrics divide the per-user numerator by the per-user denominator (delta method).
    """

    name: str = Field(pattern=_NAME, description="Metric name used in reports.")
    kind: Literal["proportion", "mean", "ratio", "count"] = Field(description="Metric family.")
    role: Literal["success", "guardrail"] = Field("success", description="Success metric or guardrail.")
    column: str | None = Field(None, description="Value column (users: per-user value; events: value to sum).")
    event: str | None = Field(None, pattern=_LITERAL, description="Events data: event name this metric counts.")
    denominator_column: str | None = Field(None, description="Ratio metrics: denominator column.")
    denominator_event: str | None = Field(None, pattern=_LITERAL, description="Ratio metrics on events: denominator event.")
    covariate_column: str | None = Field(
        None, description="Pre-period covariate column for CUPED (users data; events data: constant per user)."
    )
    higher_is_better: bool = Field(True, description="False for metrics such as latency or unsubscribes.")
    value_per_unit: float | None = Field(
        None, allow_inf_nan=False,
        description=("Money per unit of the metric per user (1 for revenue per user; the value of one conversion for "
                     "a conversion rate). Enables the report's expected money impact per week."))
    non_inferiority_margin: float | None = Field(
        None, ge=0, lt=1, allow_inf_nan=False, description="Guardrails: tolerated relative harm (fraction, e.g. 0.02)."
    )

    @model_validator(mode="after")
    def _ratio_needs_denominator(self) -> "MetricConfig":
        if self.kind == "ratio" and self.denominator_column is None and self.denominator_event is None:
            raise ValueError(f"metric {self.name!r} is a ratio; give denominator_column or denominator_event")
        if self.kind != "ratio" and (self.denominator_column or self.denominator_event):
            raise ValueError(f"metric {self.name!r} is {self.kind!r}; a denominator is only for kind 'ratio'")
        return self


class SequentialConfig(_Model):
    """Weekly monitoring settings."""

    method: Literal["group_sequential", "msprt", "fixed"] = Field(
        "group_sequential", description="Alpha spending over planned looks, always-valid mSPRT, or one fixed look."
    )
    planned_looks: int = Field(4, ge=1, le=52, description="Planned weekly looks (the last one is the final analysis).")
    spending: Literal["obrien_fleming", "pocock"] = Field("obrien_fleming", description="Lan-DeMets spending function.")
    msprt_tau_relative: float = Field(
        0.05, gt=0, allow_inf_nan=False,
        description="mSPRT mixing scale as a fraction of the control mean (about the effect you expect).",
    )
    tuning_n: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description=("mSPRT parametrised as GrowthBook: its tuning parameter N* (total users at which the interval "
                     "is tightest; GrowthBook's default 5000). Replaces msprt_tau_relative when given."),
    )


class AppliesTo(_Model):
    """How a shipped experiment feeds the plan: scale a budget channel's response."""

    channel: str = Field(description="Budget channel whose response curve is scaled.")
    metric: str | None = Field(None, description="Metric whose lift is used (default: first success metric).")
    treatment: str | None = Field(None, description="Treatment variant (default: the shipped one).")
    response_multiplier_from: Literal["relative_lift"] = Field(
        "relative_lift", description="Multiplier = 1 + relative lift of the metric (point estimate)."
    )


class ExperimentConfig(_Model):
    """One A/B(/n) experiment.

    Cross-field checks are field validators (not one model validator) so that each message
    points at the offending key and line: ``experiments[0].control is 'baseline'; ...``.
    Fields are validated in declaration order, so a validator sees the fields above it.
    """

    name: str = Field(pattern=_NAME, description="Experiment name (unique).")
    description: str = Field("", description="One line for the report.")
    start_date: dt.date = Field(description="First day of the experiment (UTC).")
    variants: list[Annotated[str, Field(pattern=_LITERAL)]] = Field(
        description="All variant names, control included (>= 2)."
    )
    control: str = Field(pattern=_LITERAL, description="Name of the control variant.")
    metrics: list[MetricConfig] = Field(min_length=1, description="Metrics; at least one success metric.")
    data: DataSource = Field(description="Where the data comes from.")
    alpha: float = Field(0.05, gt=0, lt=0.5, allow_inf_nan=False, description="Two-sided type-I error rate.")
    effect_scale: Literal["relative", "absolute"] = Field(
        "relative",
        description=("Effect the p-values, intervals, sequential test and decision are about: 'relative' "
                     "((treatment - control) / |control|, delta method; GrowthBook's default) or 'absolute' "
                     "(treatment - control; R t.test / prop.test)."))
    power: float = Field(0.8, gt=0, lt=1, allow_inf_nan=False, description="Target power for MDE and projections.")
    sequential: SequentialConfig = Field(default_factory=SequentialConfig, description="Weekly monitoring.")
    expected_weekly_users: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Users entering per week (all variants), for projections."
    )
    traffic_split: dict[str, float] | None = Field(
        None, description="Planned share per variant (fractions summing to 1); default equal shares."
    )
    dimensions: list[str] = Field(default_factory=list, description="Columns to check SRM per level (e.g. country).")
    max_duration_days: int = Field(
        56, gt=0, le=3650, description="Longest the experiment may run (days from start_date) before it stops."
    )
    srm_alpha: float = Field(0.001, gt=0, lt=0.5, allow_inf_nan=False, description="Threshold of the SRM chi-square test.")
    srm_tolerance_relative: float = Field(
        0.01, ge=0, lt=1, allow_inf_nan=False,
        description=("A detected SRM blocks ship only when a variant's share is off its plan by at least this fraction "
                     "(0.01 = 1 % of the planned share); smaller mismatches are reported as tiny (SRM_TINY)."))
    applies_to: AppliesTo | None = Field(None, description="Optional link to a budget channel when shipped.")

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: list[str]) -> list[str]:
        if len(v) < 2:
            raise ValueError(
                f"an experiment needs the control and at least one treatment; {len(v)} variant given. "
                "Suggestion: list all variants, e.g. [control, treatment]"
            )
        dup = sorted({x for x in v if v.count(x) > 1})
        if dup:
            raise ValueError(f"variant names must be unique; repeated: {dup}")
        return v

    @field_validator("control")
    @classmethod
    def _control(cls, v: str, info: ValidationInfo) -> str:
        variants = info.data.get("variants")
        if variants is not None and v not in variants:
            hint = difflib.get_close_matches(v, variants, n=1)
            raise ValueError(f"the control must be one of variants {variants}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
        return v

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[MetricConfig]) -> list[MetricConfig]:
        names = [m.name for m in v]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise ValueError(f"metric names must be unique; repeated: {dup}")
        if not any(m.role == "success" for m in v):
            raise ValueError("no metric has role 'success'; at least one is needed to decide")
        return v

    @field_validator("data")
    @classmethod
    def _data(cls, v: Any, info: ValidationInfo) -> Any:
        metrics = info.data.get("metrics")
        if metrics is None:
            return v
        names = [m.name for m in metrics]
        problems = []
        if isinstance(v, SummarySource):
            for i, row in enumerate(v.rows):
                if row.metric not in names:
                    problems.append(f"rows[{i}].metric {row.metric!r} is not a metric; metrics are {names}")
                if row.week is not None:
                    try:
                        parse_iso_week(row.week)
                    except ScenarioError as exc:
                        problems.append(f"rows[{i}].{exc}")
        else:
            for m in metrics:
                if isinstance(v, UsersSource) and m.column is None:
                    problems.append(f"metric {m.name!r} needs column (users data holds one value per user)")
                if isinstance(v, EventsSource) and m.event is None and m.column is None:
                    problems.append(f"metric {m.name!r} needs event or column (events data)")
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator("traffic_split")
    @classmethod
    def _split(cls, v: dict[str, float] | None, info: ValidationInfo) -> dict[str, float] | None:
        if v is None:
            return v
        variants = info.data.get("variants") or []
        unknown = sorted(set(v) - set(variants))
        if unknown:
            raise ValueError(f"names unknown variant(s) {unknown}; variants are {variants}")
        total = sum(v.values())
        if any(not math.isfinite(x) or x <= 0 for x in v.values()) or abs(total - 1) > 1e-6:
            raise ValueError(f"shares must be > 0 and sum to 1; they sum to {total:g}")
        return v

    @field_validator("applies_to")
    @classmethod
    def _applies(cls, v: AppliesTo | None, info: ValidationInfo) -> AppliesTo | None:
        if v is None:
            return v
        names = [m.name for m in info.data.get("metrics") or []]
        variants = info.data.get("variants") or []
        if v.metric is not None and names and v.metric not in names:
            raise ValueError(f"metric {v.metric!r} is not one of the metrics {names}")
        if v.treatment is not None and variants and v.treatment not in variants:
            raise ValueError(f"treatment {v.treatment!r} is not one of variants {variants}")
        return v

    @property
    def split(self) -> dict[str, float]:
        """Planned traffic share per variant (equal shares unless ``traffic_split`` is given)."""
        if self.traffic_split is not None:
            return {v: float(self.traffic_split.get(v, 0.0)) for v in self.variants}
        return {v: 1.0 / len(self.variants) for v in self.variants}

    def metric(self, name: str) -> MetricConfig:
        """The metric called ``name``."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)


class ExperimentsConfig(_Model):
    """The whole ``experiments.yaml``."""

    experiments: list[ExperimentConfig] = Field(min_length=1, description="Experiments to analyse.")

    @model_validator(mode="after")
    def _unique(self) -> "ExperimentsConfig":
        names = [e.name for e in self.experiments]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"experiment names must be unique; repeated: {dup}")
        return self


def load_experiments_config(path: str | Path) -> ExperimentsConfig:
    """Read and validate an experiments YAML file (every defect reported with its line).

    Raises
    ------
    ScenarioError
        Missing file, YAML syntax, or any invalid value (one line per defect).
    """
    from optimizer.validation import load_model

    try:
        return load_model(ExperimentsConfig, path)
    except ScenarioError:
        raise
    except ValueError as exc:
        # PyYAML builds dates while parsing and raises a bare ValueError for 2026-13-02.
        raise ScenarioError(f"{path}: a value cannot be read: {exc}. Dates are ISO dates such as 2026-11-02.") from None
