"""Shared fixtures of the segments tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from optimizer.segments.simulate import simulate_transactions


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory) -> Path:
    """1,500 simulated customers over 2025 (seeded) as a transactions CSV."""
    df = simulate_transactions(1500, dt.date(2025, 1, 1), 365, seed=3)
    p = tmp_path_factory.mktemp("seg") / "tx.csv"
    df.to_csv(p, index=False)
    return p
