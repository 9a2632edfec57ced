"""Shared helpers for the budget tests."""

from __future__ import annotations

from typing import Any

from optimizer.budget.config import BudgetConfig

ARTICLE_CHANNELS = [
    # name, cost_per_unit (CNY/unit), "ROI" column of the article, max units, min units
    ("feed_ads", 50.0, 3.2, 10000, 2000),
    ("search_ads", 80.0, 4.5, 6000, 1500),
    ("short_video", 30.0, 2.8, 15000, 3000),
]


def article_config(reading: str = "A", amount: float = 1_130_000, **extra: Any) -> BudgetConfig:
    """The article's three channels; reading A: ROI per CNY spent; B: ROI per unit bought."""
    key = "roi" if reading == "A" else "value_per_unit"
    channels = [
        {"name": n, "cost_per_unit": c, "response": {"kind": "linear", key: r}, "max_units": mx, "min_units": mn}
        for n, c, r, mx, mn in ARTICLE_CHANNELS
    ]
    data = {"total_budget": {"amount": amount, "mode": "at_most"}, "channels": channels}
    data.update(extra)
    return BudgetConfig.model_validate(data)


def config(**data: Any) -> BudgetConfig:
    """A BudgetConfig from keyword fields."""
    return BudgetConfig.model_validate(data)
