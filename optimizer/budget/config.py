"""The ``budget:`` key of a scenario: pydantic models of the budget allocation problem.

Units
-----
* Money (``amount``, ``*_spend``, ``cost_per_unit``) is in the scenario's currency, over the
  whole planning horizon unless the field says "per period".
* ``roi`` is response per currency unit spent (a ratio: 3.2 means 3.2 currency of revenue, or 3.2
  conversions when ``response_unit`` is ``conversions``, per 1 currency spent).
* ``value_per_unit`` is response per unit bought (impression, click...), a unit costs
  ``cost_per_unit``; so ``roi = value_per_unit / cost_per_unit``.
* Units (``min_units``, ``max_units``) are ``spend / cost_per_unit``.
* Shares (``max_share``) are fractions 0-1 of ``total_budget.amount``.

Defaults: objective ``max_response``; budget mode ``at_most``; certified gap target 1e-4
(relative); solver HiGHS.

The decision is spend per channel x segment x period; segments and periods are optional (a plain
list of channels is one segment "all" and one period "all"). A cell's response is
``segment.response_multiplier * period.response_multiplier * channel.response(spend_in_cell)``.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

NonNegMoney = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = _CFG


# --------------------------------------------------------------------------- objectives
class MaxResponse(_Model):
    """Maximise total response (revenue or conversions) within the constraints."""

    kind: Literal["max_response"] = Field(description="Maximise total response.")


class MaxProfit(_Model):
    """Maximise response minus spend (needs ``response_unit: currency``)."""

    kind: Literal["max_profit"] = Field(description="Maximise response - spend, both in the currency.")


class MinSpend(_Model):
    """Find the least spend that reaches a target response ("how much do I need")."""

    kind: Literal["min_spend"] = Field(description="Minimise total spend subject to a response target.")
    target_response: float = Field(
        gt=0, description="Response to reach, in response_unit over the horizon (e.g. 4000000 CNY)."
    )


Objective = Annotated[Union[MaxResponse, MaxProfit, MinSpend], Field(discriminator="kind")]


class TotalBudget(_Model):
    """The money available over the whole horizon."""

    amount: float = Field(gt=0, description="Total budget in the scenario currency over the horizon.")
    mode: Literal["at_most", "equal"] = Field(
        "at_most", description="'at_most': spend <= amount; 'equal': spend exactly the amount."
    )


# --------------------------------------------------------------------------- response curves
class LinearResponse(_Model):
    """Constant return: ``response = roi * spend``. Give ``roi`` or ``value_per_unit`` (not both)."""

    kind: Literal["linear"] = Field(description="Straight line through the origin.")
    roi: float | None = Field(
        None, ge=0, description="Response per currency unit SPENT (3.2 -> 3.2 per 1 currency)."
    )
    value_per_unit: float | None = Field(
        None, ge=0, description="Response per UNIT bought; needs the channel's cost_per_unit."
    )

    @model_validator(mode="after")
    def _one_of(self) -> "LinearResponse":
        if (self.roi is None) == (self.value_per_unit is None):
            raise ValueError(
                "give exactly one of roi (response per currency spent) or value_per_unit "
                "(response per unit bought)"
            )
        return self


class HillResponse(_Model):
    """Hill saturation ``max_response * s^shape / (s^shape + half_saturation_spend^shape)``."""

    kind: Literal["hill"] = Field(description="Hill saturation curve (concave when shape <= 1).")
    max_response: float = Field(gt=0, description="Response approached as spend grows, in response_unit.")
    half_saturation_spend: float = Field(gt=0, description="Spend (currency) that yields half of max_response.")
    shape: float = Field(
        1.0, gt=0, le=1, description="Hill exponent, 0 < shape <= 1 (above 1 the curve is an S: not an LP)."
    )


class LogResponse(_Model):
    """Logarithmic returns ``scale * ln(1 + spend / saturation_spend)``."""

    kind: Literal["log"] = Field(description="Logarithmic diminishing returns.")
    scale: float = Field(gt=0, description="Response scale in response_unit.")
    saturation_spend: float = Field(gt=0, description="Spend (currency) where returns start to flatten.")


class PowerResponse(_Model):
    """Power law ``coefficient * spend ** exponent`` with 0 < exponent < 1."""

    kind: Literal["power"] = Field(description="Power-law diminishing returns.")
    coefficient: float = Field(gt=0, description="Response at spend = 1 currency unit.")
    exponent: float = Field(gt=0, lt=1, description="Elasticity, 0 < exponent < 1.")


class TableResponse(_Model):
    """Measured (spend, response) points, joined by straight lines from (0, 0).

    Slopes must not increase (a concave curve). Spend beyond the last point earns nothing more.
    """

    kind: Literal["table"] = Field(description="Piecewise-linear curve through measured points.")
    points: list[tuple[NonNegMoney, NonNegMoney]] = Field(
        min_length=1, description="[[spend, response], ...] with spend increasing, in currency / response_unit."
    )

    @model_validator(mode="after")
    def _concave(self) -> "TableResponse":
        spend = [0.0] + [p[0] for p in self.points]
        resp = [0.0] + [p[1] for p in self.points]
        if self.points[0][0] == 0 and self.points[0][1] != 0:
            raise ValueError(f"points[0] is {list(self.points[0])}; response at spend 0 must be 0")
        if self.points[0][0] == 0:
            spend, resp = spend[1:], resp[1:]
        slopes = []
        for i in range(1, len(spend)):
            if spend[i] <= spend[i - 1]:
                raise ValueError(
                    f"spend values must increase strictly; {spend[i]:g} follows {spend[i - 1]:g}"
                )
            slopes.append((resp[i] - resp[i - 1]) / (spend[i] - spend[i - 1]))
        for i in range(1, len(slopes)):
            if slopes[i] > slopes[i - 1] * (1 + 1e-9) + 1e-12:
                raise ValueError(
                    f"the curve must be concave (slopes not increasing), but the slope rises from "
                    f"{slopes[i - 1]:.6g} to {slopes[i]:.6g} at spend {spend[i]:g}; an S-shaped "
                    "curve needs integer variables (not supported yet)"
                )
            if slopes[i] < 0:
                raise ValueError(f"response must not fall as spend grows (slope {slopes[i]:.6g})")
        if slopes and slopes[0] < 0:
            raise ValueError("response must not fall as spend grows")
        return self


Response = Annotated[
    Union[LinearResponse, HillResponse, LogResponse, PowerResponse, TableResponse],
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- entities
class Channel(_Model):
    """A channel: its response curve and its limits over the horizon (all segments and periods)."""

    name: str = Field(min_length=1, description="Unique channel name.")
    cost_per_unit: float | None = Field(
        None, gt=0, description="Currency per unit bought (impression, click...); needed for unit limits."
    )
    response: Response = Field(description="Response curve of spend in one cell (segment x period).")
    min_spend: float | None = Field(None, ge=0, description="Least total spend (currency) on the channel.")
    max_spend: float | None = Field(None, ge=0, description="Most total spend (currency) on the channel.")
    min_units: float | None = Field(None, ge=0, description="Least units bought (spend / cost_per_unit).")
    max_units: float | None = Field(None, ge=0, description="Most units bought (spend / cost_per_unit).")
    max_share: float | None = Field(
        None, gt=0, le=1, description="Most spend as a fraction (0-1) of total_budget.amount."
    )
    min_response: float | None = Field(
        None, ge=0, description="Least response (e.g. conversions) the channel must deliver, in response_unit."
    )
    frozen_spend: float | None = Field(
        None, ge=0, description="Fix the channel's total spend to this amount (currency)."
    )
    response_multiplier: float = Field(
        1.0, gt=0, description="Scales the channel's response in every cell (1.12 = 12 % better, e.g. a winning "
        "creative). An `experiments:` section that ships a change for this channel multiplies it further."
    )
    segments: list[str] | None = Field(None, description="Segments the channel can reach (default: all).")
    periods: list[str] | None = Field(None, description="Periods the channel runs in (default: all).")

    @model_validator(mode="after")
    def _limits(self) -> "Channel":
        pairs = [("min_spend", "max_spend"), ("min_units", "max_units")]
        for lo, hi in pairs:
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo} {a:g} is greater than {hi} {b:g}; lower {lo} or raise {hi}")
        needs_cost = [k for k in ("min_units", "max_units") if getattr(self, k) is not None]
        if isinstance(self.response, LinearResponse) and self.response.value_per_unit is not None:
            needs_cost.append("response.value_per_unit")
        if needs_cost and self.cost_per_unit is None:
            raise ValueError(
                f"{', '.join(needs_cost)} needs cost_per_unit (currency per unit); add cost_per_unit"
            )
        if self.frozen_spend is not None:
            f = self.frozen_spend
            for key in ("min_spend", "max_spend"):
                v = getattr(self, key)
                if v is not None and ((key == "min_spend" and f < v) or (key == "max_spend" and f > v)):
                    raise ValueError(f"frozen_spend {f:g} conflicts with {key} {v:g}; drop one of them")
        return self

    @property
    def roi_if_linear(self) -> float | None:
        """Response per currency unit for a linear curve, else None."""
        r = self.response
        if not isinstance(r, LinearResponse):
            return None
        if r.roi is not None:
            return r.roi
        return r.value_per_unit / self.cost_per_unit  # type: ignore[operator]

    def spend_bounds(self, budget_amount: float | None) -> tuple[float, float]:
        """(lowest, highest) total spend allowed by this channel's own limits, in currency."""
        lo, hi = 0.0, math.inf
        if self.min_spend is not None:
            lo = max(lo, self.min_spend)
        if self.max_spend is not None:
            hi = min(hi, self.max_spend)
        if self.cost_per_unit is not None:
            if self.min_units is not None:
                lo = max(lo, self.min_units * self.cost_per_unit)
            if self.max_units is not None:
                hi = min(hi, self.max_units * self.cost_per_unit)
        if self.max_share is not None and budget_amount is not None:
            hi = min(hi, self.max_share * budget_amount)
        if self.frozen_spend is not None:
            lo = hi = self.frozen_spend
        return lo, hi


class Segment(_Model):
    """An audience segment."""

    name: str = Field(min_length=1, description="Unique segment name.")
    min_spend: float | None = Field(None, ge=0, description="Least spend (currency) on this segment, all channels.")
    max_spend: float | None = Field(None, ge=0, description="Most spend (currency) on this segment, all channels.")
    response_multiplier: float = Field(
        1.0, gt=0, description="Scales every channel's response in this segment (1 = as the curve says)."
    )

    @model_validator(mode="after")
    def _limits(self) -> "Segment":
        if self.min_spend is not None and self.max_spend is not None and self.min_spend > self.max_spend:
            raise ValueError(f"min_spend {self.min_spend:g} is greater than max_spend {self.max_spend:g}")
        return self


class Period(_Model):
    """A period of the horizon (a week, a month); its ``max_spend`` is its budget (flighting)."""

    name: str = Field(min_length=1, description="Unique period name, e.g. '2026-W01'.")
    min_spend: float | None = Field(None, ge=0, description="Least spend (currency) in this period.")
    max_spend: float | None = Field(None, ge=0, description="Budget of this period (currency), all channels.")
    response_multiplier: float = Field(
        1.0, gt=0, description="Seasonality: scales every channel's response in this period."
    )

    @model_validator(mode="after")
    def _limits(self) -> "Period":
        if self.min_spend is not None and self.max_spend is not None and self.min_spend > self.max_spend:
            raise ValueError(f"min_spend {self.min_spend:g} is greater than max_spend {self.max_spend:g}")
        return self


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    dup = []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    return dup


class BudgetConfig(_Model):
    """The budget allocation problem (the ``budget:`` key of a scenario)."""

    objective: Objective = Field(
        default_factory=lambda: MaxResponse(kind="max_response"),
        description="max_response (default), max_profit, or min_spend with a target_response.",
    )
    total_budget: TotalBudget | None = Field(
        None, description="Money over the horizon; required except for min_spend."
    )
    response_unit: Literal["currency", "conversions"] = Field(
        "currency", description="What response counts: money in the scenario currency, or conversions."
    )
    channels: list[Channel] = Field(min_length=1, description="Channels to allocate spend to.")
    segments: list[Segment] | None = Field(None, description="Audience segments (optional).")
    periods: list[Period] | None = Field(None, description="Periods of the horizon (optional).")
    gap_tolerance_relative: float = Field(
        1e-4, gt=0, lt=1, description="Target for the certified relative optimality gap of the plan."
    )
    pieces_per_curve: int = Field(
        10, ge=1, le=1000, description="Initial linear pieces per concave curve (refined until the gap target)."
    )
    method: Literal["auto", "lp", "greedy"] = Field(
        "auto",
        description="'greedy' (sorted slopes; exact when only the total budget binds), 'lp', or 'auto'.",
    )
    time_limit_seconds: float = Field(120.0, gt=0, description="Wall-clock limit for each solver call.")
    churn_retention: Literal["reserve", "ignore"] = Field(
        "reserve",
        description="When the scenario has a `churn:` section: 'reserve' takes the retention contacts' cost out of "
        "total_budget before the channels are planned; 'ignore' plans without it.",
    )

    @model_validator(mode="after")
    def _cross(self) -> "BudgetConfig":
        problems = []
        for key, items in (("channels", self.channels), ("segments", self.segments), ("periods", self.periods)):
            if items:
                for d in _duplicates([x.name for x in items]):
                    problems.append(f"{key} has the name {d!r} twice; names must be unique")
        seg_names = [s.name for s in self.segments] if self.segments else None
        per_names = [p.name for p in self.periods] if self.periods else None
        for i, ch in enumerate(self.channels):
            for key, known in (("segments", seg_names), ("periods", per_names)):
                refs = getattr(ch, key)
                if refs is None:
                    continue
                if known is None:
                    problems.append(f"channels[{i}].{key} is {refs}; the budget defines no {key}")
                    continue
                for j, r in enumerate(refs):
                    if r not in known:
                        import difflib

                        hint = difflib.get_close_matches(r, known, n=1)
                        tip = f"; did you mean {hint[0]!r}?" if hint else f"; known {key}: {', '.join(known)}"
                        problems.append(f"channels[{i}].{key}[{j}] is {r!r}, an unknown name{tip}")
            if ch.max_share is not None and self.total_budget is None:
                problems.append(f"channels[{i}].max_share is {ch.max_share:g}; it needs total_budget")
        if isinstance(self.objective, MaxProfit) and self.response_unit != "currency":
            problems.append(
                "objective.kind is 'max_profit' but response_unit is 'conversions'; profit needs "
                "response in currency"
            )
        if not isinstance(self.objective, MinSpend) and self.total_budget is None:
            capped = all(math.isfinite(c.spend_bounds(None)[1]) for c in self.channels)
            if not capped and not isinstance(self.objective, MaxProfit):
                problems.append(
                    f"total_budget is missing; objective {self.objective.kind} needs a budget "
                    "(or a max_spend on every channel)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def segment_names(self) -> list[str]:
        """Segment names, or ``["all"]`` when the budget has no segments."""
        return [s.name for s in self.segments] if self.segments else ["all"]

    @property
    def period_names(self) -> list[str]:
        """Period names, or ``["all"]`` when the budget has no periods."""
        return [p.name for p in self.periods] if self.periods else ["all"]
