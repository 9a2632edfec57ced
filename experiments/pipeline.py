"""Analyse every experiment of an ``experiments.yaml`` as of one ISO week: the report's data.

For each experiment: aggregate (SQL) -> variant checks -> SRM (overall and per dimension) ->
comparisons of every metric and treatment at every weekly look (CUPED where a covariate is
configured) -> sequential intervals over the looks -> power / MDE -> decision. A failure in one
experiment (missing column, NaN values, ...) becomes that experiment's ``status="error"`` with an
error code; the others are analysed as usual, so the report always renders.

Units: lifts as in :class:`experiments.results.ComparisonResult` (``lift_relative`` is a fraction
of the control); ``information_fraction`` is users so far / planned users; dates are ISO dates.
Defaults: information fractions come from ``expected_weekly_users * planned_looks`` when traffic
is given, else from the calendar (look k of ``planned_looks``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from experiments.aggregate import AggregationError, DataIssue

if TYPE_CHECKING:
    import pandas as pd

    from experiments.aggregate import Aggregates, Engine
    from experiments.config import ExperimentConfig, ExperimentsConfig


def _clean(value: Any) -> Any:
    """JSON-safe scalars and containers (NaN -> None, numpy -> Python)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "to_dict") and not hasattr(value, "columns"):
        return _clean(value.to_dict())
    return value


@dataclass(frozen=True)
class Decision:
    """What to do with an experiment this week.

    Attributes
    ----------
    action : str
        ``"ship"``, ``"stop"``, ``"continue"`` or ``"error"`` (the analysis could not run).
    variant : str or None
        The treatment to ship (``action == "ship"``), else None.
    reason_codes : tuple of str
        Why, e.g. ``SUCCESS_SIG_POSITIVE``, ``GUARDRAIL_HARM``, ``SRM_FAIL``, ``UNDERPOWERED``.
    projected_end_date : str or None
        ISO date by which a "continue" is projected to conclude (conditional power), if known.
    explanation : str
        One or two sentences for the report.
    """

    action: str
    variant: str | None
    reason_codes: tuple[str, ...]
    projected_end_date: str | None = None
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return _clean({"action": self.action, "variant": self.variant, "reason_codes": list(self.reason_codes),
                       "projected_end_date": self.projected_end_date, "explanation": self.explanation})


@dataclass(frozen=True)
class ExperimentAnalysis:
    """One experiment, analysed as of one week.

    Attributes
    ----------
    name, description : str
        From the config.
    status : str
        ``"ok"`` or ``"error"`` (``error_code`` and ``error_message`` say why).
    week : str
        Report week (ISO), the last look.
    looks : tuple of str
        ISO weeks of the looks, oldest first.
    variant_users : dict
        Users per variant at the last look (data variants, configured or not).
    comparisons : pandas.DataFrame or None
        Last look: one row per (metric, treatment): lifts (fixed-horizon and sequential
        intervals), p-value, method, status and error code.
    over_time : pandas.DataFrame or None
        Every look: ``k, week, metric, variant, n_control, n_treatment, lift_relative`` and its
        fixed (``fixed_low/high``) and sequential (``seq_low/high``) intervals (fractions).
    srm : tuple
        :class:`experiments.srm.SRMResult`: overall first, then each dimension slice.
    power : tuple of dict
        Per success metric: MDE now and at the planned end (relative, fractions), users per variant.
    sequential : dict
        ``"metric/variant"`` -> :class:`experiments.sequential.SequentialResult` at the last look.
    issues : tuple of DataIssue
        Variant-level data findings (unknown variant, zero users, ...).
    decision : Decision
        Ship / stop / continue (or error) with reasons.
    warnings : tuple of str
        Everything to read with care.
    variant_stats : pandas.DataFrame or None
        Last look, one row per (metric, variant): ``metric, kind, role, variant, n`` (users),
        ``numerator`` (sum of the metric; converting users for proportions), ``denominator``
        (users, or the sum of the ratio's denominator) and ``mean`` = numerator / denominator.
    by_dimension : pandas.DataFrame or None
        Last look, one row per (dimension, level, metric, treatment): the comparison inside that
        slice (``n_control, n_treatment, lift_relative, lift_relative_ci_low/high`` fixed-horizon,
        ``p_value``, ``p_value_adjusted`` Holm within each metric and treatment across the slices,
        ``status``, ``error_code``). Exploratory: slices are not what the decision reads.
    traffic : pandas.DataFrame or None
        Per look and variant: ``k, week, variant, users`` (cumulative), ``new_users``,
        ``days`` (days of the experiment in that week) and ``users_per_day`` (new users / days).
    """

    name: str
    description: str
    status: str
    week: str
    looks: tuple[str, ...] = ()
    variant_users: dict[str, int] = field(default_factory=dict)
    comparisons: "pd.DataFrame | None" = None
    over_time: "pd.DataFrame | None" = None
    srm: tuple = ()
    power: tuple[dict, ...] = ()
    sequential: dict = field(default_factory=dict)
    issues: tuple[DataIssue, ...] = ()
    decision: Decision = field(default_factory=lambda: Decision("error", None, ()))
    error_code: str | None = None
    error_message: str = ""
    warnings: tuple[str, ...] = ()
    config: "ExperimentConfig | None" = field(default=None, repr=False, compare=False)
    variant_stats: "pd.DataFrame | None" = None
    traffic: "pd.DataFrame | None" = None
    by_dimension: "pd.DataFrame | None" = None

    @property
    def srm_status(self) -> str:
        """``"ok"``, ``"fail"`` (a harmful mismatch overall or in a slice), ``"tiny"`` (detected, but every
        share within ``srm_tolerance_relative`` of the plan) or ``"n/a"``."""
        if not self.srm:
            return "n/a"
        tol = self.config.srm_tolerance_relative if self.config is not None else 0.01
        severities = {r.severity(tol) for r in self.srm}
        if "harmful" in severities:
            return "fail"
        if "tiny" in severities:
            return "tiny"
        return "ok" if self.srm[0].status == "ok" else "n/a"

    @property
    def power_status(self) -> str:
        """``"ok"`` when every success metric's planned MDE is reached, else ``"underpowered"`` or ``"n/a"``."""
        if not self.power:
            return "n/a"
        return "underpowered" if any(p.get("status") == "underpowered" for p in self.power) else (
            "ok" if all(p.get("status") == "ok" for p in self.power) else "n/a")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN -> None)."""
        return _clean({
            "name": self.name, "description": self.description, "status": self.status, "week": self.week,
            "error_code": self.error_code, "error_message": self.error_message, "looks": list(self.looks),
            "variant_users": self.variant_users,
            "comparisons": [] if self.comparisons is None else self.comparisons.to_dict(orient="records"),
            "over_time": [] if self.over_time is None else self.over_time.to_dict(orient="records"),
            "srm": [r.to_dict() for r in self.srm], "srm_status": self.srm_status,
            "power": list(self.power), "power_status": self.power_status,
            "sequential": {k: v.to_dict() for k, v in self.sequential.items()},
            "issues": [i.to_dict() for i in self.issues], "decision": self.decision.to_dict(),
            "warnings": list(self.warnings),
            "variant_stats": [] if self.variant_stats is None else self.variant_stats.to_dict(orient="records"),
            "traffic": [] if self.traffic is None else self.traffic.to_dict(orient="records"),
            "by_dimension": [] if self.by_dimension is None else self.by_dimension.to_dict(orient="records"),
        })


@dataclass(frozen=True)
class ExperimentsAnalysis:
    """All experiments of a config as of one week; also the ``experiments`` plan section's result.

    Attributes
    ----------
    week : str
        Report week (ISO); without one, the latest week any experiment's data reached (``"latest"`` when no
        experiment could be analysed).
    experiments : tuple of ExperimentAnalysis
        In config order.
    status : str
        ``"ok"``, or ``"partial"`` when at least one experiment could not be analysed.
    warnings : tuple of str
        One line per experiment in error or with blocking data issues.
    """

    week: str
    experiments: tuple[ExperimentAnalysis, ...]
    status: str
    warnings: tuple[str, ...] = ()

    @property
    def decisions(self) -> dict[str, Decision]:
        """Experiment name -> its :class:`Decision`."""
        return {e.name: e.decision for e in self.experiments}

    def channel_multipliers(self) -> dict[str, float]:
        """Budget channel -> response multiplier, for experiments that decided "ship".

        Multiplier = 1 + relative lift (point estimate, fraction) of the ``applies_to`` metric for
        the shipped treatment. Experiments without ``applies_to`` or not shipping contribute
        nothing; two experiments on one channel multiply.
        """
        out: dict[str, float] = {}
        for e in self.experiments:
            cfg = e.config
            if cfg is None or cfg.applies_to is None or e.decision.action != "ship" or e.comparisons is None:
                continue
            link = cfg.applies_to
            metric = link.metric or next(m.name for m in cfg.metrics if m.role == "success")
            variant = link.treatment or e.decision.variant
            rows = e.comparisons[(e.comparisons["metric"] == metric) & (e.comparisons["variant"] == variant)]
            if rows.empty or rows.iloc[0]["status"] != "ok":
                continue
            lift = float(rows.iloc[0]["lift_relative"])
            if math.isfinite(lift):
                out[link.channel] = out.get(link.channel, 1.0) * (1.0 + lift)
        return out

    def summary(self) -> "pd.DataFrame":
        """One row per experiment: decision, primary metric lift and interval, SRM, power."""
        import pandas as pd

        rows = []
        for e in self.experiments:
            row: dict[str, Any] = {"experiment": e.name, "status": e.status, "decision": e.decision.action,
                                   "variant": e.decision.variant, "reasons": ", ".join(e.decision.reason_codes),
                                   "primary_metric": None, "lift_relative": math.nan, "ci_low": math.nan,
                                   "ci_high": math.nan, "srm": e.srm_status,
                                   # "ship" never stands next to a bare "underpowered": the effect is
                                   # significant, only its size is uncertain.
                                   "power": ("low, significant anyway" if e.power_status == "underpowered"
                                             and e.decision.action == "ship" else e.power_status),
                                   "users": sum(e.variant_users.values()) if e.variant_users else 0,
                                   "projected_end_date": e.decision.projected_end_date}
            primary = _primary_row(e)
            if primary is not None:
                row.update(primary_metric=primary["metric"], lift_relative=primary["lift_relative"],
                           ci_low=primary["seq_low"], ci_high=primary["seq_high"])
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the section's part of plan.json."""
        return _clean({"week": self.week, "status": self.status, "warnings": list(self.warnings),
                       "decisions": {k: v.to_dict() for k, v in self.decisions.items()},
                       "channel_multipliers": self.channel_multipliers(),
                       "experiments": [e.to_dict() for e in self.experiments]})

    def __str__(self) -> str:
        return f"Experiments as of {self.week} ({self.status}):\n" + self.summary().to_string(index=False)


def _primary_row(e: ExperimentAnalysis) -> dict | None:
    """The comparison row shown in the summary: the shipped variant, else the first success metric."""
    if e.comparisons is None or e.comparisons.empty or e.config is None:
        return None
    metric = next(m.name for m in e.config.metrics if m.role == "success")
    rows = e.comparisons[e.comparisons["metric"] == metric]
    if e.decision.variant is not None:
        chosen = rows[rows["variant"] == e.decision.variant]
        rows = chosen if not chosen.empty else rows
    return None if rows.empty else rows.iloc[0].to_dict()


# ----------------------------------------------------------------------------- analysis
def analyze_experiments(
    config: "ExperimentsConfig",
    base_dir: str | Path = ".",
    week: str | None = None,
    engine: "Engine | None" = None,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentsAnalysis:
    """Analyse every experiment as of ``week`` (ISO, e.g. ``"2026-W47"``; None: all data, each experiment up to the
    ISO week of its latest row, and the analysis labelled with the latest of those weeks).

    Never raises for a problem in one experiment's data: that experiment carries
    ``status="error"`` and an error code. Config errors are caught earlier (load time).
    ``progress(done, total)`` is called after each experiment (all its metrics and looks).
    """
    n = len(config.experiments)
    out = []
    for i, exp in enumerate(config.experiments):
        out.append(analyze_experiment(exp, base_dir, week, engine))
        if progress is not None:
            progress(i + 1, n)
    results = tuple(out)
    warnings = []
    for r in results:
        if r.status == "error":
            warnings.append(f"{r.name}: {r.error_code}: {r.error_message}")
        for issue in r.issues:
            if issue.blocking:
                warnings.append(f"{r.name}: {issue.code}: {issue.message}")
    status = "ok" if all(r.status == "ok" for r in results) else "partial"
    # without a week every experiment runs to its own latest data: the analysis is as of the latest of those
    # weeks ("YYYY-Www" labels sort in time order)
    label = week or max((r.week for r in results if r.status == "ok"), default="latest")
    return ExperimentsAnalysis(label, results, status, tuple(warnings))


def analyze_experiment(exp: "ExperimentConfig", base_dir: str | Path = ".", week: str | None = None,
                       engine: "Engine | None" = None) -> ExperimentAnalysis:
    """Analyse one experiment (see :func:`analyze_experiments`)."""
    from experiments.aggregate import aggregate, variant_issues

    label = week or "latest"
    try:
        agg = aggregate(exp, base_dir, week, engine)
    except AggregationError as exc:
        return _error(exp, label, exc.code, str(exc))
    issues = variant_issues(exp, agg)
    srm = _srm(exp, agg)
    present = [v for v in exp.variants if agg.variant_users.get(v, 0) > 0]
    warnings = [f"{i.code}: {i.message}" for i in issues]
    if exp.control not in present or len(present) < 2:
        code = "SINGLE_VARIANT" if len(present) == 1 else "ZERO_USERS"
        message = "; ".join(i.message for i in issues if i.code in ("ZERO_USERS", "SINGLE_VARIANT")) or (
            f"experiment {exp.name!r}: the control {exp.control!r} has no users")
        return _error(exp, agg.looks[-1].label, code, message, agg=agg, issues=issues, srm=srm)
    over_time = _comparisons_over_time(exp, agg, present)
    over_time, sequential, seq_warnings = _sequential(exp, agg, over_time)
    warnings += seq_warnings
    last = over_time[over_time["k"] == agg.last_k].reset_index(drop=True)
    power = _power(exp, agg, last, present)
    analysis = ExperimentAnalysis(
        name=exp.name, description=exp.description, status="ok", week=agg.looks[-1].label,
        looks=tuple(lk.label for lk in agg.looks), variant_users=dict(agg.variant_users), comparisons=last,
        over_time=over_time, srm=tuple(srm), power=tuple(power), sequential=sequential, issues=issues,
        warnings=tuple(warnings), config=exp, variant_stats=_variant_stats(exp, agg, present),
        traffic=_traffic(exp, agg, present), by_dimension=_by_dimension(exp, agg, present),
    )
    return replace(analysis, decision=_decide(exp, analysis, agg))


def _variant_stats(exp: "ExperimentConfig", agg: "Aggregates", present: list[str]) -> "pd.DataFrame":
    """Raw numerator, denominator and mean per (metric, variant) at the last look."""
    import pandas as pd

    rows = []
    for m in exp.metrics:
        stats = agg.stats(m.name)
        for v in present:
            s = stats.get(v)
            if s is None:
                continue
            den = s.den_sum if m.kind == "ratio" and s.den_sum is not None else float(s.n)
            num = float(s.sum)
            if m.kind == "proportion" and abs(num - round(num)) < 1e-6:
                num = float(round(num))  # n * mean from the moments path: 397.99999999999994 converters are 398
            rows.append({"metric": m.name, "kind": m.kind, "role": m.role, "variant": v, "n": int(s.n),
                         "numerator": num, "denominator": float(den), "mean": num / den if den else math.nan})
    return pd.DataFrame(rows, columns=["metric", "kind", "role", "variant", "n", "numerator", "denominator", "mean"])


def _pairs(stats: dict, control: str, present: list[str]) -> list[tuple[Any, Any]]:
    """(control, treatment) statistics for every treatment present in ``stats`` (none without the control)."""
    if control not in stats:
        return []
    return [(stats[control], stats[v]) for v in present if v != control and v in stats]


def _by_dimension(exp: "ExperimentConfig", agg: "Aggregates", present: list[str]) -> "pd.DataFrame | None":
    """Every metric and treatment compared inside each dimension level (last look, fixed horizon)."""
    import pandas as pd

    from experiments.analysis import AnalysisSettings, compare_table

    dm = agg.dimension_moments
    if dm is None or dm.empty:
        return None
    controls, treatments, kinds, metrics, dims = [], [], [], [], []
    for (dimension, level), _ in dm.groupby(["dimension", "level"], sort=True):
        for m in exp.metrics:
            for c, t in _pairs(agg.slice_stats(m.name, dimension, level), exp.control, present):
                controls.append(c)
                treatments.append(t)
                kinds.append(m.kind)
                metrics.append(m.name)
                dims.append(f"{dimension}={level}")
    if not controls:
        return None
    # CUPED is left out here: a slice's covariate sums are not aggregated per level.
    table = compare_table(controls, treatments, kind=kinds, metric=metrics, dimension=dims,
                          settings=AnalysisSettings(alpha=exp.alpha, effect_scale=exp.effect_scale),
                          correction="holm", scope=("metric", "variant")).frame
    keep = ["dimension", "metric", "variant", "n_control", "n_treatment", "mean_control", "mean_treatment",
            "lift_relative", "lift_relative_ci_low", "lift_relative_ci_high", "p_value", "p_value_adjusted",
            "status", "error_code"]
    return pd.DataFrame(table[keep]).reset_index(drop=True)


def _traffic(exp: "ExperimentConfig", agg: "Aggregates", present: list[str]) -> "pd.DataFrame":
    """Users per variant per weekly look: cumulative, new, and new per day of the experiment."""
    import pandas as pd

    first = exp.metrics[0].name
    rows = []
    prev: dict[str, int] = {}
    for lk in agg.looks:
        stats = agg.stats(first, lk.k)
        monday, sunday = parse_week(lk.label)
        days = (sunday - max(monday, exp.start_date)).days + 1
        for v in present:
            users = int(stats[v].n) if v in stats else prev.get(v, 0)
            new = users - prev.get(v, 0)
            rows.append({"k": lk.k, "week": lk.label, "variant": v, "users": users, "new_users": new,
                         "days": days, "users_per_day": new / days if days > 0 else math.nan})
            prev[v] = users
    return pd.DataFrame(rows, columns=["k", "week", "variant", "users", "new_users", "days", "users_per_day"])


def parse_week(label: str) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week label ``YYYY-Www``."""
    from experiments.config import parse_iso_week

    return parse_iso_week(label)


def _error(exp, week, code, message, agg=None, issues=(), srm=()) -> ExperimentAnalysis:
    return ExperimentAnalysis(
        name=exp.name, description=exp.description, status="error", week=week,
        looks=tuple(lk.label for lk in agg.looks) if agg is not None else (),
        variant_users=dict(agg.variant_users) if agg is not None else {}, srm=tuple(srm), issues=tuple(issues),
        decision=Decision("error", None, (code,), None, f"The analysis could not run: {message}"),
        error_code=code, error_message=message, config=exp,
    )


def _srm(exp: "ExperimentConfig", agg: "Aggregates") -> list:
    import pandas as pd

    from experiments.srm import srm_by_dimension, srm_check

    users = {v: agg.variant_users.get(v, 0) for v in exp.variants}
    overall = srm_check(users, exp.split, alpha=exp.srm_alpha)
    if agg.dimension_counts.empty:
        return [overall]
    counts = agg.dimension_counts[agg.dimension_counts["variant"].isin(exp.variants)]
    # One wide frame, a column per dimension (NaN elsewhere), so Holm runs over all slices at once.
    frame = pd.DataFrame({"variant": counts["variant"], "n": counts["n"]})
    for d in counts["dimension"].unique():
        frame[d] = counts["level"].where(counts["dimension"] == d)
    slices = srm_by_dimension(frame, exp.split, dimension_cols=list(counts["dimension"].unique()), alpha=exp.srm_alpha)
    return [overall, *slices[1:]]  # its own "overall" sums the stacked dimensions; ours is the true one


def _comparisons_over_time(exp: "ExperimentConfig", agg: "Aggregates", present: list[str]) -> "pd.DataFrame":
    import numpy as np
    import pandas as pd

    from experiments.analysis import AnalysisSettings, compare_table

    base = AnalysisSettings(alpha=exp.alpha, effect_scale=exp.effect_scale)
    frames = []
    for cuped in (False, True):
        controls, treatments, kinds, metrics, ks = [], [], [], [], []
        for m in exp.metrics:
            if bool(m.covariate_column) != cuped:
                continue
            for lk in agg.looks:
                for c, t in _pairs(agg.stats(m.name, lk.k), exp.control, present):
                    controls.append(c)
                    treatments.append(t)
                    kinds.append(m.kind)
                    metrics.append(m.name)
                    ks.append(lk.k)
        if not controls:
            continue
        settings = base.model_copy(update={"cuped": cuped})
        # CUPED does not apply to proportions (their covariate would need a linear model); those keep z.
        table = compare_table(controls, treatments, kind=kinds, settings=settings, metric=metrics).frame
        table.insert(0, "k", np.asarray(ks, dtype=int))
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    labels = {lk.k: lk.label for lk in agg.looks}
    out.insert(1, "week", out["k"].map(labels))
    order = {m.name: i for i, m in enumerate(exp.metrics)}
    out["_order"] = out["metric"].map(order)
    out = out.sort_values(["k", "_order", "variant"], kind="stable").drop(columns="_order").reset_index(drop=True)
    out["role"] = out["metric"].map({m.name: m.role for m in exp.metrics})
    return out


def _standard_error(row: Any, alpha: float) -> float:
    from scipy import stats

    se = row.get("se", math.nan)
    if isinstance(se, float) and math.isfinite(se) and se > 0:
        return se
    z = stats.norm.isf(alpha / 2)
    return float((row["lift_absolute_ci_high"] - row["lift_absolute_ci_low"]) / (2 * z))


def _information_fractions(exp: "ExperimentConfig", agg: "Aggregates", n_by_k: dict[int, int]) -> list[float]:
    """Users so far / planned users per look (see the module docstring for the fallbacks)."""
    ks = sorted(n_by_k)
    planned_looks = exp.sequential.planned_looks
    if exp.expected_weekly_users is not None:
        planned = exp.expected_weekly_users * planned_looks
        fractions = [min(n_by_k[k] / planned, 1.0) for k in ks]
    else:
        fractions = [min((k + 1) / planned_looks, 1.0) for k in ks]
    # The fractions must increase; once the plan is exhausted the last look is the final one.
    if len(ks) > 1 and any(b <= a for a, b in zip(fractions, fractions[1:])):
        last = n_by_k[ks[-1]]
        fractions = [n_by_k[k] / last for k in ks]
        if any(b <= a for a, b in zip(fractions, fractions[1:])):
            fractions = [(i + 1) / len(ks) for i in range(len(ks))]
    return fractions


def _sequential(exp: "ExperimentConfig", agg: "Aggregates", over_time: "pd.DataFrame"):
    """Add sequential intervals (``seq_low``/``seq_high`` on the relative scale) to every look."""
    import numpy as np

    from experiments.sequential import group_sequential, msprt

    out = over_time.copy()
    out["fixed_low"], out["fixed_high"] = out["lift_relative_ci_low"], out["lift_relative_ci_high"]
    out["seq_low"], out["seq_high"] = out["fixed_low"], out["fixed_high"]
    out["critical_value"] = np.nan
    out["information_fraction"] = np.nan
    results, warnings = {}, []
    method = exp.sequential.method
    for (metric, variant), group in out.groupby(["metric", "variant"], sort=False):
        group = group[group["status"] == "ok"].sort_values("k")
        if group.empty or method == "fixed":
            continue
        n_by_k = {int(r.k): int(r.n_control + r.n_treatment) for r in group.itertuples()}
        # The sequential test runs on the analysis' effect scale, so it tests what the p-value tests.
        relative = exp.effect_scale == "relative"
        ses = group["se_relative"].tolist() if relative else [_standard_error(r, exp.alpha) for _, r in group.iterrows()]
        estimates = group["lift_relative" if relative else "lift_absolute"].tolist()
        scale = exp.effect_scale
        if not all(math.isfinite(s) and s > 0 for s in ses):
            warnings.append(f"{metric}/{variant}: a look has no standard error; sequential intervals skipped")
            continue
        try:
            if method == "msprt" and exp.sequential.tuning_n is not None:
                res = msprt(estimates, ses, tuning_n=exp.sequential.tuning_n, n=list(n_by_k.values()),
                            alpha=exp.alpha, scale=scale)
                crit = [abs(res.critical_value)] * len(ses)
            elif method == "msprt":
                control_mean = float(group["mean_control"].iloc[-1])
                tau = exp.sequential.msprt_tau_relative * (1.0 if relative else abs(control_mean)) or ses[-1]
                res = msprt(estimates, ses, tau=tau, alpha=exp.alpha, scale=scale)
                crit = [abs(res.critical_value)] * len(ses)  # only the last look's width is reported
            else:
                fractions = _information_fractions(exp, agg, n_by_k)
                res = group_sequential(estimates, ses, fractions, alpha=exp.alpha, kind=exp.sequential.spending,
                                       scale=scale)
                crit = list(res.boundaries)
                out.loc[group.index, "information_fraction"] = fractions
        except ValueError as exc:
            warnings.append(f"{metric}/{variant}: sequential analysis not possible: {exc}")
            continue
        results[f"{metric}/{variant}"] = res
        # The relative interval is widened by the same factor as the absolute one: c_k / z_(1-alpha/2).
        factor = np.asarray(crit) / res.fixed_horizon_critical_value
        rel = group["lift_relative"].to_numpy()
        out.loc[group.index, "seq_low"] = rel - factor * (rel - group["fixed_low"].to_numpy())
        out.loc[group.index, "seq_high"] = rel + factor * (group["fixed_high"].to_numpy() - rel)
        out.loc[group.index, "critical_value"] = crit
    return out, results, warnings


def _power(exp: "ExperimentConfig", agg: "Aggregates", last: "pd.DataFrame", present: list[str]) -> list[dict]:
    """MDE now and at the planned end, per success metric (first treatment)."""
    from experiments.power import mde_means, mde_proportions

    out = []
    n_arms = len(present)
    planned_per_arm = (exp.expected_weekly_users * exp.sequential.planned_looks / len(exp.variants)
                       if exp.expected_weekly_users else None)
    for m in exp.metrics:
        if m.role != "success":
            continue
        stats = agg.stats(m.name)
        control = stats.get(exp.control)
        if control is None or control.n < 2:
            continue
        n_now = min(s.n for v, s in stats.items() if v in present)
        entry: dict[str, Any] = {"metric": m.name, "n_per_variant_now": n_now, "n_per_variant_planned": planned_per_arm,
                                 "baseline": control.mean, "status": "n/a"}
        try:
            if m.kind == "proportion":
                if not 0 < control.mean < 1:
                    entry["note"] = "baseline rate is 0 or 1; no MDE"
                    out.append(entry)
                    continue
                mde = lambda n: mde_proportions(int(n), control.mean, alpha=exp.alpha, power=exp.power)  # noqa: E731
            else:
                sd = math.sqrt(control.var) if m.kind != "ratio" else None
                if m.kind == "ratio":
                    from experiments.power import ratio_sd

                    sd = ratio_sd(control.mean, control.den_mean, control.var, control.den_m2 / (control.n - 1),
                                  control.num_den_m2 / (control.n - 1))
                    baseline = control.mean / control.den_mean
                else:
                    baseline = control.mean
                entry["baseline"] = baseline
                mde = lambda n: mde_means(int(n), sd, baseline=baseline, alpha=exp.alpha, power=exp.power)  # noqa: E731
            now = mde(n_now)
            entry["mde_relative_now"] = now.mde_relative
            if planned_per_arm:
                planned = mde(max(planned_per_arm, 2))
                entry["mde_relative_planned"] = planned.mde_relative
            rows = last[(last["metric"] == m.name) & (last["status"] == "ok")]
            observed = float(rows["lift_relative"].abs().max()) if not rows.empty else math.nan
            entry["observed_lift_relative"] = observed
            best = min(abs(now.mde_relative), abs(entry.get("mde_relative_planned", math.inf)))
            # Underpowered: not even the larger of the current and the planned sample can detect an
            # effect as large as the one observed, so "not significant" says little.
            if math.isfinite(observed) and math.isfinite(best):
                entry["status"] = "ok" if best <= observed else "underpowered"
        except (ValueError, ZeroDivisionError) as exc:
            entry["note"] = f"MDE not computable: {exc}"
        out.append(entry)
    return out


def _decide(exp: "ExperimentConfig", analysis: ExperimentAnalysis, agg: "Aggregates") -> Decision:
    """Ship / stop / continue via :func:`experiments.decide.decide`, one treatment at a time.

    Each treatment is decided on the last look with its sequential intervals, the SRM results and
    the blocking data issues. Several treatments: ship the shippable one with the largest primary
    lift; else continue if any treatment continues; else stop.
    """
    from experiments.decide import DecisionConfig, Guardrail, Progress, SuccessMetric, decide
    from experiments.results import ComparisonTable

    success = tuple(SuccessMetric(metric=m.name, direction="increase" if m.higher_is_better else "decrease")
                    for m in exp.metrics if m.role == "success")
    guards = tuple(Guardrail(metric=m.name, direction="increase" if m.higher_is_better else "decrease",
                             margin_relative=m.non_inferiority_margin or 0.0)
                   for m in exp.metrics if m.role == "guardrail")
    blocking = [i.message for i in analysis.issues if i.blocking]
    primary = success[0].metric
    sunday = dt.date.fromisocalendar(*map(int, analysis.week.replace("-W", " ").split()), 7)
    table = analysis.comparisons
    per_variant = []
    for variant in [v for v in exp.variants if v != exp.control]:
        frame = table[table["variant"] == variant].reset_index(drop=True)
        if frame.empty:
            continue
        seq = {key.split("/")[0]: res for key, res in analysis.sequential.items() if key.split("/")[1] == variant}
        progress = None
        head = seq.get(primary)
        if head is not None and math.isfinite(head.information_fraction):
            final = head.boundaries[-1] if head.information_fraction >= 1 else head.fixed_horizon_critical_value
            progress = Progress(start_date=exp.start_date, today=sunday,
                                information_fraction=head.information_fraction, critical_value=final)
        config = DecisionConfig(success_metrics=success, guardrails=guards, variant=variant,
                                target_power=exp.power, max_duration_days=exp.max_duration_days,
                                srm_tolerance_relative=exp.srm_tolerance_relative)
        d = decide(ComparisonTable(frame), config, srm=list(analysis.srm), data_quality_failures=blocking,
                   progress=progress, sequential=seq)
        lift = frame.loc[frame["metric"] == primary, "lift_relative"]
        per_variant.append((variant, d, float(lift.iloc[0]) if not lift.empty else math.nan))
    if not per_variant:
        return Decision("error", None, ("ZERO_USERS",), None, "No treatment has users.")
    ships = [x for x in per_variant if x[1].action == "ship"]
    if ships:
        sign = 1.0 if success[0].direction == "increase" else -1.0
        variant, d, _ = max(ships, key=lambda x: sign * x[2])
        chosen_variant = variant
    else:
        cont = [x for x in per_variant if x[1].action == "continue"]
        variant, d, _ = (cont or per_variant)[0]
        chosen_variant = None
    end = d.projected_end_date.isoformat() if d.projected_end_date is not None else None
    words = "; ".join(d.reasons)
    return Decision(d.action, chosen_variant, d.reason_codes, end,
                    (f"{variant}: " if len(per_variant) > 1 else "") + words + ".")
