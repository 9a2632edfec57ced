"""The ``budget`` section of ``dmpopt plan``: config model, run, output files and plan.md text.

Imports stay light (no solver at import time): solvers load when :func:`run_budget` runs.
``ctx.solver`` picks the backend (None -> "highs"); ``ctx.options["currency"]`` (the scenario's
currency code) formats money in messages.
"""

from __future__ import annotations

from typing import Any

from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.config import BudgetConfig
from optimizer.sections import RunContext, SectionSpec


def run_budget(config: BudgetConfig, ctx: RunContext) -> Any:
    """Solve the budget of a scenario. Infeasible plans come back with status "infeasible"."""
    import contextlib
    import dataclasses

    from optimizer.budget import allocate
    from optimizer.budget.upstream import apply_upstream

    currency = ctx.options.get("currency") if ctx.options else None
    # experiments and churn ran first: a shipped creative scales a channel, retention takes its share
    config, adjustments = apply_upstream(config, ctx.results, currency)
    # one entry: the strategy (greedy, LP, MILP, decomposition, risk) is chosen from the config
    # the CLI passes render.count_progress as options["count_progress"]: frontier levels are counted on stderr
    counter = ctx.options.get("count_progress") if ctx.options else None
    with counter("budget frontier levels") if counter is not None else contextlib.nullcontext() as progress:
        result = allocate(config, solver=ctx.solver, currency=currency, progress=progress)
    if adjustments:
        result = dataclasses.replace(result, adjustments=adjustments)
    return with_curve_sources(result, ctx)


def with_curve_sources(result: Any, ctx: RunContext) -> Any:
    """Record the curves files the channels' curves come from, and warn where the plan leaves their data."""
    import dataclasses

    from optimizer.budget.curve_sources import curve_sources, curve_warnings

    sources = curve_sources(ctx.source, ctx.base_dir)
    if not sources:
        return result
    extra = curve_warnings(sources, result.allocations, result.currency) if result.has_plan else ()
    return dataclasses.replace(result, curve_sources=sources, warnings=tuple(result.warnings) + extra)


def budget_files(result: Any) -> dict[str, bytes]:
    """``allocations.csv``, ``channel_totals.csv`` (+ frontier / risk files): :meth:`BudgetResult.files`."""
    return result.files()


def budget_markdown(result: Any) -> str:
    """The budget part of plan.md: :meth:`BudgetResult.to_markdown` (one renderer for every plan)."""
    return result.to_markdown()


SECTION = SectionSpec(
    name="budget",
    config_model=AdvancedBudget,  # BudgetConfig + S-curves + the ``advanced:`` key
    run=run_budget,
    files=budget_files,
    markdown=budget_markdown,
    description="Spend per channel x segment x period (LP on concave response curves, certified gap).",
)
