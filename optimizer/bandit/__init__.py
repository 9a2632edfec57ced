"""Multi-armed bandits for channel / message allocation.

Policy side (this package's library part):

- :mod:`optimizer.bandit.config` - pydantic models of a campaign (arms, policy, guardrails); the
  seam with the bandit service.
- :mod:`optimizer.bandit.policies` - the policies (one module per family) and
  :func:`~optimizer.bandit.policies.make_policy`.
- :mod:`optimizer.bandit.engine` - ``decide`` / ``update`` with propensities and guardrails (pure, no I/O).
- :mod:`optimizer.bandit.offline` - replay, IPS, SNIPS and doubly robust estimates from decision logs.
- :mod:`optimizer.bandit.simulate` - regret simulator behind ``dmpopt bandit simulate``.

Service side (stores, HTTP service, client) lives in the sibling modules ``store*``, ``service``,
``client``. Importing this package is cheap: the heavy modules load on first use.
"""

from __future__ import annotations

from optimizer.bandit.config import (
    ArmConfig,
    CampaignConfig,
    GuardrailConfig,
    PolicyConfig,
)

__all__ = [
    "ArmConfig",
    "CampaignConfig",
    "GuardrailConfig",
    "PolicyConfig",
    "make_policy",
    "policy_from_state",
    "decide",
    "update",
    "allocation_shares",
    "Decision",
]

_LAZY = {
    "make_policy": "optimizer.bandit.policies",
    "policy_from_state": "optimizer.bandit.policies",
    "decide": "optimizer.bandit.engine",
    "update": "optimizer.bandit.engine",
    "allocation_shares": "optimizer.bandit.engine",
    "Decision": "optimizer.bandit.engine",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'optimizer.bandit' has no attribute {name!r}")
