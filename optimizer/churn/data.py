"""Load, validate and encode customer history for churn models.

A customer table has one row per customer: ``duration_col`` (tenure so far, in days, > 0),
``event_col`` (1 = churned at that tenure, 0 = still active: right-censored) and covariates.
Categorical covariates (strings, booleans, pandas categories) are one-hot encoded with the first
level dropped, so a fitted model never sees a text column. Every defect a user can cause raises
:class:`~optimizer.errors.DataError` with the row count, the bad value and a fix.

Defaults: at least 10 events per covariate column (after encoding) before a fit with
covariates is allowed (Peduzzi et al. 1995 give ~10 events per variable as the rule of thumb).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import DataError

#: minimum events per encoded covariate column (Peduzzi et al. 1995).
MIN_EVENTS_PER_COVARIATE = 10


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame.

    Raises
    ------
    DataError
        The file is missing, of an unknown type, or unreadable.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found. Suggestion: paths in a scenario are relative to the scenario file.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(p)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{p}: could not be read as {suffix[1:]} ({exc}).") from None
    raise DataError(f"{p}: file type {suffix!r} is not supported; use .csv or .parquet.")


@dataclass(frozen=True)
class Encoding:
    """How raw covariates map to model columns; reused to encode new customers identically.

    Attributes
    ----------
    numeric:
        Raw numeric covariates, used as they are.
    categorical_to_levels:
        Raw categorical covariate -> its sorted levels; the first level is the reference
        (dropped), the others become ``name[level]`` indicator columns.
    """

    numeric: tuple[str, ...] = ()
    categorical_to_levels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """Encoded column names, in model order."""
        cols = list(self.numeric)
        for name, levels in self.categorical_to_levels.items():
            cols += [f"{name}[{lvl}]" for lvl in levels[1:]]
        return tuple(cols)

    def transform(self, df: pd.DataFrame, source: str = "data") -> np.ndarray:
        """Encode ``df`` into a float matrix (n, len(columns)).

        Raises
        ------
        DataError
            A covariate is missing, has missing values, or a categorical level unseen in fit.
        """
        raw = list(self.numeric) + list(self.categorical_to_levels)
        _require_columns(df, raw, source)
        out = np.empty((len(df), len(self.columns)))
        j = 0
        for name in self.numeric:
            col = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(col)
            if bad.any():
                raise DataError(
                    f"{source}: column {name!r} has {int(bad.sum())} missing or non-numeric value(s) "
                    f"(first at data row {int(np.argmax(bad)) + 1}). Suggestion: fill or drop those rows."
                )
            out[:, j] = col
            j += 1
        for name, levels in self.categorical_to_levels.items():
            values = df[name].astype("string")
            if values.isna().any():
                raise DataError(
                    f"{source}: column {name!r} has {int(values.isna().sum())} missing value(s). "
                    "Suggestion: fill them with an explicit level such as 'unknown'."
                )
            unseen = sorted(set(values.unique()) - set(levels))
            if unseen:
                raise DataError(
                    f"{source}: column {name!r} has level(s) {unseen[:5]} not seen when the model was fitted; "
                    f"known levels: {list(levels)}."
                )
            codes = pd.Categorical(values, categories=list(levels)).codes
            k = len(levels) - 1
            out[:, j:j + k] = codes[:, None] == np.arange(1, len(levels))[None, :]
            j += k
        return out


@dataclass(frozen=True)
class SurvivalData:
    """Validated, encoded customer history.

    Attributes
    ----------
    duration:
        Tenure so far (days), float array > 0.
    event:
        1 = churned at ``duration``, 0 = censored (still a customer), int8 array.
    X:
        Encoded covariates (n, p), float.
    encoding:
        The :class:`Encoding` used (apply it to new customers).
    strata:
        Stratum label per row, or None.
    segment:
        Segment label per row (for schedules), or None.
    ids:
        Customer id per row (the id column as strings, or the 0-based row number).
    """

    duration: np.ndarray
    event: np.ndarray
    X: np.ndarray
    encoding: Encoding
    strata: np.ndarray | None = None
    segment: np.ndarray | None = None
    ids: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self.duration.shape[0])

    @property
    def columns(self) -> tuple[str, ...]:
        """Encoded covariate names."""
        return self.encoding.columns

    def subset(self, idx: np.ndarray) -> "SurvivalData":
        """Rows ``idx`` (boolean mask or integer positions)."""
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return SurvivalData(
            self.duration[idx], self.event[idx], self.X[idx], self.encoding,
            pick(self.strata), pick(self.segment), pick(self.ids),
        )

    def frame(self) -> pd.DataFrame:
        """A lifelines-ready frame: encoded covariates plus ``duration``, ``event`` (and ``stratum``)."""
        df = pd.DataFrame(self.X, columns=list(self.columns))
        df["duration"] = self.duration
        df["event"] = self.event.astype(int)
        if self.strata is not None:
            df["stratum"] = self.strata
        return df


def collinear_columns(X: np.ndarray, tol: float = 1e-10) -> list[int]:
    """Positions of columns that are (numerically) linear combinations of earlier columns and the intercept.

    Uses the centred cross-product matrix (p x p, cheap for any n): column j is redundant when
    adding it does not raise the rank.
    """
    p = X.shape[1]
    if p == 0:
        return []
    Z = X - X.mean(axis=0)
    C = Z.T @ Z
    scale = np.sqrt(np.diag(C)).copy()
    scale[scale == 0] = 1.0
    C = C / np.outer(scale, scale)  # correlation matrix
    out, kept = [], []
    for j in range(p):
        idx = kept + [j]
        eig = np.linalg.eigvalsh(C[np.ix_(idx, idx)])
        if eig.min() < tol * max(1.0, eig.max()) * len(idx) * 1e3:
            out.append(j)
        else:
            kept.append(j)
    return out


def _require_columns(df: pd.DataFrame, wanted: list[str], source: str) -> None:
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns[:30])) + (" ..." if len(df.columns) > 30 else "")
        raise DataError(
            f"{source}: column(s) {missing} not found; the columns found are: {found}. "
            "Suggestion: check --duration-col/--event-col/--covariates (names are case-sensitive)."
        )


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def prepare(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: list[str] | None = None,
    *,
    categorical: list[str] | None = None,
    strata_col: str | None = None,
    segment_col: str | None = None,
    id_col: str | None = None,
    source: str = "data",
    min_events_per_covariate: float = MIN_EVENTS_PER_COVARIATE,
) -> SurvivalData:
    """Validate a customer table and encode its covariates.

    Parameters
    ----------
    df:
        One row per customer.
    duration_col, event_col:
        Tenure (days, > 0) and churn flag (0/1) columns.
    covariates:
        Covariate columns; None = every column not named in another argument.
    categorical:
        Numeric columns to treat as categorical too (text/bool columns always are).
    strata_col, segment_col, id_col:
        Optional stratum (Cox strata), segment (schedule grouping) and customer id columns.
    source:
        File name for messages.
    min_events_per_covariate:
        Refuse a fit with fewer events per encoded covariate than this.

    Raises
    ------
    DataError
        Missing columns (listing the columns found), durations <= 0 or missing, event values other
        than 0/1, no events at all, constant covariates, too few events for the covariates.
    """
    named = [duration_col, event_col] + [c for c in (strata_col, segment_col, id_col) if c]
    if covariates is None:
        covariates = [c for c in df.columns if c not in named]
    _require_columns(df, named + list(covariates), source)
    if len(df) == 0:
        raise DataError(f"{source}: the table has no rows.")

    dur = pd.to_numeric(df[duration_col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(dur)
    if bad.any():
        raise DataError(
            f"{source}: {int(bad.sum())} row(s) have a missing or non-numeric {duration_col!r} "
            f"(first at data row {int(np.argmax(bad)) + 1}); durations must be numbers of days > 0."
        )
    nonpos = dur <= 0
    if nonpos.any():
        raise DataError(
            f"{source}: {int(nonpos.sum())} row(s) have {duration_col!r} <= 0 (e.g. {dur[nonpos][0]:g} at data row "
            f"{int(np.argmax(nonpos)) + 1}); tenure must be > 0 days. Suggestion: a customer who left on day 0 "
            "can be given a small positive tenure such as 0.5, or dropped."
        )

    ev_raw = pd.to_numeric(df[event_col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(ev_raw, (0.0, 1.0))
    if bad.any():
        examples = pd.unique(df[event_col][bad].astype(str))[:5].tolist()
        raise DataError(
            f"{source}: {int(bad.sum())} row(s) have {event_col!r} not in {{0, 1}} (values seen: {examples}); "
            "use 1 = churned, 0 = still a customer (censored)."
        )
    event = ev_raw.astype(np.int8)
    n_events = int(event.sum())
    if n_events == 0:
        raise DataError(
            f"{source}: all {len(df)} rows are censored ({event_col!r} is 0 everywhere); a churn model needs "
            "customers who churned. Suggestion: check the event column, or extend the observation window."
        )

    categorical = set(categorical or [])
    numeric, cat_levels = [], {}
    constant = []
    for c in covariates:
        s = df[c]
        if c in categorical or _is_categorical(s):
            levels = tuple(sorted(s.dropna().astype(str).unique()))
            if len(levels) <= 1:
                constant.append(c)
            else:
                cat_levels[c] = levels
        else:
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            # min == max instead of nunique: hashing a million floats is slow
            if not np.isfinite(v).any() or np.nanmin(v) == np.nanmax(v):
                constant.append(c)
            else:
                numeric.append(c)
    if constant:
        raise DataError(
            f"{source}: covariate(s) {constant} take a single value in every row; a constant column cannot "
            "be estimated. Suggestion: drop them from the covariates."
        )
    encoding = Encoding(tuple(numeric), cat_levels)
    X = encoding.transform(df, source)
    redundant = collinear_columns(X)
    if redundant:
        names = [encoding.columns[j] for j in redundant]
        raise DataError(
            f"{source}: covariate column(s) {names} are linear combinations of the columns before them "
            "(e.g. a copy, a rescaled copy, or dummies that add up to another column); their effects cannot "
            "be told apart. Suggestion: drop them from the covariates."
        )

    p = X.shape[1]
    if p and n_events < min_events_per_covariate * p:
        raise DataError(
            f"{source}: {n_events} event(s) for {p} encoded covariate column(s) "
            f"({n_events / p:.1f} per column); at least {min_events_per_covariate:g} per column are needed "
            "for stable estimates. Suggestion: use fewer covariates, merge rare categories, or more data."
        )

    def col(name: str | None) -> np.ndarray | None:
        if name is None:
            return None
        s = df[name]
        if s.isna().any():
            raise DataError(f"{source}: column {name!r} has {int(s.isna().sum())} missing value(s).")
        return s.astype(str).to_numpy()

    ids = col(id_col) if id_col else np.arange(len(df))  # row numbers (ints: a million str() calls is slow)
    if id_col:
        dup = pd.Series(ids).duplicated()
        if dup.any():
            raise DataError(
                f"{source}: {int(dup.sum())} row(s) repeat a {id_col!r} already seen (e.g. {ids[dup.to_numpy()][0]!r}); "
                "the table needs one row per customer. Suggestion: keep each customer's latest row."
            )
    return SurvivalData(dur, event, X, encoding, col(strata_col), col(segment_col), ids)
