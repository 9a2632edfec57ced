"""The ``segments:`` settings (scenario section and ``dmpopt segments fit --config``).

Example (paths relative to the scenario or config file; money in the report currency)::

    segments:
      data: data/transactions.csv      # one row per transaction
      customer_col: customer_id
      date_col: date                   # date or timestamp (UTC)
      amount_col: amount               # negative = a return
      k: null                          # null: choose k in [k_min, k_max] by select_k_by
      select_k_by: silhouette
      previous: null                   # a previous run's segments_model.json: keep its labels
      pseudonymize: true               # keyed-hash ids in segments_customers.csv
      value: {model: bgnbd, horizon_days: 365, discount_rate_annual: 0.1}
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

FEATURES = ("recency", "frequency", "monetary", "tenure")


class ValueSettings(BaseModel):
    """Lifetime value per customer from a purchase model (BG/NBD or Pareto/NBD) and Gamma-Gamma spend."""

    model_config = _CFG
    model: Literal["bgnbd", "paretonbd", "none"] = Field("bgnbd", description="Purchase model; none: no P(alive)/CLV.")
    horizon_days: int = Field(365, gt=0, le=3650, description="CLV horizon in days (cash flows per 30-day period).")
    discount_rate_annual: float = Field(0.1, ge=0, le=1, description="Annual discount rate (fraction).")
    margin: float = Field(1.0, gt=0, le=1, description="Share of revenue that is profit (0-1]; CLV = margin x revenue.")


class SegmentsConfig(BaseModel):
    """The ``segments:`` section: RFM features from transactions, RFM groups, K-means segments, profiles."""

    model_config = _CFG
    data: str | None = Field(None, description="CSV or Parquet of transactions, relative to the scenario/config file "
                                               "(the CLI's positional argument overrides it).")
    customer_col: str = Field("customer_id", description="Customer id column.")
    date_col: str = Field("date", description="Transaction date or timestamp column (UTC).")
    amount_col: str = Field("amount", description="Amount column (report currency unless currency_col; < 0 = return).")
    currency_col: str | None = Field(None, description="Currency code column; more than one code needs currency_to_rate.")
    currency_to_rate: dict[str, float] | None = Field(
        None, description="Currency code -> factor to the report currency (amount x factor); every code must be listed.")
    as_of: date | None = Field(None, description="End of observation (exclusive, ISO date); later rows are future "
                                                 "dates, dropped and counted. Default: the day after the last transaction.")
    duplicates: Literal["drop", "keep"] = Field("drop", description="Rows repeating another exactly (customer, time, "
                                                                     "amount, currency): drop (counted) or keep.")
    features: list[Literal["recency", "frequency", "monetary", "tenure"]] = Field(
        ["recency", "frequency", "monetary"], description="Features of the K-means clustering (log1p, then standardised).")
    k: int | None = Field(None, ge=1, le=50, description="Number of segments (null: choose in [k_min, k_max]).")
    k_min: int = Field(2, ge=2, le=50, description="Smallest k tried.")
    k_max: int = Field(8, ge=2, le=50, description="Largest k tried.")
    select_k_by: Literal["silhouette", "elbow"] = Field("silhouette", description="How k is chosen when k is null.")
    sample_size: int = Field(20_000, ge=100, description="Customers sampled (seeded) to choose k; the final fit uses all.")
    previous: str | None = Field(None, description="segments_model.json of an earlier run: new segments are matched to "
                                                   "its segments (Hungarian on centroid distance) and keep their labels.")
    pseudonymize: bool = Field(False, description="Replace customer ids by HMAC-SHA256 pseudonyms in per-customer outputs.")
    pseudonym_key_env: str = Field("DMPOPT_PSEUDONYM_KEY", description="Environment variable holding the HMAC key.")
    pseudonym_key_file: str | None = Field(None, description="File holding the HMAC key (used when set; else the env var).")
    value: ValueSettings = Field(default_factory=ValueSettings, description="P(alive) and CLV per customer.")

    @model_validator(mode="after")
    def _check(self) -> "SegmentsConfig":
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) is larger than k_max ({self.k_max}); it must be <= k_max.")
        if len(set(self.features)) != len(self.features) or not self.features:
            raise ValueError(f"features {self.features} must be a non-empty list without repeats.")
        if self.currency_to_rate is not None and any(v <= 0 for v in self.currency_to_rate.values()):
            raise ValueError("currency_to_rate values must be > 0.")
        return self
