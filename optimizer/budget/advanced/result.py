"""Result types of the advanced allocator: :class:`AdvancedResult` (plan), frontier and risk parts.

Money in the scenario currency over the horizon; response in ``response_unit``; gaps relative
(0.0001 = 0.01 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimizer.budget.money import money, rate_text, response_text
from optimizer.budget.results import _clean, _records, common_section_dict


@dataclass(frozen=True)
class FrontierResult:
    """The budget-vs-return curve.

    Attributes
    ----------
    table:
        One row per budget level: ``budget`` (currency), ``status``, ``spend`` (currency, set-up
        costs included), ``response`` (true curves), ``roi`` (response / spend), ``marginal_roi``
        (response per extra currency of budget: the LP budget dual, or the slope to the previous
        level for a MILP), ``holds_until_budget`` (LP ranging: budget up to which that marginal ROI
        holds, currency; nan for a MILP).
    sentences:
        Ranging in a planner's words, e.g. "from ¥400,000 each extra ¥ returns ¥2.1, until the budget
        reaches ¥520,000".
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
    """The plan's return under curve uncertainty.

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
class AdvancedResult:
    """A plan from the advanced allocator, or the reason there is none.

    Attributes
    ----------
    status:
        "optimal" (certified gap within target), "feasible" (a valid plan, gap above target or solver
        stopped early), "infeasible", "unbounded" or "error".
    objective_name:
        "max_response", "max_profit" or "min_spend" (the config's objective).
    objective_value:
        Objective of the plan on the TRUE curves (response_unit, or currency for profit / spend);
        under uncertainty the mean (objective "expected") or CVaR ("cvar") over draws, see ``risk``.
    bound:
        Certified bound on the best objective (upper for maximisation, lower for min_spend).
    optimality_gap:
        Certified relative gap between the plan and the best plan on the true curves (MIP gap and
        chord error together).
    mip_gap:
        The solver's own relative gap on the piecewise-linear problem (0 for an LP).
    total_spend, setup_cost, total_response:
        Media spend (currency), fixed set-up costs paid (currency), response of the plan.
    allocations:
        One row per cell: channel, segment, period, spend, effective_spend (with carry-over), units,
        used (0/1), response, roi, marginal_roi (response of one more currency in that cell, carry-over
        into later periods included).
    channel_totals:
        One row per channel: spend, units, active, response, roi, share of spend.
    warnings, explanation:
        Conditions to read the plan with; for no plan, what conflicts and how to fix it.
    solver, solver_version, n_variables, n_integer, n_rows, time_seconds:
        Solver used, size of the model, wall-clock seconds (build + solve + checks).
    frontier, risk:
        Budget frontier and return distribution when asked for.
    """

    status: str
    objective_name: str
    objective_value: float
    bound: float
    optimality_gap: float
    mip_gap: float
    total_spend: float
    setup_cost: float
    total_response: float
    allocations: pd.DataFrame
    channel_totals: pd.DataFrame
    warnings: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()
    adjustments: tuple[str, ...] = ()  # what earlier sections changed (see optimizer.budget.upstream)
    solver: str = "highs"
    solver_version: str = ""
    n_variables: int = 0
    n_integer: int = 0
    n_rows: int = 0
    time_seconds: float = 0.0
    currency: str | None = None
    response_unit: str = "currency"
    frontier: FrontierResult | None = None
    risk: RiskResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def marginal_roi_text(self) -> list[str]:
        """Per channel, in words: "tv: one more ¥ returns ¥0.056" (spend-weighted over its cells)."""
        if self.allocations.empty or "marginal_roi" not in self.allocations:
            return []
        one = money(1, self.currency).rstrip("1") or "currency unit"
        out = []
        for ch, g in self.allocations.groupby("channel", sort=False):
            w = g["spend"].to_numpy()
            m = g["marginal_roi"].to_numpy()
            v = float((m * w).sum() / w.sum()) if w.sum() > 0 else float(m.max())
            out.append(f"{ch}: one more {one} returns {rate_text(v, self.response_unit, self.currency)}")
        return out

    def summary(self) -> pd.DataFrame:
        """Per-channel totals."""
        return self.channel_totals.copy()

    def headline(self) -> str:
        """One line for the terminal: objective, spend, certified gap and MIP gap (or why no plan)."""
        cur, ru = self.currency, self.response_unit
        if self.status not in ("optimal", "feasible"):
            return f"budget: no plan ({self.status})"
        value = (money(self.objective_value, cur) if self.objective_name != "max_response"
                 else response_text(self.objective_value, ru, cur))
        risk = f" ({self.risk.objective} over draws)" if self.risk is not None else ""
        return (f"budget: {self.objective_name}{risk} {value}, spend {money(self.total_spend, cur)} + set-up "
                f"{money(self.setup_cost, cur)}, certified gap {self.optimality_gap:.1e}, MIP gap {self.mip_gap:.1e}")

    def notes(self) -> list[str]:
        """Lines under the table: the explanation, marginal ROI, frontier ranging, return distribution."""
        out = list(self.adjustments) + list(self.explanation) + self.marginal_roi_text()
        if self.frontier is not None:
            out += [f"frontier: {t}" for t in self.frontier.sentences[:8]]
        if self.risk is not None:
            cur, ru, q = self.currency, self.response_unit, self.risk.quantiles
            out.append(f"return under uncertainty: expected {response_text(self.risk.expected_response, ru, cur)}, "
                       f"CVaR({self.risk.cvar_level:g}) {response_text(self.risk.cvar_response, ru, cur)}, 5-95 % "
                       f"{response_text(q['q05'], ru, cur)} - {response_text(q['q95'], ru, cur)}")
        return out

    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """The frontier (about a dozen of its levels; all of them are in frontier.csv)."""
        if self.frontier is None or self.frontier.table.empty:
            return {}
        t = self.frontier.table
        step = max(1, len(t) // 12)
        cols = ["budget", "spend", "response", "roi", "marginal_roi"]
        return {"budget frontier (every level in frontier.csv)": t.iloc[::step][cols].reset_index(drop=True)}

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``budget`` section (JSON-safe, snake_case)."""
        return common_section_dict(
            self, binding_constraints=[], marginal_roi=self.marginal_roi_text(),
            solver={"name": self.solver, "version": self.solver_version},
        ) | {
            "mip_gap": _clean(self.mip_gap),
            "setup_cost": _clean(self.setup_cost),
            "n_variables": self.n_variables, "n_integer": self.n_integer, "n_rows": self.n_rows,
            "frontier": self.frontier.to_dict() if self.frontier is not None else None,
            "risk": self.risk.to_dict() if self.risk is not None else None,
            **{k: _clean(v) if isinstance(v, float) else v for k, v in self.extra.items()},
        }

    def __str__(self) -> str:
        cur, ru = self.currency, self.response_unit
        lines = [f"Budget plan (advanced): {self.status} ({self.objective_name})"]
        if self.status in ("optimal", "feasible"):
            lines.append(f"  spend {money(self.total_spend, cur)} + set-up {money(self.setup_cost, cur)}; response "
                         f"{response_text(self.total_response, ru, cur)}; certified gap {self.optimality_gap:.2e}; "
                         f"MIP gap {self.mip_gap:.2e}")
            for r in self.channel_totals.itertuples(index=False):
                roi = "n/a" if not math.isfinite(r.roi) else f"{r.roi:.3g}"
                lines.append(f"  {r.channel:<20} spend {money(r.spend, cur):>14}  response "
                             f"{response_text(r.response, ru, cur):>16}  ROI {roi}")
        if self.frontier is not None:
            lines.extend(f"  frontier: {s}" for s in self.frontier.sentences[:5])
        if self.risk is not None:
            lines.append(f"  risk: expected {response_text(self.risk.expected_response, ru, cur)}, CVaR"
                         f"({self.risk.cvar_level:g}) {response_text(self.risk.cvar_response, ru, cur)}")
        lines.extend(f"  {e}" for e in self.explanation)
        lines.extend(f"  warning: {w}" for w in self.warnings)
        lines.append(f"  solver {self.solver} {self.solver_version}, {self.n_variables} variables "
                     f"({self.n_integer} integer), {self.time_seconds:.3f} s")
        return "\n".join(lines)


def marginal_text(value: float, response_unit: str, currency: str | None) -> str:
    """"returns ¥0.056" for a per-currency rate."""
    return rate_text(value, response_unit, currency)
