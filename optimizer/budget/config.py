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
* ``max_share_of_budget`` (alias ``max_share``) is a fraction 0-1 of ``total_budget.amount`` (a
  share of the BUDGET, not of what the plan spends; the plan reports both ``share_of_spend`` and
  ``share_of_budget``).
* A segment is a share of every channel's audience: ``audience_share`` (fraction 0-1, shares sum
  to 1) or ``audience_size`` (customers; share = size / sum of sizes). Without either, segments
  are equal shares (``1 / number of segments``) and the plan says so in its adjustments.

Defaults: objective ``max_response``; budget mode ``at_most``; certified gap target 1e-4
(relative); solver HiGHS.

The decision is spend per channel x segment x period; segments and periods are optional (a plain
list of channels is one segment "all" and one period "all"). A cell's response is
``channel.response_multiplier * segment.response_multiplier * period.response_multiplier * r(x)``
where, for a segment of audience share ``s``, ``r(x) = s * f(x / s)`` (the channel curve ``f``
scaled to the segment: the perspective of ``f``, still concave) unless the segment gives its own
curve for that channel (``segments[k].responses[channel]``, used as written). Splitting an audience
into segments that behave alike therefore leaves the plan and the forecast unchanged
(docs/budget.md, "Segments").
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from optimizer.validation import NO_VALUE, FieldProblems, refuse_bool

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)

NonNegMoney = Annotated[float, Field(ge=0, allow_inf_nan=False)]

#: Relative tolerance on audience shares summing to 1.
SHARE_SUM_TOLERANCE = 1e-6


class _Model(BaseModel):
    model_config = _CFG

    # ``max_spend: yes`` must not become a cap of 1 (YAML booleans are ints to pydantic)
    _no_bool = model_validator(mode="before")(classmethod(refuse_bool))


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
            text = ("give exactly one of roi (response per currency spent) or value_per_unit "
                    "(response per unit bought)")
            if self.roi is None:
                raise FieldProblems([(("kind",), "linear", text)])
            raise FieldProblems([(("value_per_unit",), self.value_per_unit, text + "; drop one of them")])
        return self


class HillResponse(_Model):
    """Hill saturation ``max_response * s^shape / (s^shape + half_saturation_spend^shape)``."""

    kind: Literal["hill"] = Field(description="Hill saturation curve (concave when shape <= 1).")
    max_response: float = Field(gt=0, description="Response approached as spend grows, in response_unit.")
    half_saturation_spend: float = Field(gt=0, description="Spend (currency) that yields half of max_response.")
    shape: float = Field(
        1.0, gt=0, description="Hill exponent, 0 < shape <= 1 (concave); for shape > 1 (an S-curve) use kind: s_hill."
    )

    @field_validator("shape")
    @classmethod
    def _concave_shape(cls, v: float) -> float:
        if v > 1:
            raise ValueError(
                "kind: hill needs 0 < shape <= 1 (a concave curve); a Hill curve with shape > 1 is S-shaped: "
                "write kind: s_hill (same max_response, half_saturation_spend and shape; docs/budget-advanced.md)"
            )
        return v


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
        try:
            self._check_points()
        except ValueError as exc:  # point at the offending point, not at the whole table
            raise FieldProblems([(("points", getattr(exc, "index", 0)), list(self.points[getattr(exc, "index", 0)]),
                                  str(exc))]) from None
        return self

    def _check_points(self) -> None:
        def bad(i: int, text: str) -> ValueError:
            err = ValueError(text)
            err.index = min(max(i, 0), len(self.points) - 1)  # type: ignore[attr-defined]
            return err

        offset = 0 if self.points[0][0] == 0 else 1  # index in spend/resp lists -> index in points
        spend = [0.0] + [p[0] for p in self.points]
        resp = [0.0] + [p[1] for p in self.points]
        if self.points[0][0] == 0 and self.points[0][1] != 0:
            raise bad(0, "response at spend 0 must be 0")
        if self.points[0][0] == 0:
            spend, resp = spend[1:], resp[1:]
        slopes = []
        for i in range(1, len(spend)):
            if spend[i] <= spend[i - 1]:
                raise bad(i - offset,
                          f"spend values must increase strictly; {spend[i]:g} follows {spend[i - 1]:g}")
            slopes.append((resp[i] - resp[i - 1]) / (spend[i] - spend[i - 1]))
        for i in range(1, len(slopes)):
            if slopes[i] > slopes[i - 1] * (1 + 1e-9) + 1e-12:
                raise bad(i + 1 - offset,
                    f"the curve must be concave (slopes not increasing), but the slope rises from "
                    f"{slopes[i - 1]:.6g} to {slopes[i]:.6g} at spend {spend[i]:g}; for an S-shaped "
                    "response use kind: s_hill (docs/budget-advanced.md)"
                )
            if slopes[i] < 0:
                raise bad(i + 1 - offset, f"response must not fall as spend grows (slope {slopes[i]:.6g})")
        if slopes and slopes[0] < 0:
            raise bad(1 - offset, "response must not fall as spend grows")


from optimizer.curves.reference import ACCEPTS_CURVE_REF  # noqa: E402  (response: {from: curves.yaml, channel: c})

Response = Annotated[
    Union[LinearResponse, HillResponse, LogResponse, PowerResponse, TableResponse],
    Field(discriminator="kind"),
    ACCEPTS_CURVE_REF,
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
        None, gt=0, le=1, validation_alias=AliasChoices("max_share_of_budget", "max_share"),
        description="max_share_of_budget (alias max_share): most spend on the channel as a fraction (0-1) of "
        "total_budget.amount, a share of the BUDGET (not of what the plan spends).",
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
        # A frozen_spend that breaks another limit is NOT refused here: it is an infeasible plan,
        # explained in money by optimizer.budget.diagnose (exit 3), like any other conflict.
        problems = []
        pairs = [("min_spend", "max_spend"), ("min_units", "max_units")]
        for lo, hi in pairs:
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                problems.append(((lo,), a, f"it is greater than {hi} {b:g}; lower {lo} or raise {hi}"))
        needs_cost = [k for k in ("min_units", "max_units") if getattr(self, k) is not None]
        if isinstance(self.response, LinearResponse) and self.response.value_per_unit is not None:
            needs_cost.append("response.value_per_unit")
        if needs_cost and self.cost_per_unit is None:
            first = needs_cost[0]
            value = self.response.value_per_unit if first.startswith("response") else getattr(self, first)  # type: ignore[union-attr]
            problems.append((tuple(first.split(".")), value,
                             f"{', '.join(needs_cost)} needs cost_per_unit (currency per unit); add cost_per_unit"))
        if problems:
            raise FieldProblems(problems)
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

    def spend_limits(self, budget_amount: float | None) -> list[tuple[str, str, float]]:
        """Every limit of the channel on its total spend: ``(side, description, currency)``.

        ``side`` is "min" or "max"; the description names the field and its arithmetic
        ("max_units 1,000 x 50"), for sentences that explain a conflict. ``frozen_spend`` is
        both a minimum and a maximum.
        """
        out: list[tuple[str, str, float]] = []
        if self.min_spend is not None:
            out.append(("min", f"min_spend {self.min_spend:,.10g}", self.min_spend))
        if self.max_spend is not None:
            out.append(("max", f"max_spend {self.max_spend:,.10g}", self.max_spend))
        if self.cost_per_unit is not None:
            if self.min_units is not None:
                out.append(("min", f"min_units {self.min_units:,.10g} x cost_per_unit {self.cost_per_unit:,.10g}",
                            self.min_units * self.cost_per_unit))
            if self.max_units is not None:
                out.append(("max", f"max_units {self.max_units:,.10g} x cost_per_unit {self.cost_per_unit:,.10g}",
                            self.max_units * self.cost_per_unit))
        if self.max_share is not None and budget_amount is not None:
            out.append(("max", f"max_share_of_budget {self.max_share:g} x total budget {budget_amount:,.10g}",
                        self.max_share * budget_amount))
        if self.frozen_spend is not None:
            out.append(("min", f"frozen_spend {self.frozen_spend:,.10g}", self.frozen_spend))
            out.append(("max", f"frozen_spend {self.frozen_spend:,.10g}", self.frozen_spend))
        return out

    def spend_bounds(self, budget_amount: float | None) -> tuple[float, float]:
        """(lowest, highest) total spend allowed by this channel's own limits, in currency.

        ``frozen_spend`` is one more limit on both sides, never an override: when it breaks
        another limit, lowest > highest and the plan is infeasible (explained in money).
        """
        lo, hi = 0.0, math.inf
        for side, _, v in self.spend_limits(budget_amount):
            if side == "min":
                lo = max(lo, v)
            else:
                hi = min(hi, v)
        return lo, hi


class Segment(_Model):
    """An audience segment: a share of every channel's audience.

    A channel curve ``f`` describes the channel's whole audience; in a segment of share ``s`` the
    same spend per head earns the same response per head, so the segment's curve is
    ``s * f(x / s)`` (docs/budget.md, "Segments"). Give the share directly (``audience_share``) or
    as a count of customers (``audience_size``); use one style in the whole budget.
    """

    name: str = Field(min_length=1, description="Unique segment name.")
    audience_share: float | None = Field(
        None, gt=0, le=1, description="Fraction 0-1 of every channel's audience in this segment; the shares of all "
        "segments sum to 1. Alternative to audience_size (use one style for all segments)."
    )
    audience_size: float | None = Field(
        None, gt=0, description="Customers in this segment (a count); the segment's share is its size / the sum of "
        "all segments' sizes. Alternative to audience_share (use one style for all segments)."
    )
    responses: dict[str, Response] | None = Field(
        None, description="Curves measured on this segment itself, by channel name ({channel: curve}); such a "
        "curve replaces the scaled channel curve s * f(x / s) in this segment and is used as written (spend in "
        "the segment's cell -> response of the segment). Multipliers still apply."
    )
    min_spend: float | None = Field(None, ge=0, description="Least spend (currency) on this segment, all channels.")
    max_spend: float | None = Field(None, ge=0, description="Most spend (currency) on this segment, all channels.")
    response_multiplier: float = Field(
        1.0, gt=0, description="Scales every channel's response in this segment (1 = as the curve says)."
    )

    @model_validator(mode="after")
    def _limits(self) -> "Segment":
        if self.min_spend is not None and self.max_spend is not None and self.min_spend > self.max_spend:
            raise FieldProblems([(("min_spend",), self.min_spend,
                                  f"it is greater than max_spend {self.max_spend:g}; lower min_spend or raise max_spend")])
        if self.audience_share is not None and self.audience_size is not None:
            raise FieldProblems([(("audience_size",), self.audience_size,
                                  "give audience_share or audience_size, not both")])
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
            raise FieldProblems([(("min_spend",), self.min_spend,
                                  f"it is greater than max_spend {self.max_spend:g}; lower min_spend or raise max_spend")])
        return self


def _did_you_mean(name: str, known: list[str], what: str) -> str:
    import difflib

    hint = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {hint[0]!r}?" if hint else f"; known {what}: {', '.join(known)}"


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
    segments: list[Segment] | None = Field(
        None, description="Audience segments (optional): each a share of every channel's audience, sized by "
        "audience_share or audience_size (equal shares when neither is given)."
    )
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
        # each problem points at its own entry (file:line of that entry), see FieldProblems
        problems: list[tuple[tuple, object, str]] = []
        for key, items in (("channels", self.channels), ("segments", self.segments), ("periods", self.periods)):
            if items:
                first: dict[str, int] = {}
                for i, x in enumerate(items):
                    if x.name in first:
                        problems.append(((key, i, "name"), x.name, f"{key}[{first[x.name]}] has the same name; "
                                         "names must be unique"))
                    first.setdefault(x.name, i)
        seg_names = [s.name for s in self.segments] if self.segments else None
        per_names = [p.name for p in self.periods] if self.periods else None
        ch_names = [c.name for c in self.channels]
        for i, ch in enumerate(self.channels):
            for key, known in (("segments", seg_names), ("periods", per_names)):
                refs = getattr(ch, key)
                if refs is None:
                    continue
                if known is None:
                    problems.append((("channels", i, key), refs, f"the budget defines no {key}; add budget.{key} "
                                     f"or drop channels[{i}].{key}"))
                    continue
                for j, r in enumerate(refs):
                    if r not in known:
                        problems.append((("channels", i, key, j), r, f"an unknown name{_did_you_mean(r, known, key)}"))
            if ch.max_share is not None and self.total_budget is None:
                problems.append((("channels", i, "max_share"), ch.max_share,
                                 "max_share_of_budget is a share of total_budget; it needs total_budget"))
        if self.segments:
            problems.extend(self._segment_problems(ch_names))
        if isinstance(self.objective, MaxProfit) and self.response_unit != "currency":
            problems.append((("response_unit",), "conversions", "objective.kind is 'max_profit' but "
                             "response_unit is 'conversions'; profit needs response in currency (use "
                             "response_unit: currency, or objective max_response)"))
        if not isinstance(self.objective, MinSpend) and self.total_budget is None:
            capped = all(math.isfinite(c.spend_bounds(None)[1]) for c in self.channels)
            if not capped and not isinstance(self.objective, MaxProfit):
                problems.append((("total_budget",), NO_VALUE,
                                 f"total_budget is missing; objective {self.objective.kind} needs a budget "
                                 "(or a max_spend on every channel)"))
        if problems:
            raise FieldProblems(problems)
        return self

    def _segment_problems(self, ch_names: list[str]) -> list[tuple[tuple, object, str]]:
        """Audience sizes (one style, shares summing to 1) and per-segment curves (known channels)."""
        out: list[tuple[tuple, object, str]] = []
        segs = self.segments or []
        has_share = [s.audience_share is not None for s in segs]
        has_size = [s.audience_size is not None for s in segs]
        if any(has_share) and any(has_size):
            k = has_size.index(True)
            out.append((("segments", k, "audience_size"), segs[k].audience_size,
                        "segments mix audience_share and audience_size; use one style for all segments"))
        elif any(has_share) or any(has_size):
            key, given = ("audience_share", has_share) if any(has_share) else ("audience_size", has_size)
            if not all(given):
                k = given.index(False)
                out.append((("segments", k), segs[k].name, f"segment {segs[k].name!r} has no {key} while "
                            f"other segments have one; give every segment its {key} (or none of them)"))
            elif key == "audience_share":
                total = sum(s.audience_share for s in segs)  # type: ignore[misc]
                if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
                    out.append((("segments",), NO_VALUE, f"the audience_share values sum to {total:.6g}; they must sum "
                                "to 1 (each is a fraction of the audience). Fix them, or give audience_size "
                                "(customer counts) and the shares follow"))
        for k, seg in enumerate(segs):
            for name, curve in (seg.responses or {}).items():
                where = ("segments", k, "responses", name)
                if name not in ch_names:
                    out.append((where, name, f"an unknown channel{_did_you_mean(name, ch_names, 'channels')}"))
                    continue
                ch = self.channels[ch_names.index(name)]
                if ch.segments is not None and seg.name not in ch.segments:
                    out.append((where, name, f"channel {name!r} does not run in segment {seg.name!r} (its "
                                f"segments: {', '.join(ch.segments)}); drop this curve or add the segment"))
                if isinstance(curve, LinearResponse) and curve.value_per_unit is not None and ch.cost_per_unit is None:
                    out.append((where + ("value_per_unit",), curve.value_per_unit,
                                f"value_per_unit needs channel {name!r} to have cost_per_unit; add cost_per_unit"))
        return out

    @property
    def segment_shares(self) -> tuple[float, ...]:
        """Audience share of each segment (sums to 1); ``(1.0,)`` when the budget has no segments.

        From ``audience_share``, or ``audience_size / sum``; equal shares when no segment gives a
        size (:attr:`segment_share_note` says so in the plan).
        """
        segs = self.segments
        if not segs:
            return (1.0,)
        if all(s.audience_share is not None for s in segs):
            total = sum(s.audience_share for s in segs)  # type: ignore[misc]
            return tuple(s.audience_share / total for s in segs)  # type: ignore[operator]
        if all(s.audience_size is not None for s in segs):
            total = sum(s.audience_size for s in segs)  # type: ignore[misc]
            return tuple(s.audience_size / total for s in segs)  # type: ignore[operator]
        return tuple(1.0 / len(segs) for _ in segs)

    @property
    def segment_share_note(self) -> str | None:
        """The sentence for the plan when segments give no size (equal shares assumed), else None."""
        segs = self.segments
        if not segs or len(segs) == 1 or any(s.audience_share is not None or s.audience_size is not None for s in segs):
            return None
        return (f"segments give no audience_share or audience_size: each of the {len(segs)} segments is taken as "
                f"1/{len(segs)} of every channel's audience (its curve is s * f(spend / s) with s = {1 / len(segs):.4g}); "
                "give audience_share or audience_size to set them (docs/budget.md, Segments)")

    @property
    def segment_names(self) -> list[str]:
        """Segment names, or ``["all"]`` when the budget has no segments."""
        return [s.name for s in self.segments] if self.segments else ["all"]

    @property
    def period_names(self) -> list[str]:
        """Period names, or ``["all"]`` when the budget has no periods."""
        return [p.name for p in self.periods] if self.periods else ["all"]
