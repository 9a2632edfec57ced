"""Shared fixtures of the churn tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "churn"
ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="session")
def rossi():
    """The Rossi recidivism data shipped with lifelines (432 rows; week, arrest, 7 covariates)."""
    from lifelines.datasets import load_rossi

    return load_rossi()


@pytest.fixture(scope="session")
def rossi_arrays(rossi):
    """(duration, event, X) of Rossi as float arrays."""
    return (
        rossi["week"].to_numpy(dtype=float),
        rossi["arrest"].to_numpy(),
        rossi[ROSSI_COVARIATES].to_numpy(dtype=float),
    )


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
