"""Scenario options of the advanced budget allocator (the ``budget.advanced:`` key).

These models extend :class:`optimizer.budget.config.BudgetConfig` without changing it:
integer rules (minimum spend if used, set-up costs, at most N active channels, whole units),
S-shaped Hill curves (``kind: s_hill``, shape > 1), geometric adstock (carry-over), ROAS / CPA
targets, the budget frontier and uncertainty (parameter draws, expected value or CVaR).

Units: money in the scenario currency over the horizon unless the field says "per period";
``decay`` is the fraction (0-1) of a period's effective spend that carries to the next period;
``max_lag_periods`` counts periods; shares and levels (``cvar_level``) are fractions 0-1.
Defaults: MIP solver HiGHS, relative MIP gap 1e-4, curve tolerance 2e-5, 50 frontier levels.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from optimizer.budget.config import TableResponse

from optimizer.validation import FieldProblems, refuse_bool

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Model(BaseModel):
    model_config = _CFG

    # ``setup_cost: yes`` must not become 1 (YAML booleans are ints to pydantic)
    _no_bool = model_validator(mode="before")(classmethod(refuse_bool))


class SHillResponse(_Model):
    """S-shaped Hill curve ``max_response * s^shape / (s^shape + half_saturation_spend^shape)``, shape > 1.

    Convex below the inflection spend ``h * ((shape-1)/(shape+1))^(1/shape)``, concave above it:
    the usual MMM saturation. Solved exactly on chords with binary fill-order variables.
    """

    kind: Literal["s_hill"] = Field(description="S-shaped Hill curve (needs integer variables).")
    max_response: float = Field(gt=0, description="Response approached as spend grows, in response_unit.")
    half_saturation_spend: float = Field(gt=0, description="Spend (currency, per cell) that yields half of max_response.")
    shape: float = Field(gt=1, le=20, description="Hill exponent, 1 < shape <= 20 (S shape; <= 1 use kind: hill).")


class Adstock(_Model):
    """Geometric carry-over: effective spend ``e_t = sum_{l=0..L} decay^l x_{t-l}`` (history included)."""

    decay: float = Field(ge=0, lt=1, description="Fraction 0-1 of effective spend carried one period on (0 = none).")
    max_lag_periods: int = Field(ge=0, le=104, description="L: spend works for L periods after the one it is spent in.")
    history_spend: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=list,
        description="Spend per period (currency, per segment) BEFORE the plan starts, oldest first; "
        "the last value is the period just before the first planned one.",
    )


class ChannelRules(_Model):
    """Integer rules, S-curve and carry-over of one channel (named as in ``budget.channels``)."""

    channel: str = Field(min_length=1, description="Name of a channel in budget.channels.")
    min_spend_if_used: float | None = Field(
        None, gt=0, description="If the channel is used at all, its total spend is at least this (currency)."
    )
    min_cell_spend_if_used: float | None = Field(
        None, gt=0, description="If a cell (segment x period, a flight) is used, its spend is at least this (currency)."
    )
    setup_cost: float = Field(0.0, ge=0, description="Fixed cost (currency) paid once if the channel is used.")
    setup_cost_per_flight: float = Field(0.0, ge=0, description="Fixed cost (currency) per used cell (flight).")
    whole_units: bool = Field(
        False, description="Buy whole units only (TV spots, placements): spend per cell = cost_per_unit x integer."
    )
    s_curve: SHillResponse | None = Field(
        None, description="An S-shaped response curve replacing the channel's response (per cell)."
    )
    adstock: Adstock | None = Field(None, description="Carry-over of spend into later periods.")


class RoasTarget(_Model):
    """Total response / total spend >= ``min_roas`` (a linear row: response - min_roas x spend >= 0)."""

    kind: Literal["roas"] = Field(description="Return on ad spend target.")
    min_roas: float = Field(gt=0, description="Least response per currency spent (e.g. 4.0), set-up costs included.")


class CpaTarget(_Model):
    """Total spend / conversions <= ``max_cpa`` (row: max_cpa x conversions - spend >= 0)."""

    kind: Literal["cpa"] = Field(description="Cost per acquisition target (response_unit: conversions).")
    max_cpa: float = Field(gt=0, description="Most currency per conversion.")


Target = Annotated[Union[RoasTarget, CpaTarget], Field(discriminator="kind")]


class FrontierOptions(_Model):
    """Re-solve the plan at many total budgets: response, ROI and marginal ROI per level."""

    n_levels: int = Field(50, ge=2, le=2000, description="Number of budget levels (>= 50 recommended).")
    min_budget: float | None = Field(None, ge=0, description="Lowest budget (currency); default 2 % of the budget.")
    max_budget: float | None = Field(None, gt=0, description="Highest budget (currency); default 2x the budget.")

    @model_validator(mode="after")
    def _order(self) -> "FrontierOptions":
        if self.min_budget is not None and self.max_budget is not None and self.min_budget >= self.max_budget:
            raise FieldProblems([(("min_budget",), self.min_budget,
                                  f"min_budget must be below max_budget {self.max_budget:g}")])
        return self


class HillDraw(_Model):
    """One posterior draw of a channel's concave Hill curve (shape <= 1)."""

    kind: Literal["hill"] = Field("hill", description="Hill draw (the default when a draw has no kind).")
    max_response: float = Field(gt=0, description="Response approached as spend grows, in response_unit.")
    half_saturation_spend: float = Field(gt=0, description="Spend (currency) yielding half of max_response.")
    shape: float = Field(1.0, gt=0, le=1, description="Hill exponent 0 < shape <= 1 (concave: the risk LP needs it).")


class TableDraw(TableResponse):
    """One posterior draw of a channel's curve as measured points (e.g. a Meridian posterior draw).

    The budget's ``table`` curve: straight lines from (0, 0) through ``points``, flat after the last
    one, validated concave exactly as ``kind: table`` (the risk LP needs concave draws).
    """

    model_config = _CFG
    _no_bool = model_validator(mode="before")(classmethod(refuse_bool))

    @model_validator(mode="after")
    def _concave(self) -> "TableDraw":
        """TableResponse's check, without its s_hill advice (a draw cannot be an S-curve in the risk LP)."""
        try:
            self._check_points()
        except ValueError as exc:
            i = getattr(exc, "index", 0)
            text = str(exc).replace("; for an S-shaped response use kind: s_hill (docs/budget-advanced.md)",
                                    "; the risk plan needs concave draws")
            raise FieldProblems([(("points", i), list(self.points[i]), text)]) from None
        return self


def _draw_kind(value: object) -> str:
    """Discriminator of a draw: its ``kind``, and 'hill' when it has none (draws written before tables existed)."""
    kind = value.get("kind", "hill") if isinstance(value, dict) else getattr(value, "kind", "hill")
    return kind if isinstance(kind, str) else "hill"


#: A draw of a channel's curve: ``kind: hill`` (the default) or ``kind: table``.
CurveDraw = Annotated[
    Union[Annotated[HillDraw, Tag("hill")], Annotated[TableDraw, Tag("table")]],
    Discriminator(_draw_kind, custom_error_type="draw_kind",
                  custom_error_message="a draw's kind must be 'hill' (the default when left out) or 'table'"),
]


class ChannelDraws(_Model):
    """Parameter draws of one channel's curve (all channels with draws need the same count)."""

    channel: str = Field(min_length=1, description="Name of a channel in budget.channels.")
    draws: list[CurveDraw] = Field(
        min_length=2, description="Samples, e.g. from an MMM posterior: Hill draws ({max_response, "
        "half_saturation_spend, shape}, kind hill by default) or table draws ({kind: table, points: [[spend, "
        "response], ...]}), each concave."
    )


class Uncertainty(_Model):
    """Plan against curve uncertainty: maximise expected response or its CVaR (lower tail mean)."""

    objective: Literal["expected", "cvar"] = Field(
        "expected", description="'expected': mean response over draws; 'cvar': mean of the worst cvar_level share."
    )
    cvar_level: float = Field(
        0.1, gt=0, le=1, description="alpha, fraction 0-1 of worst draws averaged by CVaR (1 = expected)."
    )
    channels: list[ChannelDraws] = Field(min_length=1, description="Draws per channel; other channels keep their curve.")

    @model_validator(mode="after")
    def _same_count(self) -> "Uncertainty":
        counts = {c.channel: len(c.draws) for c in self.channels}
        if len(set(counts.values())) > 1:
            first = len(self.channels[0].draws)
            k = next(i for i, c in enumerate(self.channels) if len(c.draws) != first)
            raise FieldProblems([(("channels", k, "draws"), f"{len(self.channels[k].draws)} draws",
                                  f"every channel needs the same number of draws (channels[0] has {first}); got {counts}")])
        return self


class AdvancedBudgetConfig(_Model):
    """Options beyond the LP allocator (the ``budget.advanced:`` key)."""

    rules: list[ChannelRules] = Field(default_factory=list, description="Per-channel integer rules, S-curves, adstock.")
    max_active_channels: int | None = Field(None, ge=1, description="At most this many channels get any spend.")
    target: Target | None = Field(None, description="A ROAS or CPA target, as a linear constraint.")
    frontier: FrontierOptions | None = Field(None, description="Compute the budget frontier (table + plot).")
    uncertainty: Uncertainty | None = Field(None, description="Curve draws: expected response or CVaR.")
    mip_solver: Literal["highs", "cbc", "scip"] = Field("highs", description="MILP solver: highs (default), cbc or scip.")
    mip_gap_relative: float = Field(1e-4, gt=0, lt=1, description="Stop the MILP when its relative gap is below this.")
    curve_tolerance_relative: float = Field(
        2e-5, gt=0, lt=0.5,
        description="Largest chord error of a curve piece, as a fraction of the curve's response at its cap.",
    )
    time_limit_seconds: float = Field(120.0, gt=0, description="Wall-clock limit for each solver call.")
    adstock_method: Literal["auto", "decomposition", "lp"] = Field(
        "auto",
        description="How a continuous adstock plan (no integer rules, S-curves or targets) is solved: "
        "'decomposition' prices the shared spend rows and solves each channel's weeks by Newton's method on "
        "the exact curves (hill shape <= 1, log, power < 1), certified by the dual bound; 'lp' cuts the "
        "curves into chord pieces for HiGHS; 'auto' uses the decomposition where it applies and the LP "
        "otherwise or when the decomposition cannot certify its plan.",
    )

    @model_validator(mode="after")
    def _unique(self) -> "AdvancedBudgetConfig":
        names = [r.channel for r in self.rules]
        first: dict[str, int] = {}
        problems = []
        for i, n in enumerate(names):
            if n in first:
                problems.append((("rules", i, "channel"), n, f"rules[{first[n]}] names the same channel; give one "
                                 "rules entry per channel"))
            first.setdefault(n, i)
        if problems:
            raise FieldProblems(problems)
        return self

    def rules_for(self, channel: str) -> ChannelRules | None:
        """The rules entry of a channel, or None."""
        for r in self.rules:
            if r.channel == channel:
                return r
        return None

    @property
    def needs_integers(self) -> bool:
        """True when any rule needs integer variables (the problem is a MILP)."""
        return self.max_active_channels is not None or any(
            r.min_spend_if_used or r.min_cell_spend_if_used or r.setup_cost or r.setup_cost_per_flight
            or r.whole_units or r.s_curve is not None for r in self.rules
        )
