"""The documented, versioned schema of plan.json, as pydantic models.

The JSON Schema in docs/plan.schema.json is generated from these models
(``python -m optimizer.schema_docs``), and the tests validate every shipped scenario's plan
against them, so the document and the code cannot drift apart.

Versioning: ``schema_version`` is MAJOR.MINOR. A new optional key is a MINOR bump; renaming or
removing a key, or changing a unit, is a MAJOR bump.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")
_OPEN = ConfigDict(extra="allow")

Status = Literal["optimal", "feasible", "infeasible", "unbounded", "error", "ok"]


class ScenarioRef(BaseModel):
    model_config = _STRICT
    name: str = Field(description="The scenario's name.")
    description: str = Field(description="The scenario's description.")
    path: str = Field(description="Path of the scenario file as given on the command line.")
    content_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="sha256 of the scenario file's bytes.")
    currency: str = Field(description="Currency code of every money amount in the plan.")


class SolverRef(BaseModel):
    model_config = _OPEN
    name: str = Field(description="Solver backend, e.g. highs, cbc, glop, pdlp, greedy.")
    version: str = Field(description="Version of the solver library.")


class ProvenanceDoc(BaseModel):
    model_config = _STRICT
    dmpopt_version: str = Field(description="dmpopt version that made the plan.")
    seed: int = Field(ge=0, description="Seed of every random step (drawn and recorded when none was given).")
    created_at: str = Field(description="UTC time the plan was made, ISO 8601.")
    solver: SolverRef | None = Field(description="The budget solver used; null when no budget section ran.")
    packages: dict[str, str | None] = Field(description="Versions of solver and statistics packages (null: not installed).")
    python: str = Field(description="Python version.")


class Objective(BaseModel):
    model_config = _STRICT
    name: Literal["max_response", "max_profit", "min_spend"] = Field(description="What the plan optimises.")
    value: float | None = Field(description="Objective on the true response curves (response unit or currency); null without a plan.")
    certified_bound: float | None = Field(description="Certified bound on the best possible objective (upper for max, lower for min).")


class AllocationRow(BaseModel):
    model_config = _OPEN
    channel: str = Field(description="Channel name.")
    segment: str = Field(description="Segment name ('all' when the scenario has no segments).")
    period: str = Field(description="Period name ('all' when the scenario has no periods).")
    spend: float = Field(description="Media spend in the cell, currency over the horizon (set-up costs excluded).")
    effective_spend: float = Field(description="Spend working in the cell, currency: spend plus carry-over of earlier "
                                               "periods (adstock); equals spend without adstock.")
    units: float | None = Field(description="spend / cost_per_unit; null when the channel has no unit cost.")
    used: int = Field(ge=0, le=1, description="1 when the cell gets spend (or its MILP used-flag is set), else 0.")
    response: float = Field(description="Response of the cell on the true curve (response unit); with adstock it "
                                        "includes carry-over of earlier spend.")
    roi: float | None = Field(description="response / spend, response unit per currency unit spent; null at zero spend.")
    marginal_roi: float | None = Field(description="Response of one more currency unit spent in the cell (carry-over "
                                                   "into later periods included), response unit per currency unit.")


class ChannelTotal(BaseModel):
    model_config = _OPEN
    channel: str = Field(description="Channel name.")
    spend: float = Field(description="Channel media spend, currency over the horizon.")
    units: float | None = Field(description="spend / cost_per_unit; null when the channel has no unit cost.")
    active: int = Field(ge=0, le=1, description="1 when the channel gets spend (or its MILP active-flag is set).")
    setup_cost: float = Field(description="Fixed set-up costs paid for the channel, currency.")
    response: float = Field(description="Channel response (response unit).")
    roi: float | None = Field(description="response / spend, response unit per currency unit spent.")
    marginal_roi: float | None = Field(description="Response of one more currency unit, spend-weighted over the "
                                                   "channel's cells (response unit per currency unit).")
    share_of_spend: float = Field(description="Channel spend / total spend (fraction 0-1).")
    share_of_budget: float | None = Field(description="Channel spend / total budget (fraction 0-1, what max_share "
                                                      "limits); null without a total budget.")


class BindingConstraintDoc(BaseModel):
    model_config = _STRICT
    name: str = Field(description="Constraint name, e.g. total_budget[total].")
    group: str = Field(description="Constraint family.")
    entity: str = Field(description="Channel, segment or period the constraint concerns.")
    side: Literal["upper", "lower"] = Field(description="Which bound is at its limit.")
    bound: float | None = Field(description="The limit (currency for spend rows, response unit for response rows).")
    shadow_price: float | None = Field(description="Objective change per one unit more of the bound.")
    text: str = Field(description="The same in a planner's words.")


class BudgetSectionDoc(BaseModel):
    """The ``budget`` key of plan.json."""

    model_config = _OPEN  # later minor versions add keys (MIP gap, frontier...)
    status: Status = Field(description="optimal (certified gap within target), feasible, infeasible, unbounded, error.")
    adjustments: list[str] = Field(description="What earlier sections changed before solving (experiment multipliers, churn retention).")
    objective: Objective
    total_spend: float | None = Field(description="Total spend, currency over the horizon.")
    total_response: float | None = Field(description="Total response (response unit).")
    response_unit: Literal["currency", "conversions"] = Field(description="Unit of every response figure.")
    currency: str | None = Field(description="Currency code.")
    optimality_gap: float | None = Field(description="Certified relative gap to the best possible plan (0.0001 = 0.01 %).")
    allocations: list[AllocationRow] = Field(description="One row per channel x segment x period.")
    channel_totals: list[ChannelTotal] = Field(description="One row per channel.")
    binding_constraints: list[BindingConstraintDoc] = Field(description="Constraints at their limit, with shadow prices.")
    marginal_roi: list[str] = Field(description="Marginal ROI per channel and of the budget, in words.")
    warnings: list[str] = Field(description="Conditions to read the plan with.")
    explanation: list[str] = Field(description="For infeasible/unbounded/error: the conflict in money and how to fix it.")
    solver: SolverRef = Field(description="Backend, version and method (greedy, lp, milp, decomposition, "
                                          "lp after decomposition, risk).")
    time_seconds: float | None = Field(description="Wall-clock seconds of the allocation.")
    gap_target: float | None = Field(description="Target of the certified gap (gap_tolerance_relative): the plan is "
                                                 "optimal iff optimality_gap <= gap_target.")
    mip_gap: float | None = Field(description="The solver's relative gap on the piecewise-linear model (0 for an LP; "
                                              "for CBC / SCIP the gap of the independent HiGHS check).")
    setup_cost: float | None = Field(description="Fixed set-up costs paid, currency (0 without integer rules).")
    n_variables: int = Field(ge=0, description="Variables of the last model solved.")
    n_integer: int = Field(ge=0, description="Integer variables among them.")
    n_rows: int = Field(ge=0, description="Rows of the last model solved.")
    refinement_rounds: int = Field(ge=0, description="Breakpoint refinement rounds of the LP.")
    frontier: dict[str, Any] | None = Field(description="Budget frontier (levels, ranging sentences), when asked for.")
    risk: dict[str, Any] | None = Field(description="Return under curve uncertainty, when asked for.")
    details: dict[str, Any] = Field(description="Strategy counters (price iterations, Newton steps, number of draws).")
    curve_sources: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per channel whose curve comes from a curves file: channel, path (relative to the scenario), "
        "sha256 of the file, tool and tool_version that estimated it, curves_channel, period, periods_per_cell, "
        "historical_max_spend (currency per period; the most spent in the fitted data), signal_t (the fit's "
        "t-statistic of the channel's coefficient; below 2 the plan warns), bounded (bounds: historical applied).")


class SectionDoc(BaseModel):
    """Any other section: its own keys plus status and warnings (documented on the part's page)."""

    model_config = _OPEN
    status: Status = Field(description="The section's status.")
    warnings: list[str] = Field(default_factory=list, description="Conditions to read the section with.")


class PlanDocument(BaseModel):
    """plan.json."""

    model_config = _STRICT
    schema_version: Literal["2.0"] = Field(description="Version of this schema.")
    status: Status = Field(description="Worst status of the plan's sections.")
    scenario: ScenarioRef
    provenance: ProvenanceDoc
    warnings: list[str] = Field(description="Every section's warnings, prefixed with the section name.")
    budget: BudgetSectionDoc | None = None
    bandit: SectionDoc | None = None
    segments: SectionDoc | None = None  # customer segments (optimizer/segments)
    churn: SectionDoc | None = None
    experiments: SectionDoc | None = None
    current: SectionDoc | None = None  # current vs recommended (optimizer/planreport/current.py)


def validate_plan_document(doc: dict[str, Any]) -> PlanDocument:
    """Validate a plan.json document (raises pydantic.ValidationError on drift)."""
    return PlanDocument.model_validate(doc)
