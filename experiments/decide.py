"""Turn comparisons into a decision: ship, stop or continue, with reason codes.

Rules, applied in order (all lifts read in each metric's *good* direction, so "positive" means
better; intervals are the ones on the results: fixed-horizon, or the sequential ones when a
:class:`~experiments.sequential.SequentialResult` is given for the metric):

1. **Validity.** A harmful SRM (``SRM_FAIL``: detected, and a variant's share off its plan by
   at least ``srm_tolerance_relative``) or any data-quality failure (``DATA_QUALITY_FAIL``)
   blocks "ship" (a detected but tiny mismatch only adds ``SRM_TINY``): the action is ``stop`` (investigate, do not ship), and
   ``SHIP_BLOCKED`` is added when the metrics alone would have shipped. A success or guardrail
   metric whose analysis failed gives ``ANALYSIS_ERROR`` and also blocks ship.
2. **Guardrails** (non-inferiority): with margin ``m`` (fraction, e.g. 0.02 = may not get worse
   by more than 2 %), the relative-lift interval ``[lo, hi]`` gives ``GUARDRAIL_HARM`` when
   ``hi < -m`` (surely worse than allowed: stop), ``GUARDRAIL_OK`` when ``lo > -m``
   (non-inferiority shown) and ``GUARDRAIL_INCONCLUSIVE`` otherwise (blocks ship).
3. **Success metrics** (superiority): ``SUCCESS_SIG_POSITIVE`` when the interval of the lift
   excludes 0 on the good side, ``SUCCESS_SIG_NEGATIVE`` on the bad side (stop),
   ``SUCCESS_NOT_SIGNIFICANT`` otherwise.
4. **Ship** when at least one success metric is significantly positive, none is significantly
   negative, every guardrail is OK and nothing blocks.
5. Otherwise, at the planned end (``information_fraction >= 1``) or past ``max_duration_days``:
   ``stop`` with ``NO_SIGNIFICANT_EFFECT``. Before it: ``continue`` with ``CONTINUE_COLLECTING``
   and a projected end date: the information at which the conditional power of the primary
   (first) success metric under its current trend reaches ``target_power``; when that is beyond
   ``max_duration_days`` (or the trend is flat or negative) the action is ``stop`` with
   ``UNDERPOWERED``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Literal, Mapping, Sequence

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from experiments.results import ComparisonResult, ComparisonTable, _clean

__all__ = ["DecisionConfig", "Guardrail", "SuccessMetric", "Progress", "Decision", "decide", "REASON_CODES"]

REASON_CODES: dict[str, str] = {
    "SRM_FAIL": "sample ratio mismatch: the split of users differs from the plan; results are not trustworthy",
    "SRM_TINY": ("the split differs detectably but by less than the tolerance from the plan; too small to bias "
                 "the results, but check the assignment"),
    "DATA_QUALITY_FAIL": "a data-quality check failed; results are not trustworthy",
    "SHIP_BLOCKED": "the metrics alone would ship, but a validity check blocks it",
    "ANALYSIS_ERROR": "a success or guardrail metric could not be analysed (see its error code)",
    "MISSING_METRIC": "a configured success or guardrail metric has no result",
    "GUARDRAIL_HARM": "a guardrail is worse than its non-inferiority margin",
    "GUARDRAIL_INCONCLUSIVE": "a guardrail's interval still includes a harm beyond its margin",
    "GUARDRAIL_OK": "every guardrail is within its non-inferiority margin",
    "SUCCESS_SIG_POSITIVE": "a success metric improved significantly",
    "SUCCESS_SIG_NEGATIVE": "a success metric got significantly worse",
    "SUCCESS_NOT_SIGNIFICANT": "no success metric is significant yet",
    "NO_SIGNIFICANT_EFFECT": "the planned end is reached without a significant improvement",
    "CONTINUE_COLLECTING": "keep collecting data until the projected end date",
    "UNDERPOWERED": "at the current trend the test cannot reach the target power within the maximum duration",
}


class SuccessMetric(BaseModel):
    """A metric the treatment should improve (superiority)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="Metric name as in the comparison results.")
    direction: Literal["increase", "decrease"] = Field("increase", description="Which direction is better.")


class Guardrail(BaseModel):
    """A metric the treatment must not harm by more than a margin (non-inferiority)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="Metric name as in the comparison results.")
    direction: Literal["increase", "decrease"] = Field("increase", description="Which direction is better.")
    margin_relative: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False,
                                   description="Non-inferiority margin as a fraction of control (0.02 = 2 % worse allowed).")


class DecisionConfig(BaseModel):
    """Decision rules of one experiment (embeddable in experiments.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    success_metrics: tuple[SuccessMetric, ...] = Field(min_length=1, description="Success metrics; the first is primary.")
    guardrails: tuple[Guardrail, ...] = Field((), description="Guardrail metrics with non-inferiority margins.")
    variant: str | None = Field(None, description="Treatment to decide on; default the only one in the results.")
    target_power: float = Field(0.8, gt=0, lt=1, allow_inf_nan=False, description="Conditional power needed to keep going.")
    max_duration_days: int = Field(56, gt=0, description="Longest the experiment may run, days from start.")
    srm_tolerance_relative: float = Field(
        0.01, ge=0, lt=1, allow_inf_nan=False,
        description=("A detected sample ratio mismatch blocks only when a variant's share is off its plan by at least "
                     "this fraction (0.01: 50 % planned, outside 49.5-50.5 %); smaller ones are reported as SRM_TINY."))


class Progress(BaseModel):
    """Where the experiment stands (for the projected end date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_date: dt.date = Field(description="First day of the experiment.")
    today: dt.date = Field(description="Date of this look.")
    information_fraction: float = Field(gt=0, allow_inf_nan=False, description="Users so far / planned users (1 = planned end).")
    critical_value: float = Field(1.959963984540054, gt=0, allow_inf_nan=False,
                                  description="|z| needed at the final analysis (the final group-sequential boundary).")


@dataclass(frozen=True)
class Decision:
    """What to do with the experiment.

    Attributes
    ----------
    action : str
        ``"ship"``, ``"stop"`` or ``"continue"``.
    reason_codes : tuple of str
        Codes from :data:`REASON_CODES`, most important first.
    projected_end_date : datetime.date or None
        For ``continue``: the date conditional power reaches the target at the current trend.
    conditional_power : float or None
        Conditional power of the primary metric at the planned end (probability).
    details : dict
        ``metric -> code`` for each success metric and guardrail.
    """

    action: str
    reason_codes: tuple[str, ...]
    projected_end_date: dt.date | None = None
    conditional_power: float | None = None
    details: dict = field(default_factory=dict)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reason codes in words."""
        return tuple(REASON_CODES[c] for c in self.reason_codes)

    def to_dict(self) -> dict:
        """JSON-safe dict (dates as ISO strings)."""
        d = asdict(self)
        d["projected_end_date"] = None if self.projected_end_date is None else self.projected_end_date.isoformat()
        d["reasons"] = list(self.reasons)
        return {k: _clean(v) for k, v in d.items()}

    def summary(self) -> pd.DataFrame:
        """One row per reason code."""
        return pd.DataFrame({"action": self.action, "reason_code": list(self.reason_codes), "reason": list(self.reasons)})

    def __str__(self) -> str:
        end = f" until {self.projected_end_date.isoformat()}" if self.projected_end_date else ""
        return f"{self.action.upper()}{end}: " + "; ".join(f"{c} ({REASON_CODES[c]})" for c in self.reason_codes)


def _interval(r: ComparisonResult, sign: float, seq=None) -> tuple[float, float, float, float]:
    """Good-direction lift and interval (lo, hi) of a comparison, and the unit of a relative margin.

    Relative (fraction of control) where it exists; when the control mean is 0 the relative lift
    does not, and the absolute interval (the same test, metric units) is read instead, with a
    relative margin worth ``margin * |control|`` = 0 there.
    """
    lift, lo, hi = r.lift_relative, r.lift_relative_ci_low, r.lift_relative_ci_high
    unit = 1.0
    if seq is not None and getattr(seq, "scale", "absolute") == "relative":
        lift, lo, hi = seq.estimate, seq.ci_low, seq.ci_high
    elif seq is not None and r.mean_control not in (0.0,) and math.isfinite(r.mean_control):
        base = abs(r.mean_control)
        lift, lo, hi = seq.estimate / base, seq.ci_low / base, seq.ci_high / base
    elif seq is not None:
        lift, lo, hi, unit = seq.estimate, seq.ci_low, seq.ci_high, 0.0
    if math.isnan(lo) or math.isnan(hi):
        lift, lo, hi = r.lift_absolute, r.lift_absolute_ci_low, r.lift_absolute_ci_high
        unit = abs(r.mean_control) if math.isfinite(r.mean_control) else 0.0
    if sign < 0:
        lift, lo, hi = -lift, -hi, -lo
    return lift, lo, hi, unit


def decide(results: ComparisonTable | Sequence[ComparisonResult], config: DecisionConfig, *, srm=None,
           data_quality_failures: Sequence[str] = (), progress: Progress | None = None,
           sequential: Mapping[str, object] | None = None) -> Decision:
    """Decide ship / stop / continue for one treatment (rules in the module docstring).

    Parameters
    ----------
    results : ComparisonTable or sequence of ComparisonResult
        Overall comparisons (dimension ``""``) of the metrics named in ``config``.
    config : DecisionConfig
    srm : SRMResult or sequence of SRMResult, optional
        Any failed check blocks ship.
    data_quality_failures : sequence of str
        Descriptions of failed data-quality checks; any blocks ship.
    progress : Progress, optional
        Needed for the projected end date and the end-of-test rule.
    sequential : mapping metric -> SequentialResult, optional
        Use these intervals (repeated CI / confidence sequence) instead of the fixed-horizon ones.
    """
    from experiments.sequential import conditional_power, information_for_conditional_power

    rows = [r for r in results if r.dimension == ""]
    if config.variant is not None:
        rows = [r for r in rows if r.variant == config.variant]
    by_metric: dict[str, ComparisonResult] = {}
    for r in rows:
        if r.metric in by_metric and by_metric[r.metric].variant != r.variant:
            raise ValueError(f"results hold several treatments for {r.metric!r} ({by_metric[r.metric].variant!r}, "
                             f"{r.variant!r}); set DecisionConfig.variant to the one to decide on.")
        by_metric[r.metric] = r
    sequential = dict(sequential or {})
    srm_list = [] if srm is None else ([srm] if hasattr(srm, "failed") else list(srm))
    codes: list[str] = []
    details: dict[str, str] = {}
    blocked = False
    severities = [s.severity(config.srm_tolerance_relative) if hasattr(s, "severity") else ("harmful" if s.failed else "none")
                  for s in srm_list]
    if "harmful" in severities:
        codes.append("SRM_FAIL")
        blocked = True
    elif "tiny" in severities:
        codes.append("SRM_TINY")
    if data_quality_failures:
        codes.append("DATA_QUALITY_FAIL")
        blocked = True
    harm = negative = analysis_error = False
    guard_ok = True
    for g in config.guardrails:
        r = by_metric.get(g.metric)
        if r is None or not r.ok:
            details[g.metric] = "MISSING_METRIC" if r is None else "ANALYSIS_ERROR"
            analysis_error, guard_ok = True, False
            continue
        _, lo, hi, unit = _interval(r, 1.0 if g.direction == "increase" else -1.0, sequential.get(g.metric))
        margin = g.margin_relative * unit
        if hi < -margin:
            details[g.metric], harm, guard_ok = "GUARDRAIL_HARM", True, False
        elif lo > -margin:
            details[g.metric] = "GUARDRAIL_OK"
        else:
            details[g.metric], guard_ok = "GUARDRAIL_INCONCLUSIVE", False
    positive = False
    for m in config.success_metrics:
        r = by_metric.get(m.metric)
        if r is None or not r.ok:
            details[m.metric] = "MISSING_METRIC" if r is None else "ANALYSIS_ERROR"
            analysis_error = True
            continue
        _, lo, hi, _ = _interval(r, 1.0 if m.direction == "increase" else -1.0, sequential.get(m.metric))
        if lo > 0:
            details[m.metric], positive = "SUCCESS_SIG_POSITIVE", True
        elif hi < 0:
            details[m.metric], negative = "SUCCESS_SIG_NEGATIVE", True
        else:
            details[m.metric] = "SUCCESS_NOT_SIGNIFICANT"
    for c in ("MISSING_METRIC", "ANALYSIS_ERROR"):
        if c in details.values():
            codes.append(c)
    for c in ("GUARDRAIL_HARM", "GUARDRAIL_INCONCLUSIVE", "SUCCESS_SIG_NEGATIVE", "SUCCESS_SIG_POSITIVE"):
        if c in details.values():
            codes.append(c)
    if config.guardrails and guard_ok:
        codes.append("GUARDRAIL_OK")
    would_ship = positive and not negative and guard_ok and not analysis_error
    if blocked:
        if would_ship:
            codes.append("SHIP_BLOCKED")
        return Decision("stop", tuple(codes), details=details)
    if harm or negative:
        return Decision("stop", tuple(codes), details=details)
    if would_ship:
        return Decision("ship", tuple(codes), details=details)
    if not positive:
        codes.append("SUCCESS_NOT_SIGNIFICANT")
    if progress is None:
        codes.append("CONTINUE_COLLECTING")
        return Decision("continue", tuple(codes), details=details)
    elapsed = max((progress.today - progress.start_date).days, 1)
    if progress.information_fraction >= 1 or elapsed >= config.max_duration_days:
        codes.append("NO_SIGNIFICANT_EFFECT")
        return Decision("stop", tuple(codes), details=details)
    primary = by_metric.get(config.success_metrics[0].metric)
    t = progress.information_fraction
    cp = total = None
    if primary is not None and primary.ok and math.isfinite(primary.statistic):
        z = primary.statistic * (1.0 if config.success_metrics[0].direction == "increase" else -1.0)
        cp = conditional_power(z, t, critical_value=progress.critical_value) if z > 0 else 0.0
        if z > 0:
            total = information_for_conditional_power(z, t, critical_value=progress.critical_value,
                                                      target=config.target_power,
                                                      max_information=t * config.max_duration_days / elapsed)
    if total is None:
        codes.append("UNDERPOWERED")
        return Decision("stop", tuple(codes), conditional_power=cp, details=details)
    # Information accrues in proportion to days (steady traffic).
    days_total = math.ceil(elapsed * max(total, t) / t - 1e-9)
    end = progress.start_date + dt.timedelta(days=max(days_total, elapsed + 1) if total > t else elapsed)
    codes.append("CONTINUE_COLLECTING")
    return Decision("continue", tuple(codes), projected_end_date=end, conditional_power=cp, details=details)
