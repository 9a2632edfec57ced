"""The budget config with the advanced options, and a scenario loader for it.

:class:`AdvancedChannel` accepts ``response: {kind: s_hill, ...}`` on top of the core curve kinds and
:class:`AdvancedBudget` adds the ``advanced:`` key (:class:`AdvancedBudgetConfig`) with the
cross-checks that need both (unknown channel names, contradictory integer rules, targets that
need a response unit). Both subclass the core models, so every core check still runs and the
core allocator accepts them for the plain LP part.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from optimizer.curves.reference import ACCEPTS_CURVE_REF, resolve_budget_draws
from optimizer.budget.advanced.config import AdvancedBudgetConfig, CpaTarget, RoasTarget, SHillResponse
from optimizer.validation import NO_VALUE, FieldProblems
from optimizer.budget.config import (
    BudgetConfig,
    Channel,
    HillResponse,
    LinearResponse,
    LogResponse,
    MinSpend,
    PowerResponse,
    TableResponse,
)

AdvancedResponse = Annotated[
    Union[LinearResponse, HillResponse, LogResponse, PowerResponse, TableResponse, SHillResponse],
    Field(discriminator="kind"),
    ACCEPTS_CURVE_REF,  # response: {from: curves.yaml, channel: c} (optimizer/curves/reference.py)
]


class AdvancedChannel(Channel):
    """A channel whose response may also be an S-shaped Hill curve (``kind: s_hill``)."""

    response: AdvancedResponse = Field(description="Response curve of spend in one cell (segment x period).")


def _hint(name: str, known: list[str]) -> str:
    m = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {m[0]!r}?" if m else f"; known channels: {', '.join(known)}"


class AdvancedBudget(BudgetConfig):
    """The ``budget:`` key with ``advanced:`` options and S-curves."""

    channels: list[AdvancedChannel] = Field(min_length=1, description="Channels to allocate spend to.")
    advanced: AdvancedBudgetConfig = Field(
        default_factory=AdvancedBudgetConfig, description="MILP rules, S-curves, adstock, targets, frontier, risk."
    )

    @model_validator(mode="before")
    @classmethod
    def _curve_file_draws(cls, data: Any, info: ValidationInfo) -> Any:
        # response: {from: ..., draws: true} feeds advanced.uncertainty (optimizer/curves/reference.py)
        return resolve_budget_draws(data, info)

    @model_validator(mode="after")
    def _advanced_cross(self) -> "AdvancedBudget":
        adv = self.advanced
        names = [c.name for c in self.channels]
        by_name = {c.name: c for c in self.channels}
        amount = self.total_budget.amount if self.total_budget is not None else None
        # (loc, value, message): each problem is reported at its own entry's line (FieldProblems)
        problems: list[tuple[tuple, object, str]] = []
        for i, r in enumerate(adv.rules):
            where = ("advanced", "rules", i)
            if r.channel not in by_name:
                problems.append((where + ("channel",), r.channel, f"an unknown channel{_hint(r.channel, names)}"))
                continue
            ch = by_name[r.channel]
            if r.whole_units and ch.cost_per_unit is None:
                problems.append((where + ("whole_units",), True,
                                 f"channel {r.channel!r} has no cost_per_unit; add one (whole units cost cost_per_unit each)"))
            if r.s_curve is not None and isinstance(ch.response, SHillResponse):
                problems.append((where + ("s_curve",), NO_VALUE,
                                 f"channel {r.channel!r} already has an s_hill response; keep one of them"))
            cap = ch.spend_bounds(amount)[1]
            if r.min_spend_if_used is not None and r.min_spend_if_used > cap:
                problems.append((where + ("min_spend_if_used",), r.min_spend_if_used,
                                 f"advanced.rules[{i}].min_spend_if_used is {r.min_spend_if_used:g} but channel "
                                 f"{r.channel!r} can spend at most {cap:g} (its caps); the channel could never be "
                                 "used: lower min_spend_if_used or raise the caps"))
            if r.adstock is not None and self.periods is None:
                problems.append((where + ("adstock",), NO_VALUE,
                                 "adstock needs periods (carry-over runs from one period to the next); add budget.periods"))
        if adv.max_active_channels is not None:
            forced = [c.name for c in self.channels if (c.min_spend or 0) > 0 or (c.min_units or 0) > 0
                      or (c.frozen_spend or 0) > 0 or (c.min_response or 0) > 0]
            if len(forced) > adv.max_active_channels:
                problems.append((("advanced", "max_active_channels"), adv.max_active_channels,
                                 f"advanced.max_active_channels is {adv.max_active_channels} but {len(forced)} channels "
                                 f"must be used ({', '.join(forced)}: they have a minimum or frozen spend); raise "
                                 "max_active_channels or drop those minimums"))
        t = adv.target
        if isinstance(t, RoasTarget) and self.response_unit != "currency":
            problems.append((("advanced", "target", "kind"), "roas",
                             "response_unit is 'conversions'; use kind: cpa (advanced.target.kind is 'roas' but "
                             "response_unit is 'conversions')"))
        if isinstance(t, CpaTarget) and self.response_unit != "conversions":
            problems.append((("advanced", "target", "kind"), "cpa",
                             "response_unit is 'currency'; use kind: roas (advanced.target.kind is 'cpa' but "
                             "response_unit is 'currency')"))
        if adv.frontier is not None and (self.total_budget is None or isinstance(self.objective, MinSpend)):
            problems.append((("advanced", "frontier"), NO_VALUE,
                             "advanced.frontier needs total_budget and a max_response or max_profit objective"))
        if adv.uncertainty is not None:
            for j, cd in enumerate(adv.uncertainty.channels):
                if cd.channel not in by_name:
                    problems.append((("advanced", "uncertainty", "channels", j, "channel"), cd.channel,
                                     f"an unknown channel{_hint(cd.channel, names)}"))
            if adv.needs_integers or any(isinstance(c.response, SHillResponse) for c in self.channels):
                problems.append((("advanced", "uncertainty"), NO_VALUE,
                                 "advanced.uncertainty works on concave curves without integer rules (an LP); "
                                 "drop the integer rules / S-curves or the uncertainty block"))
            if any(r.adstock is not None for r in adv.rules):
                problems.append((("advanced", "uncertainty"), NO_VALUE,
                                 "advanced.uncertainty with adstock is not supported; drop one of them"))
        if self.segments and any(isinstance(c.response, SHillResponse) for c in self.channels):
            for k, seg in enumerate(self.segments):
                for name in seg.responses or {}:
                    if name in by_name and isinstance(by_name[name].response, SHillResponse):
                        problems.append((("segments", k, "responses", name), name,
                                         f"channel {name!r} has an s_hill curve; a segment curve for it is not "
                                         "supported (the S-curve is scaled to each segment's audience share)"))
        if problems:
            raise FieldProblems(problems)
        return self

    def s_curve_of(self, index: int) -> SHillResponse | None:
        """The S-curve of channel ``index`` (from its response or its rules), or None."""
        ch = self.channels[index]
        if isinstance(ch.response, SHillResponse):
            return ch.response
        r = self.advanced.rules_for(ch.name)
        return r.s_curve if r is not None else None


class AdvancedScenario(BaseModel):
    """A scenario file as the advanced allocator reads it (top level kept as the lead defines it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Scenario name.")
    description: str = Field("", description="What the scenario is about.")
    currency: str = Field("CNY", description="Currency code of every amount.")
    seed: int | None = Field(None, description="Seed of the run (unused by the deterministic allocator).")
    budget: AdvancedBudget = Field(description="The budget problem with its advanced options.")


def load_advanced_scenario(path: str | Path) -> AdvancedScenario:
    """Load and validate a scenario with ``budget.advanced`` (errors name the file, line and field)."""
    from optimizer.validation import load_model

    return load_model(AdvancedScenario, path)


def finite_or_none(v: Any) -> float | None:
    """``v`` as float when finite, else None (JSON-safe numbers)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
