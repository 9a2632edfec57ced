"""Contextual linear bandits on per-request features: LinUCB and linear Thompson sampling.

Each arm i keeps a ridge regression of reward on the request's features x (length d):
``A_i = ridge * I + sum x x^T`` and ``b_i = sum r x``, so ``theta_i = A_i^-1 b_i``. Both are sums,
hence commutative updates.

- LinUCB (disjoint model, Li, Chu, Langford & Schapire 2010, Algorithm 1):
  ``x . theta_i + alpha * sqrt(x^T A_i^-1 x)``, ties broken at random.
- Linear Thompson sampling (Agrawal & Goyal 2013): theta_i ~ N(theta_hat_i, v^2 A_i^-1). Only the
  score ``x . theta_i`` matters, and it is exactly N(x . theta_hat_i, v^2 x^T A_i^-1 x), so we
  draw that scalar (one normal per arm instead of a d-variate draw). Its propensities are the
  probability that one independent normal exceeds the others, by quadrature.

State keys beyond the common ones: ``A`` (K x d x d nested lists), ``b`` (K x d), ``stats``
(``n``, ``sum`` per arm, for summaries).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from optimizer.bandit.policies._quadrature import (
    eligible_indices,
    expand,
    normal_cdf,
    normal_ppf_z,
    prob_best,
)
from optimizer.bandit.policies.base import Policy


class _Linear(Policy):
    contextual = True

    def __init__(self, config: Any, arms: Sequence[Any], seed: int | None = None, **kwargs: Any):
        super().__init__(config, arms, seed, **kwargs)
        d = self.context_dim
        if d < 1:
            from optimizer.errors import ScenarioError

            raise ScenarioError(f"policy {self.kind} needs context_dim >= 1; got {d}.")
        self.A = np.repeat(np.eye(d)[None] * config.ridge, self.n_arms, axis=0)
        self.b = np.zeros((self.n_arms, d))
        self.n = [0] * self.n_arms
        self.sums = [0.0] * self.n_arms
        self._refresh()

    def _refresh(self) -> None:
        self.A_inv = np.linalg.inv(self.A)
        self.theta = np.einsum("kij,kj->ki", self.A_inv, self.b)

    def _mean_var(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = self.theta @ x
        var = np.einsum("i,kij,j->k", x, self.A_inv, x)
        return mean, np.maximum(var, 1e-300)

    def _add(self, i: int, r: float, c: float, x: np.ndarray, propensity: float | None) -> None:
        self.A[i] += np.outer(x, x)
        self.b[i] += r * x
        # Sherman-Morrison keeps the inverse current in O(d^2)
        Ax = self.A_inv[i] @ x
        self.A_inv[i] -= np.outer(Ax, Ax) / (1.0 + x @ Ax)
        self.theta[i] = self.A_inv[i] @ self.b[i]
        self.n[i] += 1
        self.sums[i] += r

    def _add_batch(self, idx, rs, cs, xs) -> None:
        for i, r, x in zip(idx.tolist(), rs.tolist(), xs):
            self.A[i] += np.outer(x, x)
            self.b[i] += r * x
            self.n[i] += 1
            self.sums[i] += r
        self._refresh()

    def arm_to_expectation(self) -> dict[str, float]:
        return {a: (s / n if n else math.nan) for a, n, s in zip(self.arms, self.n, self.sums)}

    def _state(self) -> dict[str, Any]:
        return {"A": self.A.tolist(), "b": self.b.tolist(), "stats": {"n": list(self.n), "sum": list(self.sums)}}

    def _load(self, state: dict[str, Any]) -> None:
        A = np.asarray(state["A"], dtype=float)
        b = np.asarray(state["b"], dtype=float)
        d = self.context_dim
        if A.shape != (self.n_arms, d, d) or b.shape != (self.n_arms, d):
            raise ValueError(f"A must be {self.n_arms}x{d}x{d} and b {self.n_arms}x{d}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise ValueError("A and b must be finite")
        self.A, self.b = A, b
        self.n = [int(v) for v in state["stats"]["n"]]
        self.sums = [float(v) for v in state["stats"]["sum"]]
        self._refresh()


class LinUCB(_Linear):
    """Disjoint LinUCB with confidence width ``alpha``."""

    kind = "lin_ucb"

    def _ties(self, x: np.ndarray, mask: tuple[bool, ...] | None) -> np.ndarray:
        mean, var = self._mean_var(x)
        score = mean + self.config.alpha * np.sqrt(var)
        idx = np.asarray(eligible_indices(mask, self.n_arms))
        s = score[idx]
        return idx[s == s.max()]

    def choose(self, rng: np.random.Generator, context: Any = None,
               mask: tuple[bool, ...] | None = None) -> int:
        ties = self._ties(context, mask)
        return int(ties[0]) if len(ties) == 1 else int(ties[rng.integers(len(ties))])

    def probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None) -> np.ndarray:
        ties = self._ties(context, mask)
        p = np.zeros(self.n_arms)
        p[ties] = 1.0 / len(ties)
        return p


class LinTS(_Linear):
    """Linear Thompson sampling with posterior scale ``v``."""

    kind = "lin_ts"
    exact_probabilities = False

    def choose(self, rng: np.random.Generator, context: Any = None,
               mask: tuple[bool, ...] | None = None) -> int:
        mean, var = self._mean_var(context)
        idx = eligible_indices(mask, self.n_arms)
        z = rng.standard_normal(len(idx))
        draws = mean[idx] + self.config.v * np.sqrt(var[idx]) * z
        return int(idx[int(draws.argmax())])

    def lazy_probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None):
        """The score distributions are fixed now (O(K d^2)); the quadrature waits until called."""
        mean, var = self._mean_var(context)
        return lambda: self._probs_from(mean, self.config.v * np.sqrt(var), mask)

    def probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None) -> np.ndarray:
        mean, var = self._mean_var(context)
        return self._probs_from(mean, self.config.v * np.sqrt(var), mask)

    def _probs_from(self, mean: np.ndarray, sd: np.ndarray, mask: tuple[bool, ...] | None) -> np.ndarray:
        idx = eligible_indices(mask, self.n_arms)
        ppfs = [normal_ppf_z(mean[i], sd[i]) for i in idx]
        cdfs = [normal_cdf(mean[i], sd[i]) for i in idx]
        return expand(prob_best(ppfs, cdfs), mask, self.n_arms)
