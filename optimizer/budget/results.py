"""The budget plan: :class:`BudgetResult` (frozen), its JSON form and its text.

Money is in the scenario currency over the horizon; response in ``response_unit`` (currency or
conversions); ROI and marginal ROI in response per currency unit spent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimizer.budget.money import money, rate_text, response_text

ALLOCATION_COLUMNS = ["channel", "segment", "period", "spend", "units", "response", "roi", "marginal_roi"]


def _clean(v: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None, numpy scalars -> Python."""
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = list(df.columns)
    return [{c: _clean(v) for c, v in zip(cols, row)} for row in df.itertuples(index=False, name=None)]


def common_section_dict(result: Any, *, binding_constraints: list, marginal_roi: list[str],
                        solver: dict[str, Any]) -> dict[str, Any]:
    """The keys every budget result (LP or advanced) puts in plan.json's ``budget`` section.

    One place, so the core and advanced results cannot drift from docs/plan.schema.json.
    """
    return {
        "status": result.status,
        "adjustments": list(result.adjustments),
        "objective": {"name": result.objective_name, "value": _clean(result.objective_value),
                      "certified_bound": _clean(result.bound)},
        "total_spend": _clean(result.total_spend),
        "total_response": _clean(result.total_response),
        "response_unit": result.response_unit,
        "currency": result.currency,
        "optimality_gap": _clean(result.optimality_gap),
        "allocations": _records(result.allocations),
        "channel_totals": _records(result.channel_totals),
        "binding_constraints": binding_constraints,
        "marginal_roi": marginal_roi,
        "warnings": list(result.warnings),
        "explanation": list(result.explanation),
        "solver": solver,
        "time_seconds": _clean(result.time_seconds),
    }


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
        Change of the objective per one unit more of ``bound`` (objective units per row unit).
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
class BudgetResult:
    """A budget plan, or the reason there is none.

    Attributes
    ----------
    status:
        "optimal" (gap within target), "feasible" (a valid plan, gap above target or solver not
        proven optimal), "infeasible", "unbounded" or "error".
    objective_name:
        "max_response", "max_profit" or "min_spend".
    objective_value:
        Response (response_unit), profit (currency) or spend (currency) of the plan on the TRUE
        curves; nan without a plan.
    total_spend, total_response:
        Plan totals (currency; response_unit).
    optimality_gap:
        Certified relative gap between the plan and the best possible plan (0.0001 = 0.01 %).
    bound:
        Certified bound on the best possible objective (upper for max, lower for min_spend).
    allocations:
        One row per channel x segment x period: spend (currency), units (spend / cost_per_unit,
        nan without a cost), response, roi (response / spend), marginal_roi (response of one
        more currency unit in that cell).
    channel_totals:
        One row per channel: spend, units, response, roi, marginal_roi (best cell with room),
        share (of total spend).
    binding_constraints:
        Constraints at their limit with shadow prices (see :class:`BindingConstraint`).
    warnings:
        Conditions to read the plan with.
    explanation:
        For infeasible / unbounded / error: what conflicts, in money, and how to fix it.
    solver, solver_version, method:
        Backend used ("highs"...; "greedy" for sorted slopes), its version, "lp" or "greedy".
    time_seconds:
        Wall-clock time of the whole allocation (build, solves, certification).
    n_variables, n_rows, refinement_rounds:
        Size of the last LP (pieces, rows) and how many breakpoint refinements were needed.
    currency, response_unit:
        Currency code (for messages) and "currency" or "conversions".
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
    adjustments: tuple[str, ...] = ()  # what earlier sections changed (see optimizer.budget.upstream)
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

    @property
    def solver_info(self) -> dict[str, str]:
        """``{"name": ..., "version": ...}`` of the solver used (recorded in the plan's provenance)."""
        return {"name": self.solver, "version": self.solver_version}

    def headline(self) -> str:
        """One line for the terminal: objective, spend and certified gap (or why there is no plan)."""
        cur, ru = self.currency, self.response_unit
        if self.status not in ("optimal", "feasible"):
            return f"budget: no plan ({self.status})"
        value = (money(self.objective_value, cur) if self.objective_name != "max_response"
                 else response_text(self.objective_value, ru, cur))
        return (f"budget: {self.objective_name} {value}, spend {money(self.total_spend, cur)}, "
                f"certified gap {self.optimality_gap:.1e}")

    def notes(self) -> list[str]:
        """Lines printed under the table: the explanation, shadow prices, marginal ROI."""
        return (list(self.adjustments) + list(self.explanation) + [b.text for b in self.binding_constraints]
                + list(self.marginal_roi_text))

    def summary(self) -> pd.DataFrame:
        """Per-channel totals (the plan's main table)."""
        return self.channel_totals.copy()

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``budget`` section (JSON-safe, snake_case)."""
        return common_section_dict(
            self,
            binding_constraints=[b.to_dict() for b in self.binding_constraints],
            marginal_roi=list(self.marginal_roi_text),
            solver={"name": self.solver, "version": self.solver_version, "method": self.method},
        ) | {"n_variables": self.n_variables, "n_rows": self.n_rows, "refinement_rounds": self.refinement_rounds}

    def __str__(self) -> str:
        cur, ru = self.currency, self.response_unit
        lines = [f"Budget plan: {self.status} ({self.objective_name})"]
        if self.status in ("optimal", "feasible"):
            value = (money(self.objective_value, cur) if self.objective_name != "max_response"
                     else response_text(self.objective_value, ru, cur))
            lines.append(f"  objective {value}; spend {money(self.total_spend, cur)}; "
                         f"response {response_text(self.total_response, ru, cur)}; "
                         f"certified gap {self.optimality_gap:.2e}")
            for row in self.channel_totals.itertuples(index=False):
                lines.append(f"  {row.channel:<20} spend {money(row.spend, cur):>14}  response "
                             f"{response_text(row.response, ru, cur):>16}  marginal ROI "
                             f"{rate_text(row.marginal_roi, ru, cur)}")
            lines.extend(f"  * {b.text}" for b in self.binding_constraints)
        lines.extend(f"  {e}" for e in self.explanation)
        lines.extend(f"  warning: {w}" for w in self.warnings)
        lines.append(f"  solver {self.solver} {self.solver_version}, {self.method}, {self.time_seconds:.3f} s")
        return "\n".join(lines)
