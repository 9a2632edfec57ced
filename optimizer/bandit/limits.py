"""Request cost limits of the bandit service (issue #14, defect 3): settings, estimates, checks.

A small valid request can demand a lot: a ``lin_ucb`` campaign keeps a d x d matrix per arm (1,000
arms x 1,000 features is 1e9 numbers, 7.45 GiB, from an 18 KB body), ``shares?n_draws=1000000`` on
1,000 arms draws 1e9 numbers, and a batch multiplies the per-decision work. Every request's cost is
estimated from its campaign's config and its parameters, *before* anything is allocated, and a
request over a limit is answered 422 naming the limit, the estimate and the setting to change.

Costs are counted in numbers (float64 values, 8 bytes each) or, for work, multiply-adds:

* policy state of a campaign: ``arms x context_dim^2`` for ``lin_ucb``/``lin_ts`` (a d x d matrix
  per arm; the state is rewritten on every reward), ``arms`` otherwise;
* a decision: ``arms x max(1, context_dim^2)``; a batch: ``n_requests`` decisions;
* allocation shares by Monte Carlo: ``n_draws x arms``.

The defaults keep each request under ~0.1-0.5 s of one core and ~40 MB; change them with
``create_app(limits=ServiceLimits(...))``, ``dmpopt bandit serve --limits '{"max_share_draw_values":
1e7}'`` or the ``DMPOPT_BANDIT_LIMITS`` environment variable (the same JSON).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from optimizer.errors import ScenarioError

CONTEXTUAL = frozenset({"lin_ucb", "lin_ts"})


class LimitError(ScenarioError):
    """A request whose estimated cost exceeds a service limit (HTTP 422); nothing was done."""


class ServiceLimits(BaseModel):
    """Cost limits of one bandit service (all counts; see the module docstring for the estimates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_arms: int = Field(1000, ge=2, le=100_000, description="Most arms in a campaign.")
    max_context_dim: int = Field(1000, ge=1, le=100_000, description="Most features per request (context_dim).")
    max_policy_state_values: int = Field(
        250_000, ge=1000,
        description="Most numbers in a campaign's policy state: arms x context_dim^2 for lin_ucb/lin_ts "
                    "(250,000 = 2 MB as float64), arms otherwise.",
    )
    max_batch_requests: int = Field(1000, ge=1, le=1000, description="Most requests in one choose/batch call (at most 1,000, the API's cap).")
    max_batch_work: int = Field(
        50_000_000, ge=1000,
        description="Most work in one choose/batch call: n_requests x arms x max(1, context_dim^2) multiply-adds.",
    )
    max_share_draw_values: int = Field(
        5_000_000, ge=1000, description="Most posterior draws for Monte Carlo shares: n_draws x arms (40 MB as float64).",
    )


DEFAULT_LIMITS = ServiceLimits()


def _fields(config: Any) -> tuple[int, int, str]:
    """``(n_arms, context_dim, policy kind)`` of a CampaignConfig or its JSON dict."""
    if isinstance(config, dict):
        return len(config.get("arms", ())), int(config.get("context_dim") or 0), str(config.get("policy", {}).get("kind"))
    return len(config.arms), int(config.context_dim or 0), str(config.policy.kind)


def state_values(config: Any) -> int:
    """Numbers in the campaign's policy state (see the module docstring)."""
    k, d, kind = _fields(config)
    return k * d * d if kind in CONTEXTUAL else k


def decision_work(config: Any) -> int:
    """Multiply-adds of one decision: ``arms x max(1, context_dim^2)``."""
    k, d, kind = _fields(config)
    return k * max(1, d * d if kind in CONTEXTUAL else 1)


def _refuse(what: str, value: int, limit_name: str, limit: int, fix: str) -> LimitError:
    return LimitError(
        f"{what} is {value:,}; the service limit {limit_name} is {limit:,}. {fix} "
        f"(Operators: raise {limit_name} in the service's limits, see docs/bandit-service.md.)"
    )


def check_campaign(config: Any, limits: ServiceLimits = DEFAULT_LIMITS) -> None:
    """Refuse a campaign whose arms, features or policy state exceed the limits."""
    k, d, kind = _fields(config)
    if k > limits.max_arms:
        raise _refuse("campaign.arms has length", k, "max_arms", limits.max_arms, "Use fewer arms.")
    if d > limits.max_context_dim:
        raise _refuse("campaign.context_dim", d, "max_context_dim", limits.max_context_dim, "Use fewer features.")
    n = state_values(config)
    if n > limits.max_policy_state_values:
        raise _refuse(f"the policy state of this {kind} campaign (arms {k} x context_dim^2 {d * d:,})", n,
                      "max_policy_state_values", limits.max_policy_state_values,
                      "Use fewer arms or features (a lin_ucb/lin_ts arm keeps a context_dim x context_dim matrix).")


def check_batch(config: Any, n_requests: int, limits: ServiceLimits = DEFAULT_LIMITS) -> None:
    """Refuse a choose/batch call over ``max_batch_requests`` or ``max_batch_work``."""
    if n_requests > limits.max_batch_requests:
        raise _refuse("requests has length", n_requests, "max_batch_requests", limits.max_batch_requests,
                      "Send smaller batches.")
    work = n_requests * decision_work(config)
    if work > limits.max_batch_work:
        per = decision_work(config)
        raise _refuse(f"the work of this batch ({n_requests} requests x {per:,} per decision)", work,
                      "max_batch_work", limits.max_batch_work,
                      f"Send at most {max(1, limits.max_batch_work // per)} requests per batch for this campaign.")


def check_shares(config: Any, n_draws: int | None, limits: ServiceLimits = DEFAULT_LIMITS) -> None:
    """Refuse a Monte Carlo shares request over ``max_share_draw_values``."""
    if n_draws is None:
        return
    k, _, _ = _fields(config)
    if n_draws * k > limits.max_share_draw_values:
        raise _refuse(f"n_draws x arms ({n_draws:,} x {k})", n_draws * k, "max_share_draw_values",
                      limits.max_share_draw_values,
                      f"Use n_draws <= {max(1, limits.max_share_draw_values // k):,} for this campaign, or omit it "
                      "for the exact/quadrature shares.")


def parse_limits(value: Any, where: str = "limits") -> ServiceLimits:
    """ServiceLimits from a model, a dict or a JSON string (``ScenarioError`` naming the bad field)."""
    import json

    if value is None:
        return DEFAULT_LIMITS
    if isinstance(value, ServiceLimits):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{where} is not valid JSON ({exc}); example: '{{\"max_batch_requests\": 500}}'.") from None
    from optimizer.validation import parse_model

    return parse_model(ServiceLimits, value, where)
