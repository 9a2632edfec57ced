"""Import a PyMC-Marketing MMM saved with ``MMM.save("model.nc")`` (NetCDF4 = HDF5, read with h5py).

What PyMC-Marketing writes (pymc_marketing/model_builder.py ``save`` -> ``idata.to_netcdf``;
pymc_marketing/mmm/multidimensional.py ``create_idata_attrs`` in 0.19, mmm/mmm.py in 1.x): root
attributes ``adstock`` and ``saturation`` (JSON of the components: ``lookup_name`` in 0.x, ``__type__``
in 1.x, plus ``l_max``, ``normalize``, ``mode``), ``adstock_first``, ``channel_columns``, ``dims``,
``time_varying_media``, ``version``; group ``posterior`` with ``adstock_<param>`` and
``saturation_<param>`` over (chain, draw, channel); group ``constant_data`` with ``channel_scale``
(channel), ``target_scale`` and ``channel_data`` (date, channel). The model works in SCALED units::

    x_scaled = spend / channel_scale;  contribution = target_scale * saturation(adstock(x_scaled))

(``channel_data_ = _channel_data / _channel_scale``; ``target_scale`` multiplies the contributions
back, multidimensional.py ``build_model``). Geometric adstock weights are ``alpha^l``, l = 0..l_max-1,
divided by their sum when ``normalize`` (the component's default), so spending x every period gives
``adstock = S x`` with ``S = 1`` (normalised) or ``sum alpha^l``. With ``adstock_first: false`` the
saturation comes first and the adstock multiplies it by S instead.

Conversion to the curves file (per period, steady state, original units):

* ``response``: a ``table`` of the posterior-mean curve (the mean over draws of the contribution,
  which is what PyMC-Marketing plots and optimises) at 241 spends (240 equal steps) from 0 to 3x the largest spend
  per period in ``channel_data`` (concave: a mean of concave curves). When the mean curve is S-shaped
  (Hill slope > 1) a table cannot hold it; the Hill curve at the posterior-median parameters is used
  instead and a warning says so.
* ``draws``: every posterior draw in closed form where the saturation has one in the budget's curve
  kinds: ``hill`` (``beta x^s / (x^s + kappa^s)``), ``michaelis_menten`` (Hill, shape 1), ``log``
  (``beta log1p(x)``) and ``root`` (power). ``logistic`` (the default) has no such kind: its draws are
  carried as ``table`` draws, each draw's curve at the same 240 spends as the response (exact there;
  straight lines between, like the mean table), at most :data:`MAX_TABLE_DRAWS` of them (evenly
  spaced over the chains' draws, a warning says how many). A draw that is not concave cannot be a
  table: then no draws are carried and a warning says which.

Models with extra dimensions (``dims``, e.g. geo) or time-varying media are refused.
Zarr stores are refused with the conversion to NetCDF in the message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.curves.curvefile import (
    ChannelCurves,
    CurveAdstock,
    CurveDraws,
    CurvesFile,
    HistoricalSpend,
    Interval,
    Kpi,
    Source,
    hill_response,
)
from optimizer.curves.importers import file_sha256
from optimizer.errors import DataError

def _hill(x: np.ndarray, slope: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """``x^s / (x^s + kappa^s)`` as ``1 / (1 + (kappa / x)^s)``; 0 at x = 0 (no overflow warning)."""
    with np.errstate(over="ignore", divide="ignore"):
        return np.where(x > 0, 1.0 / (1.0 + (kappa / np.maximum(x, 1e-300)) ** slope), 0.0)


#: Saturations this importer evaluates: lookup name -> (parameter names, f(x, **params) in scaled units).
SATURATIONS: dict[str, tuple[tuple[str, ...], Any]] = {
    "logistic": (("lam", "beta"), lambda x, lam, beta: beta * (1 - np.exp(-lam * x)) / (1 + np.exp(-lam * x))),
    "hill": (("slope", "kappa", "beta"), lambda x, slope, kappa, beta: beta * _hill(x, slope, kappa)),
    "michaelis_menten": (("alpha", "lam"), lambda x, alpha, lam: alpha * x / (lam + x)),
    "log": (("beta",), lambda x, beta: beta * np.log1p(x)),
    "root": (("alpha", "beta"), lambda x, alpha, beta: beta * np.where(x > 0, np.maximum(x, 0) ** alpha, 0.0)),
}
#: 1.x writes ``__type__: pymc_marketing.mmm.components.saturation.HillSaturation``; 0.x ``lookup_name``.
_CLASS_TO_LOOKUP = {"LogisticSaturation": "logistic", "HillSaturation": "hill",
                    "MichaelisMentenSaturation": "michaelis_menten", "LogSaturation": "log",
                    "RootSaturation": "root", "GeometricAdstock": "geometric"}
N_GRID = 241  # 240 equal steps from 0 to 3x the largest spend per period
#: Most table draws carried per channel (a PyMC-Marketing fit often holds 4 chains x 1,000 draws; 500
#: tables of 240 knots are ~1 MB per channel in the sidecar, and the risk LP grows with every draw).
MAX_TABLE_DRAWS = 500


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise DataError("reading PyMC-Marketing NetCDF files needs h5py: pip install h5py") from None
    return h5py


def _attr(attrs: Any, key: str) -> Any:
    v = attrs.get(key)
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.item()
        v = v.decode("utf-8") if isinstance(v, bytes) else v
    return v


def _json_attr(attrs: Any, key: str, src: str) -> Any:
    v = _attr(attrs, key)
    if v is None:
        return None
    try:
        return json.loads(v) if isinstance(v, str) else v
    except json.JSONDecodeError:
        raise DataError(f"{src}: attribute {key!r} is not JSON ({str(v)[:60]!r}).") from None


def _lookup(component: dict | None) -> str | None:
    if not isinstance(component, dict):
        return None
    if component.get("lookup_name"):
        return str(component["lookup_name"])
    t = str(component.get("__type__") or component.get("class") or "")
    return _CLASS_TO_LOOKUP.get(t.rsplit(".", 1)[-1], t.rsplit(".", 1)[-1] or None)


def _dim_names(ds: Any) -> list[str]:
    out = []
    for dim in ds.dims:
        names = [s.name.rsplit("/", 1)[-1] for s in dim.values()] if len(dim) else []
        out.append(names[0] if names else "")
    return out


def _strings(ds: Any) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in ds[()]]


def _by_channel(group: Any, name: str, channels: list[str], src: str) -> np.ndarray:
    """``posterior[name]`` as an array (n_samples, n_channels) in ``channels`` order."""
    if name not in group:
        raise DataError(f"{src}: posterior has no variable {name!r}; it is needed for this saturation / adstock.")
    ds = group[name]
    dims = _dim_names(ds)
    arr = np.asarray(ds[()], dtype=float)
    if "channel" not in dims or set(dims) - {"chain", "draw", "channel"}:
        raise DataError(f"{src}: posterior.{name} has dimensions {dims}; expected (chain, draw, channel).")
    order = [dims.index(d) for d in ("chain", "draw", "channel") if d in dims]
    arr = np.transpose(arr, order).reshape(-1, arr.shape[dims.index("channel")])
    file_channels = _strings(group["channel"])
    return arr[:, [file_channels.index(c) for c in channels]]


def import_pymc_marketing(path: str | Path, currency: str | None = None) -> CurvesFile:
    """Read a saved PyMC-Marketing MMM and return its per-period steady-state curves (see module docstring).

    Raises
    ------
    DataError
        Not a PyMC-Marketing NetCDF, a Zarr store, an unsupported adstock / saturation / model
        shape; the message names the file and the attribute or variable.
    """
    p = Path(path)
    src = str(p)
    if p.is_dir() or p.suffix == ".zarr":
        raise DataError(
            f"{src}: is a Zarr store; dmpopt reads NetCDF. Convert it: "
            "arviz.from_zarr(path).to_netcdf('model.nc') (or xarray.open_datatree(path, engine='zarr').to_netcdf)."
        )
    if not p.exists():
        raise DataError(f"{src}: file not found; give the .nc file written by MMM.save().")
    if currency is None:
        raise DataError(f"{src}: PyMC-Marketing does not record the currency of spend; pass --currency (e.g. USD).")
    h5py = _h5py()
    try:
        f = h5py.File(p, "r")
    except OSError:
        raise DataError(f"{src}: is not a NetCDF4/HDF5 file; expected the file MMM.save('model.nc') writes.") from None
    with f:
        attrs = f.attrs
        if "posterior" not in f or "constant_data" not in f:
            raise DataError(f"{src}: has no posterior or constant_data group; save a fitted model with MMM.save().")
        version = _attr(attrs, "pymc_marketing_version") or _attr(f["posterior"].attrs, "pymc_marketing_version")
        model_version = _attr(attrs, "version")
        _check_version(version, src)
        adstock = _json_attr(attrs, "adstock", src)
        saturation = _json_attr(attrs, "saturation", src)
        if adstock is None or saturation is None:
            raise DataError(
                f"{src}: attributes 'adstock' and 'saturation' are missing; this is not an MMM saved by PyMC-Marketing "
                ">= 0.8 (older versions and the legacy DelayedSaturatedMMM are not supported)."
            )
        dims = _json_attr(attrs, "dims", src)
        if dims:
            raise DataError(f"{src}: the model has extra dimensions {dims}; dmpopt imports models over channel only.")
        if _json_attr(attrs, "time_varying_media", src) not in (None, False):
            raise DataError(f"{src}: time_varying_media is on; a time-varying effect has no single response curve.")
        ad_kind, sat_kind = _lookup(adstock), _lookup(saturation)
        if ad_kind != "geometric":
            raise DataError(f"{src}: attribute adstock is {ad_kind!r}; dmpopt converts PyMC-Marketing's 'geometric' "
                            "adstock only (its steady state is exact).")
        if sat_kind not in SATURATIONS:
            raise DataError(f"{src}: attribute saturation is {sat_kind!r}; supported: {', '.join(SATURATIONS)}.")
        l_max = int(adstock.get("l_max", 12))
        normalize = bool(adstock.get("normalize", True))
        adstock_first = _json_attr(attrs, "adstock_first", src)
        adstock_first = True if adstock_first is None else bool(adstock_first)
        channels = [str(c) for c in (_json_attr(attrs, "channel_columns", src) or [])]
        post, const = f["posterior"], f["constant_data"]
        if not channels:
            channels = _strings(post["channel"])
        prefix_a = str(adstock.get("prefix", "adstock"))
        prefix_s = str(saturation.get("prefix", "saturation"))
        alpha = _by_channel(post, f"{prefix_a}_alpha", channels, src)
        names, func = SATURATIONS[sat_kind]
        params = {n: _by_channel(post, f"{prefix_s}_{n}", channels, src) for n in names}
        if "channel_scale" not in const or "target_scale" not in const:
            raise DataError(f"{src}: constant_data has no channel_scale / target_scale; re-save with PyMC-Marketing >= 0.13.")
        cs_ds = const["channel_scale"]
        cs = np.asarray(cs_ds[()], dtype=float).reshape(-1)
        if cs.size > 1:
            cs_channels = _strings(const["channel"]) if "channel" in const else channels
            cs = cs[[cs_channels.index(c) for c in channels]]
        else:
            cs = np.repeat(cs, len(channels))
        ts = float(np.asarray(const["target_scale"][()], dtype=float).reshape(-1)[0])
        spend = None
        if "channel_data" in const:
            cd = const["channel_data"]
            cd_dims = _dim_names(cd)
            arr = np.asarray(cd[()], dtype=float)
            if cd_dims == ["channel", "date"]:
                arr = arr.T
            cd_channels = _strings(const["channel"]) if "channel" in const else channels
            spend = arr[:, [cd_channels.index(c) for c in channels]]
        target_name = str(_attr(attrs, "target_column") or "y")
        period = _period(const["date"]) if "date" in const else None
    lags = np.arange(l_max)
    weights = alpha[:, :, None] ** lags  # (sample, channel, lag)
    steady = np.ones_like(alpha) if normalize else weights.sum(axis=2)  # adstock of x repeated = S x
    channels_out: dict[str, ChannelCurves] = {}
    warnings: list[str] = []
    for j, ch in enumerate(channels):
        s_j = steady[:, j][:, None]
        pj = {n: v[:, j][:, None] for n, v in params.items()}
        top = 3.0 * float(spend[:, j].max()) if spend is not None and spend[:, j].max() > 0 else 3.0 * cs[j]
        grid = np.linspace(0.0, top, N_GRID)

        def curve(x: np.ndarray, s_j: np.ndarray = s_j, pj: dict = pj, j: int = j) -> np.ndarray:
            """Contribution per draw (rows) at per-period steady spend x (original units)."""
            u = x[None, :] / cs[j]
            if adstock_first:
                return ts * func(s_j * u, **pj)
            return ts * s_j * func(u, **pj)

        per_draw = curve(grid)
        mean = per_draw.mean(axis=0)
        response, draws = _response_and_draws(sat_kind, grid, mean, pj, s_j[:, 0], cs[j], ts, adstock_first,
                                              ch, warnings, per_draw)
        hist = None
        if spend is not None:
            x = spend[:, j]
            hist = HistoricalSpend(min=float(x.min()), max=float(x.max()), mean=float(x.mean()), last=float(x[-1]))
        roi = mroi = None
        if hist is not None and hist.mean > 0:
            at = np.array([hist.mean])
            r = curve(at)[:, 0] / hist.mean
            h = 1e-6 * hist.mean
            m = (curve(at + h)[:, 0] - curve(at - h)[:, 0]) / (2 * h)
            roi = Interval(mean=float(r.mean()), low=float(np.quantile(r, 0.05)), high=float(np.quantile(r, 0.95)),
                           interval=0.9)
            mroi = Interval(mean=float(m.mean()), low=float(np.quantile(m, 0.05)), high=float(np.quantile(m, 0.95)),
                            interval=0.9)
        a_mean = float(alpha[:, j].mean())
        channels_out[ch] = ChannelCurves(
            response=response, draws=draws, historical_spend=hist, roi=roi, marginal_roi=mroi,
            adstock=CurveAdstock(decay=min(a_mean, 0.999999), max_lag=min(l_max - 1, 104), normalised=normalize),
        )
    return CurvesFile(
        dmpopt_curves=1,
        source=Source(tool="pymc-marketing", tool_version=str(version) if version else None, file=p.name,
                      data_sha256=file_sha256(p),
                      settings={"model_version": model_version, "adstock": adstock, "saturation": saturation,
                                "adstock_first": adstock_first}),
        currency=currency,
        kpi=Kpi(name=target_name, unit="currency"),
        period=period or "week",
        channels=channels_out,
        warnings=warnings + [
            ("PyMC-Marketing does not record whether the target is revenue: kpi.unit 'currency' is assumed; edit "
             "the curves file if the target counts conversions.") if period else
            ("PyMC-Marketing does not record the period or whether the target is revenue: period 'week' and "
             "kpi.unit 'currency' are assumed; edit the curves file if that is wrong."),
            "adstock.decay is the posterior mean of alpha (the response and draws use every draw's alpha).",
        ],
    )


#: pymc-marketing versions whose saved MMM this importer reads: [0.8, 2).
VERSION_RANGE = ((0, 8), (2, 0))


def _check_version(version: Any, src: str) -> None:
    """Refuse files written by a pymc-marketing outside :data:`VERSION_RANGE` (posterior attrs)."""
    if version is None:
        return  # older arviz writers dropped group attrs; the attrs checks below still apply
    m = re.match(r"\s*(\d+)\.(\d+)", str(version))
    lo, hi = VERSION_RANGE
    if m is None or not (lo <= (int(m.group(1)), int(m.group(2))) < hi):
        raise DataError(
            f"{src}: posterior attribute pymc_marketing_version is {version!r}; dmpopt reads models saved by "
            f"pymc-marketing {lo[0]}.{lo[1]} to {hi[0] - 1}.x. Re-save it with a supported version."
        )


_UNIT_DAYS = {"days": 1.0, "hours": 1 / 24, "minutes": 1 / 1440, "seconds": 1 / 86400,
              "milliseconds": 1 / 86_400_000, "microseconds": 1 / 86_400_000_000, "nanoseconds": 1 / 86_400_000_000_000}


def _period(ds: Any) -> str | None:
    """'day', 'week' or 'month' from the CF-encoded date coordinate (``units: "days since ..."``)."""
    units = _attr(ds.attrs, "units")
    values = np.asarray(ds[()], dtype=float)
    if not isinstance(units, str) or values.size < 2:
        return None
    scale = _UNIT_DAYS.get(units.split(" since ")[0].strip())
    if scale is None:
        return None
    step = float(np.median(np.diff(values))) * scale
    for name, (lo, hi) in {"day": (0.9, 1.1), "week": (6.5, 7.5), "month": (27.5, 31.5)}.items():
        if lo <= step <= hi:
            return name
    return None


def _response_and_draws(kind: str, grid: np.ndarray, mean: np.ndarray, p: dict, steady: np.ndarray, cs: float,
                        ts: float, adstock_first: bool, ch: str, warnings: list[str],
                        per_draw: np.ndarray) -> tuple[Any, Any]:
    """The table of the mean curve (or a Hill fallback) and the draws: closed form where one exists, else
    tables of ``per_draw`` (draws x grid) on the grid."""
    from pydantic import ValidationError

    from optimizer.budget.config import TableResponse

    # per-draw closed forms in original units: x_eff = steady * x / cs when adstock comes first
    k = steady / cs if adstock_first else 1.0 / cs
    amp = ts * (1.0 if adstock_first else steady)
    col = {n: v[:, 0] for n, v in p.items()}
    draws = None
    if kind == "hill":
        draws = CurveDraws(kind="hill", params={
            "max_response": (amp * col["beta"]).tolist(), "half_saturation_spend": (col["kappa"] / k).tolist(),
            "shape": col["slope"].tolist()})
    elif kind == "michaelis_menten":
        draws = CurveDraws(kind="hill", params={
            "max_response": (amp * col["alpha"]).tolist(), "half_saturation_spend": (col["lam"] / k).tolist(),
            "shape": np.ones_like(col["lam"]).tolist()})
    elif kind == "log":
        draws = CurveDraws(kind="log", params={"scale": (amp * col["beta"]).tolist(),
                                               "saturation_spend": (1.0 / k * np.ones_like(col["beta"])).tolist()})
    elif kind == "root" and bool(np.all(col["alpha"] < 1)):
        draws = CurveDraws(kind="power", params={"coefficient": (amp * col["beta"] * k ** col["alpha"]).tolist(),
                                                 "exponent": col["alpha"].tolist()})
    else:
        keep = np.unique(np.linspace(0, per_draw.shape[0] - 1, min(per_draw.shape[0], MAX_TABLE_DRAWS)).round().astype(int))
        try:
            draws = CurveDraws(kind="table", spend=grid[1:].tolist(), params={"response": per_draw[keep, 1:].tolist()})
            thinned = f" ({keep.size} of {per_draw.shape[0]}, evenly spaced)" if keep.size < per_draw.shape[0] else ""
            warnings.append(f"channel {ch!r}: the {kind!r} saturation has no closed form among dmpopt's curve kinds; "
                            f"its draws{thinned} are carried as tables at the response's {grid.size - 1} spends.")
        except ValidationError as exc:
            why = exc.errors()[0]["msg"].removeprefix("Value error, ")
            warnings.append(f"channel {ch!r}: the {kind!r} draws are not carried: a draw cannot be a table ({why}); "
                            "the response is the table of the posterior-mean curve.")
    try:
        response = TableResponse(kind="table", points=[(float(x), float(y)) for x, y in zip(grid[1:], mean[1:])])
    except ValueError:
        if draws is None or draws.kind != "hill":
            raise DataError(f"channel {ch!r}: the posterior-mean curve is not concave and has no Hill form; "
                            "it cannot be imported.") from None
        med = {n: float(np.median(v)) for n, v in draws.params.items()}
        response = hill_response(med["max_response"], med["half_saturation_spend"], med["shape"])
        warnings.append(f"channel {ch!r}: the posterior-mean curve is S-shaped; the response is the Hill curve at the "
                        "posterior-median parameters (a table must be concave).")
    return response, draws
