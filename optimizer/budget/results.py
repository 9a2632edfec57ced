"""The budget plan: ONE result type (:class:`BudgetResult`) for every strategy, its tables and status.

Every strategy (greedy water-filling, refined LP, MILP, price decomposition, risk LP; the frontier
is a part attached to any of them) returns a :class:`BudgetResult` with the same allocation and
channel-total columns (:data:`ALLOCATION_COLUMNS`, :data:`CHANNEL_COLUMNS`, units in
:data:`COLUMN_DOCS`), built by :func:`plan_tables`, and one meaning of its status
(:func:`certified_status`): ``optimal`` iff the certified relative gap -- the plan's value on the
TRUE curves against a proven bound, MIP gap included -- is at most the configured target
(``gap_tolerance_relative``, default :data:`DEFAULT_GAP_TARGET`); otherwise ``feasible`` with a
warning giving the gap. Rendering (plan.md, files, terminal text) is in :mod:`optimizer.budget.report`.

Money is in the scenario currency over the horizon; response in ``response_unit`` (currency or
conversions); ROI and marginal ROI in response per currency unit spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.jsonsafe import clean as _clean, records as _records  # one JSON-safe rule for plan.json

#: Default target of the certified relative optimality gap (``gap_tolerance_relative``): one constant.
DEFAULT_GAP_TARGET = 1e-4

ALLOCATION_COLUMNS = ["channel", "segment", "period", "spend", "effective_spend", "units", "used", "response", "roi",
                      "marginal_roi"]
CHANNEL_COLUMNS = ["channel", "spend", "units", "active", "setup_cost", "response", "roi", "marginal_roi",
                   "share_of_spend", "share_of_budget"]

#: Every column of allocations.csv / channel_totals.csv with its unit (docs/plan-schema.md repeats it).
COLUMN_DOCS = {
    "channel": "channel name",
    "segment": "segment name ('all' without segments)",
    "period": "period name ('all' without periods)",
    "spend": "media spend, currency over the horizon (set-up costs excluded)",
    "effective_spend": "spend working in the cell, currency: spend plus carry-over of earlier periods (adstock); "
                       "equals spend without adstock",
    "units": "spend / cost_per_unit (units bought); empty when the channel has no unit cost",
    "used": "1 when the cell gets spend (or its MILP used-flag is set), else 0",
    "active": "1 when the channel gets spend (or its MILP active-flag is set), else 0",
    "setup_cost": "fixed set-up costs paid for the channel, currency",
    "response": "response on the true curve, response_unit",
    "roi": "response / spend, response_unit per currency unit spent; with adstock a period's response includes "
           "carry-over of earlier spend",
    "marginal_roi": "response of one more currency unit spent in the cell (carry-over into later periods included), "
                    "response_unit per currency unit; per channel: spend-weighted over its cells",
    "share_of_spend": "channel spend / total spend (fraction 0-1)",
    "share_of_budget": "channel spend / total budget (fraction 0-1; what max_share limits); empty without a budget",
    "currency": "currency code of every money column (CSV files only)",
    "response_unit": "unit of response columns: currency or conversions (CSV files only)",
}


def certified_status(gap: float, target: float, solver_proved: bool = True) -> str:
    """The one meaning of a plan's status: "optimal" iff ``gap <= target`` and the solver proved its
    answer (a time limit with an incumbent is never optimal); else "feasible"."""
    return "optimal" if solver_proved and gap <= target * (1 + 1e-9) else "feasible"


def gap_warning(gap: float, target: float, hint: str = "") -> str:
    """The warning a ``feasible`` plan carries: its certified gap and the target."""
    return (f"the certified optimality gap is {gap:.2e}, above the target {target:.0e} (gap_tolerance_relative); "
            f"the plan is valid but may be improvable by up to that fraction{hint}")


def empty_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables of a result without a plan (same columns, no rows)."""
    return (pd.DataFrame({c: [] for c in ALLOCATION_COLUMNS}), pd.DataFrame({c: [] for c in CHANNEL_COLUMNS}))


def plan_tables(*, channel_names: list[str], segment_names: list[str], period_names: list[str],
                cell_channel: np.ndarray, cell_segment: np.ndarray, cell_period: np.ndarray,
                spend: np.ndarray, response: np.ndarray, marginal: np.ndarray,
                cost_per_unit: np.ndarray, budget: float | None, effective: np.ndarray | None = None,
                used: np.ndarray | None = None, active: np.ndarray | None = None,
                setup_cost_channel: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(allocations, channel_totals) with :data:`ALLOCATION_COLUMNS` / :data:`CHANNEL_COLUMNS`.

    Every strategy calls this, so every plan has the same columns whatever solved it. ``used`` /
    ``active`` default to "has spend"; flags are integers (never ``-0``).
    """
    ch = np.asarray(channel_names, dtype=object)
    n_c = len(ch)
    spend = np.asarray(spend, dtype=float)
    eff = spend if effective is None else np.asarray(effective, dtype=float)
    used_i = (spend > 0) if used is None else (np.asarray(used) > 0.5)
    cpu = np.asarray(cost_per_unit, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        alloc = pd.DataFrame({
            "channel": ch[cell_channel], "segment": np.asarray(segment_names, dtype=object)[cell_segment],
            "period": np.asarray(period_names, dtype=object)[cell_period], "spend": spend, "effective_spend": eff,
            "units": spend / cpu[cell_channel], "used": used_i.astype(np.int64), "response": response,
            "roi": np.where(spend > 0, response / np.where(spend > 0, spend, 1.0), np.nan),
            "marginal_roi": marginal,
        })[ALLOCATION_COLUMNS]
        spend_c = np.bincount(cell_channel, weights=spend, minlength=n_c)
        resp_c = np.bincount(cell_channel, weights=response, minlength=n_c)
        marg_c = np.full(n_c, np.nan)
        for ci in range(n_c):
            sel = cell_channel == ci
            w = spend[sel]
            m = np.asarray(marginal, dtype=float)[sel]
            if w.sum() > 0:  # what the channel's money earns at the margin, cell by cell, weighted by spend
                marg_c[ci] = float(np.average(m[w > 0], weights=w[w > 0]))
            elif sel.any():  # what its first currency unit would earn
                marg_c[ci] = float(np.max(m))
        act = (spend_c > 0) if active is None else (np.asarray(active) > 0.5)
        setup = np.zeros(n_c) if setup_cost_channel is None else np.asarray(setup_cost_channel, dtype=float)
        total = float(spend_c.sum())
        totals = pd.DataFrame({
            "channel": ch, "spend": spend_c, "units": spend_c / cpu, "active": act.astype(np.int64),
            "setup_cost": setup + 0.0, "response": resp_c,
            "roi": np.where(spend_c > 0, resp_c / np.where(spend_c > 0, spend_c, 1.0), np.nan),
            "marginal_roi": marg_c,
            "share_of_spend": spend_c / total if total > 0 else np.zeros(n_c),
            "share_of_budget": spend_c / budget if budget is not None and budget > 0 else np.full(n_c, np.nan),
        })[CHANNEL_COLUMNS]
    return alloc, totals


@dataclass(frozen=True)
class BindingConstraint:
    """A constraint at its limit and what relaxing it is worth.

    Attributes
    ----------
    name:
        Row name, e.g. ``total_budget[total]`` or ``channel_spend[feed_ads]``.
    group, entity:
        Row family and the channel / segment / period it concerns.
    side:
        "upper" (a cap or budget) or "lower" (a minimum or target) bound at its limit.
    bound:
        The limit (currency for spend rows, response_unit for response rows).
    shadow_price:
        Change of the objective per one unit more of ``bound`` (objective units per row unit), the
        true marginal value on the true curves (KKT of the plan, see optimizer.budget.shadow).
    text:
        The same in a planner's words.
    """

    name: str
    group: str
    entity: str
    side: str
    bound: float
    shadow_price: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {k: _clean(getattr(self, k)) for k in ("name", "group", "entity", "side", "bound", "shadow_price", "text")}


@dataclass(frozen=True)
class FrontierResult:
    """The budget-vs-return curve (an optional part of a :class:`BudgetResult`).

    Attributes
    ----------
    table:
        One row per budget level: ``budget`` (currency), ``status`` (the one meaning: optimal iff
        ``optimality_gap``, certified on the true curves, meets the target), ``spend`` (currency, set-up
        costs included), ``response`` (true curves), ``roi`` (response per currency spent),
        ``marginal_roi`` (response per extra currency of budget: the LP budget dual, or the slope
        to the previous level for a MILP), ``holds_until_budget`` (LP ranging: budget up to which
        that marginal ROI holds, currency; nan for a MILP).
    sentences:
        Ranging in a planner's words.
    time_seconds:
        Wall-clock seconds for all re-solves.
    """

    table: pd.DataFrame
    sentences: tuple[str, ...]
    time_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"levels": _records(self.table), "ranging": list(self.sentences), "time_seconds": _clean(self.time_seconds)}


@dataclass(frozen=True)
class RiskResult:
    """The plan's return under curve uncertainty (an optional part of a :class:`BudgetResult`).

    Attributes
    ----------
    objective:
        "expected" or "cvar".
    cvar_level:
        alpha (fraction 0-1 of worst draws averaged).
    expected_response, cvar_response:
        Mean response over draws and mean of the worst ``alpha`` share of draws (true curves).
    quantiles:
        Response quantiles of the plan over draws, ``{"q05": ..., "q50": ..., "q95": ...}``.
    draw_response:
        Response of the plan under each draw (response_unit).
    """

    objective: str
    cvar_level: float
    expected_response: float
    cvar_response: float
    quantiles: dict[str, float]
    draw_response: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"objective": self.objective, "cvar_level": self.cvar_level,
                "expected_response": _clean(self.expected_response), "cvar_response": _clean(self.cvar_response),
                "quantiles": {k: _clean(v) for k, v in self.quantiles.items()},
                "draw_response": [_clean(v) for v in self.draw_response]}


@dataclass(frozen=True)
class BudgetResult:
    """A budget plan, or the reason there is none -- whatever strategy solved it.

    Attributes
    ----------
    status:
        "optimal" (certified gap <= ``gap_target``), "feasible" (a valid plan whose gap is above
        the target or whose solver stopped early; a warning gives the gap), "infeasible",
        "unbounded" or "error".
    objective_name:
        "max_response", "max_profit" or "min_spend".
    objective_value:
        Response (response_unit), profit (currency) or spend (currency, set-up costs included) of
        the plan on the TRUE curves; with uncertainty the mean or CVaR over draws; nan without a plan.
    total_spend, total_response:
        Media spend (currency, set-up costs excluded) and response (response_unit) of the plan.
    optimality_gap:
        Certified relative gap between the plan and the best possible plan on the true curves,
        MIP gap and chord error included (0.0001 = 0.01 %).
    bound:
        Certified bound on the best possible objective (upper for max, lower for min_spend).
    allocations, channel_totals:
        The plan's tables, columns :data:`ALLOCATION_COLUMNS` and :data:`CHANNEL_COLUMNS` (units in
        :data:`COLUMN_DOCS`).
    binding_constraints:
        Constraints at their limit with their true marginal value (LP strategies; a MILP has none).
    warnings, explanation, adjustments:
        Conditions to read the plan with; for no plan, the conflict in money and how to fix it;
        what earlier sections changed (see optimizer.budget.upstream).
    solver, solver_version, method:
        Backend ("highs", "cbc", "scip", "glop", "pdlp", "greedy", "dmpopt-decomposition"), its
        version, and the strategy: "greedy", "lp", "milp", "decomposition", "risk".
    time_seconds:
        Wall-clock time of the whole allocation (build, solves, certification).
    n_variables, n_integer, n_rows, refinement_rounds:
        Size of the last model solved and how many breakpoint refinements were needed.
    currency, response_unit:
        Currency code and "currency" or "conversions".
    marginal_roi_text:
        Per channel, in words ("tv: marginal ROI ¥0.056 per ¥ spent").
    gap_target:
        The target the status was decided with (``gap_tolerance_relative``).
    mip_gap:
        The solver's own relative gap on the piecewise-linear model (0 for an LP; nan without a plan).
    setup_cost:
        Fixed set-up costs paid (currency; 0 without integer rules).
    frontier, risk:
        Budget frontier and return under uncertainty, when the scenario asks for them.
    details:
        Strategy counters (price iterations, Newton steps, number of draws...).
    curve_sources:
        Per channel whose curve comes from a curves file, its
        :class:`~optimizer.budget.curve_sources.CurveSource` (path, sha256, tool, historical maximum).
    """

    status: str
    objective_name: str
    objective_value: float
    total_spend: float
    total_response: float
    optimality_gap: float
    bound: float
    allocations: pd.DataFrame
    channel_totals: pd.DataFrame
    binding_constraints: tuple[BindingConstraint, ...] = ()
    warnings: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()
    adjustments: tuple[str, ...] = ()
    solver: str = "highs"
    solver_version: str = ""
    method: str = "lp"
    time_seconds: float = 0.0
    n_variables: int = 0
    n_rows: int = 0
    refinement_rounds: int = 0
    currency: str | None = None
    response_unit: str = "currency"
    marginal_roi_text: tuple[str, ...] = field(default=())
    gap_target: float = DEFAULT_GAP_TARGET
    mip_gap: float = 0.0
    setup_cost: float = 0.0
    n_integer: int = 0
    frontier: FrontierResult | None = None
    risk: RiskResult | None = None
    details: dict[str, Any] = field(default_factory=dict)
    curve_sources: tuple[Any, ...] = ()

    @property
    def has_plan(self) -> bool:
        """True for "optimal" and "feasible"."""
        return self.status in ("optimal", "feasible")

    @property
    def solver_info(self) -> dict[str, str]:
        """``{"name", "version", "method"}`` of the solver used (recorded in the plan's provenance)."""
        return {"name": self.solver, "version": self.solver_version, "method": self.method}

    @property
    def carries_over(self) -> bool:
        """True when some cell's effective spend differs from its spend (adstock)."""
        a = self.allocations
        return bool(len(a)) and not np.allclose(a["effective_spend"].to_numpy(float), a["spend"].to_numpy(float))

    def summary(self) -> pd.DataFrame:
        """Per-channel totals (the plan's main table)."""
        return self.channel_totals.copy()

    def headline(self) -> str:
        """One line for the terminal: status, objective, spend, certified gap (or why there is no plan)."""
        from optimizer.budget.report import headline

        return headline(self)

    def notes(self) -> list[str]:
        """Lines printed under the table: inputs changed, explanation, shadow prices, marginal ROI."""
        from optimizer.budget.report import notes

        return notes(self)

    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """The frontier (about a dozen of its levels; all of them are in frontier.csv)."""
        from optimizer.budget.report import extra_tables

        return extra_tables(self)

    def to_markdown(self) -> str:
        """The budget part of plan.md."""
        from optimizer.budget.report import markdown

        return markdown(self)

    def files(self) -> dict[str, bytes]:
        """allocations.csv, channel_totals.csv (+ frontier.csv/png/svg, risk.png/svg when present)."""
        from optimizer.budget.report import files

        return files(self)

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``budget`` section of plan.json (JSON-safe, snake_case)."""
        return {
            "status": self.status,
            "adjustments": list(self.adjustments),
            "objective": {"name": self.objective_name, "value": _clean(self.objective_value),
                          "certified_bound": _clean(self.bound)},
            "total_spend": _clean(self.total_spend),
            "total_response": _clean(self.total_response),
            "response_unit": self.response_unit,
            "currency": self.currency,
            "optimality_gap": _clean(self.optimality_gap),
            "gap_target": _clean(self.gap_target),
            "mip_gap": _clean(self.mip_gap),
            "setup_cost": _clean(self.setup_cost),
            "allocations": _records(self.allocations),
            "channel_totals": _records(self.channel_totals),
            "binding_constraints": [b.to_dict() for b in self.binding_constraints],
            "marginal_roi": list(self.marginal_roi_text),
            "warnings": list(self.warnings),
            "explanation": list(self.explanation),
            "solver": self.solver_info,
            "time_seconds": _clean(self.time_seconds),
            "n_variables": self.n_variables, "n_integer": self.n_integer, "n_rows": self.n_rows,
            "refinement_rounds": self.refinement_rounds,
            "frontier": self.frontier.to_dict() if self.frontier is not None else None,
            "risk": self.risk.to_dict() if self.risk is not None else None,
            "details": {k: _clean(v) for k, v in self.details.items()},
            "curve_sources": [c.to_dict() for c in self.curve_sources],
        }

    def __str__(self) -> str:
        from optimizer.budget.report import text

        return text(self)
