"""Budgeted Thompson sampling: conversions per unit cost, never above the budget.

Xia, Li, Qin, Yu & Liu (2015), "Thompson Sampling for Budgeted Multi-armed Bandits", with known
per-action costs: draw theta_i ~ Beta(alpha_i, beta_i) and serve the arm maximizing
``theta_i / cost_per_action_i`` among the arms whose cost fits in the remaining budget. An arm
with zero cost is treated as costing 1e-12 (it is preferred whenever its draw is positive).

Spend is charged on ``update`` (the observed ``cost``, default the arm's ``cost_per_action``):
an engine that decides and updates in turn never spends above ``budget``. A service with decisions
in flight must reserve their cost itself (spent + in-flight + cost <= budget); ``remaining_budget``
exposes what the policy knows. When no arm fits, ``choose`` raises :class:`BudgetExhaustedError`.

State keys beyond the common ones: none; ``stats.cost`` holds spend per arm (never discounted).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from optimizer.bandit.policies._quadrature import (
    BETA_NODES,
    GRID_BUDGET,
    beta_cdf,
    beta_ppf_z,
    beta_prob_best,
    eligible_indices,
    expand,
    prob_best,
)
from optimizer.bandit.policies.base import BudgetExhaustedError
from optimizer.bandit.policies.thompson import BetaThompson, _match

_ZERO_COST = 1e-12


class BudgetedThompson(BetaThompson):
    """Beta-Bernoulli Thompson sampling on conversions per unit cost, within ``budget``."""

    kind = "budgeted_thompson"
    budgeted = True

    def __init__(self, config: Any, arms: Sequence[Any], seed: int | None = None, **kwargs: Any):
        super().__init__(config, arms, seed, **kwargs)
        self.budget = float(config.budget)
        self._unit = [max(c, _ZERO_COST) for c in self.arm_costs]
        self._units = self._unit  # divides the draws in the shared fast path

    @property
    def spent(self) -> float:
        """Money spent so far (sum of observed costs), campaign currency."""
        return float(sum(self.stats.cost))

    @property
    def remaining_budget(self) -> float:
        """``budget - spent``, campaign currency."""
        return self.budget - self.spent

    def affordable(self, mask: tuple[bool, ...] | None) -> tuple[bool, ...]:
        """Eligible arms whose ``cost_per_action`` fits in the remaining budget."""
        left = self.remaining_budget + 1e-9
        out = tuple((mask is None or mask[i]) and self.arm_costs[i] <= left for i in range(self.n_arms))
        if not any(out):
            raise BudgetExhaustedError(
                f"budget exhausted: {self.remaining_budget:.6g} of {self.budget:.6g} left, and no "
                f"eligible arm costs that little (cheapest: {min(self.arm_costs):.6g}). "
                "Raise the budget or stop the campaign."
            )
        return out

    def choose(self, rng: np.random.Generator, context: Any = None,
               mask: tuple[bool, ...] | None = None) -> int:
        m = self.affordable(mask)
        if self._many_distinct(m):  # as BetaThompson: draw from the logged (bounded-cost) probabilities
            return _match(self.cached_probabilities(None, mask), rng)
        return super().choose(rng, context, m)

    def _many_distinct(self, m: tuple[bool, ...]) -> bool:
        """More distinct (a, b, cost) posteriors among the affordable arms than the grid budget allows."""
        k = sum(m)
        if k * k * BETA_NODES <= GRID_BUDGET:
            return False
        key = ("matching", m)
        hit = self._prob_cache.get(key)
        if hit is None:
            a, b = self.alpha_beta()
            sel = np.asarray(m, dtype=bool)
            g = len(np.unique(np.stack([a[sel], b[sel], np.asarray(self._unit)[sel]], axis=1), axis=0))
            hit = self._prob_cache[key] = g * g * BETA_NODES > GRID_BUDGET
        return bool(hit)

    def choose_batch(self, rng: np.random.Generator, n: int, contexts: Any = None,
                     mask: tuple[bool, ...] | None = None) -> np.ndarray:
        """``n`` choices with the current posterior; the caller must keep ``n * cost`` within budget."""
        m = self.affordable(mask)
        a, b = self.alpha_beta()
        idx = eligible_indices(m, self.n_arms)
        unit = np.asarray(self._unit)[idx, None]
        draws = rng.beta(a[idx, None], b[idx, None], size=(len(idx), n)) / unit
        return np.asarray(idx)[draws.argmax(axis=0)]

    def probabilities(self, context: Any = None, mask: tuple[bool, ...] | None = None) -> np.ndarray:
        m = self.affordable(mask)
        a, b = self.alpha_beta()
        idx = eligible_indices(m, self.n_arms)
        if self.precise:
            ppfs = [beta_ppf_z(a[i], b[i], self._unit[i]) for i in idx]
            cdfs = [beta_cdf(a[i], b[i], self._unit[i]) for i in idx]
            return expand(prob_best(ppfs, cdfs), m, self.n_arms)
        return expand(beta_prob_best(a[idx], b[idx], np.asarray(self._unit)[idx]), m, self.n_arms)
