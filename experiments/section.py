"""The ``experiments:`` section of ``dmpopt plan scenario.yaml``.

The section analyses the scenario's experiments (inline, or from an ``experiments.yaml`` named by
``file``) as of ``week`` and returns an :class:`~experiments.pipeline.ExperimentsAnalysis`. Its
``decisions`` say ship / stop / continue per experiment, and
:meth:`~experiments.pipeline.ExperimentsAnalysis.channel_multipliers` gives, for shipped
experiments with an ``applies_to`` link, ``{channel: 1 + relative lift}``: the budget section
scales that channel's response curve by it (a winning creative makes the channel's spend more
productive). Experiments run before budget (see :data:`optimizer.sections.SECTION_PATHS`).

Example::

    experiments:
      file: experiments.yaml   # or `experiments: [...]` inline
      week: 2026-W47

With ``--out`` the plan also gets ``experiments/report.html``, ``experiments/report.md``,
``experiments/plots/*.png`` and ``experiments/experiments.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from experiments.config import ExperimentConfig
from optimizer.plan import warnings_markdown
from optimizer.sections import RunContext, SectionSpec

if TYPE_CHECKING:
    from experiments.pipeline import ExperimentsAnalysis


class ExperimentsSectionConfig(BaseModel):
    """The ``experiments:`` key of a scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = Field(None, description="experiments.yaml to analyse, relative to the scenario's folder.")
    experiments: list[ExperimentConfig] | None = Field(
        None, description="Experiments given inline (same schema as experiments.yaml); data paths relative to the scenario."
    )
    week: str | None = Field(None, description="Analyse data up to this ISO week (YYYY-Www); default: all data.")

    @field_validator("week")
    @classmethod
    def _week(cls, v: str | None) -> str | None:
        if v is not None:
            from experiments.config import parse_iso_week

            try:
                parse_iso_week(v)
            except ValueError as exc:
                raise ValueError(str(exc).removeprefix(f"week is {v!r}; ")) from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "ExperimentsSectionConfig":
        if (self.file is None) == (self.experiments is None):
            raise ValueError("give exactly one of `file` (an experiments.yaml) or `experiments` (inline list)")
        if self.experiments is not None:
            names = [e.name for e in self.experiments]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"experiment names must be unique; repeated: {dup}")
        return self


def run(config: ExperimentsSectionConfig, ctx: RunContext) -> "ExperimentsAnalysis":
    """Analyse the experiments; one experiment's data error never fails the plan (it is reported)."""
    from experiments.config import ExperimentsConfig, load_experiments_config
    from experiments.pipeline import analyze_experiments

    if config.file is not None:
        path = Path(config.file)
        path = path if path.is_absolute() else Path(ctx.base_dir) / path
        cfg = load_experiments_config(path)
        base_dir = path.parent
    else:
        cfg = ExperimentsConfig(experiments=list(config.experiments))
        base_dir = Path(ctx.base_dir)
    return analyze_experiments(cfg, base_dir, config.week)


def files(result: "ExperimentsAnalysis") -> dict[str, bytes]:
    """The weekly report under ``experiments/`` in the plan's output folder."""
    from experiments.report import build_report

    return {f"experiments/{name}": data for name, data in build_report(result).files().items()}


def markdown(result: "ExperimentsAnalysis") -> str:
    """The section's part of plan.md: decisions and the channel multipliers fed to the budget."""
    from experiments.report import fmt_ci, fmt_pct

    lines = [f"## Experiments (as of {result.week})", "",
             "| Experiment | Decision | Variant | Primary metric | Lift | Interval | SRM | Reasons |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result.summary().to_dict(orient="records"):
        lines.append(f"| {r['experiment']} | {r['decision']} | {r['variant'] or ''} | {r['primary_metric'] or ''} | "
                     f"{fmt_pct(r['lift_relative'])} | {fmt_ci(r['ci_low'], r['ci_high'])} | {r['srm']} | {r['reasons']} |")
    multipliers = result.channel_multipliers()
    if multipliers:
        lines += ["", "Channel response multipliers from shipped experiments: "
                  + ", ".join(f"{c} x{m:.4f}" for c, m in sorted(multipliers.items())) + "."]
    lines += warnings_markdown(result.warnings)
    return "\n".join(lines) + "\n"


SECTION = SectionSpec(
    name="experiments",
    config_model=ExperimentsSectionConfig,
    run=run,
    files=files,
    markdown=markdown,
    description="A/B experiments: decisions (ship/stop/continue) and channel response multipliers for the budget.",
)
