"""Where a budget channel's curve came from, when it is taken from a curves file (issue 15, provenance).

A ``response: {from: curves.yaml, channel: search}`` reference is resolved into a concrete curve when
the scenario is validated (:mod:`optimizer.curves.reference`), so the budget model no longer knows
the file. This module reads the scenario's own YAML again to record, per channel, the curves file
(path as written, relative to the scenario), the SHA-256 of its bytes, the tool that estimated it,
and the most the channel ever spent in one curves-file period (``historical_spend.max``). A
recommended spend above that is on the extrapolated part of the curve: :func:`extrapolation_warnings`
says so in the planner's words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class CurveSource:
    """One budget channel whose response curve comes from a curves file.

    Attributes
    ----------
    channel: the budget's channel name.
    path: the curves file as the scenario writes it (relative to the scenario file).
    sha256: SHA-256 (hex) of the curves file's bytes when the plan was made.
    tool, tool_version: the program that estimated the curves (``source.tool`` of the file).
    curves_channel: the channel's name in the curves file.
    period: the curves file's time unit ("day", "week", "month"): its spend is per period.
    periods_per_cell: curves-file periods in one budget cell (the reference's ``periods_per_cell``).
    historical_max_spend: the most spent in one period in the fitted data (currency per period), or None.
    signal_t: the fit's t-statistic of the channel's coefficient (``signal_t`` in the file), or None.
    bounded: the reference applies the file's recommended spend bounds (``bounds: historical``).
    """

    channel: str
    path: str
    sha256: str
    tool: str
    tool_version: str | None
    curves_channel: str
    period: str
    periods_per_cell: int
    historical_max_spend: float | None
    signal_t: float | None = None
    bounded: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (plan.json ``budget.curve_sources``)."""
        return {"channel": self.channel, "path": self.path, "sha256": self.sha256, "tool": self.tool,
                "tool_version": self.tool_version, "curves_channel": self.curves_channel, "period": self.period,
                "periods_per_cell": self.periods_per_cell, "historical_max_spend": self.historical_max_spend,
                "signal_t": self.signal_t, "bounded": self.bounded}


def curve_sources(scenario_path: str | Path | None, base_dir: str | Path | None) -> tuple[CurveSource, ...]:
    """The curves-file channels of the scenario at ``scenario_path`` (() when there are none or no file).

    Only called after the scenario validated, so every reference is known to resolve.
    """
    if scenario_path is None:
        return ()
    path = Path(scenario_path)
    if not path.is_file():
        return ()
    import yaml

    from optimizer.curves.reference import _load

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ()
    channels = ((raw or {}).get("budget") or {}).get("channels") if isinstance(raw, dict) else None
    if not isinstance(channels, list):
        return ()
    base = Path(base_dir) if base_dir is not None else path.parent
    out = []
    for ch in channels:
        resp = ch.get("response") if isinstance(ch, dict) else None
        if not (isinstance(resp, dict) and "from" in resp):
            continue
        file = base / str(resp["from"])
        data = file.read_bytes()
        cf = _load(file)
        name = str(resp.get("channel", ch.get("name")))
        entry = cf.channels.get(name)
        hist = entry.historical_spend if entry is not None else None
        out.append(CurveSource(
            channel=str(ch.get("name")), path=str(resp["from"]), sha256=hashlib.sha256(data).hexdigest(),
            tool=cf.source.tool, tool_version=cf.source.tool_version, curves_channel=name, period=cf.period,
            periods_per_cell=int(resp.get("periods_per_cell", 1)),
            historical_max_spend=float(hist.max) if hist is not None else None,
            signal_t=entry.signal_t if entry is not None else None, bounded=resp.get("bounds") == "historical",
        ))
    return tuple(out)


def extrapolation_warnings(sources: tuple[CurveSource, ...], allocations: pd.DataFrame,
                           currency: str | None) -> tuple[str, ...]:
    """"search: recommended $X per week is 1.8x the most ever spent ($Y); the curve is extrapolated there".

    The recommended spend per curves-file period is the channel's largest spend in one budget period
    (segments summed) divided by ``periods_per_cell``.
    """
    from optimizer.budget.money import money

    if not sources or allocations is None or len(allocations) == 0:
        return ()
    by_period = allocations.groupby(["channel", "period"], sort=False)["spend"].sum()
    out = []
    for s in sources:
        if s.historical_max_spend is None or s.historical_max_spend <= 0 or s.channel not in by_period.index:
            continue
        per_period = float(by_period.loc[s.channel].max()) / s.periods_per_cell
        if per_period > s.historical_max_spend * (1 + 1e-9):
            out.append(f"{s.channel}: recommended {money(per_period, currency)} per {s.period} is "
                       f"{per_period / s.historical_max_spend:.1f}x the most ever spent "
                       f"({money(s.historical_max_spend, currency)}); the curve is extrapolated there")
    return tuple(out)


def weak_curve_warnings(sources: tuple[CurveSource, ...]) -> tuple[str, ...]:
    """"search: its fitted curve is weakly identified ...": channels whose fit could barely see them.

    A curve whose coefficient t (``signal_t``) is below :data:`optimizer.curves.diagnostics.WEAK_SIGNAL_T`
    rests mostly on the fit's prior; on simulated histories, plans on fits with such channels lost several
    times more response than the others (docs/performance-curves.md).
    """
    from optimizer.curves.diagnostics import WEAK_SIGNAL_T

    out = []
    for s in sources:
        if s.signal_t is None or s.signal_t >= WEAK_SIGNAL_T:
            continue
        advice = ("it is held to the file's recommended spend range (bounds: historical); a lift test would let the "
                  "plan move it further" if s.bounded else
                  "plan it within 0.5-2x its mean spend (response: {..., bounds: historical}) or calibrate it with a "
                  "lift test")
        out.append(f"{s.channel}: its curve from {s.path} is weakly identified by the history (coefficient t "
                   f"{s.signal_t:.1f} < {WEAK_SIGNAL_T:g}): the plan's spend on it rests mostly on the fit's prior; "
                   + advice)
    return tuple(out)


def curve_warnings(sources: tuple[CurveSource, ...], allocations: pd.DataFrame, currency: str | None) -> tuple[str, ...]:
    """Every warning about the curves files behind a plan: weakly identified curves, extrapolated spend."""
    return weak_curve_warnings(sources) + extrapolation_warnings(sources, allocations, currency)
