"""Random but realistic budget problems for benchmarks and property tests.

``synthetic_config(n_channels, n_segments, n_periods, seed)``: Hill, log and power curves with
random scales, segment and period multipliers, per-period budgets (flighting) summing to 110 % of
the total budget, and channel caps. Money in an arbitrary currency.
"""

from __future__ import annotations

import numpy as np

from optimizer.budget.config import BudgetConfig


def synthetic_config(n_channels: int, n_segments: int = 1, n_periods: int = 1, seed: int = 0,
                     pieces_per_curve: int = 10, budget: float = 1e7, with_limits: bool = True,
                     kinds: tuple[str, ...] = ("hill", "log", "power")) -> BudgetConfig:
    """A feasible budget problem of ``n_channels x n_segments x n_periods`` cells."""
    rng = np.random.default_rng(seed)
    per_cell = budget / (n_channels * n_segments * n_periods)
    channels = []
    for i in range(n_channels):
        kind = kinds[i % len(kinds)]
        scale = float(rng.uniform(1.0, 4.0)) * per_cell  # response at ~ per-cell spend
        if kind == "hill":
            resp = {"kind": "hill", "max_response": 3 * scale, "half_saturation_spend": float(rng.uniform(0.5, 3) * per_cell),
                    "shape": float(rng.uniform(0.5, 1.0))}
        elif kind == "log":
            resp = {"kind": "log", "scale": scale, "saturation_spend": float(rng.uniform(0.2, 2) * per_cell)}
        elif kind == "power":
            e = float(rng.uniform(0.3, 0.8))
            resp = {"kind": "power", "coefficient": scale / per_cell**e, "exponent": e}
        else:
            resp = {"kind": "linear", "roi": float(rng.uniform(0.5, 4.0))}
        ch = {"name": f"ch{i:03d}", "response": resp}
        if with_limits and i % 5 == 0:
            ch["max_share"] = 0.1
        if with_limits and i % 7 == 0:
            ch["min_spend"] = 0.2 * budget / n_channels
        channels.append(ch)
    data = {"total_budget": {"amount": budget}, "channels": channels, "pieces_per_curve": pieces_per_curve}
    if n_segments > 1:
        data["segments"] = [{"name": f"s{j:02d}", "response_multiplier": float(rng.uniform(0.5, 1.5))}
                            for j in range(n_segments)]
    if n_periods > 1:
        w = rng.uniform(0.5, 1.5, n_periods)
        caps = 1.1 * budget * w / w.sum()
        data["periods"] = [{"name": f"w{k:02d}", "response_multiplier": float(rng.uniform(0.8, 1.2)),
                            **({"max_spend": float(caps[k])} if with_limits else {})} for k in range(n_periods)]
    return BudgetConfig.model_validate(data)
