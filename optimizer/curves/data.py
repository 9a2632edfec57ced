"""Read and check a spend history (CSV or Parquet): one row per period, clear errors for bad input.

Every problem is a :class:`optimizer.errors.DataError` naming the file, the column (field) and the
row (the N-th data row: the line after the header is row 1), the bad value and what is
expected. A channel that never spends is not an error: it is dropped and reported in ``dropped``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import DataError


@dataclass(frozen=True)
class History:
    """A checked history.

    Attributes
    ----------
    dates: period start dates, increasing, equally spaced.
    kpi: KPI per period (T,).
    spend: channel -> spend per period (currency), only channels that spend at least once.
    controls: control column -> values (T,).
    holidays: holiday column -> 0/1 values (T,).
    dropped: channels that never spend (left out of the fit).
    sha256: SHA-256 of the file's bytes ("" for an in-memory frame).
    source: file name used in messages.
    """

    dates: pd.DatetimeIndex
    kpi: np.ndarray
    spend: dict[str, np.ndarray]
    controls: dict[str, np.ndarray]
    holidays: dict[str, np.ndarray]
    dropped: tuple[str, ...]
    sha256: str
    source: str

    @property
    def n_periods(self) -> int:
        return len(self.kpi)


def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV or Parquet file; return the frame and the SHA-256 of its bytes."""
    from optimizer.curves.importers import read_bytes

    p = Path(path)
    raw = read_bytes(p, "history (CSV or Parquet)")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p)
    except Exception as exc:  # pandas and pyarrow raise many types for a malformed file
        raise DataError(f"{p}: cannot be read as {'Parquet' if p.suffix.lower() in ('.parquet', '.pq') else 'CSV'} "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}).") from None
    if df.empty:
        raise DataError(f"{p}: has no data rows; expected one row per period.")
    return df, digest


def _numeric(df: pd.DataFrame, col: str, role: str, source: str) -> np.ndarray:
    if col not in df.columns:
        import difflib

        hint = difflib.get_close_matches(col, [str(c) for c in df.columns], n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; the file has columns: {', '.join(map(str, df.columns))}"
        raise DataError(f"{source}: column {col!r} ({role}) is missing{extra}")
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = np.nonzero(np.isnan(values) & df[col].notna().to_numpy())[0]
    if len(bad):
        raise DataError(f"{source}: row {bad[0] + 1}, column {col!r} ({role}) is {df[col].iloc[bad[0]]!r}; expected a "
                        f"number ({len(bad)} non-numeric row(s)).")
    return values


def check_history(df: pd.DataFrame, *, date_col: str, kpi_col: str, spend_cols: dict[str, str],
                  control_cols: list[str] = (), holiday_cols: list[str] = (), source: str = "<data>",
                  sha256: str = "") -> History:
    """Validate a history frame and return it as arrays (see module docstring for the errors)."""
    if date_col not in df.columns:
        raise DataError(f"{source}: column {date_col!r} (date) is missing; the file has columns: "
                        f"{', '.join(map(str, df.columns))}")
    dates = pd.to_datetime(df[date_col], errors="coerce")
    bad = np.nonzero(dates.isna().to_numpy())[0]
    if len(bad):
        raise DataError(f"{source}: row {bad[0] + 1}, column {date_col!r} is {df[date_col].iloc[bad[0]]!r}; expected "
                        "a date like 2024-01-01.")
    dup = dates.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.nonzero(dup)[0][0])
        first = int(np.nonzero((dates == dates.iloc[i]).to_numpy())[0][0])
        raise DataError(f"{source}: row {i + 1}, column {date_col!r}: date {dates.iloc[i].date()} repeats row "
                        f"{first + 1}; expected one row per period ({int(dup.sum())} duplicated date(s)).")
    # values are checked in file order (row numbers as the file shows them), then sorted by date
    order = np.argsort(dates.to_numpy(), kind="stable")
    sorted_dates = pd.DatetimeIndex(dates.iloc[order])
    if len(sorted_dates) >= 3:
        dates = sorted_dates
        steps = np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(int)
        step = int(np.median(steps))
        gap = np.nonzero(steps != step)[0]
        if len(gap):
            i = int(gap[0])
            raise DataError(f"{source}: column {date_col!r}: the dates jump from {dates[i].date()} to "
                            f"{dates[i + 1].date()} ({steps[i]} days) but the data are every {step} days; fill the "
                            f"missing period(s) (spend 0 if nothing ran) so that periods are evenly spaced.")
    dates = sorted_dates
    kpi = _numeric(df, kpi_col, "KPI", source)
    miss = np.nonzero(np.isnan(kpi))[0]
    if len(miss):
        raise DataError(f"{source}: row {miss[0] + 1}, column {kpi_col!r} (KPI) is empty; the KPI must be known in "
                        f"every period ({len(miss)} empty row(s)). Drop those periods or fill them.")
    spend: dict[str, np.ndarray] = {}
    dropped = []
    for channel, col in spend_cols.items():
        x = _numeric(df, col, f"spend of channel {channel!r}", source)
        nan = np.nonzero(np.isnan(x))[0]
        if len(nan):
            raise DataError(f"{source}: row {nan[0] + 1}, column {col!r} (spend of {channel!r}) is empty; write 0 for "
                            f"no spend ({len(nan)} empty row(s)).")
        neg = np.nonzero(x < 0)[0]
        if len(neg):
            raise DataError(f"{source}: row {neg[0] + 1}, column {col!r} (spend of {channel!r}) is {x[neg[0]]:g}; "
                            f"spend must be >= 0 ({len(neg)} negative row(s)).")
        if not (x > 0).any():
            dropped.append(channel)
            continue
        spend[channel] = x
    if not spend:
        raise DataError(f"{source}: no channel ever spends (columns {', '.join(spend_cols.values())} are all 0); "
                        "there is nothing to fit.")
    controls = {}
    for col in control_cols:
        v = _numeric(df, col, "control", source)
        nan = np.nonzero(np.isnan(v))[0]
        if len(nan):
            raise DataError(f"{source}: row {nan[0] + 1}, column {col!r} (control) is empty; controls must be known "
                            "in every period.")
        controls[col] = v
    holidays = {}
    for col in holiday_cols:
        v = _numeric(df, col, "holiday dummy", source)
        bad = np.nonzero(~np.isin(v, (0.0, 1.0)))[0]
        if len(bad):
            raise DataError(f"{source}: row {bad[0] + 1}, column {col!r} (holiday dummy) is {v[bad[0]]:g}; expected 0 "
                            "or 1.")
        holidays[col] = v
    return History(dates, kpi[order], {c: v[order] for c, v in spend.items()},
                   {c: v[order] for c, v in controls.items()}, {c: v[order] for c, v in holidays.items()},
                   tuple(dropped), sha256, source)
