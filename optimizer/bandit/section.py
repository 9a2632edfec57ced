"""The ``bandit`` section of ``dmpopt plan``: next period's messaging mix from observed results.

Input: per channel, messages sent and conversions observed so far (inline or a CSV), optional
cost per message, guardrails. Each channel's conversion rate gets a Beta posterior
(``prior_alpha + conversions``, ``prior_beta + sent - conversions``). The recommended share of
next period's messages is the probability that each channel is best (Thompson sampling's
allocation, by quadrature), after guardrails; with ``objective: conversions_per_cost`` it is the
probability of the best conversions per unit cost (budgeted Thompson sampling).

Uncertainty reported: a credible interval per channel's rate and per channel's expected
conversions next period, an interval for the total, and the *expected loss* per message (how many
conversions per message the mix is expected to lose against the truly best channel; Scott 2015's
"value remaining"), from ``n_draws`` posterior draws with the run's seed.

Units: rates are conversions per message (0-1), shares 0-1, money in the scenario currency per
message, volumes in messages for the next period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.bandit.config import ArmName, GuardrailConfig
from optimizer.plan import warnings_markdown
from optimizer.sections import RunContext, SectionSpec

_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ChannelResult(BaseModel):
    """Observed results of one channel so far."""

    model_config = _FROZEN

    name: ArmName
    sent: int = Field(ge=0, description="Messages sent so far.")
    conversions: int = Field(ge=0, description="Conversions observed from them.")
    cost_per_message: float = Field(0.0, ge=0, description="Cost per message, scenario currency.")

    @model_validator(mode="after")
    def _check(self) -> "ChannelResult":
        if self.conversions > self.sent:
            raise ValueError(f"conversions is {self.conversions}; it must be <= sent ({self.sent})")
        return self


class BanditSectionConfig(BaseModel):
    """``bandit:`` in a scenario."""

    model_config = _FROZEN

    period_volume: int = Field(gt=0, description="Messages to send next period.")
    channels: list[ChannelResult] | None = Field(None, description="Observed results per channel (or use `data`).")
    data: str | None = Field(None, description="CSV with columns name, sent, conversions[, cost_per_message]; "
                                               "relative to the scenario file.")
    objective: Literal["conversions", "conversions_per_cost"] = Field(
        "conversions", description="Maximize conversions, or conversions per unit cost (needs costs > 0).")
    prior_alpha: float = Field(1.0, gt=0, description="Beta prior successes for every channel.")
    prior_beta: float = Field(1.0, gt=0, description="Beta prior failures for every channel.")
    guardrails: GuardrailConfig = Field(default_factory=GuardrailConfig, description="Traffic guardrails (sticky ignored).")
    credible_level: float = Field(0.9, gt=0, lt=1, description="Level of the credible intervals, 0-1.")
    n_draws: int = Field(20_000, ge=1000, le=2_000_000, description="Posterior draws for intervals and expected loss.")

    @model_validator(mode="after")
    def _check(self) -> "BanditSectionConfig":
        if (self.channels is None) == (self.data is None):
            raise ValueError("give exactly one of `channels` (inline) or `data` (a CSV path)")
        if self.channels is not None:
            names = [c.name for c in self.channels]
            if len(names) < 2 or len(set(names)) != len(names):
                raise ValueError("channels must hold at least 2 channels with unique names")
        return self


@dataclass(frozen=True)
class BanditPlanResult:
    """The recommended messaging mix.

    Attributes
    ----------
    status : str
        "ok".
    warnings : tuple of str
    objective : str
    period_volume : int
        Messages next period.
    credible_level : float
        Level of every interval, 0-1.
    seed : int
        Seed of the posterior draws.
    channels : tuple of dict
        Per channel: name, sent, conversions, rate (posterior mean, conversions per message),
        rate_low/rate_high (credible interval), prob_best (0-1, before guardrails), share (0-1,
        after guardrails), messages (next period), expected_conversions and its low/high,
        cost (scenario currency, next period).
    total_conversions : float
        Expected conversions next period with the recommended mix.
    total_conversions_low, total_conversions_high : float
        Credible interval of that total.
    total_cost : float
        Cost of the mix next period, scenario currency.
    expected_loss_per_message : float
        E[max_k theta_k - sum_k share_k theta_k] (or the per-cost analogue): conversions per message
        lost against the truly best channel, given what is known.
    """

    status: str
    warnings: tuple[str, ...]
    objective: str
    period_volume: int
    credible_level: float
    seed: int
    channels: tuple[dict[str, Any], ...]
    total_conversions: float
    total_conversions_low: float
    total_conversions_high: float
    total_cost: float
    expected_loss_per_message: float

    def summary(self):
        """One row per channel (see ``channels``)."""
        import pandas as pd

        return pd.DataFrame(list(self.channels)).set_index("name")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, snake_case."""
        return {"status": self.status, "warnings": list(self.warnings), "objective": self.objective,
                "period_volume": self.period_volume, "credible_level": self.credible_level, "seed": self.seed,
                "channels": [dict(c) for c in self.channels], "total_conversions": self.total_conversions,
                "total_conversions_low": self.total_conversions_low,
                "total_conversions_high": self.total_conversions_high, "total_cost": self.total_cost,
                "expected_loss_per_message": self.expected_loss_per_message}

    def __str__(self) -> str:
        lvl = f"{self.credible_level:.0%}"
        lines = [f"Messaging mix for {self.period_volume:,} messages ({self.objective}):"]
        for c in self.channels:
            lines.append(f"  {c['name']:<12} share {c['share']:6.1%}  rate {c['rate']:.4f} "
                         f"[{c['rate_low']:.4f}, {c['rate_high']:.4f}]  P(best) {c['prob_best']:.3f}")
        lines.append(f"  expected conversions {self.total_conversions:,.1f} ({lvl} interval "
                     f"{self.total_conversions_low:,.1f}-{self.total_conversions_high:,.1f}); "
                     f"expected loss {self.expected_loss_per_message:.2e} conversions/message")
        return "\n".join(lines)


def _load_channels(config: BanditSectionConfig, ctx: RunContext) -> list[ChannelResult]:
    if config.channels is not None:
        return list(config.channels)
    import pandas as pd

    from optimizer.errors import DataError
    from optimizer.validation import parse_model

    path = Path(config.data)
    path = path if path.is_absolute() else Path(ctx.base_dir) / path
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{ctx.source}: bandit.data file {path} not found; paths are relative to the scenario file.") from None
    missing = [c for c in ("name", "sent", "conversions") if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; need name, sent, conversions[, cost_per_message].")
    rows = df.to_dict(orient="records")
    out = [parse_model(ChannelResult, {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))},
                       f"{path}:row {i + 2}") for i, r in enumerate(rows)]
    names = [c.name for c in out]
    if len(out) < 2 or len(set(names)) != len(names):
        raise DataError(f"{path}: needs at least 2 rows with unique channel names.")
    return out


def run_bandit(config: BanditSectionConfig, ctx: RunContext) -> BanditPlanResult:
    """Recommended shares for next period with their uncertainty (see the module docstring)."""
    import numpy as np

    from optimizer.bandit.config import ArmConfig, BudgetedThompsonConfig, ThompsonConfig
    from optimizer.bandit.engine import allocation_shares
    from optimizer.bandit.policies import make_policy
    from optimizer.errors import ScenarioError

    channels = _load_channels(config, ctx)
    names = [c.name for c in channels]
    for field in ("min_share", "max_share"):
        unknown = [a for a in getattr(config.guardrails, field) if a not in names]
        if unknown:
            raise ScenarioError(f"{ctx.source}: bandit.guardrails.{field} names unknown channel(s) "
                                f"{', '.join(unknown)}; channels are {', '.join(names)}.")
    warnings: list[str] = []
    arms = [ArmConfig(name=c.name, cost_per_action=c.cost_per_message) for c in channels]
    costs = np.array([c.cost_per_message for c in channels])
    if config.objective == "conversions_per_cost":
        if np.any(costs <= 0):
            raise ScenarioError(f"{ctx.source}: bandit.objective is conversions_per_cost but channel(s) "
                                f"{', '.join(n for n, c in zip(names, costs) if c <= 0)} have cost_per_message 0; "
                                "give every channel a cost > 0 or use objective: conversions.")
        pcfg = BudgetedThompsonConfig(kind="budgeted_thompson", budget=1e300, prior_alpha=config.prior_alpha,
                                      prior_beta=config.prior_beta)
    else:
        pcfg = ThompsonConfig(kind="thompson", prior_alpha=config.prior_alpha, prior_beta=config.prior_beta)
    policy = make_policy(pcfg, arms, seed=ctx.seed)
    policy.precise = True  # a plan is computed once: take the 1e-7 quadrature over the fast grid
    policy.stats.n = [float(c.sent) for c in channels]
    policy.stats.s = [float(c.conversions) for c in channels]
    prob_best = policy.probabilities()
    shares = np.array(list(allocation_shares(policy, config.guardrails).values()))
    a, b = policy.alpha_beta()
    draws = ctx.rng.beta(a[:, None], b[:, None], size=(len(a), config.n_draws))
    lo_q, hi_q = (1 - config.credible_level) / 2, (1 + config.credible_level) / 2
    rate_lo, rate_hi = np.quantile(draws, [lo_q, hi_q], axis=1)
    messages = shares * config.period_volume
    total = (messages[:, None] * draws).sum(axis=0)
    if config.objective == "conversions_per_cost":
        value = draws / costs[:, None]
        loss = float(np.mean(value.max(axis=0) - (shares[:, None] * value).sum(axis=0)))
    else:
        loss = float(np.mean(draws.max(axis=0) - (shares[:, None] * draws).sum(axis=0)))
    if min(c.sent for c in channels) < 100:
        warnings.append("some channels have fewer than 100 messages: their shares rest mostly on the prior")
    mean = a / (a + b)
    rows = tuple(
        {"name": n, "sent": c.sent, "conversions": c.conversions, "rate": float(mean[k]),
         "rate_low": float(rate_lo[k]), "rate_high": float(rate_hi[k]), "prob_best": float(prob_best[k]),
         "share": float(shares[k]), "messages": float(messages[k]),
         "expected_conversions": float(messages[k] * mean[k]),
         "expected_conversions_low": float(messages[k] * rate_lo[k]),
         "expected_conversions_high": float(messages[k] * rate_hi[k]),
         "cost": float(messages[k] * costs[k])}
        for k, (n, c) in enumerate(zip(names, channels))
    )
    t_lo, t_hi = np.quantile(total, [lo_q, hi_q])
    return BanditPlanResult(
        status="ok", warnings=tuple(warnings), objective=config.objective, period_volume=config.period_volume,
        credible_level=config.credible_level, seed=ctx.seed, channels=rows,
        total_conversions=float((messages * mean).sum()), total_conversions_low=float(t_lo),
        total_conversions_high=float(t_hi), total_cost=float((messages * costs).sum()),
        expected_loss_per_message=loss,
    )


def bandit_files(result: BanditPlanResult) -> dict[str, bytes]:
    """``bandit_mix.csv``: one row per channel."""
    return {"bandit_mix.csv": result.summary().reset_index().to_csv(index=False).encode("utf-8")}


def bandit_markdown(result: BanditPlanResult) -> str:
    """The bandit part of plan.md."""
    lvl = f"{result.credible_level:.0%}"
    out = [f"## Messaging mix ({result.status})", "",
           f"Next period: {result.period_volume:,} messages, objective **{result.objective}**. "
           f"Shares are the probability that each channel is best, after guardrails.", "",
           f"| channel | share | messages | rate ({lvl} interval) | P(best) | expected conversions ({lvl}) |",
           "|---|---:|---:|---|---:|---|"]
    for c in result.channels:
        out.append(f"| {c['name']} | {c['share']:.1%} | {c['messages']:,.0f} | {c['rate']:.4f} "
                   f"({c['rate_low']:.4f}-{c['rate_high']:.4f}) | {c['prob_best']:.3f} | "
                   f"{c['expected_conversions']:,.1f} ({c['expected_conversions_low']:,.1f}-"
                   f"{c['expected_conversions_high']:,.1f}) |")
    out += ["", f"Total expected conversions {result.total_conversions:,.1f} ({lvl} interval "
            f"{result.total_conversions_low:,.1f}-{result.total_conversions_high:,.1f}); cost "
            f"{result.total_cost:,.2f}; expected loss {result.expected_loss_per_message:.2e} conversions per message."]
    out += warnings_markdown(result.warnings)
    return "\n".join(out) + "\n"


SECTION = SectionSpec(
    name="bandit",
    config_model=BanditSectionConfig,
    run=run_bandit,
    files=bandit_files,
    markdown=bandit_markdown,
    description="Next period's messaging mix (probability each channel is best) from observed results per channel.",
)
