"""Posterior draws of Meridian's response curves, rebuilt from the ``mmm.v1.Mmm`` proto without TensorFlow.

The proto's ``ResponsePoint``s hold the posterior MEAN only; the posterior itself travels in
``mmm_kernel.model`` (``MeridianModel.inference_data.posterior``, field 14 / 3: an ArviZ group written
as NetCDF3 bytes by meridian/schema/serde/inference_data.py, readable with scipy) and the input data in
``mmm_kernel.marketing_data.marketing_data_points``. This module evaluates Meridian's media model per
draw, as ``Analyzer.response_curves`` does (google-meridian 2.1.0, meridian/model/adstock_hill.py and
transformers.py):

* media scaled per channel by the median of its non-zero values (population 1 for a national model);
* geometric adstock over ``window = min(max_lag + 1, n_media_times)`` periods with weights
  ``alpha^l / sum_l alpha^l`` (normalised), zero padding before the first period;
* Hill ``x^slope / (x^slope + ec^slope)`` after adstock;
* incremental KPI per period ``beta_gm * hill * std(KPI)`` (the KPI transformer centres and scales by the
  population-scaled mean and standard deviation, ddof 0), summed over the analysis interval, with every
  media period (also those before the interval) multiplied by the spend multiplier.

Supported: national models (one geo), paid media channels only (no reach and frequency), geometric
adstock, Hill after adstock, revenue KPI or a non-revenue KPI without ``revenue_per_kpi``. Anything else
is refused with the field named. Known answer: tests/optimizer/curves/test_import_meridian.py compares
mean and 90 % interval with Meridian's own ``Analyzer.response_curves``.

The draws are returned as a result object over the interval (currency and KPI units of the whole
interval); :func:`~optimizer.curves.importers.meridian.import_meridian` divides them by ``n_periods`` and
writes them into curves.yaml as ``table`` draws (a Meridian draw is a sum over the flighting, with no
closed form among the budget's curve kinds).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.curves.importers.meridian import _date, import_meridian, message_classes, read_mmm
from optimizer.errors import DataError


@dataclasses.dataclass(frozen=True)
class MeridianCurveDraws:
    """Per-draw response curves of one ``MarketingAnalysis`` interval.

    Attributes
    ----------
    analysis : index of the ``MarketingAnalysis`` in the proto.
    n_periods : model periods in the interval (divide by it for per-period values, as the importer does).
    spend : channel -> array (n_points,): spend over the interval (currency), the proto's ``input_value``.
    outcome : channel -> array (n_draws, n_points): incremental outcome over the interval per posterior draw
        (revenue, or KPI units for a non-revenue model).
    """

    analysis: int
    n_periods: int
    spend: dict[str, np.ndarray]
    outcome: dict[str, np.ndarray]

    def summary(self, interval: float = 0.9) -> pd.DataFrame:
        """Mean and equal-tailed credible interval per channel and spend point (numpy's linear quantile)."""
        lo, hi = (1 - interval) / 2, (1 + interval) / 2
        rows = []
        for ch, y in self.outcome.items():
            for i, s in enumerate(self.spend[ch]):
                rows.append({"channel": ch, "spend": float(s), "mean": float(y[:, i].mean()),
                             "low": float(np.quantile(y[:, i], lo)), "high": float(np.quantile(y[:, i], hi))})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"analysis": self.analysis, "n_periods": self.n_periods,
                "spend": {k: v.tolist() for k, v in self.spend.items()},
                "outcome": {k: v.tolist() for k, v in self.outcome.items()}}


def _netcdf_strings(var: Any) -> list[str]:
    return [b"".join(row).decode("utf-8") for row in np.asarray(var.data)]


def _posterior(src: str, data: bytes) -> dict[str, Any]:
    from scipy.io import netcdf_file

    try:
        nc = netcdf_file(io.BytesIO(data), mmap=False)
    except (TypeError, ValueError, OSError) as exc:
        raise DataError(f"{src}: mmm_kernel.model.inference_data.posterior is not NetCDF3 ({exc}).") from None
    need = ("alpha_m", "ec_m", "slope_m", "beta_gm", "media_channel")
    missing = [k for k in need if k not in nc.variables]
    if missing:
        raise DataError(f"{src}: the posterior has no {', '.join(missing)}; dmpopt rebuilds draws of paid media only.")
    out: dict[str, Any] = {k: np.asarray(nc.variables[k].data, dtype=float) for k in need[:4]}
    out["channels"] = _netcdf_strings(nc.variables["media_channel"])
    return out


def meridian_curve_draws(path: str | Path, analysis: int | None = None) -> MeridianCurveDraws:
    """Rebuild the posterior draws behind the proto's response curves (see the module docstring).

    ``analysis`` as in :func:`import_meridian` (default: the longest interval with response curves).

    Raises
    ------
    DataError
        No posterior in the proto, or a model this rebuild does not cover (the field is named).
    """
    p = Path(path)
    src = str(p)
    cf = import_meridian(p, currency="XXX", analysis=analysis, draws=False)  # validates, picks the analysis
    a_idx = int(cf.source.settings["analysis"])
    n = int(cf.source.settings["n_periods"])
    msg, _ = read_mmm(p)
    mm = message_classes()["MeridianModelLite"]()
    mm.ParseFromString(msg.mmm_kernel.model.value)
    if not mm.HasField("inference_data") or not mm.inference_data.posterior:
        raise DataError(f"{src}: mmm_kernel.model has no inference_data.posterior; fit the model before "
                        "create_mmm_proto.")
    hp = mm.hyperparameters
    if hp.hill_before_adstock:
        raise DataError(f"{src}: hyperparameters.hill_before_adstock is true; dmpopt rebuilds adstock-then-Hill only.")
    if hp.global_adstock_decay != "geometric":
        raise DataError(f"{src}: hyperparameters.global_adstock_decay is {hp.global_adstock_decay!r}; "
                        "dmpopt rebuilds 'geometric' only.")
    if hp.global_saturation not in ("hill", ""):
        raise DataError(f"{src}: hyperparameters.global_saturation is {hp.global_saturation!r}; "
                        "dmpopt rebuilds 'hill' only.")
    post = _posterior(src, mm.inference_data.posterior)
    if post["beta_gm"].shape[2] != 1:
        raise DataError(f"{src}: the posterior has {post['beta_gm'].shape[2]} geos; dmpopt rebuilds national models only.")

    # input data: media per media period, KPI per model period
    media: dict[Any, dict[str, float]] = {}
    kpi: dict[Any, float] = {}
    for j, pt in enumerate(msg.mmm_kernel.marketing_data.marketing_data_points):
        if len(pt.reach_frequency_variables):
            raise DataError(f"{src}: marketing_data_points[{j}] has reach_frequency_variables; dmpopt rebuilds "
                            "draws of impression channels only.")
        t = _date(pt.date_interval.start_date)
        for mv in pt.media_variables:
            media.setdefault(t, {})[mv.channel_name] = mv.scalar_metric.value
        if pt.HasField("kpi"):
            if pt.kpi.HasField("non_revenue") and pt.kpi.non_revenue.revenue_per_kpi:
                raise DataError(f"{src}: marketing_data_points[{j}].kpi.non_revenue.revenue_per_kpi is set; dmpopt "
                                "rebuilds revenue models and KPI-only models, not KPI x revenue_per_kpi.")
            kpi[t] = pt.kpi.revenue.value if pt.kpi.HasField("revenue") else pt.kpi.non_revenue.value
    media_times = sorted(media)
    times = sorted(kpi)
    if not times or times != media_times[len(media_times) - len(times):]:
        raise DataError(f"{src}: mmm_kernel.marketing_data has no KPI periods matching the media periods.")
    kpi_std = float(np.std(np.array([kpi[t] for t in times])))
    analysis_msg = msg.marketing_analysis_list.marketing_analyses[a_idx]
    start, end = _date(analysis_msg.date_interval.start_date), _date(analysis_msg.date_interval.end_date)
    selected = np.array([start <= t < end for t in times])
    if int(selected.sum()) != n:
        raise DataError(f"{src}: marketing_analyses[{a_idx}].date_interval covers {int(selected.sum())} KPI periods "
                        f"of marketing_data but {n} time coordinates of the metadata.")
    window = min(int(hp.max_lag) + 1, len(media_times))
    pad = len(times) + window - 1 - len(media_times)

    spend: dict[str, np.ndarray] = {}
    outcome: dict[str, np.ndarray] = {}
    for media_an in analysis_msg.media_analyses:
        ch = media_an.channel_name
        pts = sorted((pt.input_value, pt.incremental_kpi) for pt in media_an.response_curve.response_points)
        if not pts or ch not in post["channels"]:
            continue
        j = post["channels"].index(ch)
        total = media_an.spend_info.spend
        if total <= 0:
            raise DataError(f"{src}: marketing_analyses[{a_idx}] channel {ch!r} has spend_info.spend {total}; "
                            "the spend multipliers cannot be recovered.")
        x = np.array([media[t].get(ch, 0.0) for t in media_times])
        positive = x[x > 0]
        if positive.size == 0:
            raise DataError(f"{src}: channel {ch!r} has no positive media in mmm_kernel.marketing_data.")
        x = x / np.median(positive)
        alpha = post["alpha_m"][..., j].reshape(-1)
        ec = post["ec_m"][..., j].reshape(-1)
        slope = post["slope_m"][..., j].reshape(-1)
        beta = post["beta_gm"][..., 0, j].reshape(-1)
        lags = np.arange(window)
        w = alpha[:, None] ** lags[None, :]
        w /= w.sum(axis=1, keepdims=True)
        xs = np.concatenate([np.zeros(max(pad, 0)), x])[-(len(times) + window - 1):]
        # lagged[l, t] = media of output period t lagged by l
        lagged = np.stack([xs[window - 1 - l: window - 1 - l + len(times)] for l in lags])
        s_pts = np.array([s for s, _ in pts])
        ys = []
        for k in s_pts / total:
            ad = w @ (k * lagged)  # (draws, times)
            with np.errstate(divide="ignore", invalid="ignore"):
                h = np.where(ad > 0, ad ** slope[:, None] / (ad ** slope[:, None] + ec[:, None] ** slope[:, None]), 0.0)
            ys.append((beta[:, None] * h * kpi_std)[:, selected].sum(axis=1))
        spend[ch] = s_pts
        outcome[ch] = np.stack(ys, axis=1)
    return MeridianCurveDraws(analysis=a_idx, n_periods=n, spend=spend, outcome=outcome)
