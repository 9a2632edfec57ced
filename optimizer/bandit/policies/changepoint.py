"""Thompson sampling with Bernoulli GLR change-point detection (piecewise-stationary rewards).

Besson, Kaufmann, Maillard & Seznec (2022), "Efficient change-point detection for tackling
piecewise-stationary bandits", JMLR 23(77) (GLR-klUCB), with Thompson sampling as the base policy
in place of kl-UCB (the detector is a wrapper around any index or sampling policy; Besson's own
library SMPyBandits ships it that way, ``GLR_IndexPolicy``).

Detector
--------
For the rewards ``z_1 .. z_n`` (in [0, 1]) an arm received since its last restart, the Bernoulli
generalized likelihood ratio statistic for "one change at some s" against "no change" is::

    GLR(n) = max_{1 <= s < n}  s kl(mu_{1:s}, mu_{1:n}) + (n - s) kl(mu_{s+1:n}, mu_{1:n})

with ``mu_{a:b}`` the mean of ``z_a .. z_b`` and ``kl`` the Bernoulli relative entropy. A change is
declared when ``GLR(n) > beta(n, delta) = ln(3 n^{3/2} / delta)`` (the threshold the authors use in
practice: SMPyBandits ``threshold_BernoulliGLR``, default variant). Then the arm's statistics
restart from the prior (``restart: local``) or every arm's do (``restart: global``).

Cost: the test runs every ``check_every`` observations of an arm (``Delta n`` in the paper) and
tries splits ``s`` on multiples of ``split_every`` (``Delta s``); both default to 10, SMPyBandits'
defaults (``LAZY_DETECT_CHANGE_ONLY_X_STEPS``, ``LAZY_TRY_VALUE_S_ONLY_X_STEPS``). One test is a
numpy pass over ``n / split_every`` prefix sums, so the amortized cost per update is
O(n / (check_every * split_every)).

Forced exploration
------------------
An arm the policy has stopped serving cannot reveal that it improved, so with probability
``alpha`` a decision serves a uniformly drawn eligible arm (randomized forced exploration, as in
SMPyBandits' ``CD_IndexPolicy``; the paper's analysis uses a deterministic round-robin with the
same rate). The propensities are exact: ``(1 - alpha) * P_TS(arm) + alpha / n_eligible``.

Defaults (the paper's tuning for a known horizon and number of changes, as implemented in
SMPyBandits ``smart_delta_from_T_UpsilonT`` / ``smart_alpha_from_T_UpsilonT``), with ``T`` the
expected number of decisions (``horizon_decisions``), ``Upsilon`` the expected number of change
points (``max_changes``, 1 when unknown) and ``K`` the number of arms::

    global restart:  delta = 1 / sqrt(Upsilon T),     alpha = 0.1 sqrt(Upsilon ln(T) / T)
    local restart:   delta = 1 / sqrt(K Upsilon T),   alpha = 0.1 sqrt(K Upsilon ln(T) / T)

The factor 0.1 on alpha is SMPyBandits' ``ALPHA0_SCALE_FACTOR`` ("alpha from the formula is
usually too large; multiplying it by 0.1 or 0.2 helps a lot").

State keys beyond the common ones (``base.py``)::

    "detector": {"count": [...], "sum": [...],   # per arm, observations and reward sum since restart
                 "marks": [[...], ...],          # per arm, reward sums after every split_every observations
                 "n_restarts": int,              # changes detected so far
                 "last_restart": int}            # n_updates at the last restart (0: none)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from optimizer.bandit.policies._quadrature import eligible_indices
from optimizer.bandit.policies.thompson import BetaThompson

_EPS = 1e-12
#: SMPyBandits' ALPHA0_SCALE_FACTOR: the paper's forced-exploration rate times 0.1.
ALPHA_SCALE = 0.1


def glr_threshold(n: int, delta: float) -> float:
    """``beta(n, delta) = ln(3 n^{3/2} / delta)``: the GLR statistic must exceed it to detect."""
    return math.log(3.0 * n ** 1.5 / delta)


def _xlogx(x: np.ndarray) -> np.ndarray:
    """``x ln x`` elementwise, 0 at x = 0."""
    return x * np.log(np.maximum(x, 1e-300))


def _seg_ll(total, count):
    """Maximized Bernoulli log-likelihood of a segment of ``count`` rewards summing to ``total``:
    ``total ln(mu) + (count - total) ln(1 - mu)`` at ``mu = total / count`` (0 ln 0 = 0)."""
    return _xlogx(total) + _xlogx(count - total) - _xlogx(count)


def bernoulli_glr(marks: np.ndarray, split_every: int, n: int, total: float,
                  head_ll: np.ndarray | None = None) -> tuple[float, int]:
    """The GLR statistic over the splits ``s = split_every, 2 split_every, ... < n``.

    Uses ``s kl(mu_1:s, mu) + (n - s) kl(mu_s+1:n, mu) = LL(1:s) + LL(s+1:n) - LL(1:n)``, with LL
    the maximized Bernoulli log-likelihood of a segment (the ``ln mu`` terms cancel), so the head
    terms can be cached as observations arrive.

    Parameters
    ----------
    marks : array of float
        ``marks[b - 1]`` = sum of the first ``b * split_every`` rewards (b = 1, 2, ...).
    split_every : int
        Spacing of the candidate change positions ``s``.
    n : int
        Number of rewards observed.
    total : float
        Sum of all ``n`` rewards.
    head_ll : array of float, optional
        ``LL`` of the first ``b * split_every`` rewards, aligned with ``marks`` (computed if None).

    Returns
    -------
    (statistic, s) : (float, int)
        The largest statistic and the ``s`` reaching it ((0.0, 0) when no split is possible).
    """
    b = min(len(marks), (n - 1) // split_every)
    if b < 1 or n < 2:
        return 0.0, 0
    s = np.arange(split_every, split_every * (b + 1), split_every, dtype=np.float64)
    head = np.asarray(marks[:b], dtype=np.float64)
    hll = _seg_ll(head, s) if head_ll is None else head_ll[:b]
    stat = hll + _seg_ll(total - head, n - s)
    k = int(np.argmax(stat))
    whole = float(_seg_ll(np.float64(total), np.float64(n)))
    return max(float(stat[k]) - whole, 0.0), int(s[k])


def default_delta(horizon: int, max_changes: int, n_arms: int, restart: str) -> float:
    """The paper's false-alarm level: ``1 / sqrt(Upsilon T)`` (global) or ``1 / sqrt(K Upsilon T)`` (local)."""
    m = max_changes * horizon * (n_arms if restart == "local" else 1)
    return 1.0 / math.sqrt(m)


def default_alpha(horizon: int, max_changes: int, n_arms: int, restart: str) -> float:
    """The paper's forced-exploration rate times 0.1: ``0.1 sqrt((K) Upsilon ln(T) / T)``."""
    ratio = max_changes * (n_arms if restart == "local" else 1) / horizon
    return min(ALPHA_SCALE * math.sqrt(ratio * math.log(horizon)), 1.0)


class GLRDetector:
    """Per-arm Bernoulli GLR change detector on rewards in [0, 1] (see the module docstring).

    Per arm: the count and reward sum since the last restart and, every ``step`` observations,
    the running sum (a "mark") and the segment log-likelihood up to it, in numpy buffers that grow
    geometrically, so a test is a few vector operations over at most ``max_splits`` marks. ``step``
    starts at ``split_every``; when an arm holds ``max_splits`` marks, every other one is dropped
    and its ``step`` doubles (the candidate change positions stay evenly spread, ``n / max_splits``
    to ``2 n / max_splits`` apart), which bounds the cost of a test on a long history.
    """

    __slots__ = (
        "_head",
        "_len",
        "_marks",
        "check_every",
        "count",
        "delta",
        "last_restart",
        "max_splits",
        "n_arms",
        "n_restarts",
        "split_every",
        "step",
        "total",
    )

    def __init__(self, n_arms: int, delta: float, check_every: int = 10, split_every: int = 10,
                 max_splits: int = 1000):
        self.n_arms = n_arms
        self.delta = float(delta)
        self.check_every = int(check_every)
        self.split_every = int(split_every)
        self.max_splits = int(max_splits)
        self.n_restarts = 0
        self.last_restart = 0
        self.count = [0] * n_arms
        self.total = [0.0] * n_arms
        self.step = [self.split_every] * n_arms
        self._marks = [np.empty(16) for _ in range(n_arms)]
        self._head = [np.empty(16) for _ in range(n_arms)]
        self._len = [0] * n_arms

    def reset(self, i: int) -> None:
        """Forget arm ``i``'s history (after a restart)."""
        self.count[i] = 0
        self.total[i] = 0.0
        self.step[i] = self.split_every
        self._len[i] = 0

    def _mark(self, i: int, c: int, t: float) -> None:
        k = self._len[i]
        if k == self.max_splits:  # coarsen: keep the marks at even multiples of the step
            keep = k // 2
            self._marks[i][:keep] = self._marks[i][1:2 * keep:2]
            self._head[i][:keep] = self._head[i][1:2 * keep:2]
            self.step[i] *= 2
            k = self._len[i] = keep
            if c % self.step[i]:
                return
        if k == len(self._marks[i]):
            self._marks[i] = np.concatenate((self._marks[i], np.empty(k)))
            self._head[i] = np.concatenate((self._head[i], np.empty(k)))
        self._marks[i][k] = t
        f = c - t  # failures (reward mass below 1)
        self._head[i][k] = ((t * math.log(t) if t > 0 else 0.0) + (f * math.log(f) if f > 0 else 0.0)
                            - c * math.log(c))
        self._len[i] = k + 1

    def marks(self, i: int) -> list[float]:
        """Arm ``i``'s running reward sums after every ``step[i]`` observations."""
        return self._marks[i][:self._len[i]].tolist()

    def add(self, i: int, r: float) -> bool:
        """Record reward ``r`` of arm ``i``; True when a change is detected (the caller restarts)."""
        c = self.count[i] + 1
        t = self.total[i] + r
        self.count[i] = c
        self.total[i] = t
        if c % self.step[i] == 0:
            self._mark(i, c, t)
        if c % self.check_every:
            return False
        return self.statistic(i) > glr_threshold(c, self.delta)

    def statistic(self, i: int) -> float:
        """GLR statistic of arm ``i``'s rewards since its last restart."""
        k = self._len[i]
        return bernoulli_glr(self._marks[i][:k], self.step[i], self.count[i], self.total[i],
                             self._head[i][:k])[0]

    def to_state(self) -> dict[str, Any]:
        return {"count": list(self.count), "sum": list(self.total), "step": list(self.step),
                "marks": [self.marks(i) for i in range(self.n_arms)],
                "n_restarts": self.n_restarts, "last_restart": self.last_restart}

    def load(self, state: dict[str, Any]) -> None:
        count = [int(v) for v in state["count"]]
        total = [float(v) for v in state["sum"]]
        step = [int(v) for v in state["step"]]
        marks = [[float(v) for v in m] for m in state["marks"]]
        if not (len(count) == len(total) == len(step) == len(marks) == self.n_arms):
            raise ValueError(f"detector must hold {self.n_arms} arms")
        for c, t, h, m in zip(count, total, step, marks):
            if (c < 0 or not (math.isfinite(t) and 0 <= t <= c) or h < self.split_every
                    or len(m) != c // h or len(m) > self.max_splits):
                raise ValueError("detector counts, sums, steps and marks are inconsistent")
        for i in range(self.n_arms):
            self.reset(i)
            self.step[i] = step[i]
            for b, t in enumerate(marks[i]):
                self._mark(i, (b + 1) * step[i], t)
        self.count, self.total = count, total
        self.n_restarts = int(state["n_restarts"])
        self.last_restart = int(state["last_restart"])


class GLRThompson(BetaThompson):
    """Beta-Bernoulli Thompson sampling restarted by a Bernoulli GLR change detector.

    Configured by ``ThompsonConfig(drift=ChangeDetectionDrift(...))``; see the module docstring.

    Attributes
    ----------
    alpha : float
        Probability that a decision is forced exploration (a uniform eligible arm).
    detector : GLRDetector
        Its ``n_restarts`` counts the changes detected so far.
    """

    kind = "thompson"

    def __init__(self, config: Any, arms: Sequence[Any], seed: int | None = None, **kwargs: Any):
        super().__init__(config, arms, seed, **kwargs)
        cd = config.drift
        T, ups, K = cd.horizon_decisions, cd.max_changes, self.n_arms
        self.restart = cd.restart
        delta = cd.delta if cd.delta is not None else default_delta(T, ups, K, cd.restart)
        self.alpha = float(cd.forced_exploration if cd.forced_exploration is not None
                           else default_alpha(T, ups, K, cd.restart))
        self.detector = GLRDetector(K, delta, cd.check_every, cd.split_every, cd.max_splits)

    # ------------------------------------------------------------------------- decisions
    def choose(self, rng: np.random.Generator, context: np.ndarray | None = None,
               mask: tuple[bool, ...] | None = None) -> int:
        a = self.alpha
        if a > 0.0 and rng.random() < a:
            idx = eligible_indices(mask, self.n_arms)
            return idx[int(rng.integers(len(idx)))]
        return BetaThompson.choose(self, rng, context, mask)

    def choose_batch(self, rng: np.random.Generator, n: int, contexts: Any = None,
                     mask: tuple[bool, ...] | None = None) -> np.ndarray:
        out = BetaThompson.choose_batch(self, rng, n, contexts, mask)
        if self.alpha > 0.0:
            forced = rng.random(n) < self.alpha
            idx = np.asarray(eligible_indices(mask, self.n_arms))
            out[forced] = idx[rng.integers(len(idx), size=int(forced.sum()))]
        return out

    def probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None) -> np.ndarray:
        p = (1.0 - self.alpha) * BetaThompson.probabilities(self, context, mask)
        idx = eligible_indices(mask, self.n_arms)
        p[idx] += self.alpha / len(idx)
        return p

    # --------------------------------------------------------------------------- updates
    def _add(self, i: int, r: float, c: float, x: Any, propensity: float | None) -> None:
        super()._add(i, r, c, x, propensity)
        if self.detector.add(i, r):
            self._restart(i)

    def _restart(self, i: int) -> None:
        det, st = self.detector, self.stats
        det.n_restarts += 1
        det.last_restart = self.n_updates + 1  # this update is counted after _add returns
        for j in (range(self.n_arms) if self.restart == "global" else (i,)):
            det.reset(j)
            # back to the prior; spend (stats.cost) is money out and is never forgotten
            st.n[j] = st.s[j] = st.q[j] = 0.0
        self._flush(self._buf_rng)

    def _add_batch(self, idx, rs, cs, xs) -> None:
        # detection is order-dependent: fold the batch in one observation at a time
        n0 = self.n_updates
        for k, (i, r, c) in enumerate(zip(idx.tolist(), rs.tolist(), cs.tolist())):
            self.n_updates = n0 + k  # so a restart inside the batch records its position
            self._add(i, r, c, None, None)
        self.n_updates = n0

    # ----------------------------------------------------------------------------- state
    def _state(self) -> dict[str, Any]:
        out = super()._state()
        out["detector"] = self.detector.to_state()
        return out

    def _load(self, state: dict[str, Any]) -> None:
        super()._load(state)
        self.detector.load(state["detector"])
