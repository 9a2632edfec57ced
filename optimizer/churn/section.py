"""The ``churn:`` scenario section: fit a churn model, time contacts, cost the weekly schedule.

Example (paths relative to the scenario file; money in the scenario currency)::

    churn:
      data: data/churn_customers.csv
      duration_col: tenure_days
      event_col: churned
      covariates: [plan, monthly_fee, support_tickets]
      segment_col: plan
      model: auto              # or kaplan_meier, weibull, weibull_aft, loglogistic_aft, lognormal_aft, cox
      horizon_days: 90         # how far ahead to schedule; also the model-selection horizon
      window_days: 30          # "churn in the next 30 days"
      threshold: 0.10          # contact when that probability first reaches 10 %
      lead_days: 15            # ... 15 days before it does
      uplift: 0.2              # or {segment_to_uplift: {basic: 0.1}} or {experiment: retention_email}
      clv: 240                 # value of keeping a customer (currency per customer)
      contact_cost: 1.5        # currency per contact
      start_date: 2026-12-01   # day 0 of the schedule

Only active customers (``event_col`` = 0) are scheduled.

Non-contractual businesses (no churn flag) use ``model: bgnbd`` or ``paretonbd`` with ``data:
segments`` (the segments section's customers) or a summary file (``frequency_col``,
``recency_col``, ``tenure_col``); churn risk is 1 - P(alive) and the contact economics count
incentives and a fixed cost (see :mod:`optimizer.churn.noncontractual`)::

    churn:
      data: segments
      model: bgnbd
      threshold: 0.5          # contact when P(alive) falls to 50 %
      uplift: 0.15
      clv: 120
      contact_cost: 0.5
      incentive_cost: 5
      acceptance_if_staying: 0.3
      start_date: 2026-12-01

Import-light: numpy/pandas/lifelines load
inside :func:`run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from optimizer.plan import warnings_markdown
from optimizer.sections import RunContext, SectionSpec

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class UpliftBySegment(BaseModel):
    """A different uplift per segment (needs ``segment_col``)."""

    model_config = _CFG
    segment_to_uplift: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(description="Segment -> fraction of churn a contact prevents (0-1).")
    default: float | None = Field(None, ge=0, le=1, description="Uplift for segments not listed (None: an unlisted segment is an error).")


class UpliftFromExperiment(BaseModel):
    """Take the uplift from an experiment of the same plan whose metric is the churn rate.

    uplift = -lift_relative of that metric (a 20 % relative *drop* in churn, lift -0.2, is an
    uplift of 0.2). A lift >= 0 (no churn reduction) gives uplift 0: nobody is contacted.
    """

    model_config = _CFG
    experiment: str = Field(description="Name of the experiment (the experiments section's `name`).")
    metric: str | None = Field(None, description="Its churn-rate metric (default: the only or primary success metric).")
    variant: str | None = Field(None, description="Treatment variant (default: the shipped one, else the only one).")


def _uplift_kind(value: Any) -> str:
    """Pick the uplift form from its shape, so an error names one form, not all three."""
    if isinstance(value, UpliftFromExperiment) or (isinstance(value, dict) and "experiment" in value):
        return "experiment"
    if isinstance(value, (UpliftBySegment, dict)):
        return "segment_to_uplift"
    return "number"


Uplift = Annotated[
    Union[
        Annotated[Annotated[float, Field(ge=0, le=1)], Tag("number")],
        Annotated[UpliftBySegment, Tag("segment_to_uplift")],
        Annotated[UpliftFromExperiment, Tag("experiment")],
    ],
    Discriminator(_uplift_kind),
]


class ChurnConfig(BaseModel):
    """The ``churn:`` section of a scenario."""

    model_config = _CFG
    name: str = Field("churn_retention", description="Name of the retention line handed to the budget section.")
    data: str = Field(description="CSV or Parquet of customer history, relative to the scenario file; "
                                  "'segments' (non-contractual models): the segments section's customers.")
    duration_col: str = Field("tenure_days", description="Tenure so far in days (> 0).")
    event_col: str = Field("churned", description="1 = churned, 0 = still active.")
    covariates: list[str] | None = Field(None, description="Covariate columns (None: every other column).")
    categorical: list[str] = Field(default_factory=list, description="Numeric columns to encode as categories.")
    id_col: str | None = Field(None, description="Customer id column (default: row number).")
    segment_col: str | None = Field(None, description="Segment column for the weekly schedule and per-segment uplift.")
    strata_col: str | None = Field(None, description="Cox strata column (separate baseline hazard per value).")
    model: Literal["auto", "kaplan_meier", "weibull", "weibull_aft", "loglogistic_aft", "lognormal_aft", "cox",
                   "bgnbd", "paretonbd"] = Field(
        "auto", description="Model kind, or auto to select on a holdout. bgnbd / paretonbd: non-contractual "
                            "(no churn flag; churn risk = 1 - P(alive), see optimizer.churn.noncontractual).")
    select_by: Literal["ibs", "concordance", "aic"] = Field("ibs", description="Selection criterion for model: auto.")
    penalizer: float = Field(0.0, ge=0, description="Ridge penalty for Cox (lifelines' convention).")
    horizon_days: int = Field(90, gt=0, le=3650, description="Days ahead to schedule; also the selection horizon.")
    window_days: int = Field(30, gt=0, le=3650, description="Risk window: P(churn within the next window_days) (not used by bgnbd/paretonbd).")
    threshold: float = Field(0.1, gt=0, lt=1, description="Contact when the window risk first reaches this probability (0-1).")
    lead_days: int = Field(15, ge=0, le=3650, description="Contact this many days before the risk crosses the threshold.")
    uplift: Uplift = Field(
        description="Fraction of churn a contact prevents (0-1), per segment, or from an experiment.")
    clv: float = Field(gt=0, description="Value of keeping a customer (currency per customer).")
    contact_cost: float = Field(ge=0, description="Cost of one contact (currency).")
    start_date: date = Field(description="Day 0 of the schedule (ISO date).")
    holdout_fraction: float = Field(0.3, gt=0, lt=1, description="Share of customers held out for model selection.")
    frequency_col: str = Field("frequency", description="Non-contractual: repeat purchases column of a summary file.")
    recency_col: str = Field("t_x_days", description="Non-contractual: days from first to last purchase column.")
    tenure_col: str = Field("tenure_days", description="Non-contractual: days from first purchase to the end of data.")
    fit_by: Literal["segment", "all"] | None = Field(
        None, description="bgnbd/paretonbd: 'segment' fits the purchase model per segment (the segments section's "
                          "segments, or segment_col), 'all' fits it once on every customer. None: 'segment' "
                          "with segment_col, 'all' with data: segments (those segments are cut on recency/frequency, the model's own data: per-segment fits would be biased). A segment below fit_min_customers or "
                          "fit_min_repeat_buyers uses the pooled fit; the plan says which and why.")
    fit_min_customers: int = Field(500, ge=1, description="bgnbd/paretonbd, fit_by segment: customers a segment needs "
                                                          "for its own fit (see optimizer.churn.clv.grouped).")
    fit_min_repeat_buyers: int = Field(50, ge=1, description="bgnbd/paretonbd, fit_by segment: customers with >= 1 "
                                                             "repeat purchase a segment needs for its own fit.")
    incentive_cost: float = Field(0.0, ge=0, description="Incentive paid by each customer who accepts (currency).")
    acceptance_if_staying: float = Field(1.0, ge=0, le=1, description="Share of would-stay customers who accept "
                                                                        "the incentive anyway (0-1; Neslin et al. 2006).")
    fixed_cost: float = Field(0.0, ge=0, description="Fixed cost of the campaign (currency); no campaign unless the "
                                                     "contacts' expected value exceeds it.")
    pseudonymize: bool = Field(False, description="Replace customer ids in churn_customers.csv by HMAC-SHA256 pseudonyms "
                                                  "(as segments.pseudonymize; ids already pseudonymised by the segments "
                                                  "section are kept as they are).")
    pseudonym_key_env: str = Field("DMPOPT_PSEUDONYM_KEY", description="Environment variable holding the HMAC key.")
    pseudonym_key_file: str | None = Field(None, description="File holding the HMAC key (relative to the scenario).")

    @model_validator(mode="after")
    def _data_source(self) -> "ChurnConfig":
        if self.data == "segments" and self.model not in ("bgnbd", "paretonbd"):
            raise ValueError(f"data 'segments' needs model bgnbd or paretonbd (a non-contractual model); got {self.model!r}.")
        if self.fit_by is not None and self.model not in ("bgnbd", "paretonbd"):
            raise ValueError(f"fit_by applies to model bgnbd or paretonbd (got model {self.model!r}, fit_by "
                             f"{self.fit_by!r}); survival models take strata_col for per-segment baselines")
        return self


@dataclass(frozen=True)
class ChurnResult:
    """Result of the churn section.

    Attributes
    ----------
    status:
        ``ok``, or ``no_contacts`` when no contact pays.
    warnings:
        Conditions to read with care.
    name:
        Retention line name.
    seed:
        Seed used for the holdout split.
    report:
        :class:`~optimizer.churn.models.ModelReport`.
    schedule:
        Weekly schedule: ``week_start``, ``segment``, ``n_contacts``, ``cost`` (currency per week),
        ``expected_value`` (currency, net of cost).
    customers:
        Per-customer list (see :func:`~optimizer.churn.timing.customer_list`).
    totals:
        ``n_active``, ``n_contacts``, ``total_cost``, ``expected_value`` (currency over the horizon),
        ``status_counts``.
    """

    status: str
    warnings: tuple[str, ...]
    name: str
    seed: int
    report: Any
    schedule: Any
    customers: Any
    totals: dict = field(default_factory=dict)

    def summary(self):
        """The weekly schedule (DataFrame)."""
        return self.schedule

    def retention_line(self) -> dict:
        """What the budget section takes: name, weekly spend (currency per week) and expected value."""
        weekly = self.schedule.groupby("week_start")["cost"].sum() if len(self.schedule) else {}
        return {
            "name": self.name,
            "weekly_spend": [{"week_start": str(k), "spend": float(v)} for k, v in dict(weekly).items()],
            "total_spend": float(self.totals["total_cost"]),
            "expected_value": float(self.totals["expected_value"]),
        }

    def to_dict(self) -> dict:
        """JSON-safe."""
        sched = self.schedule.copy()
        sched["week_start"] = sched["week_start"].astype(str)
        return {
            "status": self.status,
            "warnings": list(self.warnings),
            "seed": self.seed,
            "model": self.report.to_dict(),
            "schedule": sched.to_dict(orient="records"),
            "totals": self.totals,
            "retention_line": self.retention_line(),
        }

    def __str__(self) -> str:
        t = self.totals
        return (
            f"{self.report}\n\nContact schedule ({self.status}): {t['n_contacts']} of {t['n_active']} active customers, "
            f"cost {t['total_cost']:.2f}, expected value net of cost {t['expected_value']:.2f}\n"
            + (self.schedule.to_string(index=False) if len(self.schedule) else "(no contacts)")
        )


def _uplift_from_experiment(u: UpliftFromExperiment, ctx: RunContext | None) -> tuple[float, list[str]]:
    """-lift_relative of the experiment's churn metric (see :class:`UpliftFromExperiment`)."""
    import math

    from optimizer.errors import ScenarioError

    where = f"churn.uplift.experiment {u.experiment!r}"
    exp = ((ctx.results if ctx else {}) or {}).get("experiments")
    if exp is None:
        raise ScenarioError(f"{where}: the plan has no experiments result (the experiments section must run first). "
                            "Suggestion: add the experiments section, or give uplift as a number.")
    by_name = {e.name: e for e in getattr(exp, "experiments", ())}
    if u.experiment not in by_name:
        raise ScenarioError(f"{where} not found; experiments found: {sorted(by_name)}.")
    e = by_name[u.experiment]
    rows = e.comparisons
    if e.status != "ok" or rows is None or rows.empty:
        raise ScenarioError(f"{where} has no usable result (status {e.status!r}: {e.error_message or 'no comparisons'}).")
    metrics = sorted(set(rows["metric"]))
    metric = u.metric
    if metric is None:
        cfg = getattr(e, "config", None)
        success = [m.name for m in cfg.metrics if m.role == "success"] if cfg is not None else []
        metric = success[0] if success else (metrics[0] if len(metrics) == 1 else None)
        if metric is None:
            raise ScenarioError(f"{where} has several metrics {metrics}; set churn.uplift.metric to the churn-rate one.")
    rows = rows[rows["metric"] == metric]
    if rows.empty:
        raise ScenarioError(f"{where} has no metric {metric!r}; metrics found: {metrics}.")
    variant = u.variant or e.decision.variant
    if variant is not None:
        rows = rows[rows["variant"] == variant]
    elif rows["variant"].nunique() > 1:
        raise ScenarioError(f"{where} has several treatments {sorted(set(rows['variant']))}; set churn.uplift.variant.")
    if rows.empty or rows.iloc[0].get("status", "ok") != "ok" or not math.isfinite(float(rows.iloc[0]["lift_relative"])):
        raise ScenarioError(f"{where}: no valid lift for metric {metric!r}, variant {variant!r}.")
    lift = float(rows.iloc[0]["lift_relative"])
    if lift >= 0:
        return 0.0, [f"{where}: {metric} changed by {lift:+.1%} (no churn reduction); uplift is 0, nobody is contacted."]
    return min(-lift, 1.0), []


def pseudonymize_ids(config: ChurnConfig, ctx: RunContext, customers, already: bool = False):
    """``customer_id`` replaced by keyed-hash pseudonyms when ``config.pseudonymize`` (see
    :mod:`optimizer.segments.privacy`; the key is never written anywhere)."""
    if not config.pseudonymize or already:
        return customers
    from pathlib import Path

    from optimizer.segments.privacy import load_key, pseudonymize

    key_file = config.pseudonym_key_file
    if key_file is not None and not Path(key_file).is_absolute():
        key_file = str(ctx.base_dir / key_file)
    out = customers.copy()
    out["customer_id"] = pseudonymize(out["customer_id"].tolist(), load_key(config.pseudonym_key_env, key_file))
    return out


def resolve_uplift(config: ChurnConfig, segments, ctx: RunContext | None):
    """Uplift per active customer (array 0-1) and warnings; errors name the fix."""
    import numpy as np

    from optimizer.errors import ScenarioError

    u = config.uplift
    n = len(segments)
    if isinstance(u, UpliftFromExperiment):
        value, warnings = _uplift_from_experiment(u, ctx)
        return np.full(n, value), warnings
    if isinstance(u, UpliftBySegment):
        if config.segment_col is None:
            raise ScenarioError("churn.uplift.segment_to_uplift needs churn.segment_col to be set.")
        missing = sorted(set(segments) - set(u.segment_to_uplift))
        if missing and u.default is None:
            raise ScenarioError(
                f"churn.uplift.segment_to_uplift has no uplift for segment(s) {missing[:5]}; add them or set default.")
        return np.array([u.segment_to_uplift.get(s, u.default) for s in segments], dtype=float), []
    return np.full(n, float(u)), []


def run(config: ChurnConfig, ctx: RunContext) -> ChurnResult:
    """Fit, select, time and cost (see module docstring)."""
    import numpy as np

    if config.model in ("bgnbd", "paretonbd"):
        from optimizer.churn.noncontractual import run_noncontractual

        return run_noncontractual(config, ctx)

    from optimizer.churn.data import prepare, read_table
    from optimizer.churn.models import ChurnModel
    from optimizer.churn.timing import TimingSettings, customer_list, plan_contacts, weekly_schedule

    from pathlib import Path

    path = Path(config.data) if Path(config.data).is_absolute() else ctx.base_dir / config.data
    df = read_table(path)
    data = prepare(
        df, config.duration_col, config.event_col, config.covariates, categorical=config.categorical,
        strata_col=config.strata_col, segment_col=config.segment_col, id_col=config.id_col, source=str(config.data),
    )
    model = ChurnModel(config.model, horizon_days=config.horizon_days, select_by=config.select_by,
                       penalizer=config.penalizer, holdout_fraction=config.holdout_fraction, seed=ctx.seed).fit(data)
    active = data.subset(data.event == 0)
    seg = active.segment if active.segment is not None else np.full(active.n, "all")
    uplift, uplift_warnings = resolve_uplift(config, seg, ctx)
    settings = TimingSettings(config.window_days, config.threshold, config.lead_days, config.horizon_days)
    plan = plan_contacts(model.model_, active.X, active.duration, settings, uplift=uplift, clv=config.clv,
                         contact_cost=config.contact_cost, strata=active.strata, incentive_cost=config.incentive_cost,
                         acceptance_if_staying=config.acceptance_if_staying)
    fixed_warning = []
    if plan["contact"].any() and config.fixed_cost > 0 and plan.loc[plan["contact"], "value"].sum() <= config.fixed_cost:
        fixed_warning.append(f"the {int(plan['contact'].sum())} profitable contact(s) are worth "
                             f"{plan.loc[plan['contact'], 'value'].sum():.2f} in total, not more than the fixed cost "
                             f"{config.fixed_cost:.2f}: no campaign.")
        plan["contact"] = False
        plan["expected_cost"] = 0.0
    schedule = weekly_schedule(plan, config.start_date, config.contact_cost, active.segment)
    n_contacts = int(plan["contact"].sum())
    fixed = float(config.fixed_cost) if n_contacts else 0.0
    if fixed and len(schedule):  # paid once, in the first contact week, shared over its segments by contacts
        first = schedule["week_start"] == schedule["week_start"].min()
        share = schedule.loc[first, "n_contacts"] / schedule.loc[first, "n_contacts"].sum()
        schedule.loc[first, "cost"] += fixed * share
        schedule.loc[first, "expected_value"] -= fixed * share
    customers = pseudonymize_ids(config, ctx, customer_list(plan, active.ids, config.start_date, active.segment))
    totals = campaign_totals(plan, int(active.n), config)
    warnings = list(model.report_.warnings) + uplift_warnings + fixed_warning
    if totals["status_counts"].get("beyond_data", 0):
        warnings.append(
            f"{totals['status_counts']['beyond_data']} customer(s) have tenures past the last observed churn, where "
            f"the {model.report_.selected} curve is unknown; they are not scheduled (a parametric model extrapolates).")
    return ChurnResult(
        status="ok" if n_contacts else "no_contacts",
        warnings=tuple(warnings),
        name=config.name,
        seed=model.seed_,
        report=model.report_,
        schedule=schedule,
        customers=customers,
        totals=totals,
    )


def files(result: ChurnResult) -> dict[str, bytes]:
    """``churn_schedule.csv`` and ``churn_customers.csv``."""
    return {
        "churn_schedule.csv": result.schedule.to_csv(index=False).encode(),
        "churn_customers.csv": result.customers.to_csv(index=False).encode(),
    }


def campaign_totals(plan, n_active: int, config) -> dict[str, Any]:
    """Totals of a contact plan (columns ``contact``, ``value``, ``expected_cost``, ``status``), the same for
    every churn model: contacts, costs (contact, expected incentives, the fixed cost once when anyone is
    contacted), expected value net of the fixed cost, and customers per status."""
    n_contacts = int(plan["contact"].sum())
    fixed = float(config.fixed_cost) if n_contacts else 0.0
    paid = float(plan["expected_cost"].sum())
    return {
        "n_active": int(n_active),
        "n_contacts": n_contacts,
        "total_cost": paid + fixed,
        "contact_cost": float(n_contacts * config.contact_cost),
        "incentive_cost": paid - float(n_contacts * config.contact_cost),
        "fixed_cost": fixed,
        "expected_value": float(plan.loc[plan["contact"], "value"].sum() - fixed),
        "status_counts": {k: int(v) for k, v in plan["status"].value_counts().items()},
    }


def markdown(result: ChurnResult) -> str:
    """The section's part of plan.md."""
    t = result.totals
    lines = [
        "## Churn retention",
        "",
        f"Model: **{result.report.selected}** (selected by {result.report.select_by}). "
        f"{t['n_contacts']} of {t['n_active']} active customers contacted; cost {t['total_cost']:.2f}, "
        f"expected value net of cost {t['expected_value']:.2f}.",
        "",
        "| week | segment | contacts | cost | expected value |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [f"| {r.week_start} | {r.segment} | {r.n_contacts} | {r.cost:.2f} | {r.expected_value:.2f} |"
              for r in result.schedule.itertuples()]
    lines += getattr(result.report, "detail_lines", list)()
    lines += ["", "Proportional hazards: " + " ".join(result.report.ph_test)]
    lines += warnings_markdown(result.warnings)
    return "\n".join(lines) + "\n"


SECTION = SectionSpec(
    name="churn",
    config_model=ChurnConfig,
    run=run,
    files=files,
    markdown=markdown,
    description="Churn timing: who is likely to churn, when to contact them, and a weekly contact schedule.",
)
