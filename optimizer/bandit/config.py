"""Bandit configuration: campaigns, arms, policies and guardrails (pydantic, frozen, extra="forbid").

This module is the seam between the policy library (``policies/``, ``engine.py``) and the bandit
service (stores, HTTP service, client). Both sides build on these models; keep them stable.

Units
-----
- Money (``cost_per_action``, ``budget``) is in the campaign's currency: ``cost_per_action`` per
  decision served, ``budget`` for the campaign's whole life (not per period).
- Shares (``min_share``, ``max_share``, ``exploration_floor``) are fractions of traffic in 0-1.
- Rewards are in the campaign's reward unit: 0/1 for ``reward_kind: binary`` (conversions),
  currency or any bounded number for ``continuous`` (revenue), inside ``reward_bounds``.

Defaults
--------
Policy ``thompson`` (Beta(1, 1) prior, Bernoulli rewards), no guardrails, a 24 h reward window,
default reward 0 (a decision with no reward inside the window counts as a non-conversion).
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
ArmName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$",
          description="Arm (channel/message) name: letters, digits, '_', '.', ':', '-'."),
]

#: The one rule for campaign names, shared by every store (memory, SQLite, Redis) and the HTTP
#: path parameter: 1-100 characters from letters, digits, '_', '.', ':', '-', starting with a
#: letter or a digit. The first character rule refuses '.' and '..', which HTTP clients rewrite
#: as path steps (such a campaign could be created but never reached). Stores never build keys or
#: paths from the raw name: the Redis store hex-encodes it (see store_redis.py).
CAMPAIGN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$"
CAMPAIGN_NAME_RULE = ("1-100 characters from letters, digits, '_', '.', ':', '-', starting with a letter or a digit")
CampaignName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=CAMPAIGN_NAME_PATTERN,
          description=f"Campaign name: {CAMPAIGN_NAME_RULE}."),
]


# --------------------------------------------------------------------------------------- arms
class ArmConfig(BaseModel):
    """One arm: a channel, message or creative the bandit chooses between."""

    model_config = _FROZEN

    name: ArmName
    cost_per_action: float = Field(
        0.0, ge=0, le=1e15, description="Cost of serving this arm once, in the campaign currency (0 to 1e15)."
    )
    description: str = Field("", max_length=500, description="Free text for humans; not used by the policy.")


# -------------------------------------------------------------------------- non-stationarity
class DiscountDrift(BaseModel):
    """Discounting: before each update every arm's statistics are multiplied by ``factor``.

    The effective memory is about ``1 / (1 - factor)`` observations (0.999 -> ~1,000).
    """

    model_config = _FROZEN

    kind: Literal["discount"] = Field(description="Discriminator: exponential forgetting.")
    factor: float = Field(gt=0, lt=1, description="Discount per update, in (0, 1); e.g. 0.999.")


class WindowDrift(BaseModel):
    """Sliding window: only the last ``size`` observations (over all arms) are remembered."""

    model_config = _FROZEN

    kind: Literal["window"] = Field(description="Discriminator: sliding window of recent observations.")
    size: int = Field(ge=10, le=1_000_000, description="Number of most recent observations kept (all arms).")


Drift = Annotated[Union[DiscountDrift, WindowDrift], Field(discriminator="kind")]


class ChangeDetectionDrift(BaseModel):
    """Change-point detection (Bernoulli Thompson only): restart an arm's posterior when its rewards change.

    A Bernoulli GLR test (Besson, Kaufmann, Maillard & Seznec 2022, JMLR) watches each arm's
    rewards since its last restart; when it fires, the arm (``restart: local``) or every arm
    (``global``) goes back to the prior. A small share ``forced_exploration`` of decisions serves
    a uniform arm so that an arm which improved while unserved is noticed. ``delta`` and
    ``forced_exploration`` default to the paper's tuning from ``horizon_decisions`` and
    ``max_changes`` (see docs/bandit-policies.md).
    """

    model_config = _FROZEN

    kind: Literal["change_detection"] = Field(description="Discriminator: GLR change-point detection with restarts.")
    horizon_decisions: int = Field(
        ge=100, le=10**10,
        description="Expected number of decisions over the campaign (T); sets the defaults of delta and forced_exploration.",
    )
    max_changes: int = Field(
        1, ge=1, le=10**6, description="Expected number of change points over the horizon; 1 if unknown (the paper's advice)."
    )
    restart: Literal["global", "local"] = Field(
        "global", description="global: every arm restarts when any arm's change is detected; local: only that arm."
    )
    delta: float | None = Field(
        None, gt=0, lt=1,
        description="False-alarm level of the GLR test, in (0, 1); None = 1/sqrt(max_changes * horizon_decisions) "
                    "(global) or 1/sqrt(n_arms * max_changes * horizon_decisions) (local).",
    )
    forced_exploration: float | None = Field(
        None, ge=0, lt=1,
        description="Share of decisions serving a uniform eligible arm, 0-1; None = 0.1 * sqrt(max_changes * "
                    "ln(horizon_decisions) / horizon_decisions) (times n_arms inside the root for local restarts).",
    )
    check_every: int = Field(
        10, ge=1, le=10_000, description="Run the test every this many observations of an arm (the paper's Delta n)."
    )
    split_every: int = Field(
        10, ge=1, le=10_000, description="Try change positions on multiples of this many observations (the paper's Delta s)."
    )
    max_splits: int = Field(
        1000, ge=10, le=1_000_000,
        description="Most change positions tried per test; beyond, the spacing doubles (bounds the cost on long histories).",
    )

    @model_validator(mode="after")
    def _check(self) -> "ChangeDetectionDrift":
        if self.max_changes >= self.horizon_decisions:
            raise ValueError(f"max_changes is {self.max_changes}; it must be < horizon_decisions ({self.horizon_decisions})")
        return self


ThompsonDrift = Annotated[Union[DiscountDrift, WindowDrift, ChangeDetectionDrift], Field(discriminator="kind")]


# ---------------------------------------------------------------------------------- policies
class ThompsonConfig(BaseModel):
    """Thompson sampling: Beta-Bernoulli (conversions) or Normal with unknown variance (revenue).

    Bernoulli prior: Beta(``prior_alpha``, ``prior_beta``). Normal prior: Normal-Inverse-Gamma with
    mean ``prior_mean``, worth ``prior_strength`` pseudo-observations of variance ``prior_variance``.
    """

    model_config = _FROZEN

    kind: Literal["thompson"] = Field(description="Discriminator.")
    reward_model: Literal["bernoulli", "normal"] = Field(
        "bernoulli", description="bernoulli for 0/1 conversions; normal for continuous rewards (revenue)."
    )
    prior_alpha: float = Field(1.0, gt=0, description="Beta prior successes (bernoulli only).")
    prior_beta: float = Field(1.0, gt=0, description="Beta prior failures (bernoulli only).")
    prior_mean: float = Field(0.0, description="Prior mean reward per decision (normal only), reward unit.")
    prior_variance: float = Field(1.0, gt=0, description="Prior guess of the reward variance (normal only), reward unit squared.")
    prior_strength: float = Field(1.0, gt=0, description="Weight of the normal prior, in pseudo-observations.")
    drift: ThompsonDrift | None = Field(
        None, description="Non-stationary variant (discount, sliding window or change detection); none = stationary."
    )

    @model_validator(mode="after")
    def _check_drift(self) -> "ThompsonConfig":
        if self.drift is not None and self.drift.kind == "change_detection" and self.reward_model != "bernoulli":
            raise ValueError("drift.kind change_detection needs reward_model: bernoulli (its test is for rewards "
                             "in [0, 1]); use discount or window for reward_model: normal")
        return self


class UCB1Config(BaseModel):
    """UCB1 (Auer et al. 2002): index = mean + sqrt(c * ln(t) / n), rewards scaled to [0, 1]."""

    model_config = _FROZEN

    kind: Literal["ucb1"] = Field(description="Discriminator.")
    c: float = Field(2.0, gt=0, description="Exploration coefficient; 2 is the textbook UCB1.")
    drift: Drift | None = Field(None, description="Non-stationary variant (discounted / sliding-window UCB).")


class KLUCBConfig(BaseModel):
    """KL-UCB (Garivier & Cappe 2011) for rewards in [0, 1]; much better than UCB1 at low rates."""

    model_config = _FROZEN

    kind: Literal["kl_ucb"] = Field(description="Discriminator.")
    c: float = Field(0.0, ge=0, description="Exploration bonus log(t) + c*log(log(t)); 0 works best in practice.")
    drift: Drift | None = Field(None, description="Non-stationary variant (discounted / sliding-window KL-UCB).")


class EpsilonGreedyConfig(BaseModel):
    """Epsilon-greedy: the best mean with probability 1 - epsilon, a uniform arm otherwise."""

    model_config = _FROZEN

    kind: Literal["epsilon_greedy"] = Field(description="Discriminator.")
    epsilon: float = Field(0.1, ge=0, le=1, description="Share of decisions explored uniformly, 0-1.")
    drift: Drift | None = Field(None, description="Non-stationary variant of the arm means.")


class EXP3Config(BaseModel):
    """EXP3 (Auer et al. 2002) for adversarial rewards, scaled to [0, 1] by ``reward_bounds``."""

    model_config = _FROZEN

    kind: Literal["exp3"] = Field(description="Discriminator.")
    gamma: float = Field(0.1, gt=0, le=1, description="Exploration mix, 0-1 (uniform share of traffic).")


class LinUCBConfig(BaseModel):
    """Disjoint LinUCB (Li et al. 2010): per-arm ridge regression on the request's features."""

    model_config = _FROZEN

    kind: Literal["lin_ucb"] = Field(description="Discriminator.")
    alpha: float = Field(1.0, gt=0, description="Width of the confidence bonus, in standard errors.")
    ridge: float = Field(1.0, gt=0, description="Ridge penalty (prior precision) of each arm's regression.")


class LinTSConfig(BaseModel):
    """Linear Thompson sampling (Agrawal & Goyal 2013): per-arm Gaussian posterior on the weights."""

    model_config = _FROZEN

    kind: Literal["lin_ts"] = Field(description="Discriminator.")
    v: float = Field(1.0, gt=0, description="Posterior scale (exploration); the noise standard deviation.")
    ridge: float = Field(1.0, gt=0, description="Ridge penalty (prior precision) of each arm's regression.")


class BudgetedThompsonConfig(BaseModel):
    """Budgeted Thompson sampling (Xia et al. 2015): maximize conversions per unit cost.

    Chooses the arm with the highest sampled conversion rate per unit ``cost_per_action``; an arm
    whose cost exceeds the remaining budget is never chosen, so spend never goes above ``budget``.
    """

    model_config = _FROZEN

    kind: Literal["budgeted_thompson"] = Field(description="Discriminator.")
    budget: float = Field(gt=0, description="Total budget for the campaign's life, in the campaign currency.")
    prior_alpha: float = Field(1.0, gt=0, description="Beta prior successes.")
    prior_beta: float = Field(1.0, gt=0, description="Beta prior failures.")
    drift: Drift | None = Field(None, description="Non-stationary variant (discount or sliding window).")


PolicyConfig = Annotated[
    Union[
        ThompsonConfig,
        UCB1Config,
        KLUCBConfig,
        EpsilonGreedyConfig,
        EXP3Config,
        LinUCBConfig,
        LinTSConfig,
        BudgetedThompsonConfig,
    ],
    Field(discriminator="kind"),
]
POLICY_KINDS = ("thompson", "ucb1", "kl_ucb", "epsilon_greedy", "exp3", "lin_ucb", "lin_ts", "budgeted_thompson")
CONTEXTUAL_KINDS = frozenset({"lin_ucb", "lin_ts"})


# -------------------------------------------------------------------------------- guardrails
class GuardrailConfig(BaseModel):
    """Traffic guardrails applied on top of the policy's choice probabilities.

    Order: the policy's probabilities over the eligible arms -> exploration floor (mixed in
    additively) -> per-arm min/max shares (clipped, the excess redistributed pro rata).
    """

    model_config = _FROZEN

    min_share: dict[ArmName, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, description="Arm -> minimum share of traffic, 0-1 (arms not listed: 0)."
    )
    max_share: dict[ArmName, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, description="Arm -> maximum share of traffic, 0-1 (arms not listed: 1)."
    )
    exploration_floor: float = Field(
        0.0, ge=0, lt=1,
        description="Share of traffic spread uniformly over the eligible arms, 0-1 (0.05 -> 5 %).",
    )
    sticky: bool = Field(
        False, description="A user keeps the same arm while the allocation weights are unchanged (needs user_id)."
    )

    @model_validator(mode="after")
    def _check_shares(self) -> "GuardrailConfig":
        problems = []
        for arm, low in self.min_share.items():
            high = self.max_share.get(arm, 1.0)
            if low > high:
                problems.append(f"min_share[{arm}] is {low}; it must be <= max_share[{arm}] ({high})")
        total = sum(self.min_share.values())
        if total > 1 + 1e-12:
            problems.append(f"min_share sums to {total:g}; it must be <= 1")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def active(self) -> bool:
        """True when any guardrail changes the policy's probabilities (sticky excluded)."""
        return self.exploration_floor > 0 or bool(self.min_share) or bool(self.max_share)


# --------------------------------------------------------------------------------- campaign
class CampaignConfig(BaseModel):
    """A campaign: its arms, its policy, its guardrails and how rewards are read."""

    model_config = _FROZEN

    name: CampaignName = Field(description=f"Campaign name: {CAMPAIGN_NAME_RULE}.")
    arms: list[ArmConfig] = Field(min_length=2, max_length=1000, description="The arms, at least 2, unique names.")
    policy: PolicyConfig = Field(
        default_factory=lambda: ThompsonConfig(kind="thompson"),
        description="The bandit policy; `kind` selects it.",
    )
    guardrails: GuardrailConfig = Field(default_factory=GuardrailConfig, description="Traffic guardrails.")
    reward_window_seconds: float = Field(
        86_400.0, gt=0, description="Seconds after a decision during which its reward is accepted."
    )
    default_reward: float = Field(
        0.0, description="Reward recorded for a decision with no reward inside the window, reward unit."
    )
    reward_kind: Literal["binary", "continuous"] = Field(
        "binary", description="binary: rewards are 0 or 1 (conversions); continuous: any number in reward_bounds."
    )
    reward_bounds: tuple[float, float] = Field(
        (0.0, 1.0), description="[low, high] of a valid reward; rewards outside are rejected. Reward unit."
    )
    context_dim: int = Field(
        0, ge=0, le=1000, description="Number of features per request for contextual policies (0: none)."
    )

    @model_validator(mode="after")
    def _check(self) -> "CampaignConfig":
        problems = []
        names = [a.name for a in self.arms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"arm names must be unique; repeated: {', '.join(dupes)}")
        for field in ("min_share", "max_share"):
            for arm in getattr(self.guardrails, field):
                if arm not in names:
                    hint = difflib.get_close_matches(arm, names, n=1)
                    problems.append(
                        f"guardrails.{field} names unknown arm {arm!r}"
                        + (f"; did you mean {hint[0]!r}?" if hint else f"; arms are {', '.join(names)}")
                    )
        if self.guardrails.max_share and all(a in self.guardrails.max_share for a in names):
            total = sum(self.guardrails.max_share.values())
            if total < 1 - 1e-12:
                problems.append(f"guardrails.max_share sums to {total:g} over all arms; it must be >= 1")
        low, high = self.reward_bounds
        if not low < high:
            problems.append(f"reward_bounds is [{low}, {high}]; low must be < high")
        if self.reward_kind == "binary" and (low, high) != (0.0, 1.0):
            problems.append(f"reward_bounds is [{low}, {high}]; binary rewards need [0, 1]")
        if not low <= self.default_reward <= high:
            problems.append(f"default_reward is {self.default_reward}; it must be inside reward_bounds [{low}, {high}]")
        kind = self.policy.kind
        if kind in CONTEXTUAL_KINDS and self.context_dim < 1:
            problems.append(f"policy {kind} is contextual; set context_dim >= 1 (the number of features)")
        if kind not in CONTEXTUAL_KINDS and self.context_dim:
            problems.append(f"context_dim is {self.context_dim} but policy {kind} ignores context; use lin_ucb or lin_ts, or set 0")
        bernoulli = kind == "budgeted_thompson" or (kind == "thompson" and self.policy.reward_model == "bernoulli")
        if bernoulli and self.reward_kind != "binary":
            problems.append(f"policy {kind} with Bernoulli rewards needs reward_kind: binary; "
                            "for revenue use thompson with reward_model: normal")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def arm_names(self) -> tuple[str, ...]:
        """Arm names in configuration order (the order of every per-arm array)."""
        return tuple(a.name for a in self.arms)
