"""Lift-test rows for calibrating a fit: ``channel, x, delta_x, delta_y, sigma`` (PyMC-Marketing's columns).

A row says: at spend ``x`` per period (currency), adding ``delta_x`` per period raised the KPI by
``delta_y`` per period, measured with standard error ``sigma`` (KPI units). The fit adds the row
``(beta_c * (z_c(x + delta_x) - z_c(x)) - delta_y) / sigma`` to its residuals, with the increment
taken on the STEADY-STATE curve (sustained spend, carry-over included) -- see docs/curves-maths.md.

:func:`from_experiment` turns an analysed A/B (geo or holdout) test of a channel into such a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.errors import DataError

COLUMNS = ("channel", "x", "delta_x", "delta_y", "sigma")


@dataclass(frozen=True)
class LiftTest:
    """One lift test. Money in currency per period; ``delta_y`` and ``sigma`` in KPI units per period."""

    channel: str
    x: float
    delta_x: float
    delta_y: float
    sigma: float

    def to_dict(self) -> dict:
        return {"channel": self.channel, "x": self.x, "delta_x": self.delta_x, "delta_y": self.delta_y,
                "sigma": self.sigma}


def from_experiment(channel: str, spend_per_period: float, extra_spend_per_period: float,
                    lift_absolute: float, standard_error: float) -> LiftTest:
    """A lift-test row from an experiment's result (e.g. ``experiments`` analysis of a spend test).

    ``lift_absolute`` is treatment minus control in KPI units per period and ``standard_error`` its
    standard error, as the experiments part reports them; ``spend_per_period`` is the control arm's
    spend and ``extra_spend_per_period`` what the treatment added.
    """
    return LiftTest(channel, float(spend_per_period), float(extra_spend_per_period), float(lift_absolute),
                    float(standard_error))


def from_comparison(result, channel: str, spend_per_period: float, extra_spend_per_period: float,
                    kpi_per_unit_lift: float = 1.0) -> LiftTest:
    """A lift-test row from ``experiments``' :class:`~experiments.results.ComparisonResult`.

    The comparison's ``lift_absolute`` is treatment minus control per randomisation unit (user,
    geo...); ``kpi_per_unit_lift`` turns it into KPI per period (e.g. the number of users in the
    treated arm per period). ``sigma`` is the half-width of its (two-sided) interval divided by the
    normal quantile of ``ci_level`` (for a t interval with many units the same): analyse with
    ``AnalysisSettings(effect_scale="absolute")`` so the interval is the absolute lift's own (the
    relative scale's interval, rescaled, also carries the control mean's uncertainty and is wider).
    Refuses a comparison whose status is not ok.
    """
    from scipy.stats import norm

    if getattr(result, "status", "ok") != "ok":
        raise DataError(f"comparison {getattr(result, 'variant', '?')!r} has status {result.status!r} "
                        f"({getattr(result, 'error_code', '')}); it cannot calibrate channel {channel!r}.")
    z = float(norm.ppf(0.5 + result.ci_level / 2))
    half = (result.lift_absolute_ci_high - result.lift_absolute_ci_low) / 2
    if not (np.isfinite(half) and half > 0):
        raise DataError(f"comparison {result.variant!r} has no finite interval for lift_absolute; it cannot "
                        "calibrate a curve.")
    return LiftTest(channel, float(spend_per_period), float(extra_spend_per_period),
                    float(result.lift_absolute) * kpi_per_unit_lift, half / z * kpi_per_unit_lift)


def check(tests: list[LiftTest], channels: list[str], source: str = "lift tests") -> list[LiftTest]:
    """Validate rows against the fitted channels; one clear error per defect (first one raised)."""
    import difflib

    for i, t in enumerate(tests):
        where = f"{source}: row {i + 1}"
        if t.channel not in channels:
            hint = difflib.get_close_matches(t.channel, channels, n=1)
            raise DataError(f"{where}, field 'channel' is {t.channel!r}, an unknown channel"
                            + (f"; did you mean {hint[0]!r}?" if hint else f"; channels are: {', '.join(channels)}."))
        for name in ("x", "delta_x", "delta_y", "sigma"):
            v = getattr(t, name)
            if not np.isfinite(v):
                raise DataError(f"{where}, field {name!r} is {v!r}; expected a finite number.")
        if t.x < 0:
            raise DataError(f"{where}, field 'x' is {t.x:g}; spend must be >= 0.")
        if t.delta_x == 0 or t.x + t.delta_x < 0:
            raise DataError(f"{where}, field 'delta_x' is {t.delta_x:g}; it must be non-zero and keep x + delta_x >= 0.")
        if t.sigma <= 0:
            raise DataError(f"{where}, field 'sigma' is {t.sigma:g}; the standard error must be > 0.")
    return tests


def read_lift_tests(path: str | Path) -> list[LiftTest]:
    """Read lift tests from a CSV with columns channel, x, delta_x, delta_y, sigma."""
    import pandas as pd

    from optimizer.curves.data import read_table

    df, _ = read_table(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: column(s) {', '.join(missing)} missing; a lift-test file has columns "
                        f"{', '.join(COLUMNS)}.")
    out = []
    for i, row in df.iterrows():
        vals = {}
        for c in COLUMNS[1:]:
            v = pd.to_numeric(pd.Series([row[c]]), errors="coerce").iloc[0]
            if pd.isna(v):
                raise DataError(f"{path}: row {i + 1}, field {c!r} is {row[c]!r}; expected a number.")
            vals[c] = float(v)
        out.append(LiftTest(str(row["channel"]), **vals))
    return out
