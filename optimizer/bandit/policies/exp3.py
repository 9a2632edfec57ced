"""EXP3 (Auer, Cesa-Bianchi, Freund & Schapire 2002) for adversarial rewards.

Choice probabilities: ``p_i = (1 - gamma) * w_i / sum(w) + gamma / K`` over the eligible arms.
On a reward r (scaled to [0, 1]) of arm i chosen with propensity p_i, ``log w_i += gamma * r /
(p_i * K)``. Log-weights are kept (not weights) so long runs cannot overflow; the update is a sum,
hence commutative, provided each update carries the propensity logged at decision time (the
``propensity`` argument; when it is missing the current probability is used).

State keys beyond the common ones: ``log_weights`` (list of floats, one per arm).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from optimizer.bandit.policies._quadrature import eligible_indices
from optimizer.bandit.policies.base import Policy


class EXP3(Policy):
    """EXP3 with exploration mix ``gamma``."""

    kind = "exp3"

    def __init__(self, config: Any, arms: Sequence[Any], seed: int | None = None, **kwargs: Any):
        super().__init__(config, arms, seed, **kwargs)
        self.log_weights = [0.0] * self.n_arms
        self.n = [0] * self.n_arms
        self.sums = [0.0] * self.n_arms

    def probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None) -> np.ndarray:
        idx = eligible_indices(mask, self.n_arms)
        g = self.config.gamma
        lw = np.asarray([self.log_weights[i] for i in idx])
        w = np.exp(lw - lw.max())
        p = np.zeros(self.n_arms)
        p[idx] = (1 - g) * w / w.sum() + g / len(idx)
        return p

    def _probs_list(self) -> list[float]:
        """Probabilities over all arms as Python floats (the per-decision fast path)."""
        lw = self.log_weights
        top = max(lw)
        w = [math.exp(v - top) for v in lw]
        total = sum(w)
        g = self.config.gamma
        k = self.n_arms
        return [(1 - g) * v / total + g / k for v in w]

    def choose(self, rng: np.random.Generator, context: Any = None,
               mask: tuple[bool, ...] | None = None) -> int:
        p = self._probs_list() if mask is None else self.probabilities(None, mask).tolist()
        u = rng.random()
        cum = 0.0
        last = 0
        for i, pi in enumerate(p):
            if pi > 0:
                cum += pi
                last = i
                if u < cum:
                    return i
        return last  # u within rounding of 1

    def choose_batch(self, rng: np.random.Generator, n: int, contexts: Any = None,
                     mask: tuple[bool, ...] | None = None) -> np.ndarray:
        return rng.choice(self.n_arms, size=n, p=self.probabilities(None, mask))

    def _add(self, i: int, r: float, c: float, x: Any, propensity: float | None) -> None:
        p = propensity if propensity is not None else self._probs_list()[i]
        self.log_weights[i] += self.config.gamma * self.scale(r) / (p * self.n_arms)
        self.n[i] += 1
        self.sums[i] += r

    def arm_to_expectation(self) -> dict[str, float]:
        return {a: (s / n if n else math.nan) for a, n, s in zip(self.arms, self.n, self.sums)}

    def _state(self) -> dict[str, Any]:
        return {"log_weights": list(self.log_weights), "stats": {"n": list(self.n), "sum": list(self.sums)}}

    def _load(self, state: dict[str, Any]) -> None:
        lw = [float(v) for v in state["log_weights"]]
        if len(lw) != self.n_arms or not all(math.isfinite(v) for v in lw):
            raise ValueError(f"log_weights must hold {self.n_arms} finite numbers")
        self.log_weights = lw
        self.n = [int(v) for v in state["stats"]["n"]]
        self.sums = [float(v) for v in state["stats"]["sum"]]
