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
    import dataclasses

    from optimizer.budget.advanced import hooks
    from optimizer.budget.upstream import apply_upstream

    currency = ctx.options.get("currency") if ctx.options else None
    # experiments and churn ran first: a shipped creative scales a channel, retention takes its share
    config, adjustments = apply_upstream(config, ctx.results, currency)
    if hooks.uses_advanced(config):  # integer rules, S-curves, adstock, targets, frontier, risk
        result = hooks.run_advanced(config, ctx)
    else:
        from optimizer.budget.allocation import allocate

        result = allocate(config, solver=ctx.solver, currency=currency)
    return dataclasses.replace(result, adjustments=adjustments) if adjustments else result


def budget_files(result: Any) -> dict[str, bytes]:
    """``allocations.csv`` (one row per channel x segment x period) and ``channel_totals.csv``."""
    if hasattr(result, "mip_gap"):  # an advanced plan: also frontier / risk tables and plots
        from optimizer.budget.advanced import hooks

        return hooks.files(result)
    return {
        "allocations.csv": result.allocations.to_csv(index=False).encode("utf-8"),
        "channel_totals.csv": result.channel_totals.to_csv(index=False).encode("utf-8"),
    }


def budget_markdown(result: Any) -> str:
    """The budget part of plan.md, with what earlier sections changed listed first."""
    text = _budget_markdown(result)
    if not result.adjustments:
        return text
    head, _, rest = text.partition("\n")
    adj = ["", "Inputs from other sections:", ""] + [f"- {a}" for a in result.adjustments]
    return head + "\n" + "\n".join(adj) + "\n" + rest


def _budget_markdown(result: Any) -> str:
    if hasattr(result, "mip_gap"):
        from optimizer.budget.advanced import hooks

        return hooks.markdown(result)
    from optimizer.budget.money import money, rate_text, response_text

    cur, ru = result.currency, result.response_unit
    out = [f"## Budget ({result.status})", ""]
    if result.status in ("optimal", "feasible"):
        out.append(f"Objective **{result.objective_name}**: "
                   + (money(result.objective_value, cur) if result.objective_name != "max_response"
                      else response_text(result.objective_value, ru, cur))
                   + f"; total spend {money(result.total_spend, cur)}; certified optimality gap "
                   f"{result.optimality_gap:.1e}.")
        out += ["", "| channel | spend | units | response | ROI | marginal ROI | share |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in result.channel_totals.itertuples(index=False):
            units = "" if r.units != r.units else f"{r.units:,.0f}"
            roi = "" if r.roi != r.roi else f"{r.roi:.3g}"
            out.append(f"| {r.channel} | {money(r.spend, cur)} | {units} | {response_text(r.response, ru, cur)} | "
                       f"{roi} | {rate_text(r.marginal_roi, ru, cur)} | {r.share:.1%} |")
        if result.binding_constraints:
            out += ["", "Binding constraints:", ""] + [f"- {b.text}" for b in result.binding_constraints]
    out += [f"- {e}" for e in result.explanation]
    if result.warnings:
        out += ["", "Warnings:", ""] + [f"- {w}" for w in result.warnings]
    out += ["", f"Solver: {result.solver} {result.solver_version} ({result.method}), {result.time_seconds:.3f} s.", ""]
    return "\n".join(out)


SECTION = SectionSpec(
    name="budget",
    config_model=AdvancedBudget,  # BudgetConfig + S-curves + the ``advanced:`` key
    run=run_budget,
    files=budget_files,
    markdown=budget_markdown,
    description="Spend per channel x segment x period (LP on concave response curves, certified gap).",
)
