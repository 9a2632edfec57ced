"""Turn a :class:`CurveFit` into the curves file (via :mod:`optimizer.curves.curvefile`) and fit.json."""

from __future__ import annotations

import math
from pathlib import Path

from optimizer.curves.bounds import historical_bounds
from optimizer.curves.curvefile import CurvesFile, write_curves
from optimizer.curves.results import CurveFit


def to_curves_file(result: CurveFit, *, currency: str, kpi_name: str, kpi_unit: str, period: str,
                   data_file: str | None = None) -> CurvesFile:
    """The curves-file model of a fit: steady-state curves, adstock, history, recommended spend bounds
    (:func:`~optimizer.curves.bounds.historical_bounds`), ROI intervals, draws."""
    import optimizer

    channels = {}
    for name, c in result.channels.items():
        entry = {"response": c.response, "historical_spend": c.historical_spend,
                 "recommended_bounds": historical_bounds(c.historical_spend["mean"])}
        if c.max_lag > 0:
            entry["adstock"] = {"decay": c.decay, "max_lag": c.max_lag, "normalised": False}
        entry["roi"] = {k: v for k, v in c.roi.items() if v is not None}
        entry["marginal_roi"] = {k: v for k, v in c.marginal_roi.items() if v is not None}
        if c.signal_t is not None and math.isfinite(c.signal_t):
            entry["signal_t"] = float(c.signal_t)
        if c.draws and len(next(iter(c.draws.values()))) >= 2:
            kind = {"max_response": "hill", "scale": "log", "coefficient": "power", "roi": "linear"}[
                next(k for k in c.draws if k in ("max_response", "scale", "coefficient", "roi"))]
            entry["draws"] = {"kind": kind, "params": c.draws}
        channels[name] = entry
    ins = result.metrics["in_sample"]
    fit = {"r2": ins["r2"], "nrmse": ins["nrmse"], "mape": ins["mape"], "holdout": result.metrics.get("holdout")}
    data = {
        "dmpopt_curves": 1,
        "source": {"tool": "dmpopt-fit", "tool_version": optimizer.__version__, "file": data_file,
                   "data_sha256": result.data_sha256 or None, "seed": result.seed, "settings": result.settings},
        "currency": currency, "kpi": {"name": kpi_name, "unit": kpi_unit}, "period": period, "fit": fit,
        "channels": channels, "warnings": list(result.warnings),
    }
    return CurvesFile.model_validate(data)


def write(result: CurveFit, path: str | Path, **kwargs) -> Path:
    """Write the curves file (and its draws sidecar when draws are many)."""
    return write_curves(to_curves_file(result, **kwargs), path)
