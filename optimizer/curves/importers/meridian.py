"""Import Meridian's response curves from its ``mmm.v1.Mmm`` protocol buffer (``.binpb`` or ``.txtpb``).

What Meridian writes (mmm-proto-schema 1.6.0, ``mmm/v1/mmm.proto`` and the files it imports):
``Mmm.mmm_kernel`` (1) holds ``marketing_data.metadata`` (time dimensions, ``currency_code``, ``kpi_type``)
and ``model`` (a ``google.protobuf.Any`` packing ``MeridianModel`` with ``model_version``, field 2);
``Mmm.marketing_analysis_list`` (3) holds ``MarketingAnalysis`` entries, each with a ``date_interval``
(start inclusive, end exclusive) and per channel a ``MediaAnalysis`` whose ``response_curve`` is a list of
``ResponsePoint {input_value, incremental_kpi}``. meridian/schema/processors/marketing_processor.py
(``_compute_response_curve``) fills them from ``Analyzer.response_curves``: ``input_value`` is the
channel's spend over the interval times a spend multiplier (the historical flighting scaled) and
``incremental_kpi`` the posterior MEAN incremental outcome over the interval. Meridian writes no draws
and no per-point credible intervals there. The file is ``create_mmm_proto(...).SerializeToString()`` (Meridian 2.1.0
has no Mmm writer); ``meridian_serde.save_meridian`` writes a bare ``MmmKernel`` without analyses, which is
recognised and refused with that explanation. Parity with a real Meridian 2.1.0 fit:
tests/fixtures/curves/meridian/ (made by make_meridian_fixture.py with TensorFlow, in a separate venv).

Reading without TensorFlow: mmm-proto-schema declares a TensorFlow dependency (its generated code,
protobuf 5.29 gencode, would load under the protobuf 6.33 that ortools pins), so instead this module
builds the few message types it reads (same field numbers and names) in a private
descriptor pool at run time, with the protobuf runtime dmpopt already has. Wire and text formats are
parsed by protobuf itself; fields not declared here are skipped.

Conversion: the curve of an interval of ``n`` periods becomes a per-period ``table`` through the points
``(input_value / n, incremental_kpi / n)`` (Meridian's curve scales the historical flighting; dmpopt
reads it as even spend, exact at ``periods_per_cell: n``). A curve that is not concave (an S-shaped
Hill at low spend) cannot be a table and is refused with the channel named.

Draws (default ``draws=True``): the posterior draws behind the curves are rebuilt from the proto's
posterior (meridian_draws.py: national models of impression channels) and written as ``table`` draws
on the point curve's knots, per period (``outcome / n`` at ``spend / n``), so their mean over draws is
the point curve (Meridian's posterior mean). When they cannot be rebuilt (no posterior in the proto,
reach-and-frequency channels, ...) or a channel's draw is not concave (an S-shaped Hill, slope > 1),
that channel gets no draws and a one-line warning says why; the point curve is imported regardless.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.curves.curvefile import ChannelCurves, CurvesFile, HistoricalSpend, Interval, Kpi, Source
from optimizer.curves.importers import file_sha256, read_bytes
from optimizer.errors import DataError

#: Meridian library major versions whose Mmm proto this importer reads.
SUPPORTED_MAJOR = (1, 2)

# message name -> [(field name, number, type, label, message type or None)]
_D, _S, _I32, _MSG, _BYTES, _ENUM, _BOOL, _U32 = 1, 9, 5, 11, 12, 14, 8, 13  # FieldDescriptorProto.Type values
_OPT, _REP = 1, 3
_SCHEMA: dict[str, list[tuple[str, int, int, int, str | None]]] = {
    "Mmm": [("mmm_kernel", 1, _MSG, _OPT, "MmmKernel"), ("marketing_analysis_list", 3, _MSG, _OPT, "AnalysisList")],
    "MmmKernel": [("marketing_data", 1, _MSG, _OPT, "MarketingData"), ("model", 2, _MSG, _OPT, "AnyLite")],
    "AnyLite": [("type_url", 1, _S, _OPT, None), ("value", 2, _BYTES, _OPT, None)],
    "MeridianModelLite": [("model_id", 1, _S, _OPT, None), ("model_version", 2, _S, _OPT, None),
                          ("schema_version", 24, _S, _OPT, None),
                          ("hyperparameters", 3, _MSG, _OPT, "Hyperparameters"),
                          ("inference_data", 14, _MSG, _OPT, "InferenceData")],
    # mmm/v1/model/meridian/meridian_model.proto (read by meridian_draws.py)
    "Hyperparameters": [("hill_before_adstock", 2, _BOOL, _OPT, None), ("max_lag", 3, _U32, _OPT, None),
                        ("global_adstock_decay", 23, _S, _OPT, None), ("global_saturation", 26, _S, _OPT, None)],
    "InferenceData": [("posterior", 3, _BYTES, _OPT, None)],
    "MarketingData": [("marketing_data_points", 1, _MSG, _REP, "DataPoint"), ("metadata", 2, _MSG, _OPT, "Metadata")],
    # mmm/v1/marketing/marketing_data.proto (read by meridian_draws.py)
    "DataPoint": [("geo_info", 1, _MSG, _OPT, "GeoInfo"), ("date_interval", 2, _MSG, _OPT, "DateInterval"),
                  ("media_variables", 4, _MSG, _REP, "MediaVariable"), ("kpi", 5, _MSG, _OPT, "KpiValue"),
                  ("reach_frequency_variables", 6, _MSG, _REP, "RfVariable")],
    "GeoInfo": [("geo_id", 1, _S, _OPT, None), ("population_value", 3, _D, _OPT, None)],
    "MediaVariable": [("channel_name", 1, _S, _OPT, None), ("scalar_metric", 2, _MSG, _OPT, "ScalarMetric"),
                      ("media_spend", 4, _D, _OPT, None)],
    "ScalarMetric": [("name", 1, _S, _OPT, None), ("value", 2, _D, _OPT, None)],
    "RfVariable": [("channel_name", 1, _S, _OPT, None)],
    "KpiValue": [("name", 1, _S, _OPT, None), ("revenue", 2, _MSG, _OPT, "RevenueValue"),
                 ("non_revenue", 3, _MSG, _OPT, "NonRevenueValue")],
    "RevenueValue": [("value", 1, _D, _OPT, None)],
    "NonRevenueValue": [("value", 1, _D, _OPT, None), ("revenue_per_kpi", 2, _D, _OPT, None)],
    "Metadata": [("time_dimensions", 1, _MSG, _REP, "TimeDimension"), ("kpi_type", 5, _S, _OPT, None),
                 ("currency_code", 7, _S, _OPT, None)],
    "TimeDimension": [("name", 1, _S, _OPT, None), ("dates", 2, _MSG, _REP, "Date")],
    "Date": [("year", 1, _I32, _OPT, None), ("month", 2, _I32, _OPT, None), ("day", 3, _I32, _OPT, None)],
    "AnalysisList": [("marketing_analyses", 1, _MSG, _REP, "MarketingAnalysis")],
    "MarketingAnalysis": [("date_interval", 1, _MSG, _OPT, "DateInterval"),
                          ("media_analyses", 2, _MSG, _REP, "MediaAnalysis")],
    "DateInterval": [("start_date", 1, _MSG, _OPT, "Date"), ("end_date", 2, _MSG, _OPT, "Date"),
                     ("tag", 3, _S, _OPT, None)],
    "MediaAnalysis": [("channel_name", 1, _S, _OPT, None), ("spend_info", 2, _MSG, _OPT, "SpendInfo"),
                      ("response_curve", 4, _MSG, _OPT, "ResponseCurve"),
                      ("media_outcomes", 5, _MSG, _REP, "Outcome")],
    "SpendInfo": [("spend", 1, _D, _OPT, None), ("spend_share", 2, _D, _OPT, None)],
    "ResponseCurve": [("input_name", 1, _S, _OPT, None), ("response_points", 2, _MSG, _REP, "ResponsePoint")],
    "ResponsePoint": [("input_value", 1, _D, _OPT, None), ("incremental_kpi", 2, _D, _OPT, None)],
    "Outcome": [("kpi_type", 1, _ENUM, _OPT, "KpiType"), ("roi", 4, _MSG, _OPT, "Estimate"),
                ("marginal_roi", 5, _MSG, _OPT, "Estimate")],
    "Estimate": [("value", 1, _D, _OPT, None), ("uncertainties", 2, _MSG, _REP, "Uncertainty")],
    "Uncertainty": [("probability", 1, _D, _OPT, None), ("lowerbound", 2, _D, _OPT, None),
                    ("upperbound", 3, _D, _OPT, None)],
}
#: enums (mmm/v1/common/kpi_type.proto)
_ENUMS = {"KpiType": [("KPI_TYPE_UNSPECIFIED", 0), ("NON_REVENUE", 1), ("REVENUE", 2)]}
_PACKAGE = "dmpopt.meridian_lite"
_CLASSES: dict[str, Any] = {}


def message_classes() -> dict[str, Any]:
    """The lite message classes, built once in a private descriptor pool."""
    if _CLASSES:
        return _CLASSES
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="dmpopt_meridian_lite.proto", package=_PACKAGE, syntax="proto3")
    for name, values in _ENUMS.items():
        e = fdp.enum_type.add(name=name)
        for vname, number in values:
            e.value.add(name=vname, number=number)
    for name, fields in _SCHEMA.items():
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    for name in _SCHEMA:
        _CLASSES[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
    return _CLASSES


def _date(d: Any) -> dt.date | None:
    if not d.year:
        return None
    try:
        return dt.date(d.year, d.month or 1, d.day or 1)
    except ValueError:
        return None


def read_mmm(path: str | Path) -> Any:
    """Parse a ``.binpb`` (wire format) or ``.txtpb``/``.textproto`` (text format) ``mmm.v1.Mmm``."""
    from google.protobuf import message as pb_message
    from google.protobuf import text_format

    p = Path(path)
    data = read_bytes(p, "Meridian Mmm proto (.binpb or .txtpb)")
    msg = message_classes()["Mmm"]()
    if p.suffix in (".txtpb", ".textproto", ".pbtxt"):
        try:
            text_format.Parse(data.decode("utf-8"), msg, allow_unknown_field=True,
                              allow_unknown_extension=True)
        except (text_format.ParseError, UnicodeDecodeError) as exc:
            raise DataError(f"{p}: is not a text-format mmm.v1.Mmm proto ({exc}).") from None
    else:
        try:
            msg.ParseFromString(data)
        except pb_message.DecodeError as exc:
            if _is_kernel(data):
                raise DataError(f"{p}: {_KERNEL_ONLY}") from None
            raise DataError(f"{p}: is not a wire-format mmm.v1.Mmm proto ({exc}); Meridian writes .binpb "
                            "(wire) or .txtpb (text).") from None
    version = None
    if msg.HasField("mmm_kernel") and msg.mmm_kernel.HasField("model"):
        any_ = msg.mmm_kernel.model
        if any_.type_url.endswith("MeridianModel"):
            mm = message_classes()["MeridianModelLite"]()
            try:
                mm.ParseFromString(any_.value)
                version = mm.model_version or None
            except pb_message.DecodeError:
                version = None
    return msg, version


def import_meridian(path: str | Path, currency: str | None = None, analysis: int | None = None,
                    draws: bool = True) -> CurvesFile:
    """Read Meridian's Mmm proto and return per-period curves from its response curves.

    ``analysis`` picks one ``MarketingAnalysis`` (index); default: the one with the longest date
    interval that has response curves (usually the whole modelling window). ``draws``: also carry the
    posterior draws as per-period ``table`` draws on the curve's knots (see the module docstring);
    when they cannot be carried the import goes on without them and a warning says why.

    Raises
    ------
    DataError
        Unreadable proto, unsupported Meridian version, no response curves, a non-concave curve.
    """
    p = Path(path)
    src = str(p)
    msg, version = read_mmm(p)
    if version is not None:
        m = re.match(r"\s*v?(\d+)\.", version)
        if m is None or int(m.group(1)) not in SUPPORTED_MAJOR:
            raise DataError(
                f"{src}: mmm_kernel.model.model_version is {version!r}; dmpopt reads the Mmm proto of Meridian "
                f"{' and '.join(f'{v}.x' for v in SUPPORTED_MAJOR)}. Regenerate it with a supported Meridian."
            )
    meta = msg.mmm_kernel.marketing_data.metadata
    cur = currency or (meta.currency_code or None)
    if cur is None:
        raise DataError(f"{src}: mmm_kernel.marketing_data.metadata.currency_code is empty; pass --currency (e.g. USD).")
    times = sorted({d for td in meta.time_dimensions for d in (_date(x) for x in td.dates) if d is not None})
    analyses = list(msg.marketing_analysis_list.marketing_analyses)
    usable = [i for i, a in enumerate(analyses) if any(len(m.response_curve.response_points) for m in a.media_analyses)]
    if not usable:
        if not analyses and p.suffix not in (".txtpb", ".textproto", ".pbtxt") and _is_kernel(p.read_bytes()):
            raise DataError(f"{src}: {_KERNEL_ONLY}")
        raise DataError(f"{src}: marketing_analysis_list has no media_analyses with a response_curve; {_HOW_TO}")
    if analysis is None:
        def length(i: int) -> int:
            di = analyses[i].date_interval
            a, b = _date(di.start_date), _date(di.end_date)
            return (b - a).days if a and b else 0
        analysis = max(usable, key=length)
    elif analysis not in usable:
        raise DataError(f"{src}: marketing_analyses[{analysis}] has no response curves; usable: {usable}.")
    a = analyses[analysis]
    start, end = _date(a.date_interval.start_date), _date(a.date_interval.end_date)
    n_periods, period = _periods(times, start, end, src, analysis)
    channels: dict[str, ChannelCurves] = {}
    warnings: list[str] = []
    kpi_revenue = None
    from optimizer.budget.config import TableResponse

    for j, media in enumerate(a.media_analyses):
        pts = sorted((pt.input_value, pt.incremental_kpi) for pt in media.response_curve.response_points)
        if not pts:
            continue
        name = media.channel_name
        per = [(x / n_periods, y / n_periods) for x, y in pts if x > 0]
        try:
            response = TableResponse(kind="table", points=per)
        except ValueError as exc:
            raise DataError(
                f"{src}: marketing_analyses[{analysis}].media_analyses[{j}] ({name!r}) response_curve is not a "
                f"concave table ({exc}); dmpopt needs concave curves here."
            ) from None
        roi = mroi = None
        for o in media.media_outcomes:
            kpi_revenue = kpi_revenue if kpi_revenue is not None else (o.kpi_type == 2)  # REVENUE
            if o.HasField("roi") and o.roi.value:
                roi = _interval(o.roi)
            if o.HasField("marginal_roi") and o.marginal_roi.value:
                mroi = _interval(o.marginal_roi)
        spend = media.spend_info.spend / n_periods if media.HasField("spend_info") else None
        hist = HistoricalSpend(min=spend, max=spend, mean=spend) if spend else None
        channels[name] = ChannelCurves(response=response, roi=roi, marginal_roi=mroi, historical_spend=hist)
    if kpi_revenue is None:
        kpi_revenue = meta.kpi_type.lower() == "revenue"
    warnings.append(
        f"Meridian's response curves are posterior means over {n_periods} {period}s ({start} to {end}, end "
        "exclusive) with the historical flighting scaled; they are read as per-period curves of even spend "
        f"(use periods_per_cell: {n_periods} to plan that interval as one cell). historical_spend is the "
        "interval's mean spend per period (min = max = mean)."
    )
    if draws:
        channels, notes = _with_draws(p, analysis, n_periods, channels)
        warnings.extend(notes)
    return CurvesFile(
        dmpopt_curves=1,
        source=Source(tool="meridian", tool_version=version, file=p.name, data_sha256=file_sha256(p),
                      settings={"analysis": analysis, "date_interval": [str(start), str(end)],
                                "n_periods": n_periods, "tag": a.date_interval.tag or None}),
        currency=cur,
        kpi=Kpi(name="revenue" if kpi_revenue else "kpi", unit="currency" if kpi_revenue else "conversions"),
        period=period,
        channels=channels,
        warnings=warnings if version is not None else warnings + [
            "the proto carries no MeridianModel version (no mmm_kernel.model); it was read as Meridian 1.x/2.x."],
    )


def _with_draws(p: Path, analysis: int, n_periods: int,
                channels: dict[str, ChannelCurves]) -> tuple[dict[str, ChannelCurves], list[str]]:
    """``channels`` with the posterior draws as per-period table draws, and the notes to print.

    A channel whose draws cannot be carried keeps its point curve without draws (a note says why).
    """
    from pydantic import ValidationError

    from optimizer.curves.curvefile import CurveDraws
    from optimizer.curves.importers.meridian_draws import meridian_curve_draws

    try:
        d = meridian_curve_draws(p, analysis=analysis)
    except DataError as exc:
        return channels, [f"no posterior draws carried: {str(exc).removeprefix(f'{p}: ')}"]
    out, notes, carried = dict(channels), [], []
    for name, ch in channels.items():
        if name not in d.outcome:
            notes.append(f"channel {name!r}: no posterior draws carried (it is not among the posterior's paid "
                         "media channels).")
            continue
        keep = d.spend[name] > 0
        knots = d.spend[name][keep] / n_periods  # the same division as the point curve's points
        if [x for x, _ in ch.response.points] != knots.tolist():
            notes.append(f"channel {name!r}: no posterior draws carried (the rebuilt spend grid differs from the "
                         "response curve's).")
            continue
        try:
            draws = CurveDraws(kind="table", spend=knots.tolist(),
                               params={"response": (d.outcome[name][:, keep] / n_periods).tolist()})
        except ValidationError as exc:
            notes.append(f"channel {name!r}: no posterior draws carried ({_first_problem(exc)}); the point curve "
                         "is imported. The risk plan needs concave draws (Meridian slope <= 1).")
            continue
        out[name] = ch.model_copy(update={"draws": draws})
        carried.append(name)
    if carried:
        n_draws = next(iter(d.outcome.values())).shape[0]
        notes.insert(0, (
            f"posterior draws: {n_draws} per channel for {', '.join(carried)}, rebuilt from the proto's posterior "
            "(mean = the response curve) and written as per-period table draws on the curve's knots; plan against "
            "them with response: {from: ..., channel: ..., draws: true}."))
    return out, notes


def _first_problem(exc: Any) -> str:
    """The first problem of a pydantic ValidationError, in one line (field path and reason)."""
    from optimizer.validation import FieldProblems, format_path

    err = exc.errors(include_url=False)[0]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldProblems) and cause.problems:
        loc, value, text = cause.problems[0]
        return f"draws.{format_path(loc)} is {value!r}: {text}"
    return str(err.get("msg", exc)).removeprefix("Value error, ")


_HOW_TO = ("write the Mmm proto with meridian.schema.mmm_proto_generator.create_mmm_proto(mmm, [marketing_processor."
           "MarketingAnalysisSpec(media_summary_spec=MediaSummarySpec(aggregate_times=True))]) and save it with "
           ".SerializeToString() as .binpb (response curves are written only for time-aggregated media summaries).")
_KERNEL_ONLY = ("is an mmm.v1.MmmKernel (what meridian.schema.serde.meridian_serde.save_meridian writes: the model, no "
                "analyses), not an mmm.v1.Mmm with response curves; " + _HOW_TO)


def _is_kernel(data: bytes) -> bool:
    """Whether wire-format ``data`` parses as a bare ``MmmKernel`` packing a ``MeridianModel``."""
    from google.protobuf import message as pb_message

    k = message_classes()["MmmKernel"]()
    try:
        k.ParseFromString(data)
    except pb_message.DecodeError:
        return False
    return k.HasField("model") and k.model.type_url.endswith("MeridianModel")


def _interval(e: Any) -> Interval:
    if e.uncertainties:
        u = e.uncertainties[0]
        return Interval(mean=e.value, low=u.lowerbound, high=u.upperbound,
                        interval=u.probability if 0 < u.probability < 1 else None)
    return Interval(mean=e.value)


def _periods(times: list[dt.date], start: dt.date | None, end: dt.date | None, src: str, i: int) -> tuple[int, str]:
    """(number of model periods in [start, end), period name) from the metadata's time coordinates."""
    if start is None or end is None or end <= start:
        raise DataError(f"{src}: marketing_analyses[{i}].date_interval is {start} .. {end}; it needs start < end.")
    step = int(np.median(np.diff([t.toordinal() for t in times]))) if len(times) >= 2 else 7
    period = {1: "day", 7: "week"}.get(step, "month" if 28 <= step <= 31 else "week")
    inside = [t for t in times if start <= t < end]
    n = len(inside) if inside else max(1, round((end - start).days / step))
    return n, period
