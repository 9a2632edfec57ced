"""Import a Robyn model exported by ``robyn_write()`` (``RobynModel-<solID>.json``).

What Robyn writes (R/R/json.R, Robyn 3.12.1, ``robyn_write``): ``InputCollect`` (the scalar inputs:
``paid_media_spends``, ``adstock``, ``dep_var_type``, ``intervalType``, ``window_start``/``window_end``,
``version``...), ``ExportedModel`` (``hyper_values`` with ``<channel>_alphas|_gammas|_thetas``,
``summary`` rows ``{variable, coef, ...}``, ``errors``) and ``Extras.raw_data`` (the input table,
``add_data = TRUE``, the default). jsonlite writes every R vector as a JSON array, so scalars come
as one-element lists.

Robyn's channel response (R/R/transformation.R, ``adstock_geometric`` and ``saturation_hill``)::

    e_t = x_t + theta * e_{t-1}                                  (geometric adstock, NOT normalised)
    response_t = coef * e_t^alpha / (e_t^alpha + inflexion^alpha)
    inflexion = gamma * max(e over the modelling window)         (Robyn >= 3.12)
    inflexion = (1 - gamma) * min(e) + gamma * max(e)            (Robyn <= 3.11: gamma x the range)

The inflexion is not in the export: it is rebuilt here from ``Extras.raw_data`` by adstocking the
whole spend series and taking the window (as ``run_transformations`` in R/R/model.R does).
Spending ``x`` every period gives ``e = x / (1 - theta)``, so the per-period steady-state curve is a
Hill curve with ``max_response = coef``, ``half_saturation_spend = inflexion * (1 - theta)`` and
``shape = alpha``. Robyn fits one model (ridge regression), so there are no posterior draws.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.curves.curvefile import (
    ChannelCurves,
    CurveAdstock,
    CurvesFile,
    FitMetrics,
    HistoricalSpend,
    Interval,
    Kpi,
    Source,
    curve_of,
    hill_response,
)
from optimizer.curves.importers import file_sha256, read_bytes
from optimizer.errors import DataError

#: Robyn versions whose ``robyn_write`` JSON this importer reads (3.6 introduced robyn_write).
MIN_VERSION = (3, 6)
_PERIODS = {"week": "week", "day": "day", "month": "month"}


def _one(value: Any) -> Any:
    """jsonlite writes R scalars as one-element arrays."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def robyn_version(text: str | None) -> tuple[int, int, int] | None:
    """``"Robyn (stable) v3.12.1 [R-4.4.1]"`` -> (3, 12, 1)."""
    if not text:
        return None
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", str(text))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def adstock_geometric(x: np.ndarray, theta: float) -> np.ndarray:
    """Robyn's ``adstock_geometric``: ``e_1 = x_1``, ``e_t = x_t + theta * e_{t-1}`` (weights not normalised)."""
    out = np.empty(len(x), dtype=float)
    acc = 0.0
    for t, v in enumerate(np.asarray(x, dtype=float)):
        acc = v + theta * acc
        out[t] = acc
    return out


def inflexion(adstocked_window: np.ndarray, gamma: float, version: tuple[int, int, int]) -> float:
    """Robyn's Hill inflexion from the adstocked spend of the modelling window (see module docstring)."""
    e = np.asarray(adstocked_window, dtype=float)
    if version >= (3, 12, 0):
        return float(e.max() * gamma)
    return float((1.0 - gamma) * e.min() + gamma * e.max())


def _rows(raw: Any, source: str) -> dict[str, list]:
    """``Extras.raw_data`` (rows, as jsonlite writes a data.frame, or columns) -> column lists."""
    if isinstance(raw, dict):
        return {k: _list(v) for k, v in raw.items()}
    if isinstance(raw, list) and raw and isinstance(raw[0], dict):
        cols: dict[str, list] = {}
        for r in raw:
            for k in r:
                cols.setdefault(k, [])
        for r in raw:
            for k in cols:
                cols[k].append(r.get(k))
        return cols
    raise DataError(f"{source}: Extras.raw_data is not a table; re-export with robyn_write(..., add_data = TRUE).")


def import_robyn(path: str | Path, currency: str | None = None) -> CurvesFile:
    """Read a ``robyn_write()`` JSON and return its per-period steady-state curves.

    Parameters
    ----------
    path:
        ``RobynModel-<solID>.json`` written by ``robyn_write(InputCollect, OutputCollect, select_model)``.
    currency:
        Currency code of spend (Robyn does not record it); required.

    Raises
    ------
    DataError
        Not a Robyn model export, an unsupported Robyn version or adstock, missing raw data, or a
        channel without hyperparameters; the message names the file and the JSON field.
    """
    p = Path(path)
    src = str(p)
    try:
        doc = json.loads(read_bytes(p, "robyn_write() JSON").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{src}: is not JSON ({exc}); expected the file robyn_write() exports.") from None
    if not isinstance(doc, dict) or "InputCollect" not in doc:
        raise DataError(f"{src}: has no InputCollect; expected a RobynModel-*.json written by robyn_write().")
    ic = doc["InputCollect"]
    em = doc.get("ExportedModel")
    if not isinstance(em, dict) or not em.get("hyper_values"):
        raise DataError(
            f"{src}: ExportedModel.hyper_values is missing; this export holds inputs only. Export one model with "
            "robyn_write(InputCollect, OutputCollect, select_model = '<solID>')."
        )
    version_text = _one(ic.get("version"))
    version = robyn_version(version_text)
    if version is None or version[:2] < MIN_VERSION or version[0] != 3:
        raise DataError(
            f"{src}: InputCollect.version is {version_text!r}; dmpopt reads robyn_write() exports of Robyn "
            f"{MIN_VERSION[0]}.{MIN_VERSION[1]} to 3.x. Re-export with a supported Robyn."
        )
    adstock = _one(ic.get("adstock"))
    if adstock != "geometric":
        raise DataError(
            f"{src}: InputCollect.adstock is {adstock!r}; only Robyn's 'geometric' adstock converts to the "
            "budget's carry-over (Weibull adstock has no steady-state closed form here). Refit with "
            "adstock = 'geometric'."
        )
    if currency is None:
        raise DataError(f"{src}: Robyn does not record the currency of spend; pass --currency (e.g. USD).")
    spends = [str(s) for s in _list(ic.get("paid_media_spends"))]
    selected = [str(s) for s in _list(ic.get("paid_media_selected") or ic.get("paid_media_vars") or spends)]
    exposure = [v for v in selected if v not in spends]
    if exposure:
        raise DataError(
            f"{src}: paid media {exposure} are modelled on exposure (impressions, clicks), not spend; their curves "
            "are not curves of spend. Refit with paid_media_vars = paid_media_spends."
        )
    date_var = str(_one(ic.get("date_var")))
    raw = _rows((doc.get("Extras") or {}).get("raw_data"), src)
    if date_var not in raw:
        raise DataError(
            f"{src}: Extras.raw_data has no date column {date_var!r} (InputCollect.date_var); re-export with "
            "robyn_write(..., add_data = TRUE)."
        )
    order = np.argsort(np.array([str(d) for d in raw[date_var]]), kind="stable")
    dates = [str(raw[date_var][i]) for i in order]
    start = str(_one(ic.get("window_start")) or dates[0])
    end = str(_one(ic.get("window_end")) or dates[-1])
    window = np.array([start <= d <= end for d in dates])
    if not window.any():
        raise DataError(f"{src}: no row of Extras.raw_data falls in the window {start} .. {end}.")
    hyp = em["hyper_values"]
    coefs = {str(_one(r.get("variable"))): r for r in _list(em.get("summary")) if isinstance(r, dict)}
    channels: dict[str, ChannelCurves] = {}
    warnings: list[str] = []
    for ch in selected:
        keys = {k: f"{ch}_{k}s" for k in ("alpha", "gamma", "theta")}
        missing = [v for v in keys.values() if v not in hyp]
        if missing:
            raise DataError(f"{src}: ExportedModel.hyper_values has no {missing[0]} for channel {ch!r}.")
        alpha, gamma, theta = (float(_one(hyp[keys[k]])) for k in ("alpha", "gamma", "theta"))
        if ch not in coefs or _one(coefs[ch].get("coef")) is None:
            raise DataError(f"{src}: ExportedModel.summary has no coef for channel {ch!r}.")
        coef = float(_one(coefs[ch]["coef"]))
        if ch not in raw:
            raise DataError(f"{src}: Extras.raw_data has no column {ch!r} (a paid_media_spends entry).")
        try:
            x = np.array([float(raw[ch][i]) for i in order])
        except (TypeError, ValueError):
            raise DataError(f"{src}: Extras.raw_data column {ch!r} has a non-numeric value.") from None
        e = adstock_geometric(x, theta)
        infl = inflexion(e[window], gamma, version)
        xw = x[window]
        hist = HistoricalSpend(min=float(xw.min()), max=float(xw.max()), mean=float(xw.mean()), last=float(xw[-1]))
        if coef <= 0:
            warnings.append(f"channel {ch!r} has coef {coef:g} in the Robyn model (no effect); it is left out.")
            continue
        response = hill_response(coef, infl * (1.0 - theta), alpha)
        curve = curve_of(response)
        mean_spend = float(xw.mean())
        roi = _robyn_roi(coefs[ch], dep_type_of(ic))
        if roi is None and mean_spend > 0:  # the steady-state curve's ROI at the mean spend
            roi = Interval(mean=float(curve.value(np.array([mean_spend]))[0] / mean_spend))
        mroi = Interval(mean=float(curve.slope(np.array([mean_spend]))[0])) if mean_spend > 0 else None
        lag = 0 if theta <= 0 else min(104, max(1, math.ceil(math.log(1e-6) / math.log(theta)) - 1))
        channels[ch] = ChannelCurves(
            response=response, adstock=CurveAdstock(decay=theta, max_lag=lag, normalised=False),
            historical_spend=hist, roi=roi, marginal_roi=mroi,
        )
    if not channels:
        raise DataError(f"{src}: no paid media channel has a positive effect in this Robyn model.")
    errs = _list(em.get("errors"))
    e0 = errs[0] if errs and isinstance(errs[0], dict) else {}
    fit = FitMetrics(
        r2=_num(e0.get("rsq_train")), nrmse=_num(e0.get("nrmse_train") if "nrmse_train" in e0 else e0.get("nrmse")),
        mape=_num(e0.get("mape")),
    ) if e0 else None
    dep_type = dep_type_of(ic)
    warnings.append("Robyn exports one model (ridge regression, no posterior): the curves carry no draws.")
    return CurvesFile(
        dmpopt_curves=1,
        source=Source(tool="robyn", tool_version=str(version_text), file=p.name, data_sha256=file_sha256(p),
                      settings={"select_model": _one(em.get("select_model")), "adstock": "geometric",
                                "window": [start, end],
                                "inflexion": "gamma * max(adstocked spend)" if version >= (3, 12, 0)
                                else "(1 - gamma) * min + gamma * max of adstocked spend"}),
        currency=currency,
        kpi=Kpi(name=str(_one(ic.get("dep_var")) or "kpi"), unit="currency" if dep_type == "revenue" else "conversions"),
        period=_PERIODS.get(str(_one(ic.get("intervalType"))), "week"),
        fit=fit,
        channels=channels,
        warnings=warnings,
    )


def dep_type_of(ic: dict) -> str:
    """'revenue' or 'conversion' (InputCollect.dep_var_type)."""
    return str(_one(ic.get("dep_var_type")) or "revenue")


def _robyn_roi(row: dict, dep_type: str) -> Interval | None:
    """Robyn's own ROI of the window: ``summary.performance`` is ROAS = response / spend (revenue) or
    CPA = spend / response (conversion), summed over the window (json.R, ``robyn_write``), with the
    bootstrap interval ``ci_low``/``ci_up`` when the export has clusters."""
    perf = _num(row.get("performance"))
    if perf is None or perf <= 0:
        return None
    lo, hi = _num(row.get("ci_low")), _num(row.get("ci_up"))
    if dep_type != "revenue":  # CPA: spend per conversion -> conversions per currency
        perf = 1.0 / perf
        lo, hi = None, None  # Robyn's interval is on ROAS/CPA of the bootstrap, not converted here
    if lo is not None and hi is not None and lo <= perf <= hi:
        return Interval(mean=perf, low=lo, high=hi)
    return Interval(mean=perf)


def _num(v: Any) -> float | None:
    v = _one(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
