"""The curves file: fitted or imported response curves that a scenario can reference.

One YAML file (format version ``dmpopt_curves: 1``) per model, written by ``dmpopt curves fit`` and
``dmpopt curves import`` and read by a budget channel's ``response: {from: curves.yaml, channel: c}``.

Units and conventions
---------------------
* ``period`` (week, day, month) is the time unit of the model; spend and response in the file are
  PER PERIOD. Money is in ``currency``; response in ``kpi.unit`` (currency or conversions).
* ``channels.<c>.response`` uses exactly the budget section's curve schema (``linear``, ``hill``
  with shape <= 1, ``s_hill`` with shape > 1, ``log``, ``power``, ``table``). It is the curve of
  STEADY-STATE spend: the response per period of spending ``x`` in every period, carry-over
  included. With geometric adstock ``e = S * x`` where ``S = sum_{l=0..L} decay^l`` (unnormalised)
  or ``S = 1`` (normalised weights), so a Hill curve of effective spend with half-saturation
  ``h_e`` is written with ``half_saturation_spend = h_e / S``.
* ``channels.<c>.adstock`` is in the budget section's convention (``budget.advanced.rules[].adstock``:
  ``e_t = sum_{l=0..L} decay^l x_{t-l}``); ``normalised`` records what the source tool did.
* ``channels.<c>.draws`` holds posterior or bootstrap draws of the same curve parameters, columnar
  (``{kind: hill, params: {max_response: [...], half_saturation_spend: [...], shape: [...]}}``).
  A ``hill`` draw may have shape > 1 (an S curve). Up to :data:`INLINE_MAX_DRAWS` draws per channel
  are written inline; more go to a sidecar ``<name>.draws.npz`` (arrays ``<channel>/<param>``) that
  the YAML names with its SHA-256 and ``n_draws``, so a stale sidecar is refused.
* ``table`` draws (posterior curves with no closed form, e.g. Meridian's, which are sums over the
  historical flighting) share one spend grid per channel and give each draw's response at its knots::

      draws:
        kind: table
        spend: [s_1, ..., s_K]          # knots, spend per period (currency), increasing, >= 0
        params:
          response: [[y_11, ..., y_1K],   # draw 1: response per period at each knot
                     [y_21, ..., y_2K], ...]

  Draw ``i`` is the budget curve ``{kind: table, points: [[s_k, y_ik], ...]}``: straight lines from
  (0, 0) through the knots, flat after the last one, so every draw must be concave from (0, 0)
  (slopes not increasing, never negative) exactly as a ``table`` response. The sidecar holds the
  (n_draws, K) array ``<channel>/response``; ``spend`` stays in the YAML.

Defaults: :func:`write_curves` inlines up to 50 draws per channel.
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from optimizer.budget.advanced.config import SHillResponse
from optimizer.budget.config import HillResponse, LinearResponse, LogResponse, PowerResponse, TableResponse
from optimizer.errors import ScenarioError
from optimizer.io import atomic_write_bytes, atomic_write_text
from optimizer.validation import LineMap, format_path, load_yaml, parse_model

#: Format versions this build reads; the writer writes the last one.
SUPPORTED_VERSIONS = (1,)
#: Draws per channel written inline in the YAML; more go to the ``.draws.npz`` sidecar.
INLINE_MAX_DRAWS = 50

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
#: JSON schema of one ``draws.params`` column: a number per draw, or (kind table) a list of numbers per draw.
_PARAM_COLUMN_SCHEMA = {"type": "array", "items": {"anyOf": [{"type": "number"},
                                                             {"type": "array", "items": {"type": "number"}}]}}

CurveResponse = Annotated[
    Union[LinearResponse, HillResponse, SHillResponse, LogResponse, PowerResponse, TableResponse],
    Field(discriminator="kind"),
]

#: Parameters of each draw kind (the budget curve's keys, without ``kind``) and their lower bounds.
DRAW_PARAMS: dict[str, dict[str, float]] = {
    "linear": {"roi": 0.0},
    "hill": {"max_response": 0.0, "half_saturation_spend": 0.0, "shape": 0.0},
    "log": {"scale": 0.0, "saturation_spend": 0.0},
    "power": {"coefficient": 0.0, "exponent": 0.0},
    # one row of responses (at the shared ``spend`` knots) per draw; responses may be 0 (see CurveDraws)
    "table": {"response": 0.0},
}


class _Model(BaseModel):
    model_config = _CFG


class Source(_Model):
    """Where the curves came from."""

    tool: Literal["dmpopt-fit", "meridian", "pymc-marketing", "robyn"] = Field(
        description="Program that estimated the curves."
    )
    tool_version: str | None = Field(None, description="Version of that program (as it reported it).")
    file: str | None = Field(None, description="Input file (history data or the tool's saved model).")
    data_sha256: str | None = Field(None, description="SHA-256 of the input file's bytes.")
    seed: int | None = Field(None, description="Seed of every random step of the fit (None: deterministic).")
    settings: dict[str, Any] = Field(default_factory=dict, description="Model settings, as the tool names them.")


class Kpi(_Model):
    """What the response counts."""

    name: str = Field(min_length=1, description="KPI name, e.g. 'revenue' or 'conversions'.")
    unit: Literal["currency", "conversions"] = Field(
        description="'currency' (response in the file's currency) or 'conversions' (counts); "
        "maps to the budget's response_unit."
    )


class FitMetrics(_Model):
    """Goodness of fit (optional; importers copy what the tool reports)."""

    r2: float | None = Field(None, description="In-sample R^2 of the KPI.")
    nrmse: float | None = Field(None, ge=0, description="RMSE / (max - min) of the KPI, in-sample.")
    mape: float | None = Field(None, ge=0, description="Mean absolute percentage error, fraction (0.05 = 5 %).")
    holdout: dict[str, Any] | None = Field(None, description="The same metrics on a time-ordered holdout.")


class CurveAdstock(_Model):
    """Geometric carry-over in the budget section's convention ``e_t = sum_{l=0..L} decay^l x_{t-l}``."""

    decay: float = Field(ge=0, lt=1, description="Fraction 0-1 of effective spend carried one period on.")
    max_lag: int = Field(ge=0, le=104, description="L: spend works for L periods after the one it is spent in.")
    normalised: bool = Field(
        False, description="True when the source tool divided the weights by their sum (PyMC-Marketing's "
        "default, Meridian); the response curve already accounts for it."
    )

    @property
    def steady_state_factor(self) -> float:
        """``e / x`` when ``x`` is spent every period: ``sum decay^l`` or 1 if normalised."""
        if self.normalised:
            return 1.0
        return float(sum(self.decay**lag for lag in range(self.max_lag + 1)))


class HistoricalSpend(_Model):
    """Spend per period (currency) seen in the data the curve was fitted on."""

    min: float = Field(ge=0, description="Lowest spend in a period.")
    max: float = Field(ge=0, description="Highest spend in a period.")
    mean: float = Field(ge=0, description="Mean spend per period.")
    last: float | None = Field(None, ge=0, description="Spend in the last period of the data.")


class SpendBounds(_Model):
    """Spend per period (currency) a plan should stay within: the range the curve is informed by."""

    min_spend: float = Field(ge=0, description="Least spend per period recommended (currency).")
    max_spend: float = Field(ge=0, description="Most spend per period recommended (currency).")
    rule: str | None = Field(None, description="How the bounds were set, e.g. '0.5-2 x mean spend per period of "
                             "the history (Robyn allocator default)'.")

    @model_validator(mode="after")
    def _order(self) -> "SpendBounds":
        if self.min_spend > self.max_spend:
            raise ValueError(f"min_spend {self.min_spend!r} is above max_spend {self.max_spend!r}; swap them")
        return self


class Interval(_Model):
    """A point estimate with an interval."""

    mean: float = Field(description="Point estimate (posterior or bootstrap mean).")
    low: float | None = Field(None, description="Lower end of the interval.")
    high: float | None = Field(None, description="Upper end of the interval.")
    interval: float | None = Field(None, gt=0, lt=1, description="Coverage of [low, high], e.g. 0.9.")


class CurveDraws(_Model):
    """Draws of a channel's curve parameters, columnar: ``params[key][i]`` is draw ``i``.

    ``kind: table``: ``spend`` holds the knots shared by every draw and ``params.response[i]`` draw
    ``i``'s responses at them (see the module docstring).
    """

    kind: Literal["linear", "hill", "log", "power", "table"] = Field(
        description="Curve family of every draw ('hill' draws may have shape > 1; 'table' draws are concave "
        "piecewise-linear curves through the shared spend knots)."
    )
    spend: list[float] | None = Field(
        None, description="kind table only: spend per period (currency) of the knots every draw shares, "
        "increasing, >= 0."
    )
    params: dict[str, Annotated[list[Any], WithJsonSchema(_PARAM_COLUMN_SCHEMA)]] = Field(
        description="Parameter name -> one value per draw (kind table: response -> one list of responses at the "
        "spend knots per draw)."
    )

    @field_validator("params")
    @classmethod
    def _numbers(cls, params: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Numbers (or, for tables, lists of numbers) as floats; finiteness and bounds are checked by kind."""
        from optimizer.validation import FieldProblems

        def num(v: Any, loc: tuple[Any, ...]) -> float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise FieldProblems([(loc, v, "expected a number")])
            return float(v)

        return {k: [[num(y, (k, i, j)) for j, y in enumerate(v)] if isinstance(v, list) else num(v, (k, i))
                    for i, v in enumerate(col)] for k, col in params.items()}

    @model_validator(mode="after")
    def _check(self) -> "CurveDraws":
        want = DRAW_PARAMS[self.kind]
        if set(self.params) != set(want):
            raise ValueError(
                f"params has keys {sorted(self.params)}; a {self.kind!r} draw needs exactly {sorted(want)}"
            )
        if self.kind == "table":
            self._check_table()
            return self
        if self.spend is not None:
            raise ValueError(f"spend is given for {self.kind!r} draws; only table draws have spend knots")
        nested = [k for k, v in self.params.items() if any(isinstance(x, list) for x in v)]
        if nested:
            raise ValueError(f"params.{nested[0]} holds lists; a {self.kind!r} draw has one number per draw")
        lengths = {k: len(v) for k, v in self.params.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"every parameter needs the same number of draws; got {lengths}")
        if next(iter(lengths.values())) < 2:
            raise ValueError("give at least 2 draws (or leave draws out)")
        for key, lo in want.items():
            bad = [i for i, v in enumerate(self.params[key]) if not (math.isfinite(v) and v > lo)]
            if bad:
                raise ValueError(
                    f"params.{key}[{bad[0]}] is {self.params[key][bad[0]]!r}; every draw must be finite and > {lo:g} "
                    f"({len(bad)} bad draw(s))"
                )
        if self.kind == "power":
            bad = [i for i, v in enumerate(self.params["exponent"]) if v >= 1]
            if bad:
                raise ValueError(f"params.exponent[{bad[0]}] is {self.params['exponent'][bad[0]]!r}; it must be < 1")
        return self

    def _check_table(self) -> None:
        """Shared knots increasing and >= 0; every draw as long, finite, >= 0 and concave from (0, 0)."""
        from optimizer.validation import FieldProblems

        spend = self.spend
        if not spend:
            raise ValueError("table draws need spend: the knots every draw shares (spend per period, increasing, "
                             ">= 0)")
        for j, s in enumerate(spend):
            if not (math.isfinite(s) and s >= 0):
                raise FieldProblems([(("spend", j), s, "every knot must be finite and >= 0 (spend per period)")])
            if j and s <= spend[j - 1]:
                raise FieldProblems([(("spend", j), s, f"spend knots must increase strictly; {s:g} follows "
                                      f"{spend[j - 1]:g}")])
        rows = self.params["response"]
        if len(rows) < 2:
            raise FieldProblems([(("params", "response"), f"{len(rows)} draw(s)",
                                  "give at least 2 draws (or leave draws out)")])
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise FieldProblems([(("params", "response", i), row, "each table draw is a list of responses, one "
                                      f"per spend knot ({len(spend)})")])
            if len(row) != len(spend):
                raise FieldProblems([(("params", "response", i), f"{len(row)} values",
                                      f"every draw needs one response per spend knot ({len(spend)})")])
        y = np.asarray(rows, dtype=float)
        bad = np.argwhere(~np.isfinite(y) | (y < 0))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            raise FieldProblems([(("params", "response", i, j), rows[i][j],
                                  f"every response must be finite and >= 0 ({len(bad)} bad value(s))")])
        x = np.asarray(spend, dtype=float)
        if x[0] == 0:
            nz = np.nonzero(y[:, 0] != 0)[0]
            if nz.size:
                raise FieldProblems([(("params", "response", int(nz[0]), 0), rows[int(nz[0])][0],
                                      "the response at spend 0 must be 0")])
        else:  # the table starts at (0, 0)
            x, y = np.r_[0.0, x], np.c_[np.zeros(len(rows)), y]
        off = 0 if spend[0] == 0 else 1  # column of y -> index of the knot in spend
        slopes = np.diff(y, axis=1) / np.diff(x)
        # the same tolerance as TableResponse: a slope may exceed the previous one by 1e-9 relative + 1e-12
        rising = slopes[:, 1:] > slopes[:, :-1] * (1 + 1e-9) + 1e-12
        falling = slopes < 0
        # slopes[:, k] is the piece from column k to k + 1 of y, i.e. up to spend[k + 1 - off]
        for mask, shift, what in ((falling, 1, "falls"), (rising, 2, "rises")):
            hit = np.argwhere(mask)
            if hit.size:
                i, k = (int(v) for v in hit[0])
                j = k + shift - off  # the knot where the offending piece ends
                text = (f"draw {i} falls as spend grows (slope {slopes[i, k]:.6g} up to spend {spend[j]:g}, knot {j})"
                        if what == "falls" else
                        f"draw {i} is not concave: its slope rises from {slopes[i, k]:.6g} to {slopes[i, k + 1]:.6g} "
                        f"up to spend {spend[j]:g} (knot {j}); table draws must be concave from (0, 0)")
                raise FieldProblems([(("params", "response", i, j), rows[i][j],
                                      f"{text} ({int(mask.any(axis=1).sum())} of {len(rows)} draws)")])

    @property
    def n_draws(self) -> int:
        """Number of draws."""
        return len(next(iter(self.params.values())))

    def response(self, i: int) -> dict[str, Any]:
        """Draw ``i`` as a budget response dict (``hill`` with shape > 1 becomes ``s_hill``)."""
        if self.kind == "table":
            return {"kind": "table", "points": [[float(s), float(y)] for s, y in zip(self.spend or [],
                                                                                    self.params["response"][i])]}
        d: dict[str, Any] = {k: float(v[i]) for k, v in self.params.items()}
        kind = self.kind
        if kind == "hill" and d["shape"] > 1:
            kind = "s_hill"
        return {"kind": kind, **d}


class ChannelCurves(_Model):
    """One channel's curve, carry-over, history and returns."""

    response: CurveResponse = Field(
        description="Per-period response to spending x every period (steady state, carry-over included)."
    )
    adstock: CurveAdstock | None = Field(None, description="Carry-over, in the budget section's convention.")
    historical_spend: HistoricalSpend | None = Field(None, description="Spend per period seen in the data.")
    roi: Interval | None = Field(None, description="Response per currency spent at historical spend.")
    marginal_roi: Interval | None = Field(None, description="Slope of the curve at the last (or mean) spend.")
    draws: CurveDraws | None = Field(None, description="Posterior or bootstrap draws of the curve parameters.")
    signal_t: float | None = Field(
        None, description="dmpopt curves fit: t-statistic of the channel's coefficient against the baseline and "
        "the other channels; below 2 the history barely shows the channel moving the KPI (a plan warns).")
    recommended_bounds: SpendBounds | None = Field(
        None, description="Spend per period a plan should stay within (dmpopt curves fit writes 0.5-2 x the "
        "historical mean, Robyn's allocator default); a scenario applies it with the reference's bounds: historical.")

    def spend_bounds(self) -> SpendBounds | None:
        """``recommended_bounds``, else 0.5-2 x ``historical_spend.mean``, else None (currency per period)."""
        if self.recommended_bounds is not None:
            return self.recommended_bounds
        if self.historical_spend is None:
            return None
        from optimizer.curves.bounds import historical_bounds

        return SpendBounds(**historical_bounds(self.historical_spend.mean))


class CurvesFile(_Model):
    """A curves file (see the module docstring for units)."""

    dmpopt_curves: int = Field(description="Format version; this build reads version 1.")
    source: Source = Field(description="Program, version, input file and settings.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="Currency code of spend (and of response if kpi.unit is currency).")
    kpi: Kpi = Field(description="What the response counts.")
    period: Literal["day", "week", "month"] = Field(description="Time unit: spend and response are per period.")
    fit: FitMetrics | None = Field(None, description="Goodness of fit, when known.")
    channels: dict[str, ChannelCurves] = Field(min_length=1, description="Channel name -> its curve.")
    warnings: list[str] = Field(default_factory=list, description="What the fit or import wants a reader to know.")

    @model_validator(mode="after")
    def _version(self) -> "CurvesFile":
        if self.dmpopt_curves not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"dmpopt_curves is {self.dmpopt_curves}; this dmpopt reads format version(s) "
                f"{', '.join(map(str, SUPPORTED_VERSIONS))}. Upgrade dmpopt or re-export the curves"
            )
        return self


# --------------------------------------------------------------------------- evaluation
def curve_of(response: Any) -> Any:
    """A vectorised curve object (``.value(x)``, ``.slope(x)``) for a budget response model."""
    from optimizer.budget.advanced.scurve import SCurve
    from optimizer.budget.curves import curve_of_response

    r = response
    if isinstance(r, SHillResponse):
        return SCurve(r.max_response, r.half_saturation_spend, r.shape)
    if isinstance(r, LinearResponse) and r.roi is None:
        raise ValueError("a linear curve in a curves file needs roi (response per currency spent)")
    return curve_of_response(r)


def evaluate(response: Any, spend: np.ndarray) -> np.ndarray:
    """Response per period at per-period spend ``spend`` (array, currency)."""
    return np.asarray(curve_of(response).value(np.asarray(spend, dtype=float)), dtype=float)


def evaluate_draws(draws: CurveDraws, spend: np.ndarray) -> np.ndarray:
    """Response of every draw at ``spend``: array (n_draws, len(spend))."""
    x = np.asarray(spend, dtype=float)
    if draws.kind == "table":
        # TableResponse's curve: straight lines from (0, 0) through the knots, flat after the last one
        kx, ky = np.asarray(draws.spend, dtype=float), np.asarray(draws.params["response"], dtype=float)
        if kx[0] > 0:
            kx, ky = np.r_[0.0, kx], np.c_[np.zeros(ky.shape[0]), ky]
        out = np.stack([np.interp(x, kx, row) for row in ky])
        return out.reshape(len(ky), -1) if x.ndim <= 1 else out
    p = {k: np.asarray(v, dtype=float)[:, None] for k, v in draws.params.items()}
    if draws.kind == "linear":
        return p["roi"] * x
    if draws.kind == "hill":
        with np.errstate(divide="ignore", over="ignore"):
            return np.where(x > 0, p["max_response"] / (1.0 + (p["half_saturation_spend"] / np.maximum(x, 1e-300))
                                                       ** p["shape"]), 0.0)
    if draws.kind == "log":
        return p["scale"] * np.log1p(x / p["saturation_spend"])
    return p["coefficient"] * np.power(np.maximum(x, 0.0), p["exponent"])


def hill_response(max_response: float, half_saturation_spend: float, shape: float) -> HillResponse | SHillResponse:
    """The budget model of a Hill curve: ``hill`` when shape <= 1, else ``s_hill``."""
    if shape > 1:
        return SHillResponse(kind="s_hill", max_response=max_response, half_saturation_spend=half_saturation_spend,
                             shape=shape)
    return HillResponse(kind="hill", max_response=max_response, half_saturation_spend=half_saturation_spend,
                        shape=shape)


# --------------------------------------------------------------------------- file IO
def sidecar_path(path: str | Path) -> Path:
    """``fitted/curves.yaml`` -> ``fitted/curves.draws.npz``."""
    p = Path(path)
    return p.with_name(p.stem + ".draws.npz")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_sidecar(data: dict, source: str, base: Path, line_map: LineMap) -> None:
    """Replace every ``draws: {kind, [spend,] file, sha256, n_draws}`` by inline ``params`` (in place)."""
    channels = data.get("channels")
    if not isinstance(channels, dict):
        return
    loaded: dict[str, Any] = {}
    for name, ch in channels.items():
        d = ch.get("draws") if isinstance(ch, dict) else None
        if not isinstance(d, dict) or "file" not in d:
            continue
        loc = ("channels", name, "draws", "file")
        line = line_map.get(loc)
        where = f"{source}:{line}" if line else source
        fname = d["file"]
        f = base / str(fname)
        if str(f) not in loaded:
            try:
                raw = f.read_bytes()
            except OSError as exc:
                raise ScenarioError(
                    f"{where}: {format_path(loc)} is {fname!r}; the draws sidecar {f} cannot be read "
                    f"({exc.strerror}). Keep the .draws.npz file next to the curves file."
                ) from None
            want = d.get("sha256")
            if want is not None and _sha256(raw) != want:
                raise ScenarioError(
                    f"{where}: {format_path(loc)} is {fname!r}, but that file's SHA-256 is not the {want[:12]}... "
                    "the curves file records; the sidecar belongs to another export. Re-run the fit or import."
                )
            try:
                with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                    loaded[str(f)] = {k: z[k] for k in z.files}
            except Exception as exc:  # numpy raises several types for a corrupt archive
                raise ScenarioError(f"{where}: {f} is not a readable .npz archive ({exc}).") from None
        arrays = loaded[str(f)]
        kind = d.get("kind")
        keys = DRAW_PARAMS.get(str(kind), {})
        params = {}
        for k in keys:
            arr = arrays.get(f"{name}/{k}")
            if arr is None:
                raise ScenarioError(f"{where}: {f} has no array {name}/{k!s} for channel {name!r}.")
            arr = np.asarray(arr, dtype=float)
            # table draws: one row of responses per draw; the other kinds: one number per draw
            params[k] = arr.tolist() if kind == "table" and arr.ndim == 2 else [float(v) for v in arr.ravel()]
        n = d.get("n_draws")
        if params and n is not None and len(next(iter(params.values()))) != n:
            raise ScenarioError(
                f"{where}: {format_path(loc)}: the curves file says n_draws {n} but {f} holds "
                f"{len(next(iter(params.values())))} draws for channel {name!r}."
            )
        ch["draws"] = {"kind": kind, **({"spend": d["spend"]} if "spend" in d else {}), "params": params}


def load_curves(path: str | Path) -> CurvesFile:
    """Read and validate a curves file (and its draws sidecar).

    Raises
    ------
    ScenarioError
        One line per defect: file, line, field path, bad value and what is allowed; an unknown
        format version says which versions this build reads.
    """
    p = Path(path)
    data, line_map = load_yaml(p)
    source = str(p)
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: the top level is a {type(data).__name__}; expected a curves file (a mapping with "
                            "`dmpopt_curves: 1`).")
    if "dmpopt_curves" not in data:
        raise ScenarioError(f"{p}: `dmpopt_curves:` is missing; this is not a dmpopt curves file (expected "
                            f"`dmpopt_curves: {SUPPORTED_VERSIONS[-1]}` at the top).")
    version = data["dmpopt_curves"]
    if not isinstance(version, int) or isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        line = line_map.get(("dmpopt_curves",))
        raise ScenarioError(
            f"{p}:{line}: dmpopt_curves is {version!r}; this dmpopt reads curves format version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}. Upgrade dmpopt, or re-run the fit or import with this version."
        )
    _read_sidecar(data, source, p.parent, line_map)
    return parse_model(CurvesFile, data, source, line_map)


def _dump(obj: CurvesFile) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def write_curves(obj: CurvesFile, path: str | Path, inline_max_draws: int = INLINE_MAX_DRAWS) -> Path:
    """Write ``obj`` to ``path`` atomically (and the ``.draws.npz`` sidecar when draws are many).

    Floats are written with Python's shortest round-trip repr, so :func:`load_curves` returns an
    equal object.
    """
    p = Path(path)
    data = _dump(obj)
    big = {n: c.draws for n, c in obj.channels.items() if c.draws is not None and c.draws.n_draws > inline_max_draws}
    if big:
        side = sidecar_path(p)
        arrays = {f"{n}/{k}": np.asarray(v, dtype=float) for n, d in big.items() for k, v in d.params.items()}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        raw = buf.getvalue()
        atomic_write_bytes(side, raw)
        for n, d in big.items():
            stub = {"kind": d.kind, "n_draws": d.n_draws, "file": side.name, "sha256": _sha256(raw)}
            if d.spend is not None:  # table draws: the shared knots stay readable in the YAML
                stub = {"kind": d.kind, "spend": list(d.spend), **{k: v for k, v in stub.items() if k != "kind"}}
            data["channels"][n]["draws"] = stub
    text = "# dmpopt curves file: per-period response curves (steady-state spend). See docs/curves-import.md.\n"
    text += yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    atomic_write_text(p, text)
    return p
