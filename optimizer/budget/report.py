"""The ONE renderer of a :class:`~optimizer.budget.results.BudgetResult`: plan.md, files, terminal text.

Whatever strategy solved the plan, it is shown with the same columns (units in the column
headers of plan.md and in ``COLUMN_DOCS``), ROI and marginal ROI "per <currency> spent", the
status once, and no empty table for a plan that has none (the explanation instead).
CSV files carry ``currency`` and ``response_unit`` columns (one documented way, docs/plan-schema.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.budget.money import money, per_spent, response_text, spent_unit
from optimizer.plan import warnings_markdown

if TYPE_CHECKING:  # pragma: no cover
    from optimizer.budget.results import BudgetResult

INTEGER_PRICE_NOTE = ("a plan with integer rules has no shadow prices (its value changes in jumps when a rule "
                      "switches); re-plan with the limit moved, or read the budget frontier")

CARRY_OVER_NOTE = ("with adstock, a period's response (and so its ROI) credits carry-over from spend in earlier "
                   "periods; marginal ROI counts what spend in a period returns in later ones")


def marginal_roi_sentences(channel_totals: pd.DataFrame, response_unit: str, currency: str | None,
                           capped: dict[str, bool] | None = None) -> tuple[str, ...]:
    """Per channel: "tv: marginal ROI ¥0.056 per ¥ spent" (spend-weighted over its cells)."""
    out = []
    for r in channel_totals.itertuples(index=False):
        tail = " (the channel is at its cap: see its shadow price)" if capped and capped.get(r.channel) else ""
        if r.spend > 0:
            out.append(f"{r.channel}: marginal ROI {per_spent(r.marginal_roi, response_unit, currency)}{tail}")
        else:  # the first unit's value ignores set-up costs and minimum spends that using the channel brings
            out.append(f"{r.channel}: not used; its first {spent_unit(currency)} would return "
                       f"{per_spent(r.marginal_roi, response_unit, currency)} (before any set-up cost or minimum "
                       f"spend that using it brings){tail}")
    return tuple(out)


def _objective_text(r: "BudgetResult") -> str:
    cur, ru = r.currency, r.response_unit
    if r.objective_name == "max_response":
        return response_text(r.objective_value, ru, cur)
    return money(r.objective_value, cur)


def headline(r: "BudgetResult") -> str:
    """The status line (printed once): status, objective, spend, certified gap, solver."""
    if not r.has_plan:
        return f"budget: {r.status}, no plan (solver {r.solver} {r.solver_version}, {r.method})"
    risk = f" ({r.risk.objective} over draws)" if r.risk is not None else ""
    setup = f" + set-up {money(r.setup_cost, r.currency)}" if r.setup_cost else ""
    return (f"budget: {r.status}, {r.objective_name}{risk} {_objective_text(r)}, spend "
            f"{money(r.total_spend, r.currency)}{setup}, certified gap {r.optimality_gap:.1e} "
            f"(target {r.gap_target:.0e}); {r.method} by {r.solver} {r.solver_version}")


def notes(r: "BudgetResult") -> list[str]:
    """Lines under the table: inputs changed, explanation, shadow prices, marginal ROI, frontier, risk."""
    out = list(r.adjustments) + list(r.explanation)
    if not r.has_plan:
        return out
    out += [b.text for b in r.binding_constraints] + list(r.marginal_roi_text)
    if r.n_integer and not r.binding_constraints:
        out.append(INTEGER_PRICE_NOTE)
    cur, ru = r.currency, r.response_unit
    out.append(f"ROI and marginal ROI are in {_rate_unit(ru, cur)}")
    if r.carries_over:
        out.append(CARRY_OVER_NOTE)
    if r.frontier is not None:
        out += [f"frontier: {t}" for t in r.frontier.sentences[:8]]
    if r.risk is not None:
        q = r.risk.quantiles
        out.append(f"return under uncertainty: expected {response_text(r.risk.expected_response, ru, cur)}, "
                   f"CVaR({r.risk.cvar_level:g}) {response_text(r.risk.cvar_response, ru, cur)}, 5-95 % "
                   f"{response_text(q['q05'], ru, cur)} - {response_text(q['q95'], ru, cur)}")
    return out


def _rate_unit(ru: str, cur: str | None) -> str:
    one = spent_unit(cur)
    return f"{one} of response per {one} spent" if ru == "currency" else f"conversions per {one} spent"


def extra_tables(r: "BudgetResult") -> dict[str, pd.DataFrame]:
    """About a dozen frontier levels (all of them are in frontier.csv)."""
    if r.frontier is None or r.frontier.table.empty:
        return {}
    t = r.frontier.table
    step = max(1, len(t) // 12)
    cols = ["budget", "spend", "response", "roi", "marginal_roi"]
    return {"budget frontier (every level in frontier.csv)": t.iloc[::step][cols].reset_index(drop=True)}


def _num(v: float, fmt: str) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def markdown(r: "BudgetResult") -> str:
    """The budget part of plan.md: one table layout for every plan; no table when there is no plan."""
    cur, ru = r.currency, r.response_unit
    one = spent_unit(cur)
    out = [f"## Budget ({r.status}, {r.objective_name})", ""]
    if r.adjustments:
        out += ["Inputs from other sections:", ""] + [f"- {a}" for a in r.adjustments] + [""]
    if not r.has_plan:
        out += ["No plan:", ""] + [f"- {e}" for e in r.explanation]
    else:
        setup = f" + set-up costs {money(r.setup_cost, cur)}" if r.setup_cost else ""
        out.append(f"Objective **{r.objective_name}**: {_objective_text(r)}; total spend {money(r.total_spend, cur)}"
                   f"{setup}; response {response_text(r.total_response, ru, cur)}; certified optimality gap "
                   f"{r.optimality_gap:.1e} (target {r.gap_target:.0e})"
                   + (f"; MIP gap {r.mip_gap:.1e}" if r.n_integer else "") + ".")
        resp_unit = one if ru == "currency" else "conversions"
        rate = f"{resp_unit} per {one} spent"
        out += ["", f"| channel | spend ({one}) | units | active | set-up ({one}) | response ({resp_unit}) | "
                    f"ROI ({rate}) | marginal ROI ({rate}) | share of spend | share of budget |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for t in r.channel_totals.itertuples(index=False):
            out.append(f"| {t.channel} | {money(t.spend, cur)} | {_num(t.units, ',.0f')} | {int(t.active)} | "
                       f"{money(t.setup_cost, cur)} | {response_text(t.response, ru, cur)} | {_num(t.roi, '.3g')} | "
                       f"{_num(t.marginal_roi, '.3g')} | {_num(t.share_of_spend, '.1%')} | "
                       f"{_num(t.share_of_budget, '.1%')} |")
        if r.carries_over:
            out += ["", f"Note: {CARRY_OVER_NOTE}."]
        if r.binding_constraints:
            out += ["", "Binding constraints (true marginal values):", ""] + [f"- {b.text}" for b in r.binding_constraints]
        elif r.n_integer:
            out += ["", f"Note: {INTEGER_PRICE_NOTE}."]
        if r.marginal_roi_text:
            out += ["", "Marginal ROI:", ""] + [f"- {s}" for s in r.marginal_roi_text]
        if r.frontier is not None:
            out += ["", "Budget frontier (frontier.csv, frontier.png, frontier.svg):", ""]
            out += [f"- {s}" for s in r.frontier.sentences[:10]]
        if r.risk is not None:
            q = r.risk.quantiles
            out += ["", f"Return under uncertainty: expected {response_text(r.risk.expected_response, ru, cur)}, "
                        f"CVaR({r.risk.cvar_level:g}) {response_text(r.risk.cvar_response, ru, cur)}, 5-95 % "
                        f"{response_text(q['q05'], ru, cur)} - {response_text(q['q95'], ru, cur)} (risk.png, risk.svg)."]
    if r.curve_sources:
        out += ["", "Curves from files (path relative to the scenario):", "",
                "| channel | curves file | channel there | tool | sha256 | most spent per period |",
                "|---|---|---|---|---|---:|"]
        for c in r.curve_sources:
            tool = f"{c.tool} {c.tool_version}" if c.tool_version else c.tool
            most = money(c.historical_max_spend, cur) + f" per {c.period}" if c.historical_max_spend is not None else ""
            out.append(f"| {c.channel} | `{c.path}` | {c.curves_channel} | {tool} | `{c.sha256[:16]}…` | {most} |")
    out += warnings_markdown(r.warnings)
    out += ["", f"Solver: {r.solver} {r.solver_version}; method {r.method}; {r.n_variables} variables "
                f"({r.n_integer} integer), {r.n_rows} rows; {r.time_seconds:.3f} s.", ""]
    return "\n".join(out)


def _csv(df: pd.DataFrame, r: "BudgetResult") -> bytes:
    """CSV with the currency and response unit as columns (same value on every row)."""
    return df.assign(currency=r.currency or "", response_unit=r.response_unit).to_csv(index=False).encode("utf-8")


def files(r: "BudgetResult", current_budget: float | None = None) -> dict[str, bytes]:
    """allocations.csv, channel_totals.csv (none without a plan), frontier.csv/png/svg, risk.png/svg."""
    out: dict[str, bytes] = {}
    if r.has_plan:
        out["allocations.csv"] = _csv(r.allocations, r)
        out["channel_totals.csv"] = _csv(r.channel_totals, r)
    if r.frontier is not None:
        from optimizer.budget.advanced.plots import frontier_figure

        out["frontier.csv"] = r.frontier.table.to_csv(index=False).encode("utf-8")
        figs = frontier_figure(r.frontier, r.currency, current_budget)
        out["frontier.png"], out["frontier.svg"] = figs["png"], figs["svg"]
    if r.risk is not None:
        from optimizer.budget.advanced.plots import risk_figure

        figs = risk_figure(np.array(r.risk.draw_response), r.risk.cvar_response, r.risk.cvar_level, r.currency)
        out["risk.png"], out["risk.svg"] = figs["png"], figs["svg"]
    return out


def text(r: "BudgetResult") -> str:
    """A readable ``str(result)``."""
    cur, ru = r.currency, r.response_unit
    lines = [headline(r)]
    if r.has_plan:
        for t in r.channel_totals.itertuples(index=False):
            lines.append(f"  {t.channel:<20} spend {money(t.spend, cur):>14}  response "
                         f"{response_text(t.response, ru, cur):>16}  marginal ROI "
                         f"{per_spent(t.marginal_roi, ru, cur)}")
    lines.extend(f"  {n}" for n in notes(r))
    lines.extend(f"  warning: {w}" for w in r.warnings)
    lines.append(f"  {r.time_seconds:.3f} s, {r.n_variables} variables ({r.n_integer} integer)")
    return "\n".join(lines)
