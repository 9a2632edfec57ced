"""Bandit policies, one module per family, and the factory :func:`make_policy`.

=====================  ======================================  =====================
config ``kind``        class                                    module
=====================  ======================================  =====================
thompson (bernoulli)   :class:`~.thompson.BetaThompson`         ``thompson.py``
thompson (normal)      :class:`~.thompson.NormalThompson`       ``thompson.py``
thompson + change      :class:`~.changepoint.GLRThompson`       ``changepoint.py``
ucb1                   :class:`~.ucb.UCB1`                      ``ucb.py``
kl_ucb                 :class:`~.ucb.KLUCB`                     ``ucb.py``
epsilon_greedy         :class:`~.ucb.EpsilonGreedy`             ``ucb.py``
exp3                   :class:`~.exp3.EXP3`                     ``exp3.py``
lin_ucb                :class:`~.linear.LinUCB`                 ``linear.py``
lin_ts                 :class:`~.linear.LinTS`                  ``linear.py``
budgeted_thompson      :class:`~.budgeted.BudgetedThompson`     ``budgeted.py``
=====================  ======================================  =====================
"""

from __future__ import annotations

import importlib
from typing import Any, Sequence

from optimizer.bandit.policies.base import BudgetExhaustedError, Policy

__all__ = ["Policy", "BudgetExhaustedError", "make_policy", "policy_from_state", "policy_class",
           "make_campaign_policy"]

#: (config kind, reward model) -> "module:Class"; reward model is None except for thompson, where
#: Bernoulli Thompson with ``drift.kind == "change_detection"`` has its own class.
POLICIES: dict[tuple[str, str | None], str] = {
    ("thompson", "bernoulli"): "thompson:BetaThompson",
    ("thompson", "normal"): "thompson:NormalThompson",
    ("thompson", "change_detection"): "changepoint:GLRThompson",
    ("ucb1", None): "ucb:UCB1",
    ("kl_ucb", None): "ucb:KLUCB",
    ("epsilon_greedy", None): "ucb:EpsilonGreedy",
    ("exp3", None): "exp3:EXP3",
    ("lin_ucb", None): "linear:LinUCB",
    ("lin_ts", None): "linear:LinTS",
    ("budgeted_thompson", None): "budgeted:BudgetedThompson",
}


def as_policy_config(config: Any) -> Any:
    """A :data:`~optimizer.bandit.config.PolicyConfig` model from a model or a plain dict.

    Raises
    ------
    TypeError
        ``config`` is neither a policy config model nor a dict.
    ScenarioError (a ValueError)
        The dict is not a valid policy config (the message names the field and the allowed kinds).
    """
    if isinstance(config, dict):
        from optimizer.validation import parse_model

        return parse_model(_policy_holder(), {"policy": config}, "make_policy").policy
    if not hasattr(config, "kind"):
        raise TypeError(
            f"policy config is a {type(config).__name__}; pass a policy config model such as "
            "ThompsonConfig(kind='thompson') or a dict like {'kind': 'thompson'}."
        )
    return config


_HOLDER: list[Any] = []


def _policy_holder() -> Any:
    """A one-field model ``{policy: PolicyConfig}`` so dict configs get the usual field-path messages."""
    if not _HOLDER:
        from pydantic import BaseModel, ConfigDict, Field

        from optimizer.bandit.config import PolicyConfig

        class PolicyHolder(BaseModel):
            model_config = ConfigDict(extra="forbid", frozen=True)
            policy: PolicyConfig = Field(description="The bandit policy; `kind` selects it.")

        _HOLDER.append(PolicyHolder)
    return _HOLDER[0]


def policy_class(config: Any) -> type[Policy]:
    """The policy class for a :data:`~optimizer.bandit.config.PolicyConfig` (or its dict)."""
    config = as_policy_config(config)
    key = (config.kind, getattr(config, "reward_model", None) if config.kind == "thompson" else None)
    if key == ("thompson", "bernoulli") and getattr(config.drift, "kind", None) == "change_detection":
        key = ("thompson", "change_detection")
    module, name = POLICIES[key].split(":")
    return getattr(importlib.import_module(f"optimizer.bandit.policies.{module}"), name)


def _defaults(config: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Binary rewards unless the policy models continuous ones (Normal TS) or bounds say otherwise."""
    out = dict(kwargs)
    if "max_block" in out and not getattr(policy_class(config), "block_sampled", False):
        del out["max_block"]  # only the Thompson-type policies pre-draw; others ignore the option
    if "binary" not in out:
        continuous = getattr(config, "reward_model", None) == "normal" or tuple(out.get("reward_bounds", (0.0, 1.0))) != (0.0, 1.0)
        out["binary"] = not continuous
    return out


def make_policy(config: Any, arms: Sequence[Any], seed: int | None = None, **kwargs: Any) -> Policy:
    """A fresh policy.

    Parameters
    ----------
    config : PolicyConfig or dict
        One of the models in :mod:`optimizer.bandit.config` (``kind`` selects the class), or the
        same as a plain dict (``{"kind": "thompson"}``), validated into that model.
    arms : list of ArmConfig or str
        The arms, in the order every per-arm array follows. ``cost_per_action`` comes from ArmConfig.
    seed : int or None
        Seed of the policy's own generator (``policy.rng``); None draws one (echoed as ``policy.seed``).
    **kwargs
        ``reward_bounds=(low, high)``, ``binary`` (rewards must be 0/1; default: True unless the
        policy is Normal Thompson or bounds are not (0, 1)), ``context_dim`` (contextual
        policies), ``max_block`` (Thompson-type policies: 1 = reference path, the default, MABWiser-identical
        stream; 64 = fast path; other policies ignore it).
    """
    config = as_policy_config(config)
    return policy_class(config)(config, arms, seed, **_defaults(config, kwargs))


def policy_from_state(config: Any, state: dict[str, Any], arms: Sequence[Any] | None = None,
                      seed: int | None = None, **kwargs: Any) -> Policy:
    """Rebuild a policy from its config and a ``to_state()`` dict."""
    config = as_policy_config(config)
    return policy_class(config).from_state(config, state, arms, seed, **_defaults(config, kwargs))


def make_campaign_policy(campaign: Any, seed: int | None = None, **kwargs: Any) -> Policy:
    """A fresh policy for a :class:`~optimizer.bandit.config.CampaignConfig`."""
    return make_policy(campaign.policy, campaign.arms, seed, reward_bounds=campaign.reward_bounds,
                       binary=campaign.reward_kind == "binary", context_dim=campaign.context_dim, **kwargs)
