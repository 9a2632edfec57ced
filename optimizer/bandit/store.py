"""Where a bandit campaign lives: its config, its learned policy state, its decisions and rewards.

A *store* keeps, per campaign, the :class:`~optimizer.bandit.config.CampaignConfig`, the campaign
seed, the policy state (the JSON-safe dict of ``policy.to_state()``) with a version number, the
decision log and the rewards joined to it. Three backends share one contract,
:class:`BanditStore`, and are opened by URL with :func:`open_store`:

``memory://``
    In-process dicts; for tests, notebooks and simulations. Lost when the process ends.
``sqlite:///path/to/bandit.db``
    The embedded default. WAL journal, ``busy_timeout``; every write is one ``BEGIN IMMEDIATE``
    transaction, committed before the call returns. Several processes may share the file.
``redis://host:port/db``
    Many service workers or hosts. Rewards are applied in a ``WATCH``/``MULTI`` transaction, so
    "mark rewarded + update the policy state" is one atomic step.

Semantics every backend keeps (the contract tests in ``tests/optimizer/bandit/test_store.py``
check each one against every backend):

* Every decision gets a ``decision_id`` (32 hex characters) and its propensity, and is logged
  before ``choose`` returns.
* Decision number ``seq`` of a campaign draws its randomness from
  ``numpy.random.default_rng([campaign_seed, seq])``: the same policy state and the same ``seq``
  give the same arm, whichever worker serves the request, and snapshot + restore reproduce the
  next decisions exactly.
* A reward is applied at most once per ``decision_id``. A second reward is ignored and reported
  as ``duplicate=True`` (the HTTP service answers 200 with ``"duplicate": true``).
* A decision not rewarded within the campaign's ``reward_window_seconds`` receives the campaign's
  ``default_reward`` exactly once (by :meth:`BanditStore.expire`, which the service runs every
  second, or when a late reward arrives). A reward arriving after that raises
  :class:`ExpiredDecisionError`.
* Bad input (unknown campaign, decision or arm, NaN or out-of-range reward, wrong context length)
  raises a :class:`~optimizer.errors.DmpoptError` and leaves the stored state unchanged.

Times are Unix seconds (float). Rewards are in the campaign's reward unit (0/1 for binary).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

from optimizer.errors import DmpoptError, ScenarioError

#: How stale (seconds) the state decisions are drawn from may be in a service (``open_store(service=True)``).
SERVICE_DECISION_REFRESH_SECONDS = 0.05

#: Largest |reward| and cost accepted per decision. Totals are sums of at most ~1e12 such values,
#: so they stay below 1e27, far from float overflow (1.8e308): a total can never become infinite
#: (which made the state unserialisable and every retry of the reward fail with 500).
MAX_ABS_AMOUNT = 1e15

#: Version tag of the snapshot format written by :meth:`BanditStore.snapshot`.
SNAPSHOT_FORMAT = "dmpopt-bandit-snapshot/1"


# --------------------------------------------------------------------------------------- errors
class NotFoundError(DmpoptError, LookupError):
    """A campaign or decision that the store does not hold (HTTP 404)."""


class UnknownCampaignError(NotFoundError):
    """No campaign of that name."""


class UnknownDecisionError(NotFoundError):
    """No decision with that ``decision_id``."""


class ExpiredDecisionError(DmpoptError):
    """The reward arrived after the decision's reward window; the default reward stands (HTTP 410)."""


class ConflictError(DmpoptError):
    """The request conflicts with stored state, e.g. a campaign name already taken (HTTP 409)."""


class StoreError(DmpoptError):
    """The store URL is malformed or the backend cannot be reached (HTTP 503)."""


class StoreBusyError(StoreError):
    """The store stayed locked by another writer past its busy timeout; nothing changed (HTTP 503
    with ``Retry-After``)."""

    retry_after_seconds = 1


# -------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class DecisionRecord:
    """One logged decision.

    Attributes
    ----------
    decision_id: 32 hex characters, unique in the store.
    campaign: campaign name.
    seq: 1-based number of the decision within the campaign (its random stream index).
    arm: the chosen arm's name.
    propensity: probability (0-1) the policy, after guardrails, had of choosing ``arm``.
    arm_to_probability: that probability for every eligible arm (sums to 1).
    context: the request's feature vector (``None`` for non-contextual policies).
    user_id: the caller's user id for sticky assignment, or ``None``.
    created_at: Unix seconds when the decision was made.
    expires_at: Unix seconds after which the default reward applies.
    state_version: version of the policy state the decision was drawn from.
    """

    decision_id: str
    campaign: str
    seq: int
    arm: str
    propensity: float
    arm_to_probability: dict[str, float]
    context: tuple[float, ...] | None
    user_id: str | None
    created_at: float
    expires_at: float
    state_version: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (context as a list)."""
        # by hand: dataclasses.asdict deep-copies, which cost more than the decision itself
        return {
            "decision_id": self.decision_id, "campaign": self.campaign, "seq": self.seq, "arm": self.arm,
            "propensity": self.propensity, "arm_to_probability": dict(self.arm_to_probability),
            "context": None if self.context is None else list(self.context), "user_id": self.user_id,
            "created_at": self.created_at, "expires_at": self.expires_at, "state_version": self.state_version,
        }


@dataclass(frozen=True)
class RewardOutcome:
    """What happened to a posted reward.

    Attributes
    ----------
    decision_id: the decision rewarded.
    campaign: its campaign.
    arm: its arm.
    reward: the reward now stored for the decision (for a duplicate: the first one, kept).
    cost: cost stored with it, in the campaign currency.
    duplicate: True when this reward was ignored because the decision already had one.
    is_default: True when the stored reward is the campaign's default (window expired).
    state_version: policy state version after the reward.
    """

    decision_id: str
    campaign: str
    arm: str
    reward: float
    cost: float
    duplicate: bool
    is_default: bool
    state_version: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "decision_id": self.decision_id, "campaign": self.campaign, "arm": self.arm, "reward": self.reward,
            "cost": self.cost, "duplicate": self.duplicate, "is_default": self.is_default,
            "state_version": self.state_version,
        }


@dataclass(frozen=True)
class ArmStats:
    """Counters per arm, kept by the store beside the policy state (independent of the policy).

    Attributes
    ----------
    n_decisions: decisions that chose the arm.
    n_rewards: rewards applied to it (posted and default).
    n_default_rewards: of which default rewards (window expired).
    reward_sum: sum of the rewards applied, in the reward unit.
    cost_sum: sum of the costs, in the campaign currency.
    """

    n_decisions: int = 0
    n_rewards: int = 0
    n_default_rewards: int = 0
    reward_sum: float = 0.0
    cost_sum: float = 0.0


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign as stored.

    Attributes
    ----------
    name: campaign name.
    config: the campaign config as a JSON-safe dict (``CampaignConfig.model_dump(mode="json")``).
    seed: the campaign's seed (decision ``seq`` uses ``default_rng([seed, seq])``).
    created_at: Unix seconds.
    state_version: number of updates applied to the policy state (0 when created).
    n_decisions: decisions made (== the last ``seq``).
    n_rewards: rewards applied, posted and default.
    n_pending: decisions still waiting for a reward.
    arm_to_stats: counters per arm.
    """

    name: str
    config: dict[str, Any]
    seed: int
    created_at: float
    state_version: int
    n_decisions: int
    n_rewards: int
    n_pending: int
    arm_to_stats: dict[str, ArmStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        d = asdict(self)
        return d


@dataclass(frozen=True)
class RecoveryReport:
    """What a (re)starting service finds in the store.

    Attributes
    ----------
    n_pending: decisions logged but not yet rewarded (rewards may still come).
    n_overdue: of which past their reward window (the next :meth:`BanditStore.expire` applies the
        default reward to them).
    unclean_workers: workers (``host:pid``) that started on this store and never stopped cleanly,
        e.g. after ``kill -9``.
    n_pending_unclean: unrewarded decisions logged by those workers. Each was stored before its
        answer was sent; whether the answer reached the client (and the arm was served) cannot be
        known: a request in flight when the worker died looks exactly like a served decision whose
        reward has not come yet.
    crash_pending: what the service does with those decisions, the operator's choice: ``default``
        (they stay pending; a reward inside the window counts, else the default reward is applied,
        as if served) or ``expire`` (closed without a reward: no default, no policy update, a late
        reward is refused with 410). None: not decided (a bare store report).
    n_closed: decisions closed without a reward at this start (``crash_pending == "expire"``).
    """

    n_pending: int
    n_overdue: int
    unclean_workers: tuple[str, ...]
    n_pending_unclean: int = 0
    crash_pending: str | None = None
    n_closed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"n_pending": self.n_pending, "n_overdue": self.n_overdue, "unclean_workers": list(self.unclean_workers),
                "n_pending_unclean": self.n_pending_unclean, "crash_pending": self.crash_pending,
                "n_closed": self.n_closed}

    def __str__(self) -> str:
        text = f"{self.n_pending} pending decision(s), {self.n_overdue} past their reward window"
        if not self.unclean_workers:
            return text
        n = self.n_pending_unclean
        head = (
            f"{len(self.unclean_workers)} worker(s) stopped without a clean shutdown "
            f"({', '.join(self.unclean_workers)}). Requests they had not answered were either not stored "
            f"(nothing to do) or stored without the answer reaching the client; {n} decision(s) they logged "
            "have no reward, and for each it is unknown whether its arm was served. "
        )
        if self.crash_pending == "expire":
            what = (f"As configured (crash_pending=expire), {self.n_closed} of them were closed without a reward: "
                    "no default reward, no policy update, later rewards for them are refused. ")
        elif self.crash_pending == "default":
            what = ("As configured (crash_pending=default), they stay pending: a reward inside the window counts, "
                    "and otherwise the campaign's default reward is applied as if they were served "
                    "(crash_pending=expire closes them without a reward instead). ")
        else:
            what = ""
        return head + what + "Store: " + text


# ------------------------------------------------------------------------------------- protocol
@runtime_checkable
class BanditStore(Protocol):
    """The contract of every store backend (see the module docstring for the semantics)."""

    url: str

    def create_campaign(self, config: Any, seed: int | None = None) -> CampaignInfo:
        """Store a new campaign with a fresh policy; ``ConflictError`` if the name is taken."""

    def list_campaigns(self) -> list[CampaignInfo]:
        """Every campaign, sorted by name."""

    def get_campaign(self, name: str) -> CampaignInfo:
        """One campaign; ``UnknownCampaignError`` if absent."""

    def choose(
        self,
        name: str,
        context: Sequence[float] | None = None,
        eligible: Sequence[str] | None = None,
        user_id: str | None = None,
        now: float | None = None,
    ) -> DecisionRecord:
        """Decide an arm, log the decision, return it (committed before returning)."""

    def choose_batch(self, name: str, requests: Sequence[dict[str, Any]], now: float | None = None) -> list[DecisionRecord]:
        """Several decisions in one transaction; each request is a dict of ``choose`` arguments."""

    def reward(
        self, decision_id: str, reward: float, cost: float | None = None, now: float | None = None
    ) -> RewardOutcome:
        """Apply a reward exactly once (see the module docstring); ``cost=None``: the arm's cost_per_action."""

    def expire(self, now: float | None = None, limit: int = 1000) -> int:
        """Apply the default reward to up to ``limit`` overdue decisions; return how many."""

    def policy_state(self, name: str) -> tuple[int, dict[str, Any]]:
        """``(state_version, policy.to_state())`` of a campaign."""

    def shares(self, name: str, n_draws: int | None = None) -> tuple[int, dict[str, float]]:
        """``(state_version, arm -> share)``: probability each arm is best, after guardrails."""

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """The decision log of a campaign joined with its rewards (see :mod:`optimizer.bandit.log`)."""

    def snapshot(self) -> dict[str, Any]:
        """Everything in the store as one JSON-safe dict."""

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load a snapshot into an empty store; ``ConflictError`` if a campaign exists already."""

    def overdue_count(self, now: float | None = None) -> int:
        """Decisions past their reward window still without a reward (the expiry job's backlog)."""

    def recovery_report(self, now: float | None = None) -> RecoveryReport:
        """Pending and overdue decisions, and workers that did not stop cleanly."""

    def close_pending(self, workers: Sequence[str]) -> int:
        """Close the unrewarded decisions logged by ``workers`` without a reward; return how many."""

    def register_worker(self, worker: str) -> None:
        """Note that a service worker started on this store."""

    def unregister_worker(self, worker: str) -> None:
        """Note that a service worker stopped cleanly."""

    def close(self) -> None:
        """Release connections."""


def open_store(url: str, service: bool = False, decision_refresh_seconds: float | None = None) -> BanditStore:
    """Open a store by URL: ``memory://``, ``sqlite:///path`` or ``redis://host:port/db``.

    ``service=True`` selects settings for a long-running service: decisions drawn from a state
    refreshed at most every :data:`SERVICE_DECISION_REFRESH_SECONDS` (see
    :class:`~optimizer.bandit.store_policy.CampaignRuntime`), and for SQLite WAL checkpoints in a
    background thread rather than inside commits. ``decision_refresh_seconds`` overrides the
    refresh interval (0: every decision uses the newest state).

    Raises
    ------
    StoreError
        The URL has another scheme or is malformed.
    """
    if not isinstance(url, str):
        raise TypeError(f"store url must be a str, got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if decision_refresh_seconds is None:
        refresh = SERVICE_DECISION_REFRESH_SECONDS if service else 0.0
    elif isinstance(decision_refresh_seconds, (int, float)) and 0 <= decision_refresh_seconds <= 60:
        refresh = float(decision_refresh_seconds)
    else:
        raise ScenarioError(
            f"decision_refresh_seconds is {decision_refresh_seconds!r}; it must be a number of seconds in [0, 60]."
        )
    if not sep:
        raise StoreError(
            f"store url {url!r} has no scheme; use memory://, sqlite:///path/to/bandit.db or redis://host:6379/0."
        )
    if scheme == "memory":
        from optimizer.bandit.store_sqlite import MemoryStore

        return MemoryStore(decision_refresh_seconds=refresh)
    if scheme == "sqlite":
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs/path.db -> "/abs/path.db"
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise StoreError(f"store url {url!r} names no file; use sqlite:///path/to/bandit.db.")
        from optimizer.bandit.store_sqlite import SQLiteStore

        return SQLiteStore(path, background_checkpoint=service, decision_refresh_seconds=refresh)
    if scheme in ("redis", "rediss", "unix"):
        from optimizer.bandit.store_redis import RedisStore

        return RedisStore(url, decision_refresh_seconds=refresh)
    raise StoreError(
        f"store url {url!r} has scheme {scheme!r}; allowed: memory, sqlite, redis. "
        "Example: sqlite:///bandit.db or redis://127.0.0.1:6379/0."
    )


# ------------------------------------------------------------------------- shared helper logic
def new_decision_id() -> str:
    """A random 128-bit id as 32 hex characters (not drawn from the seeded stream on purpose:
    ids must be unique across workers and restores, arms must be reproducible)."""
    return uuid.uuid4().hex


def now_or(now: float | None) -> float:
    """``now`` or the wall clock (Unix seconds)."""
    return time.time() if now is None else float(now)


def check_reward(config: Any, reward: Any, cost: Any = None) -> tuple[float, float | None]:
    """Validate a reward and cost against a campaign config; return them as floats.

    ``cost=None`` stays ``None``: the store then records the arm's ``cost_per_action``.

    Raises
    ------
    ScenarioError
        Not a number, NaN/infinite, negative cost, outside ``reward_bounds``, not 0/1 for a binary
        campaign.
    """
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        raise ScenarioError(f"reward is {reward!r}; it must be a number.")
    value = float(reward)
    if not math.isfinite(value):
        raise ScenarioError(f"reward is {value}; it must be a finite number (no NaN or infinity).")
    if abs(value) > MAX_ABS_AMOUNT:
        raise ScenarioError(
            f"reward is {value:g}; its magnitude must be <= {MAX_ABS_AMOUNT:g} (so per-arm totals cannot overflow). "
            "Check the reward unit."
        )
    cost_value: float | None = None
    if cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, (int, float)):
            raise ScenarioError(f"cost is {cost!r}; it must be a number in the campaign currency.")
        cost_value = float(cost)
        if not math.isfinite(cost_value) or cost_value < 0:
            raise ScenarioError(f"cost is {cost_value}; it must be a finite number >= 0 (campaign currency).")
        if cost_value > MAX_ABS_AMOUNT:
            raise ScenarioError(
                f"cost is {cost_value:g}; it must be <= {MAX_ABS_AMOUNT:g} in the campaign currency (so cost totals "
                "cannot overflow). Check the currency unit."
            )
    kind = getattr(config, "reward_kind", "binary")
    kind = getattr(kind, "value", kind)
    if kind == "binary" and value not in (0.0, 1.0):
        raise ScenarioError(
            f"reward is {value}; campaign {config.name!r} has binary rewards, so it must be 0 or 1."
        )
    bounds = getattr(config, "reward_bounds", None)
    if bounds is not None:
        low, high = _bounds(bounds)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ScenarioError(
                f"reward is {value}; campaign {config.name!r} accepts rewards in [{low}, {high}]. "
                "Check the reward unit, or widen reward_bounds in the campaign config."
            )
    elif value < 0:
        raise ScenarioError(f"reward is {value}; rewards must be >= 0.")
    return value, cost_value


def _bounds(bounds: Any) -> tuple[float | None, float | None]:
    if isinstance(bounds, (tuple, list)):
        return float(bounds[0]), float(bounds[1])
    low = getattr(bounds, "low", getattr(bounds, "min", None))
    high = getattr(bounds, "high", getattr(bounds, "max", None))
    return low, high


def check_context(config: Any, context: Sequence[float] | None) -> tuple[float, ...] | None:
    """Validate a context vector against ``config.context_dim``; return it as a tuple of floats."""
    dim = int(getattr(config, "context_dim", 0) or 0)
    if context is None:
        if dim:
            raise ScenarioError(
                f"context is missing; campaign {config.name!r} uses a contextual policy with "
                f"context_dim={dim}, so every request needs {dim} number(s)."
            )
        return None
    values = tuple(context)
    if dim == 0:
        if not values:
            return None
        raise ScenarioError(
            f"context has {len(values)} value(s); campaign {config.name!r} is not contextual "
            "(context_dim=0): send no context."
        )
    if len(values) != dim:
        raise ScenarioError(
            f"context has {len(values)} value(s); campaign {config.name!r} expects context_dim={dim}."
        )
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ScenarioError(f"context[{i}] is {v!r}; it must be a finite number.")
        out.append(float(v))
    return tuple(out)


def check_eligible(config: Any, eligible: Sequence[str] | None) -> tuple[str, ...] | None:
    """Validate an eligible-arm list: known names, no duplicates, at least one."""
    if eligible is None:
        return None
    names = [a.name for a in config.arms]
    out = tuple(eligible)
    if not out:
        raise ScenarioError("eligible is empty; give at least one arm name, or omit it to allow every arm.")
    for i, arm in enumerate(out):
        if arm not in names:
            import difflib

            hint = difflib.get_close_matches(str(arm), names, n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else f" Arms: {', '.join(names)}."
            raise ScenarioError(f"eligible[{i}] is {arm!r}; campaign {config.name!r} has no such arm.{extra}")
    if len(set(out)) != len(out):
        raise ScenarioError(f"eligible is {list(out)}; arm names must not repeat.")
    return out


def arm_cost(config: Any, arm: str) -> float:
    """The arm's ``cost_per_action`` (campaign currency)."""
    for a in config.arms:
        if a.name == arm:
            return float(a.cost_per_action)
    return 0.0


def dumps(obj: Any) -> str:
    """Compact JSON for storage (NaN refused)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)
