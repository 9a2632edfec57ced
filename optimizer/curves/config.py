"""The ``curves.yaml`` config of ``dmpopt curves fit``: which column is which, and the model settings.

Example::

    date: date
    kpi: {column: revenue, name: revenue, unit: currency}
    currency: USD
    period: week
    channels:
      search: {spend: spend_search}                 # saturation: hill (default; S-shapes allowed)
      tv: {spend: spend_tv, saturation: hill_concave}
    controls: [price]
    holidays: [holiday]                              # 0/1 columns
    lift_tests: lift.csv                             # optional; columns channel, x, delta_x, delta_y, sigma
    model: {max_lag: 8, n_fourier: 2}
    fit: {n_starts: 8, n_bootstrap: 100, holdout_periods: 13, seed: 7}   # uncertainty: mcmc for posterior draws

Validated like a scenario: errors name the file, line, field path and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.validation import FieldProblems, load_model

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Model(BaseModel):
    model_config = _CFG


class KpiColumn(_Model):
    """The KPI column."""

    column: str = Field(min_length=1, description="Column holding the KPI per period.")
    name: str | None = Field(None, description="KPI name written to the curves file (default: the column).")
    unit: Literal["currency", "conversions"] = Field(
        "currency", description="'currency' (revenue) or 'conversions' (counts): the budget's response_unit."
    )


class ChannelColumns(_Model):
    """One channel's spend column and saturation family."""

    spend: str = Field(min_length=1, description="Column holding spend per period (currency).")
    saturation: Literal["hill", "hill_concave", "log", "power"] = Field(
        "hill", description="'hill' (shape 0.5-3.5: S-shapes allowed), 'hill_concave' (shape <= 1: plans as an "
        "LP and its draws feed budget risk), 'log' or 'power' (exponent < 1)."
    )


class ModelSettings(_Model):
    """Model structure."""

    max_lag: int = Field(8, ge=0, le=52, description="Adstock lags L in periods (0 = no carry-over).")
    max_decay: float = Field(0.85, ge=0, lt=1, description="Largest adstock decay allowed (0-1).")
    n_fourier: int = Field(2, ge=0, le=10, description="Yearly Fourier pairs of the seasonality (0 = none).")
    trend: bool = Field(True, description="Include a linear trend.")
    prior: bool = Field(True, description="Weak Gaussian prior on decay, half-saturation and shape (MAP fit).")
    ridge: float = Field(0.0, ge=0, description="Ridge penalty on the scaled media coefficients (0 = none).")


class FitSettings(_Model):
    """Search, uncertainty and reporting settings."""

    n_starts: int = Field(8, ge=1, le=200, description="Starts of the multi-start quasi-Newton search.")
    n_bootstrap: int = Field(100, ge=0, le=2000, description="Curve draws of the uncertainty method (0 = no "
                             "intervals): bootstrap refits, or posterior draws with uncertainty: mcmc.")
    uncertainty: Literal["bootstrap", "mcmc"] = Field(
        "bootstrap", description="How curve draws and ROI intervals are made: 'bootstrap' (moving-block residual "
        "bootstrap, each draw refitted) or 'mcmc' (posterior draws by Markov chain Monte Carlo; "
        "docs/curves-posterior.md)."
    )
    mcmc_iterations: int | None = Field(None, ge=1000, le=1_000_000, description="Sampling sweeps per chain with "
                                        "uncertainty: mcmc (default max(2000, 5 x n_bootstrap)); at least 1000, "
                                        "so that 2 chains hold the largest n_bootstrap (2000).")
    point: Literal["map", "posterior_mean"] = Field(
        "map", description="Each channel's curve: 'map' (the point fit) or 'posterior_mean' (the Hill curve closest "
        "to the mean over the draws: plans on it maximise the expected response; needs n_bootstrap > 0; best with "
        "uncertainty: mcmc, docs/curves-posterior.md)."
    )
    block_length: int | None = Field(None, ge=1, description="Bootstrap block length in periods (default ceil(T^(1/3))).")
    holdout_periods: int = Field(13, ge=0, description="Last periods held out for holdout metrics (0 = none).")
    current_periods: int = Field(13, ge=1, description="ROI is read at the mean spend of the last this-many periods.")
    interval: float = Field(0.9, gt=0, lt=1, description="Coverage of the ROI intervals (0.9 = 90 %).")
    seed: int | None = Field(None, ge=0, description="Seed of the starts and the bootstrap (--seed overrides).")

    @model_validator(mode="after")
    def _point_needs_draws(self) -> "FitSettings":
        if self.point == "posterior_mean" and self.n_bootstrap == 0:
            raise FieldProblems([(("point",), self.point, "the posterior mean is the mean over curve draws; "
                                  "n_bootstrap is 0: set n_bootstrap > 0 or point: map")])
        return self


class CurvesConfig(_Model):
    """What ``dmpopt curves fit`` reads besides the data."""

    date: str = Field("date", min_length=1, description="Date column (period start); periods evenly spaced.")
    kpi: KpiColumn = Field(description="The KPI column, its name and unit.")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO currency code of spend.")
    period: Literal["day", "week", "month"] = Field("week", description="Time unit of one row.")
    channels: dict[str, ChannelColumns] = Field(min_length=1, description="Channel name -> spend column and curve.")
    controls: list[str] = Field(default_factory=list, description="Numeric control columns (price, promotions).")
    holidays: list[str] = Field(default_factory=list, description="0/1 holiday dummy columns.")
    lift_tests: str | None = Field(None, description="CSV of lift tests (channel, x, delta_x, delta_y, sigma), "
                                   "relative to this file.")
    model: ModelSettings = Field(default_factory=ModelSettings, description="Model structure.")
    fit: FitSettings = Field(default_factory=FitSettings, description="Search and uncertainty settings.")

    @property
    def periods_per_year(self) -> float:
        return {"day": 365.25, "week": 365.25 / 7, "month": 12.0}[self.period]


def load_config(path: str | Path) -> CurvesConfig:
    """Load and validate ``curves.yaml`` (ScenarioError with file:line: field path messages)."""
    return load_model(CurvesConfig, path)
