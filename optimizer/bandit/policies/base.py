"""The policy contract, input checks and the per-arm statistics shared by the counting policies.

A policy holds sufficient statistics per arm (counts, sums) in plain Python lists: for the 2-20
arms of a messaging campaign, list arithmetic is several times faster per call than numpy, which
is what the in-process speed target needs. Vector work (batch decisions, quadrature for
propensities) converts to numpy once per call.

State format (``to_state()``), JSON-safe, version 1::

    {"format": 1, "kind": "<policy kind>", "arms": ["email", "sms", ...],
     "version": <int, bumped on every update>, "n_updates": <int>,
     "stats": {"n": [...], "sum": [...], "sumsq": [...], "cost": [...]},   # per arm, config order
     "recent": [[arm_index, reward, cost], ...],     # sliding-window policies only
     ...policy-specific keys documented in each module}

Without drift, updates add to ``n``/``sum``/``sumsq``/``cost``: commutative, so a store may apply
them in any order (or as one batch) and reach the same state. Discounting and windows are
order-dependent by nature; their state is still a plain dict.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Sequence

import numpy as np

from optimizer.errors import DataError, DmpoptError, ScenarioError

STATE_FORMAT = 1


class BudgetExhaustedError(DmpoptError):
    """A budgeted policy has no arm whose cost fits in the remaining budget."""


def arm_names_of(arms: Sequence[Any]) -> tuple[str, ...]:
    """Names from a list of :class:`ArmConfig` or of strings."""
    names = tuple(a if isinstance(a, str) else a.name for a in arms)
    if len(names) < 1:
        raise ScenarioError("arms is empty; a policy needs at least one arm.")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ScenarioError(f"arm names must be unique; repeated: {', '.join(dupes)}.")
    return names


def arm_costs_of(arms: Sequence[Any]) -> tuple[float, ...]:
    """``cost_per_action`` per arm (0 for plain names)."""
    return tuple(0.0 if isinstance(a, str) else float(a.cost_per_action) for a in arms)


class Policy:
    """Base class of every bandit policy.

    Subclasses implement ``choose`` (draw one arm index), ``probabilities`` (the probability of
    choosing each arm now), ``_add`` (fold one observation into the statistics) and the state
    hooks. Public methods check their inputs *before* touching the state, so a rejected call
    leaves the policy exactly as it was.

    Attributes
    ----------
    arms : tuple of str
        Arm names; every per-arm list/array follows this order.
    version : int
        Bumped on every accepted update; caches (propensities) are keyed by it.
    n_updates : int
        Number of accepted observations.
    rng : numpy.random.Generator
        The policy's own generator (from ``seed``), used when the caller passes none.
    """

    kind: str = "base"
    contextual: bool = False
    #: spends from a budget (has ``affordable(mask)``); the engine restricts eligibility with it.
    budgeted: bool = False
    #: probabilities are exact (closed form) rather than numerical.
    exact_probabilities: bool = True

    def __init__(self, config: Any, arms: Sequence[Any], seed: int | None = None, *,
                 reward_bounds: tuple[float, float] = (0.0, 1.0), binary: bool = True,
                 context_dim: int = 0):
        from optimizer.seeding import make_rng

        self.config = config
        self.arms = arm_names_of(arms)
        self.arm_costs = arm_costs_of(arms)
        self.n_arms = len(self.arms)
        self.arm_index = {name: i for i, name in enumerate(self.arms)}
        low, high = float(reward_bounds[0]), float(reward_bounds[1])
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ScenarioError(f"reward_bounds is [{low}, {high}]; it must be finite with low < high.")
        self.reward_low, self.reward_high = low, high
        self._reward_span = high - low
        self.binary = bool(binary)
        self.context_dim = int(context_dim)
        self.rng, self.seed = make_rng(seed)
        self.version = 0
        self.n_updates = 0
        self._prob_cache: dict[Any, np.ndarray] = {}

    # ----------------------------------------------------------------------------- checks
    def index_of(self, arm: str | int) -> int:
        """Arm index from a name (or a valid index); :class:`DataError` for an unknown arm."""
        if isinstance(arm, str):
            try:
                return self.arm_index[arm]
            except KeyError:
                import difflib

                hint = difflib.get_close_matches(arm, self.arms, n=1)
                tip = f" Did you mean {hint[0]!r}?" if hint else ""
                raise DataError(
                    f"arm {arm!r} is unknown; arms are {', '.join(self.arms)}.{tip}"
                ) from None
        if isinstance(arm, (int, np.integer)) and not isinstance(arm, bool) and 0 <= arm < self.n_arms:
            return int(arm)
        raise DataError(f"arm {arm!r} is not an arm name or an index in 0..{self.n_arms - 1}.")

    def check_reward(self, reward: Any) -> float:
        """The reward as a float; :class:`DataError` if NaN/inf, out of bounds, or not 0/1 when binary."""
        try:
            r = float(reward)
        except (TypeError, ValueError):
            raise DataError(f"reward is {reward!r}; it must be a number.") from None
        if not math.isfinite(r):
            raise DataError(f"reward is {r}; it must be a finite number (no NaN or infinity).")
        if self.binary and r not in (0.0, 1.0):
            raise DataError(f"reward is {r}; binary rewards must be 0 or 1.")
        if not self.reward_low <= r <= self.reward_high:
            raise DataError(
                f"reward is {r}; it must be within reward_bounds [{self.reward_low}, {self.reward_high}]."
            )
        return r

    def check_cost(self, cost: Any, arm: int) -> float:
        """Observed cost (default: the arm's ``cost_per_action``); must be finite and >= 0."""
        if cost is None:
            return self.arm_costs[arm]
        try:
            c = float(cost)
        except (TypeError, ValueError):
            raise DataError(f"cost is {cost!r}; it must be a number.") from None
        if not math.isfinite(c) or c < 0:
            raise DataError(f"cost is {c}; it must be a finite number >= 0 (campaign currency).")
        return c

    def check_context(self, context: Any) -> np.ndarray | None:
        """Validate the per-request feature vector (required and of length ``context_dim`` for contextual policies)."""
        if not self.contextual:
            return None
        if context is None:
            raise DataError(f"policy {self.kind} needs a context of {self.context_dim} features; got none.")
        x = np.asarray(context, dtype=float)
        if x.ndim != 1 or x.shape[0] != self.context_dim:
            raise DataError(
                f"context has shape {x.shape}; policy {self.kind} expects {self.context_dim} features."
            )
        if not np.all(np.isfinite(x)):
            raise DataError("context holds NaN or infinity; features must be finite numbers.")
        return x

    def eligible_mask(self, eligible: Sequence[str] | None) -> tuple[bool, ...] | None:
        """``None`` (all arms) or a tuple of booleans; :class:`DataError` for unknown or no arms."""
        if eligible is None:
            return None
        mask = [False] * self.n_arms
        for name in eligible:
            mask[self.index_of(name)] = True
        if not any(mask):
            raise DataError("eligible is empty; at least one arm must be eligible for a decision.")
        return tuple(mask)

    def scale(self, r: float) -> float:
        """Reward mapped to [0, 1] through ``reward_bounds`` (UCB, KL-UCB, EXP3 need it)."""
        return (r - self.reward_low) / self._reward_span

    # ------------------------------------------------------------------------ public API
    def update(self, arm: str | int, reward: Any, cost: Any = None, context: Any = None,
               propensity: float | None = None) -> None:
        """Fold one observation in. Checks everything first: on error the state is unchanged.

        Parameters
        ----------
        arm : str or int
            The arm that was served.
        reward : float
            Its reward (0/1 for binary campaigns), within ``reward_bounds``.
        cost : float, optional
            Money spent on this action (default: the arm's ``cost_per_action``).
        context : array-like, optional
            The request's features (contextual policies only; required there).
        propensity : float, optional
            Probability the arm had when it was chosen (EXP3 uses it; default: the current one).
        """
        # fast path for the common call (known name or index, float reward in bounds, default
        # cost, no context); anything else goes through the full checks with their messages
        i = self.arm_index.get(arm) if arm.__class__ is str else (arm if arm.__class__ is int and 0 <= arm < self.n_arms else None)
        if i is None:
            i = self.index_of(arm)
        r = reward
        if r.__class__ is not float or not (self.reward_low <= r <= self.reward_high) or (
                self.binary and r != 0.0 and r != 1.0):
            r = self.check_reward(reward)
        c = self.arm_costs[i] if cost is None else self.check_cost(cost, i)
        x = self.check_context(context) if self.contextual else None
        if propensity is not None:
            p = float(propensity)
            if not (math.isfinite(p) and 0 < p <= 1):
                raise DataError(f"propensity is {propensity!r}; it must be in (0, 1].")
        self._add(i, r, c, x, propensity)
        self.n_updates += 1
        self.version += 1
        if self._prob_cache:
            self._prob_cache.clear()

    def update_batch(self, arms: Sequence[str | int], rewards: Sequence[float],
                     costs: Sequence[float] | None = None, contexts: Any = None) -> None:
        """Fold many observations in, all checked first (all or nothing), vectorized.

        ``arms`` may be names or indices (a numpy int array is fastest). Without drift the
        statistics are sums, so this equals the same updates one by one, in any order.
        """
        n = len(arms)
        if len(rewards) != n or (costs is not None and len(costs) != n):
            raise DataError(f"arms has {n} item(s) but rewards/costs have {len(rewards)}/"
                            f"{'-' if costs is None else len(costs)}; they must have the same length.")
        idx = self._batch_indices(arms)
        try:
            r = np.asarray(rewards, dtype=float)
        except (TypeError, ValueError):
            raise DataError("rewards must all be numbers.") from None
        bad = ~np.isfinite(r)
        if bad.any():
            raise DataError(f"rewards: {int(bad.sum())} item(s) are NaN or infinite; rewards must be finite.")
        bad = (r < self.reward_low) | (r > self.reward_high)
        if bad.any():
            raise DataError(f"rewards: {int(bad.sum())} item(s) are outside reward_bounds "
                            f"[{self.reward_low}, {self.reward_high}] (first: {r[bad][0]}).")
        if self.binary:
            bad = (r != 0.0) & (r != 1.0)
            if bad.any():
                raise DataError(f"rewards: {int(bad.sum())} item(s) are not 0 or 1 (first: {r[bad][0]}); "
                                "binary rewards must be 0 or 1.")
        if costs is None:
            c = np.asarray(self.arm_costs, dtype=float)[idx]
        else:
            try:
                c = np.asarray(costs, dtype=float)
            except (TypeError, ValueError):
                raise DataError("costs must all be numbers.") from None
            bad = ~np.isfinite(c) | (c < 0)
            if bad.any():
                raise DataError(f"costs: {int(bad.sum())} item(s) are negative or not finite; costs must be >= 0.")
        if self.contextual:
            if contexts is None or len(contexts) != n:
                raise DataError(f"contexts must hold one feature vector per observation ({n}).")
            xs = [self.check_context(x) for x in contexts]
        else:
            xs = None
        self._add_batch(idx, r, c, xs)
        self.n_updates += n
        self.version += 1
        self._prob_cache.clear()

    def _batch_indices(self, arms: Sequence[str | int]) -> np.ndarray:
        a = np.asarray(arms)
        if a.dtype.kind in "iu":
            bad = (a < 0) | (a >= self.n_arms)
            if bad.any():
                raise DataError(f"arms: {int(bad.sum())} index(es) outside 0..{self.n_arms - 1} (first: {a[bad][0]}).")
            return a.astype(np.int64)
        return np.fromiter((self.index_of(x) for x in arms), dtype=np.int64, count=len(arms))

    def _add_batch(self, idx: np.ndarray, rs: np.ndarray, cs: np.ndarray, xs: list | None) -> None:
        for k, (i, r, c) in enumerate(zip(idx.tolist(), rs.tolist(), cs.tolist())):
            self._add(i, r, c, None if xs is None else xs[k], None)

    def cached_probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None) -> np.ndarray:
        """:meth:`probabilities`, cached per (state version, eligible set) for context-free policies."""
        if context is not None:
            return self.probabilities(context, mask)
        key = mask
        p = self._prob_cache.get(key)
        if p is None:
            p = self.probabilities(None, mask)
            p.setflags(write=False)
            self._prob_cache[key] = p
        return p

    def lazy_probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None):
        """A function returning :meth:`probabilities` *of the current state*, callable later.

        Default: compute now (cheap closed forms). Policies whose probabilities are numerical
        override it to snapshot the few numbers they need and integrate only when called.
        """
        p = self.cached_probabilities(None, mask) if context is None else self.probabilities(context, mask)
        return lambda: p

    # ------------------------------------------------------------------ for subclasses
    def choose(self, rng: np.random.Generator, context: np.ndarray | None = None,
               mask: tuple[bool, ...] | None = None) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def choose_batch(self, rng: np.random.Generator, n: int, contexts: np.ndarray | None = None,
                     mask: tuple[bool, ...] | None = None) -> np.ndarray:
        """``n`` arm indices drawn with the current state (default: ``choose`` in a loop)."""
        return np.fromiter(
            (self.choose(rng, None if contexts is None else contexts[k], mask) for k in range(n)),
            dtype=np.int64, count=n,
        )

    def probabilities(self, context: np.ndarray | None = None,
                      mask: tuple[bool, ...] | None = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _add(self, i: int, r: float, c: float, x: np.ndarray | None, propensity: float | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def arm_to_expectation(self) -> dict[str, float]:  # pragma: no cover - abstract
        """Current point estimate of each arm's mean reward."""
        raise NotImplementedError

    # --------------------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        """JSON-safe learned state; see the module docstring for the format."""
        state = {"format": STATE_FORMAT, "kind": self.kind, "arms": list(self.arms),
                 "version": self.version, "n_updates": self.n_updates}
        state.update(self._state())
        return state

    def _state(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load(self, state: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_state(cls, config: Any, state: dict[str, Any], arms: Sequence[Any] | None = None,
                   seed: int | None = None, **kwargs: Any) -> "Policy":
        """Rebuild a policy from ``config`` and a ``to_state()`` dict (arms default to the state's)."""
        if not isinstance(state, dict):
            raise DataError(f"state is a {type(state).__name__}; expected the dict from to_state().")
        if state.get("format") != STATE_FORMAT:
            raise DataError(f"state format is {state.get('format')!r}; this version reads format {STATE_FORMAT}.")
        if state.get("kind") != cls.kind:
            raise DataError(f"state is for policy {state.get('kind')!r}; this is {cls.kind!r}.")
        names = list(state.get("arms", []))
        if arms is None:
            arms = names
        policy = cls(config, arms, seed, **kwargs)
        if list(policy.arms) != names:
            raise DataError(f"state arms {names} differ from the configured arms {list(policy.arms)}.")
        try:
            policy._load(state)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataError(f"state for policy {cls.kind!r} is malformed: {exc!r}.") from None
        policy.version = int(state["version"])
        policy.n_updates = int(state["n_updates"])
        return policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(arms={list(self.arms)}, n_updates={self.n_updates})"


class ArmStats:
    """Per-arm weighted count, reward sum, sum of squares and cost, with optional drift.

    ``drift`` is None (stationary: commutative sums), a discount factor (every update first
    multiplies all statistics by it: Garivier & Moulines' discounted estimators), or a window
    size (only the last ``size`` observations over all arms count: sliding-window estimators).
    """

    __slots__ = ("n", "s", "q", "cost", "discount", "window", "recent")

    def __init__(self, n_arms: int, drift: Any = None):
        self.n = [0.0] * n_arms
        self.s = [0.0] * n_arms
        self.q = [0.0] * n_arms
        self.cost = [0.0] * n_arms
        self.discount = drift.factor if drift is not None and drift.kind == "discount" else None
        self.window = drift.size if drift is not None and drift.kind == "window" else None
        self.recent: deque | None = deque() if self.window is not None else None

    def add(self, i: int, r: float, c: float) -> None:
        g = self.discount
        if g is not None:
            n, s, q = self.n, self.s, self.q
            for j in range(len(n)):
                n[j] *= g
                s[j] *= g
                q[j] *= g
        self.n[i] += 1.0
        self.s[i] += r
        self.q[i] += r * r
        self.cost[i] += c  # spend is never discounted: it is money out of the budget
        if self.recent is not None:
            self.recent.append((i, r, c))
            if len(self.recent) > self.window:
                j, r0, _ = self.recent.popleft()
                self.n[j] -= 1.0
                self.s[j] -= r0
                self.q[j] -= r0 * r0
                if self.n[j] < 0.5:  # exact reset: no float residue on an emptied arm
                    self.n[j] = self.s[j] = self.q[j] = 0.0

    def add_batch(self, idx: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
        """Many observations; summed with bincount when stationary, one by one otherwise."""
        if self.discount is None and self.recent is None:
            k = len(self.n)
            for attr, w in (("n", None), ("s", r), ("q", r * r), ("cost", c)):
                add = np.bincount(idx, weights=w, minlength=k).tolist()
                cur = getattr(self, attr)
                setattr(self, attr, [a + b for a, b in zip(cur, add)])
        else:
            for i, ri, ci in zip(idx.tolist(), r.tolist(), c.tolist()):
                self.add(i, ri, ci)

    def to_state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stats": {"n": list(self.n), "sum": list(self.s),
                                         "sumsq": list(self.q), "cost": list(self.cost)}}
        if self.recent is not None:
            out["recent"] = [[i, r, c] for i, r, c in self.recent]
        return out

    def load(self, state: dict[str, Any], n_arms: int) -> None:
        st = state["stats"]
        for key, attr in (("n", "n"), ("sum", "s"), ("sumsq", "q"), ("cost", "cost")):
            values = [float(v) for v in st[key]]
            if len(values) != n_arms or not all(math.isfinite(v) for v in values):
                raise ValueError(f"stats.{key} must hold {n_arms} finite numbers")
            setattr(self, attr, values)
        if self.recent is not None:
            self.recent = deque((int(i), float(r), float(c)) for i, r, c in state.get("recent", []))
