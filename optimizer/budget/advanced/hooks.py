"""Hooks for the ``budget`` section of ``dmpopt plan``: use the advanced allocator when asked for.

The section's config model becomes :class:`AdvancedBudget` (a superset of the core ``BudgetConfig``:
every core scenario still validates). :func:`uses_advanced` says whether a config needs the
advanced allocator (S-curves or any ``advanced:`` option); :func:`run_advanced` runs it with the
run's solver and currency; :func:`files` and :func:`markdown` render an :class:`AdvancedResult`.
Imports stay light: solvers and matplotlib load inside the functions.
"""

from __future__ import annotations

from typing import Any

from optimizer.budget.advanced.config import AdvancedBudgetConfig, SHillResponse
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.errors import ScenarioError


def uses_advanced(config: Any) -> bool:
    """True when ``config`` has S-curves or any non-default ``advanced`` option."""
    adv = getattr(config, "advanced", None)
    if adv is not None and adv != AdvancedBudgetConfig():
        return True
    return any(isinstance(c.response, SHillResponse) for c in config.channels)


def run_advanced(config: AdvancedBudget, ctx: Any) -> Any:
    """Run the advanced allocator; ``ctx.solver`` may be highs, cbc or scip (None: the config's)."""
    from optimizer.budget.advanced.allocate import allocate_advanced
    from optimizer.budget.advanced.solve import MIP_SOLVERS

    solver = getattr(ctx, "solver", None)
    if solver is not None and solver.lower() not in MIP_SOLVERS:
        raise ScenarioError(f"--solver is {solver!r}; a budget with advanced options (integer rules, S-curves, "
                            f"adstock, targets, frontier, risk) is solved with {', '.join(MIP_SOLVERS)}. "
                            "Suggestion: omit --solver to use highs.")
    options = getattr(ctx, "options", None) or {}
    return allocate_advanced(config, solver=solver, currency=options.get("currency"))


def files(result: Any) -> dict[str, bytes]:
    """allocations.csv, channel_totals.csv, frontier.csv/png/svg, risk.png/svg."""
    from optimizer.budget.advanced.outputs import advanced_files

    return advanced_files(result)


def markdown(result: Any) -> str:
    """The budget part of plan.md for an advanced plan."""
    from optimizer.budget.money import money, response_text

    cur, ru = result.currency, result.response_unit
    out = [f"## Budget ({result.status}, {result.objective_name})", ""]
    if result.status in ("optimal", "feasible"):
        out.append(f"Spend {money(result.total_spend, cur)} + set-up costs {money(result.setup_cost, cur)}; response "
                   f"{response_text(result.total_response, ru, cur)}; certified optimality gap "
                   f"{result.optimality_gap:.1e}; MIP gap {result.mip_gap:.1e}.")
        out += ["", "| channel | spend | response | ROI | share |", "|---|---:|---:|---:|---:|"]
        for r in result.channel_totals.itertuples(index=False):
            roi = "" if r.roi != r.roi else f"{r.roi:.3g}"
            out.append(f"| {r.channel} | {money(r.spend, cur)} | {response_text(r.response, ru, cur)} | {roi} | {r.share:.1%} |")
    if result.frontier is not None:
        out += ["", "Budget frontier (frontier.csv, frontier.png, frontier.svg):", ""]
        out += [f"- {s}" for s in result.frontier.sentences[:10]]
    if result.risk is not None:
        q = result.risk.quantiles
        out += ["", f"Return under uncertainty: expected {response_text(result.risk.expected_response, ru, cur)}, "
                    f"CVaR({result.risk.cvar_level:g}) {response_text(result.risk.cvar_response, ru, cur)}, 5-95 % "
                    f"{response_text(q['q05'], ru, cur)} - {response_text(q['q95'], ru, cur)} (risk.png, risk.svg)."]
    out += [f"- {e}" for e in result.explanation]
    if result.warnings:
        out += ["", "Warnings:", ""] + [f"- {w}" for w in result.warnings]
    out += ["", f"Solver: {result.solver} {result.solver_version}, {result.n_variables} variables "
                f"({result.n_integer} integer), {result.time_seconds:.3f} s.", ""]
    return "\n".join(out)
