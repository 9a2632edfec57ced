"""Result types of a curve fit (frozen dataclasses with ``summary()`` and ``to_dict()``).

Money is in the history's currency PER PERIOD; response in KPI units per period. Curves are the
STEADY-STATE response to spending ``x`` every period (carry-over included), in the budget
section's schema, so they go straight into a scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


@dataclass(frozen=True)
class ChannelFit:
    """One channel's fitted curve.

    Attributes
    ----------
    name: channel name.
    saturation: fitted family ("hill", "hill_concave", "log", "power").
    decay, max_lag: geometric adstock in the budget convention (weights not normalised).
    response: per-period steady-state curve in the budget schema (``kind`` hill / s_hill / log / power / linear).
    historical_spend: ``{"min", "max", "mean", "last"}`` spend per period seen (currency).
    current_spend: spend per period at which ROI and marginal ROI are read (mean of the last
        ``current_periods`` periods; the mean spend when on if that is 0).
    roi, marginal_roi: ``{"mean", "low", "high", "interval"}``: response per currency at
        ``current_spend`` (average and slope of the curve); ``mean`` is the point fit, low/high the
        bootstrap percentile interval (None without bootstrap).
    draws: budget-curve parameters per bootstrap draw (lists), e.g. ``{"max_response": [...], ...}``.
    signal_t: how clearly the history shows this channel's effect: the t-statistic of its coefficient at
        the fitted adstock and saturation, against the baseline and every other channel
        (:func:`optimizer.curves.diagnostics.coefficient_t`). Below 2 the data barely see the channel
        move the KPI and its curve rests mostly on the prior (:data:`~optimizer.curves.diagnostics.WEAK_SIGNAL_T`).
    """

    name: str
    saturation: str
    decay: float
    max_lag: int
    response: dict[str, Any]
    historical_spend: dict[str, float]
    current_spend: float
    roi: dict[str, float | None]
    marginal_roi: dict[str, float | None]
    draws: dict[str, list[float]] = field(default_factory=dict)
    signal_t: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean({"name": self.name, "saturation": self.saturation, "decay": self.decay, "max_lag": self.max_lag,
                       "response": self.response, "historical_spend": self.historical_spend,
                       "current_spend": self.current_spend, "roi": self.roi, "marginal_roi": self.marginal_roi,
                       "signal_t": self.signal_t,
                       "n_draws": len(next(iter(self.draws.values()))) if self.draws else 0})


@dataclass(frozen=True)
class CurveFit:
    """A fitted marketing-mix model and its curves.

    Attributes
    ----------
    channels: channel name -> :class:`ChannelFit` (channels that never spend are absent; see warnings).
    metrics: ``{"in_sample": {...}, "holdout": {...} or None}`` with r2, nrmse, mape (fractions), n_periods;
        ``noise_sd``: the noise standard deviation that weighs the prior (KPI units; see docs/curves-maths.md).
    residual: ``{"durbin_watson", "ljung_box_p", "ljung_box_lags"}``.
    decomposition: per period: date, actual, fitted, baseline, holidays, controls, one column per channel
        (KPI units per period).
    warnings: sentences a modeller should read.
    seed: seed of the multi-start and the bootstrap (drawn and echoed when None was given).
    settings: the model settings used.
    data_sha256: SHA-256 of the history file ("" for a frame).
    start_objectives: objective reached from each start (scaled sum of squares; the best is used).
    n_bootstrap: bootstrap draws made.
    elapsed_seconds: wall time of the fit (holdout and bootstrap included).
    lift_tests: the lift-test rows used (dicts).
    """

    channels: dict[str, ChannelFit]
    metrics: dict[str, Any]
    residual: dict[str, float]
    decomposition: pd.DataFrame
    warnings: tuple[str, ...]
    seed: int
    settings: dict[str, Any]
    data_sha256: str
    start_objectives: tuple[float, ...]
    n_bootstrap: int
    elapsed_seconds: float
    lift_tests: tuple[dict, ...] = ()

    def summary(self) -> pd.DataFrame:
        """One row per channel: decay, curve parameters, current spend, ROI and marginal ROI with intervals."""
        rows = []
        for c in self.channels.values():
            row = {"channel": c.name, "curve": c.response["kind"], "decay": c.decay}
            row.update({k: v for k, v in c.response.items() if k != "kind"})
            row.update({"current_spend": c.current_spend, "roi": c.roi["mean"], "roi_low": c.roi["low"],
                        "roi_high": c.roi["high"], "mroi": c.marginal_roi["mean"], "mroi_low": c.marginal_roi["low"],
                        "mroi_high": c.marginal_roi["high"], "signal_t": c.signal_t})
            rows.append(row)
        return pd.DataFrame(rows).set_index("channel")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``fit.json``); the decomposition is left to ``decomposition.csv``."""
        return _clean({
            "channels": {k: v.to_dict() for k, v in self.channels.items()},
            "metrics": self.metrics, "residual": self.residual, "warnings": list(self.warnings), "seed": self.seed,
            "settings": self.settings, "data_sha256": self.data_sha256,
            "start_objectives": list(self.start_objectives), "n_bootstrap": self.n_bootstrap,
            "elapsed_seconds": self.elapsed_seconds, "lift_tests": list(self.lift_tests),
        })

    def response(self, channel: str, spend: np.ndarray) -> np.ndarray:
        """Per-period steady-state response of ``channel`` at per-period ``spend``."""
        return response_value(self.channels[channel].response, spend)

    def __str__(self) -> str:
        m = self.metrics["in_sample"]
        h = self.metrics.get("holdout")
        lines = [f"Curve fit: {len(self.channels)} channel(s), {m['n_periods']} periods fitted, R^2 {m['r2']:.3f}, "
                 f"NRMSE {m['nrmse']:.3f}, MAPE {m['mape']:.1%}"
                 + (f"; holdout R^2 {h['r2']:.3f}, MAPE {h['mape']:.1%}" if h else "") + f" (seed {self.seed})"]
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            lines.append(self.summary().round(4).to_string())
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def response_value(response: dict[str, Any], spend: np.ndarray) -> np.ndarray:
    """Evaluate a budget-schema response dict at ``spend`` (vectorised)."""
    x = np.maximum(np.asarray(spend, dtype=float), 0.0)
    k = response["kind"]
    if k in ("hill", "s_hill"):
        m, h, n = response["max_response"], response["half_saturation_spend"], response["shape"]
        with np.errstate(divide="ignore", over="ignore"):
            return np.where(x > 0, m / (1.0 + np.power(h / np.maximum(x, 1e-300), n)), 0.0)
    if k == "log":
        return response["scale"] * np.log1p(x / response["saturation_spend"])
    if k == "power":
        return response["coefficient"] * np.power(x, response["exponent"])
    if k == "linear":
        return response["roi"] * x
    raise ValueError(f"unknown response kind {k!r}")
