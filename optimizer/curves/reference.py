"""A budget channel's ``response: {from: curves.yaml, channel: search}``: a curve taken from a curves file.

References are resolved when the scenario is validated, so the budget section only ever sees
concrete curves (``hill``, ``s_hill``, ``log``...) and every error names the scenario file, its line,
the field path (``budget.channels[0].response``) and the curves file:

* :data:`ACCEPTS_CURVE_REF` is put in the ``Annotated[...]`` of the budget's response union: a
  before-validator that swaps a reference for the referenced curve (and a JSON-schema hook that
  documents the reference as an alternative to typing the curve).
* :func:`resolve_budget_draws` is a before-validator of the whole ``budget:`` mapping: a reference with
  ``draws: true`` appends the channel's draws (concave Hill draws, or table draws such as Meridian's,
  scaled like the curve) to ``budget.advanced.uncertainty.channels`` (creating
  ``uncertainty`` with ``objective: expected`` when the scenario has none), and a curves file whose
  KPI unit differs from ``budget.response_unit``, or whose currency differs from the scenario's
  (``currency`` in the validation context, set by ``load_scenario``), is refused.

``carryover: true`` plans with the curves file's adstock instead of its steady state: the response
becomes the curve of effective spend ``f(e / S)`` (``S = sum_{l=0..L} decay^l``, the budget's
unnormalised convention, so spending ``x`` every period again gives ``f(x)``) and
``budget.advanced.rules`` gets ``adstock: {decay, max_lag_periods}`` for the channel.

Paths are relative to the scenario file (``base_dir`` in the validation context), else to the
working directory. The curve is the curves file's per-period curve of steady-state spend, so a
budget cell should be one period of the curves file; ``periods_per_cell: n`` turns it into the
curve of a cell of ``n`` periods with the spend spread evenly (``n * f(x / n)``).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic_core import core_schema

from optimizer.errors import ScenarioError


class CurveRef(BaseModel):
    """Take a channel's response curve from a curves file (``dmpopt curves fit`` / ``dmpopt curves import``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(
        alias="from", min_length=1,
        description="Path of the curves file, relative to the scenario file (e.g. fitted/curves.yaml).",
    )
    channel: str = Field(min_length=1, description="Channel name in the curves file (may differ from the budget's).")
    draws: bool = Field(
        False, description="Also plan against the channel's curve draws: they are added to "
        "budget.advanced.uncertainty (objective 'expected' unless the scenario sets one).",
    )
    periods_per_cell: int = Field(
        1, ge=1, le=1000, description="Curves-file periods in one budget cell (13 to plan a quarter as one cell "
        "from weekly curves): the cell's curve is n * f(spend / n), spend spread evenly over the n periods.",
    )
    carryover: bool = Field(
        False, description="Plan with the curves file's carry-over: the response becomes the curve of effective "
        "spend f(e / S) (S = sum of decay^l, l = 0..max_lag) and budget.advanced.rules gets the channel's adstock. "
        "Needs budget.periods (one period each) and periods_per_cell 1.",
    )
    bounds: Literal["none", "historical"] = Field(
        "none", description="'historical': keep the channel within the curves file's recommended_bounds (dmpopt "
        "curves fit: 0.5-2 x the historical mean spend per period, Robyn's allocator default) by setting the "
        "channel's min_spend / max_spend (per-period bounds x periods_per_cell x the channel's periods) where the "
        "channel sets none itself. 'none': no bounds from the file.",
    )


# --------------------------------------------------------------------------- loading
_CACHE: dict[tuple[Any, ...], Any] = {}


def _load(path: Path) -> Any:
    """The curves file at ``path`` (cached on path, mtime and size of it and its draws sidecar: a scenario may
    cite it many times, and a replaced sidecar must be checked again)."""
    from optimizer.curves.curvefile import load_curves, sidecar_path

    try:
        st = os.stat(path)
    except OSError:
        return load_curves(path)  # raises the loader's "file not found" message
    try:
        side = os.stat(sidecar_path(path))
        side_key: tuple[int, int] | None = (side.st_mtime_ns, side.st_size)
    except OSError:
        side_key = None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, side_key)
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = load_curves(path)
    return _CACHE[key]


def _base_dir(info: ValidationInfo | None) -> Path:
    ctx = info.context if info is not None else None
    if isinstance(ctx, dict) and ctx.get("base_dir") is not None:
        return Path(ctx["base_dir"])
    return Path.cwd()


def _parse_ref(value: dict) -> CurveRef:
    try:
        return CurveRef.model_validate(value)
    except ValidationError as exc:
        from optimizer.validation import describe_validation_error

        lines = describe_validation_error(exc, "reference", None, CurveRef)
        raise ValueError("; ".join(line.removeprefix("reference: ") for line in lines)) from None


def _lookup(ref: CurveRef, info: ValidationInfo | None) -> tuple[Path, Any, Any]:
    """(curves file path, CurvesFile, ChannelCurves) of a reference; ValueError with the reason."""
    base = _base_dir(info)
    path = base / ref.from_
    if not path.is_file():
        raise ValueError(
            f"the curves file {path} does not exist (from: {ref.from_!r} is relative to the scenario's folder "
            f"{base}); run `dmpopt curves fit` or `dmpopt curves import` first, or fix the path"
        )
    try:
        cf = _load(path)
    except ScenarioError as exc:
        detail = "; ".join(exc.problems) if exc.problems else str(exc)
        raise ValueError(f"the curves file cannot be used: {detail.rstrip('.')}") from None
    if ref.channel not in cf.channels:
        known = list(cf.channels)
        hint = difflib.get_close_matches(ref.channel, known, n=1)
        tip = f"did you mean {hint[0]!r}?" if hint else f"its channels are: {', '.join(known)}"
        raise ValueError(f"channel {ref.channel!r} is not in the curves file {path}; {tip}")
    return path, cf, cf.channels[ref.channel]


def _scaled(kind: str, params: dict[str, Any], n: float) -> dict[str, Any]:
    """Parameters of ``n * f(x / n)`` (a cell of ``n`` periods, spend spread evenly)."""
    return _transform(kind, params, n, n)


def _transform(kind: str, params: dict[str, Any], x_scale: float, y_scale: float) -> dict[str, Any]:
    """Parameters of ``g(x) = y_scale * f(x / x_scale)`` for a curve (or columns of draws) of ``kind``."""
    if x_scale == 1 and y_scale == 1:
        return dict(params)
    p = dict(params)
    if kind in ("hill", "s_hill"):
        p["max_response"] = _mul(p["max_response"], y_scale)
        p["half_saturation_spend"] = _mul(p["half_saturation_spend"], x_scale)
    elif kind == "log":
        p["scale"] = _mul(p["scale"], y_scale)
        p["saturation_spend"] = _mul(p["saturation_spend"], x_scale)
    elif kind == "power":
        e = p["exponent"]
        p["coefficient"] = ([c * y_scale * x_scale ** (-x) for c, x in zip(p["coefficient"], e)] if isinstance(e, list)
                            else p["coefficient"] * y_scale * x_scale ** (-e))
    elif kind == "table":
        p["points"] = [[x * x_scale, y * y_scale] for x, y in p["points"]]
    elif kind == "linear":
        p["roi"] = _mul(p["roi"], y_scale / x_scale)
    return p


def _mul(v: Any, n: float) -> Any:
    return [x * n for x in v] if isinstance(v, list) else v * n


def _steady_factor(adstock: Any) -> float:
    """S = sum_{l=0..L} decay^l: effective spend / spend at steady state, in the budget's (unnormalised) convention."""
    return float(sum(adstock.decay**lag for lag in range(adstock.max_lag + 1)))


def resolve_response(value: Any, info: ValidationInfo | None = None) -> Any:
    """A reference dict -> the referenced curve as a response dict; anything else unchanged."""
    if not (isinstance(value, dict) and ("from" in value or "from_" in value)):
        return value
    ref = _parse_ref(value)
    path, _, ch = _lookup(ref, info)
    data = ch.response.model_dump(mode="json")
    kind = data.pop("kind")
    if ref.carryover:
        if ch.adstock is None:
            raise ValueError(f"carryover is true but channel {ref.channel!r} in {path} has no adstock")
        if ref.periods_per_cell != 1:
            raise ValueError("carryover runs from one period to the next; use periods_per_cell 1 with it")
        # steady state of the budget's adstock: e = S x, so the curve of effective spend is f(e / S)
        return {"kind": kind, **_transform(kind, data, _steady_factor(ch.adstock), 1.0)}
    return {"kind": kind, **_scaled(kind, data, ref.periods_per_cell)}


class _AcceptsCurveRef:
    """``Annotated`` marker: the response also accepts a :class:`CurveRef`, resolved before validation."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        inner = handler(source)
        # the JSON schema (and docs/scenario-reference.md) shows "a curve, or a CurveRef"
        documented = core_schema.union_schema([inner, handler.generate_schema(CurveRef)])
        return core_schema.with_info_before_validator_function(resolve_response, inner,
                                                               json_schema_input_schema=documented)


#: Put in ``Annotated[Union[...curves...], Field(discriminator="kind"), ACCEPTS_CURVE_REF]``.
ACCEPTS_CURVE_REF = _AcceptsCurveRef()


# --------------------------------------------------------------------------- draws and units
def resolve_budget_draws(data: Any, info: ValidationInfo | None = None) -> Any:
    """Before-validator of the ``budget:`` mapping: ``draws: true`` -> ``advanced.uncertainty``; unit check.

    References that cannot be resolved are left alone here: the response validator reports them
    with their exact field path.
    """
    if not isinstance(data, dict) or not isinstance(data.get("channels"), list):
        return data
    from optimizer.validation import NO_VALUE, FieldProblems

    unit = data.get("response_unit", "currency")
    entries: list[dict[str, Any]] = []
    rules: list[tuple[int, str, dict[str, Any]]] = []
    bounded: dict[int, dict[str, Any]] = {}
    problems: list[tuple[tuple[Any, ...], Any, str]] = []
    for i, ch in enumerate(data["channels"]):
        resp = ch.get("response") if isinstance(ch, dict) else None
        if not (isinstance(resp, dict) and "from" in resp):
            continue
        loc = ("channels", i, "response")
        try:
            ref = _parse_ref(resp)
            path, cf, curves = _lookup(ref, info)
        except ValueError:
            continue
        currency = info.context.get("currency") if info is not None and isinstance(info.context, dict) else None
        if isinstance(currency, str) and cf.currency != currency:
            problems.append((loc + ("from",), ref.from_, (
                f"channel {ref.channel!r} of {path} is in {cf.currency}, but the scenario's currency is {currency}; "
                "convert the curves (or set the scenario's currency) so that spend and response share one unit")))
            continue
        if cf.kpi.unit != unit:
            problems.append((loc + ("from",), ref.from_, (
                f"channel {ref.channel!r} of {path} has kpi.unit {cf.kpi.unit!r}, but budget.response_unit is "
                f"{unit!r}; set response_unit: {cf.kpi.unit} or use curves of the same KPI")))
            continue
        name = ch.get("name", ref.channel)
        if ref.bounds == "historical":
            sb = curves.spend_bounds()
            if sb is None:
                problems.append((loc + ("bounds",), "historical", (
                    f"channel {ref.channel!r} in {path} has neither recommended_bounds nor historical_spend; "
                    "drop bounds: historical or set min_spend / max_spend yourself")))
                continue
            n_periods = len(ch.get("periods") or data.get("periods") or [None])
            n = ref.periods_per_cell * n_periods
            bounded[i] = {k: v for k, v in (("min_spend", sb.min_spend * n), ("max_spend", sb.max_spend * n))
                          if ch.get(k) is None}
        if ref.carryover and curves.adstock is not None:
            if not data.get("periods"):
                problems.append((loc + ("carryover",), True, "carry-over runs between periods; add budget.periods"))
                continue
            rules.append((i, name, {"decay": curves.adstock.decay, "max_lag_periods": curves.adstock.max_lag}))
        if not ref.draws:
            continue
        d = curves.draws
        if d is None:
            problems.append((loc + ("draws",), True, (
                f"channel {ref.channel!r} in {path} has no draws; drop draws: true or re-run the fit / import "
                "with draws")))
            continue
        if d.kind not in ("hill", "table"):
            problems.append((loc + ("draws",), True, (
                f"the draws of {ref.channel!r} in {path} are {d.kind!r} curves; budget.advanced.uncertainty "
                "takes Hill and table draws only")))
            continue
        x_scale = _steady_factor(curves.adstock) if ref.carryover and curves.adstock is not None else ref.periods_per_cell
        y_scale = 1.0 if ref.carryover else ref.periods_per_cell
        if d.kind == "table":
            # each draw is the budget's table curve through the shared knots (validated concave by the file)
            entries.append({"channel": name, "draws": [
                {"kind": "table", **_transform("table", d.response(i), x_scale, y_scale)} for i in range(d.n_draws)
            ]})
            continue
        params = _transform("hill", {k: list(v) for k, v in d.params.items()}, x_scale, y_scale)
        s_shaped = sum(1 for s in params["shape"] if s > 1)
        if s_shaped:
            problems.append((loc + ("draws",), True, (
                f"{s_shaped} of the {d.n_draws} draws of {ref.channel!r} in {path} have shape > 1 (S curves); "
                "the risk plan needs concave draws (shape <= 1): drop draws: true (to plan on the expected response "
                "instead, refit with fit: {point: posterior_mean}, docs/curves-posterior.md)")))
            continue
        entries.append({"channel": name, "draws": [
            {"max_response": m, "half_saturation_spend": h, "shape": s}
            for m, h, s in zip(params["max_response"], params["half_saturation_spend"], params["shape"])
        ]})
    if problems:
        raise FieldProblems(problems)
    if bounded:
        data = {**data, "channels": [{**ch, **bounded[i]} if i in bounded else ch
                                     for i, ch in enumerate(data["channels"])]}
    if not entries and not rules:
        return data
    adv = data.get("advanced") or {}
    if not isinstance(adv, dict):
        return data  # the model reports the bad type
    if rules:
        adv = _add_adstock_rules(adv, rules)
    if not entries:
        return {**data, "advanced": adv}
    unc = adv.get("uncertainty") or {}
    if not isinstance(unc, dict):
        return {**data, "advanced": adv}  # the model reports the bad type
    existing = list(unc.get("channels") or [])
    named = {e.get("channel") for e in existing if isinstance(e, dict)}
    twice = [e["channel"] for e in entries if e["channel"] in named]
    if twice:
        raise FieldProblems([(("advanced", "uncertainty", "channels"), NO_VALUE, (
            f"channel(s) {twice} have draws both here and from their curves file (response.draws: true); keep one"))])
    out = dict(data)
    out["advanced"] = {**adv, "uncertainty": {**unc, "channels": existing + entries}}
    return out


def _add_adstock_rules(adv: dict, rules: list[tuple[int, str, dict[str, Any]]]) -> dict:
    """``advanced.rules[*].adstock`` for channels referenced with ``carryover: true``."""
    from optimizer.validation import FieldProblems

    existing = [dict(r) if isinstance(r, dict) else r for r in (adv.get("rules") or [])]
    problems = []
    for i, name, adstock in rules:
        entry = next((r for r in existing if isinstance(r, dict) and r.get("channel") == name), None)
        if entry is None:
            existing.append({"channel": name, "adstock": adstock})
        elif entry.get("adstock") is not None:
            problems.append((("channels", i, "response", "carryover"), True,
                             f"channel {name!r} also has advanced.rules adstock; keep one of them"))
        else:
            entry["adstock"] = adstock
    if problems:
        raise FieldProblems(problems)
    return {**adv, "rules": existing}
