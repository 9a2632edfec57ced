"""The stores' side of the seam with the policy library: one campaign's live policy in a process.

A :class:`CampaignRuntime` holds a campaign's parsed config, its seed and a policy object rebuilt
from the stored state, tagged with the state version it was built from. Stores keep one runtime
per campaign and rebuild it only when the stored version moved (another worker applied a
reward), so a ``choose`` does not parse the policy state every time.

Randomness: decision number ``seq`` of a campaign draws from a counter-based Philox generator
with ``key = campaign seed`` and ``counter = [0, seq, 0, 0]`` (each decision owns a block of 2**64
counters, far more than it draws), and allocation shares at state version ``v`` from counter
``[0, v, 1, 0]``. So the arm depends only on (state, seed, seq): identical across workers,
restarts and snapshot + restore. Philox is used because re-keying it costs ~3 us, against ~15 us
for ``default_rng([seed, seq])`` (measured here), on a path that runs for every request.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from optimizer.errors import DmpoptError, ScenarioError


def parse_config(config: Any) -> Any:
    """A :class:`CampaignConfig` from a model or a JSON-safe dict (``ScenarioError`` if invalid)."""
    from optimizer.bandit.config import CampaignConfig
    from optimizer.validation import parse_model

    if isinstance(config, CampaignConfig):
        return config
    return parse_model(CampaignConfig, config, "campaign")


def new_policy_state(config: Any, seed: int) -> dict[str, Any]:
    """The state dict of a fresh policy for ``config`` (version 0).

    Also checks that ``default_reward`` is a reward the policy accepts (a binary campaign needs 0
    or 1): otherwise every expiry would fail later, in the background, instead of now.
    """
    from optimizer.bandit.policies import make_campaign_policy
    from optimizer.bandit.store import check_reward

    try:
        check_reward(config, config.default_reward)
    except ScenarioError as exc:
        reason = str(exc).split("; ", 1)[-1]
        raise ScenarioError(f"campaign {config.name!r}: default_reward is {config.default_reward}; it is recorded "
                            f"for every decision whose window passes, so it must be a valid reward: {reason}") from None
    return make_campaign_policy(config, seed).to_state()


def _from_state(config: Any, seed: int, state: dict[str, Any]) -> Any:
    """Rebuild a campaign's policy (with its arms' costs, reward bounds and context size)."""
    from optimizer.bandit.policies import policy_from_state

    return policy_from_state(
        config.policy, state, config.arms, seed, reward_bounds=config.reward_bounds,
        binary=config.reward_kind == "binary", context_dim=config.context_dim,
    )


class CampaignRuntime:
    """A campaign's config, seed and live policy at one state version.

    Two policy objects may be alive: ``policy`` is the newest state (rewards are folded into it)
    and ``decider`` the state decisions are drawn from. With ``refresh_seconds=0`` (the stores'
    default) the decider follows every update, so a decision always uses the newest state. With
    ``refresh_seconds > 0`` (the service uses 0.05 s) it is refreshed at most that often: the
    propensity of a Thompson policy is a numerical integral (0.5-5 ms for 5 arms here), computed
    once per decider state instead of after every reward. Each decision records the
    ``state_version`` it was drawn from, so the log stays exact for offline evaluation; delaying
    updates by 50 ms is a (tiny) batched update, whose regret cost the policy library measures.

    Parameters
    ----------
    config: the campaign's :class:`CampaignConfig`.
    seed: the campaign seed.
    version: the state version ``state`` belongs to.
    state: ``policy.to_state()`` as stored.
    refresh_seconds: shortest interval between decider refreshes, seconds (0: always newest).
    """

    __slots__ = ("config", "seed", "version", "policy", "refresh_seconds", "decider", "decider_version",
                 "_decider_at", "_bitgen", "_gen", "fetched_at")

    def __init__(self, config: Any, seed: int, version: int, state: dict[str, Any], refresh_seconds: float = 0.0):
        self.config = config
        self.seed = int(seed)
        self._bitgen = np.random.Philox(key=self.seed)
        self._gen = np.random.Generator(self._bitgen)
        self.version = int(version)
        self.policy = _from_state(config, self.seed, state)
        self.refresh_seconds = float(refresh_seconds)
        self.decider = self.policy
        self.decider_version = self.version
        self._decider_at = time.monotonic()
        #: monotonic time the stores last compared ``version`` with the stored one (Redis uses it
        #: to fetch the newest state at most every ``refresh_seconds``)
        self.fetched_at = self._decider_at

    def reload(self, version: int, state: dict[str, Any]) -> None:
        """Adopt a newer stored state (written by another worker)."""
        self.policy = _from_state(self.config, self.seed, state)
        self.version = int(version)

    def _current_decider(self) -> Any:
        if self.decider_version != self.version:
            now = time.monotonic()
            if self.refresh_seconds <= 0 or now - self._decider_at >= self.refresh_seconds:
                self.decider, self.decider_version, self._decider_at = self.policy, self.version, now
        return self.decider

    def rng(self, c0: int, c1: int, c2: int) -> np.random.Generator:
        """The campaign's Philox generator positioned at counter ``[c0, c1, c2, 0]`` (reused object)."""
        st = self._bitgen.state
        st["state"]["counter"] = np.array([c0, c1, c2, 0], dtype=np.uint64)
        st["buffer_pos"] = 4  # empty buffer: the next draw starts at this counter
        st["has_uint32"] = 0
        st["uinteger"] = 0
        self._bitgen.state = st
        return self._gen

    def decide(
        self,
        seq: int,
        context: Sequence[float] | None,
        eligible: Sequence[str] | None,
        user_id: str | None,
    ) -> tuple[str, float, dict[str, float]]:
        """``(arm, propensity, arm_to_probability)`` of decision ``seq`` (drawn from ``decider``,
        whose version is ``decider_version``); no state change."""
        from optimizer.bandit.engine import decide

        policy = self._current_decider()
        rng = self.rng(0, int(seq), 0)
        ctx = None if context is None else np.asarray(context, dtype=float)
        d = decide(policy, self.config.guardrails, rng, context=ctx,
                   eligible=None if eligible is None else list(eligible), user_id=user_id)
        probs = d.arm_to_probability  # a fresh dict of str -> float (tolist), owned by the caller
        return d.arm, float(probs[d.arm]), probs

    def apply(
        self, arm: str, reward: float, cost: float, context: Sequence[float] | None, propensity: float | None = None
    ) -> dict[str, Any]:
        """Fold one reward into the live policy (version + 1) and return its new state dict.

        The policy checks its inputs before changing anything, so a rejected reward leaves it as
        it was. If the store then fails to commit, it must drop this runtime (it is ahead of the
        stored state); the stores do.
        """
        from optimizer.bandit.engine import update

        if arm not in self.config.arm_names:
            raise ScenarioError(f"arm is {arm!r}; campaign {self.config.name!r} has no such arm.")
        ctx = None if context is None else np.asarray(context, dtype=float)
        if self.policy is self.decider:
            # copy on write: the decider keeps the state (and cached propensities) it had
            self.policy = _from_state(self.config, self.seed, self.policy.to_state())
        try:
            update(self.policy, arm, reward, cost=cost, context=ctx, propensity=propensity)
        except DmpoptError:
            raise
        except (ValueError, TypeError) as exc:  # the library's own checks; keep them user-facing
            raise ScenarioError(str(exc)) from None
        self.version += 1
        return self.policy.to_state()

    def shares(self, n_draws: int | None) -> dict[str, float]:
        """Allocation shares (probability each arm is best, after guardrails) at this version."""
        from optimizer.bandit.engine import allocation_shares

        rng = self.rng(0, self.version, 1)
        out = allocation_shares(self.policy, self.config.guardrails, rng, n_draws)
        return {str(k): float(v) for k, v in dict(out).items()}


_REQUEST_KEYS = frozenset({"context", "eligible", "user_id"})


def check_requests(config: Any, requests: Sequence[dict[str, Any]]) -> list[tuple[Any, Any, str | None]]:
    """Validate choose requests against a campaign: ``[(context, eligible, user_id), ...]``.

    Raises :class:`ScenarioError` for the first bad request, before anything is stored.
    """
    from optimizer.bandit.store import check_context, check_eligible

    if not requests:
        raise ScenarioError("requests is empty; send at least one request to choose for.")
    out = []
    for i, req in enumerate(requests):
        if not isinstance(req, dict):
            raise ScenarioError(f"requests[{i}] is {type(req).__name__}; expected a dict with context, eligible, user_id.")
        if not req.keys() <= _REQUEST_KEYS:
            extra = set(req) - _REQUEST_KEYS
            raise ScenarioError(
                f"requests[{i}] has unknown key(s) {sorted(extra)}; allowed: context, eligible, user_id."
            )
        user_id = req.get("user_id")
        if user_id is not None and not isinstance(user_id, str):
            raise ScenarioError(f"user_id is {user_id!r}; it must be a string or omitted.")
        out.append((check_context(config, req.get("context")), check_eligible(config, req.get("eligible")), user_id))
    return out


def build_decisions(
    rt: CampaignRuntime,
    name: str,
    first_seq: int,
    checked: Sequence[tuple[Any, Any, str | None]],
    t: float,
    decision_ids: Sequence[str] | None = None,
) -> list[Any]:
    """Decide requests already passed through :func:`check_requests`: decision ``first_seq + i``.

    ``decision_ids`` gives the ids (the SQLite store derives them from row ids); default: random.
    """
    from optimizer.bandit.store import DecisionRecord, new_decision_id

    expires_at = t + float(rt.config.reward_window_seconds)
    out = []
    for i, (context, eligible, user_id) in enumerate(checked):
        seq = first_seq + i
        arm, propensity, probs = rt.decide(seq, context, eligible, user_id)
        out.append(DecisionRecord(
            decision_id=new_decision_id() if decision_ids is None else decision_ids[i], campaign=name, seq=seq, arm=arm, propensity=propensity,
            arm_to_probability=probs, context=context, user_id=user_id, created_at=t,
            expires_at=expires_at, state_version=rt.decider_version,
        ))
    return out
