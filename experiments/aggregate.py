"""Per-variant sufficient statistics from per-user rows or raw events, in SQL (DuckDB by default).

The aggregation runs in three steps, the same SQL text on DuckDB and on Spark
(:mod:`experiments.aggregate_spark`); the SQL lives in ``experiments/aggregate_sql/``:

1. ``source.sql`` normalises the file to fixed column names (``u`` user, ``v`` variant, ``t``
   epoch seconds, ``e`` event, ``c<j>`` numeric inputs, ``g<j>`` dimensions); ``checks.sql`` counts
   every defect in one scan (NaN, negative counts, non-0/1 conversions, NULL ids).
2. Events become one row per user (and per ISO week bucket when there is a timestamp); per-user
   rows are joined to the looks: look ``k`` holds the users exposed by the end of week ``k`` with
   their week-to-date values.
3. ``variant_moments.sql`` gives, per look and variant, ``n`` and the *centred* moments
   (mean, M2 = sum (y - mean)^2, co-moments) from ``var_pop``/``covar_pop``, which both engines
   compute by stable streaming updates. The naive ``sum(y^2) - sum(y)^2 / n`` would give a
   variance of 0 for ``1e9 + {1, 2, 3}``.

Units: ``mean`` is in the metric's unit per user; ``m2`` in unit^2; ``t`` in seconds since
1970-01-01 UTC; weeks are ISO weeks (Monday 00:00 UTC to Sunday 24:00 UTC).

Public API: :func:`aggregate` (config -> :class:`Aggregates`), :func:`aggregate_summary`,
:class:`Aggregates` (``.stats(look, metric)`` -> ``{variant: VariantStats}``),
:class:`AggregationError` (a :class:`~optimizer.errors.DataError` with a ``code``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from optimizer.errors import DataError

if TYPE_CHECKING:  # pandas is imported lazily: the CLI and the section must import fast
    import pandas as pd

    from experiments.config import ExperimentConfig
    from experiments.stats import VariantStats

_SQL_DIR = Path(__file__).with_name("aggregate_sql")
_WEEK_SECONDS = 7 * 86400
_EPOCH = dt.datetime(1970, 1, 1)
_NO_END = 1e18  # "no end" for data without timestamps (finite: SQL has no portable infinity literal)


class AggregationError(DataError):
    """The data of one experiment cannot be aggregated; ``code`` names the defect.

    Codes: ``READ_ERROR``, ``MISSING_COLUMN``, ``NULL_IDS``, ``NAN_VALUES``, ``NEGATIVE_VALUES``,
    ``NOT_BINARY`` (a conversion other than 0/1, e.g. more conversions than users),
    ``NO_DATA``, ``BAD_SUMMARY``.
    """

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@lru_cache(maxsize=None)
def sql_template(name: str) -> str:
    """The text of ``aggregate_sql/<name>.sql``."""
    return (_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- looks
@dataclass(frozen=True)
class Look:
    """One weekly look: the data up to the end of ISO week ``label``.

    Attributes
    ----------
    k : int
        Index of the week since the experiment's first ISO week (0-based).
    label : str
        ISO week, ``YYYY-Www``.
    end_epoch : float
        End of the week (next Monday 00:00 UTC) in seconds since the epoch; data at or after it
        is not in the look.
    """

    k: int
    label: str
    end_epoch: float


def _epoch(day: dt.date) -> float:
    return (dt.datetime(day.year, day.month, day.day) - _EPOCH).total_seconds()


def weekly_looks(start_date: dt.date, week: str | None) -> tuple[Look, ...]:
    """Looks from the ISO week of ``start_date`` to ``week`` (default: the start week only).

    Raises
    ------
    DataError
        ``week`` ends before the experiment starts.
    """
    from experiments.config import iso_week_label, parse_iso_week

    first_monday = start_date - dt.timedelta(days=start_date.weekday())
    if week is None:
        last_monday = first_monday
    else:
        last_monday, last_sunday = parse_iso_week(week)
        if last_sunday < start_date:
            raise AggregationError(
                "NO_DATA",
                f"week {week} ends on {last_sunday} before the experiment starts on {start_date}; "
                f"choose {iso_week_label(start_date)} or later.",
            )
    n_weeks = (last_monday - first_monday).days // 7 + 1
    looks = []
    for k in range(n_weeks):
        monday = first_monday + dt.timedelta(days=7 * k)
        looks.append(Look(k, iso_week_label(monday), _epoch(monday + dt.timedelta(days=7))))
    return tuple(looks)


# --------------------------------------------------------------------------- result
_MOMENT_FIELDS = ("mean", "m2", "cov_mean", "cov_m2", "cross_m2", "den_mean", "den_m2", "num_den_m2", "cov_den_m2")


@dataclass(frozen=True)
class Aggregates:
    """Per-look, per-variant, per-metric centred moments of one experiment.

    Attributes
    ----------
    experiment : str
        Experiment name.
    looks : tuple of Look
        The weekly looks, oldest first; the last one is the report week.
    moments : pandas.DataFrame
        Long table, one row per (look ``k``, ``week``, ``variant``, ``metric``) with ``n`` (users)
        and the centred moments ``mean`` (metric unit per user), ``m2`` (unit^2), and where
        relevant ``cov_mean``, ``cov_m2``, ``cross_m2`` (CUPED covariate) and ``den_mean``,
        ``den_m2``, ``num_den_m2``, ``cov_den_m2`` (ratio denominators); absent ones are NaN.
    variant_users : dict
        Users per variant at the last look, every variant found in the data (configured or not).
    n_multi_variant_users : int
        Users seen in more than one variant at the last look (left out of the analysis).
    dimension_counts : pandas.DataFrame
        Users per (``dimension``, ``level``, ``variant``) at the last look (empty without dimensions).
    engine : str
        ``"duckdb"``, ``"spark"`` or ``"summary"`` (inline statistics).
    """

    experiment: str
    looks: tuple[Look, ...]
    moments: "pd.DataFrame"
    variant_users: dict[str, int]
    n_multi_variant_users: int
    dimension_counts: "pd.DataFrame"
    engine: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def last_k(self) -> int:
        """Index of the last look."""
        return self.looks[-1].k

    def stats(self, metric: str, k: int | None = None, variants: list[str] | None = None) -> dict[str, "VariantStats"]:
        """``{variant: VariantStats}`` of ``metric`` at look ``k`` (default: the last look).

        Variants without users at that look are absent from the dict.
        """
        from experiments.stats import VariantStats

        k = self.last_k if k is None else k
        rows = self.moments[(self.moments["k"] == k) & (self.moments["metric"] == metric)]
        out: dict[str, VariantStats] = {}
        for row in rows.itertuples(index=False):
            if variants is not None and row.variant not in variants:
                continue
            kw = {}
            for name in _MOMENT_FIELDS[2:]:
                value = getattr(row, name)
                kw[name] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            out[row.variant] = VariantStats.from_moments(row.variant, int(row.n), float(row.mean), float(row.m2), **kw)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN -> None)."""
        records = []
        for rec in self.moments.to_dict(orient="records"):
            records.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()})
        return {
            "experiment": self.experiment,
            "engine": self.engine,
            "looks": [{"k": lk.k, "week": lk.label} for lk in self.looks],
            "variant_users": dict(self.variant_users),
            "n_multi_variant_users": int(self.n_multi_variant_users),
            "moments": records,
            "dimension_counts": self.dimension_counts.to_dict(orient="records"),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- engines
class Engine(Protocol):
    """What the shared SQL needs from an engine (DuckDB here, Spark in aggregate_spark)."""

    name: str
    avg: str  # aggregate function for a compensated mean
    text: str  # SQL type name for strings

    def quote(self, column: str) -> str: ...
    def epoch(self, expr: str) -> str: ...
    def open_raw(self, path: Path) -> list[str]: ...
    def register_looks(self, looks: tuple[Look, ...]) -> None: ...
    def create_view(self, name: str, sql: str) -> None: ...
    def materialize(self, name: str, sql: str) -> None: ...
    def fetch(self, sql: str) -> "pd.DataFrame": ...
    def close(self) -> None: ...


class DuckDBEngine:
    """Embedded DuckDB (in-memory database; spills to ``temp_directory`` when memory runs short).

    Parameters
    ----------
    threads : int, optional
        Worker threads (default: DuckDB's, all cores).
    memory_limit : str, optional
        DuckDB memory limit such as ``"3GB"`` (default: DuckDB's, 80 % of RAM).
    temp_directory : str, optional
        Where DuckDB spills (default: DuckDB's).
    """

    name = "duckdb"
    avg = "favg"  # Kahan-compensated average: deterministic to the last digits across thread counts
    text = "VARCHAR"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None, temp_directory: str | None = None):
        import duckdb

        self._duckdb = duckdb
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        # Insertion order is irrelevant for aggregates; dropping it lets DuckDB stream with less memory.
        self.con.execute("SET preserve_insertion_order = false")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self.con.execute(f"SET memory_limit = '{_sql_text(memory_limit)}'")
        if temp_directory is not None:
            self.con.execute(f"SET temp_directory = '{_sql_text(temp_directory)}'")

    def quote(self, column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    def epoch(self, expr: str) -> str:
        return f"epoch(CAST({expr} AS TIMESTAMP))"

    def open_raw(self, path: Path) -> list[str]:
        reader = _reader_for(path)
        fn = "read_parquet" if reader == "parquet" else "read_csv"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM {fn}('{_sql_text(str(path))}')")
            return [row[0] for row in self.con.execute("DESCRIBE raw").fetchall()]
        except (self._duckdb.IOException, self._duckdb.InvalidInputException) as exc:
            raise AggregationError("READ_ERROR", f"{path}: cannot be read as {reader}: {_first_line(exc)}") from None

    def register_looks(self, looks: tuple[Look, ...]) -> None:
        values = ", ".join(f"({lk.k}, {lk.end_epoch!r})" for lk in looks)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE looks AS SELECT * FROM (VALUES {values}) AS t(k, end_epoch)")

    def create_view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def materialize(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def fetch(self, sql: str) -> "pd.DataFrame":
        try:
            return self.con.execute(sql).fetchdf()
        except self._duckdb.ConversionException as exc:
            raise AggregationError("READ_ERROR", f"a column has values of the wrong type: {_first_line(exc)}") from None

    def close(self) -> None:
        self.con.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _sql_text(text: str) -> str:
    """Escape a value for a single-quoted SQL literal."""
    return text.replace("'", "''")


def _reader_for(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")) or path.is_dir():
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    raise AggregationError(
        "READ_ERROR", f"{path}: unknown file type; expected a .csv, .csv.gz or .parquet file (or a folder of Parquet)."
    )


# --------------------------------------------------------------------------- planner
@dataclass
class _Plan:
    """Column registry: source columns -> c<j>/g<j> names, and per-metric expressions."""

    engine: Engine
    columns: dict[str, str] = field(default_factory=dict)  # source column -> c<j>
    dims: dict[str, str] = field(default_factory=dict)  # dimension column -> g<j>
    # c<j> -> shift subtracted before var_pop (users data: the column's overall mean). Welford's
    # update loses ~eps * mean / sd relative precision; centring first makes mean / sd ~ 1.
    shifts: dict[str, float] = field(default_factory=dict)

    def col(self, name: str) -> str:
        if name not in self.columns:
            self.columns[name] = f"c{len(self.columns)}"
        return self.columns[name]


def _check_columns(exp: "ExperimentConfig", available: list[str], path: Path) -> None:
    from experiments.config import EventsSource

    data = exp.data
    needed: list[tuple[str, str]] = [("data.user_col", data.user_col), ("data.variant_col", data.variant_col)]
    if data.timestamp_col is not None:
        needed.append(("data.timestamp_col", data.timestamp_col))
    if isinstance(data, EventsSource) and any(m.event or m.denominator_event for m in exp.metrics):
        needed.append(("data.event_col", data.event_col))
    for m in exp.metrics:
        for key in ("column", "denominator_column", "covariate_column"):
            value = getattr(m, key)
            if value is not None:
                needed.append((f"metrics[{m.name}].{key}", value))
    for i, d in enumerate(exp.dimensions):
        needed.append((f"dimensions[{i}]", d))
    missing = []
    for where, column in needed:
        if column not in available:
            hint = difflib.get_close_matches(column, available, n=1)
            missing.append(
                f"{where} names column {column!r}, which is not in the file"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
            )
    if missing:
        raise AggregationError(
            "MISSING_COLUMN",
            f"experiment {exp.name!r}: {path.name} lacks {len(missing)} column(s): " + "; ".join(missing)
            + f". Columns in the file: {', '.join(available)}.",
        )


def _source_projection(exp: "ExperimentConfig", plan: _Plan) -> str:
    from experiments.config import EventsSource

    eng, data = plan.engine, exp.data
    parts = [f"{eng.quote(data.user_col)} AS u", f"CAST({eng.quote(data.variant_col)} AS {eng.text}) AS v"]
    parts.append(f"{eng.epoch(eng.quote(data.timestamp_col))} AS t" if data.timestamp_col else "CAST(0 AS DOUBLE) AS t")
    if isinstance(data, EventsSource) and any(m.event or m.denominator_event for m in exp.metrics):
        parts.append(f"CAST({eng.quote(data.event_col)} AS {eng.text}) AS e")
    for m in exp.metrics:
        for key in ("column", "denominator_column", "covariate_column"):
            if getattr(m, key) is not None:
                plan.col(getattr(m, key))
    parts += [f"CAST({eng.quote(src)} AS DOUBLE) AS {alias}" for src, alias in plan.columns.items()]
    for i, d in enumerate(exp.dimensions):
        plan.dims[d] = f"g{i}"
        parts.append(f"CAST({eng.quote(d)} AS {eng.text}) AS g{i}")
    return ", ".join(parts)


def _match(event: str | None) -> str:
    return "TRUE" if event is None else f"e = '{_sql_text(event)}'"


def _checks(exp: "ExperimentConfig", plan: _Plan) -> list[tuple[str, str, str]]:
    """(alias, SQL count expression, message stem) for every defect we look for."""
    from experiments.config import EventsSource

    events = isinstance(exp.data, EventsSource)
    out = [
        ("null_u", "sum(CASE WHEN u IS NULL THEN 1 ELSE 0 END)", f"user id column {exp.data.user_col!r} is empty (NULL)"),
        ("null_v", "sum(CASE WHEN v IS NULL THEN 1 ELSE 0 END)", f"variant column {exp.data.variant_col!r} is empty (NULL)"),
    ]
    if exp.data.timestamp_col:
        out.append(("null_t", "sum(CASE WHEN t IS NULL THEN 1 ELSE 0 END)", f"timestamp {exp.data.timestamp_col!r} is empty (NULL)"))
    for i, m in enumerate(exp.metrics):
        specs = [("column", m.column, m.event), ("denominator_column", m.denominator_column, m.denominator_event),
                 ("covariate_column", m.covariate_column, None)]
        for key, column, event in specs:
            if column is None:
                continue
            c = plan.columns[column]
            scope = _match(event) if events else "TRUE"
            where = f" in {event!r} events" if events and event else ""
            out.append((f"nan_{key[:3]}{i}", f"sum(CASE WHEN {scope} AND ({c} IS NULL OR isnan({c})) THEN 1 ELSE 0 END)",
                        f"metric {m.name!r}: column {column!r}{where} is NaN or empty"))
            if key != "covariate_column" and (m.kind in ("count", "proportion") or key == "denominator_column"):
                out.append((f"neg_{key[:3]}{i}", f"sum(CASE WHEN {scope} AND {c} < 0 THEN 1 ELSE 0 END)",
                            f"metric {m.name!r}: column {column!r}{where} is negative (counts must be >= 0)"))
            if key == "column" and m.kind == "proportion" and not events:
                out.append((f"bin_{i}", f"sum(CASE WHEN {c} <> 0 AND {c} <> 1 THEN 1 ELSE 0 END)",
                            f"metric {m.name!r}: column {column!r} is not 0 or 1 (a user converts at most once)"))
    return out


_CHECK_CODES = {"null": "NULL_IDS", "nan": "NAN_VALUES", "neg": "NEGATIVE_VALUES", "bin": "NOT_BINARY"}
_CHECK_HINTS = {
    "NULL_IDS": "drop rows without a user or variant, or fix the export",
    "NAN_VALUES": "fill missing metric values (0 for users without the event) or drop those users",
    "NEGATIVE_VALUES": "counts cannot be negative; check refunds or sign errors in the export",
    "NOT_BINARY": "a conversion metric takes 0 or 1 per user; use kind 'count' for events per user",
}


def _run_checks(exp: "ExperimentConfig", plan: _Plan) -> int:
    checks = _checks(exp, plan)
    from experiments.config import UsersSource

    shift_exprs = ""
    if isinstance(exp.data, UsersSource):
        shift_exprs = "".join(f", {plan.engine.avg}({c}) AS shift_{c}" for c in plan.columns.values())
    sql = sql_template("checks").format(
        checks="".join(f", {expr} AS {alias}" for alias, expr, _ in checks) + shift_exprs)
    row = plan.engine.fetch(sql).iloc[0]
    n_rows = int(row["n_rows"])
    if n_rows == 0:
        raise AggregationError("NO_DATA", f"experiment {exp.name!r}: the data file has no rows.")
    problems: dict[str, list[str]] = {}
    for alias, _, stem in checks:
        value = row[alias]
        count = 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)
        if count:
            code = _CHECK_CODES[alias.split("_")[0]]
            problems.setdefault(code, []).append(f"{count} of {n_rows} row(s): {stem}")
    if problems:
        code = next(iter(problems))
        lines = [line for group in problems.values() for line in group]
        raise AggregationError(
            code, f"experiment {exp.name!r}: " + "; ".join(lines) + f". Suggestion: {_CHECK_HINTS[code]}."
        )
    if shift_exprs:
        plan.shifts = {c: float(row[f"shift_{c}"]) for c in plan.columns.values()}
    return n_rows


def _user_values(exp: "ExperimentConfig", plan: _Plan, events: bool, combine: bool) -> str:
    """Per-metric per-user value expressions (``, expr AS y0, ...``).

    ``events``: build from event rows; ``combine``: combine per-bucket partials (sum/max) into
    week-to-date values instead.
    """
    parts = []
    for i, m in enumerate(exp.metrics):
        cov = plan.columns.get(m.covariate_column) if m.covariate_column else None
        if not events:
            parts.append(f"{_shifted(plan, plan.columns[m.column])} AS y{i}")
            if m.kind == "ratio":
                parts.append(f"{_shifted(plan, plan.columns[m.denominator_column])} AS d{i}")
            if cov:
                parts.append(f"{_shifted(plan, cov)} AS x{i}")
            continue
        if combine:
            parts.append(f"{'max' if m.kind == 'proportion' else 'sum'}(w.y{i}) AS y{i}")
            if m.kind == "ratio":
                parts.append(f"sum(w.d{i}) AS d{i}")
            if cov:
                parts.append(f"max(w.x{i}) AS x{i}")
            continue
        value = plan.columns[m.column] if m.column else "1.0"
        if m.kind == "proportion":
            cond = _match(m.event) + (f" AND {value} > 0" if m.column else "")
            parts.append(f"max(CASE WHEN {cond} THEN 1.0 ELSE 0.0 END) AS y{i}")
        else:
            parts.append(f"sum(CASE WHEN {_match(m.event)} THEN {value} ELSE 0.0 END) AS y{i}")
        if m.kind == "ratio":
            dvalue = plan.columns[m.denominator_column] if m.denominator_column else "1.0"
            parts.append(f"sum(CASE WHEN {_match(m.denominator_event)} THEN {dvalue} ELSE 0.0 END) AS d{i}")
        if cov:
            # The pre-period covariate is a per-user constant repeated on the user's events.
            parts.append(f"max({cov}) AS x{i}")
    return "".join(", " + p for p in parts)


def _shifted(plan: _Plan, column: str) -> str:
    shift = plan.shifts.get(column, 0.0)
    return f"({column} - {shift!r})" if shift else column


def _moment_exprs(exp: "ExperimentConfig", plan: _Plan) -> str:
    avg = plan.engine.avg
    parts = []
    for i, m in enumerate(exp.metrics):
        parts += [f"{avg}(y{i}) AS mean_{i}", f"var_pop(y{i}) * count(*) AS m2_{i}"]
        if m.covariate_column:
            parts += [f"{avg}(x{i}) AS cov_mean_{i}", f"var_pop(x{i}) * count(*) AS cov_m2_{i}",
                      f"covar_pop(x{i}, y{i}) * count(*) AS cross_m2_{i}"]
        if m.kind == "ratio":
            parts += [f"{avg}(d{i}) AS den_mean_{i}", f"var_pop(d{i}) * count(*) AS den_m2_{i}",
                      f"covar_pop(y{i}, d{i}) * count(*) AS num_den_m2_{i}"]
            if m.covariate_column:
                parts.append(f"covar_pop(x{i}, d{i}) * count(*) AS cov_den_m2_{i}")
    return "".join(", " + p for p in parts)


def _long_moments(exp: "ExperimentConfig", wide: "pd.DataFrame", looks: tuple[Look, ...], plan: _Plan) -> "pd.DataFrame":
    import numpy as np
    import pandas as pd

    labels = {lk.k: lk.label for lk in looks}
    frames = []
    for i, m in enumerate(exp.metrics):
        part = pd.DataFrame({"k": wide["k"].astype(int), "week": wide["k"].map(labels), "variant": wide["v"],
                             "metric": m.name, "n": wide["n"].astype(np.int64)})
        for name in _MOMENT_FIELDS:
            column = f"{name}_{i}"
            part[name] = wide[column].astype(float) if column in wide else np.nan
        # Undo the centring shifts (moments of order >= 2 do not move with a shift).
        for name, source in (("mean", m.column), ("cov_mean", m.covariate_column), ("den_mean", m.denominator_column)):
            if source is not None:
                part[name] = part[name] + plan.shifts.get(plan.columns.get(source, ""), 0.0)
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["k", "metric", "variant"], kind="stable").reset_index(drop=True)


def aggregate(
    exp: "ExperimentConfig",
    base_dir: str | Path = ".",
    week: str | None = None,
    engine: Engine | None = None,
) -> Aggregates:
    """Aggregate one experiment's data to per-variant centred moments, per weekly look.

    Parameters
    ----------
    exp : ExperimentConfig
        The experiment (its ``data`` is ``users``, ``events`` or ``summary``).
    base_dir : path
        Folder that relative data paths start from (the experiments file's folder).
    week : str, optional
        Last ISO week to include (``"2026-W47"``); looks run from the start week to it. Default:
        all data in one look (labelled with the start week when there is no timestamp).
    engine : Engine, optional
        A :class:`DuckDBEngine` (default, created and closed here) or a Spark engine. An engine
        passed in is left open.

    Raises
    ------
    AggregationError
        With ``code`` naming the defect (missing column, NaN, negative counts, ...).
    """
    from experiments.config import EventsSource, SummarySource

    if isinstance(exp.data, SummarySource):
        return aggregate_summary(exp, week)
    has_time = exp.data.timestamp_col is not None
    if has_time:
        looks = weekly_looks(exp.start_date, week)
    else:
        # Without timestamps the whole file is one look, labelled with the report week if given.
        from experiments.config import iso_week_label

        looks = (Look(0, week or iso_week_label(exp.start_date), _NO_END),)
    path = Path(exp.data.path)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.exists() and not any(ch in str(path) for ch in "*?["):
        raise AggregationError("READ_ERROR", f"experiment {exp.name!r}: data file {path} not found. Paths are relative to the experiments file.")
    own = engine is None
    eng: Engine = DuckDBEngine() if engine is None else engine
    try:
        available = eng.open_raw(path)
        _check_columns(exp, available, path)
        plan = _Plan(eng)
        eng.create_view("src", sql_template("source").format(projection=_source_projection(exp, plan)))
        _run_checks(exp, plan)
        events = isinstance(exp.data, EventsSource)
        dims = "".join(f", min({g}) AS {g}" for g in plan.dims.values())
        last = looks[-1]
        start = _epoch(exp.start_date)
        where = f"t >= {start!r} AND t < {last.end_epoch!r}" if has_time else "TRUE"
        bucket = f"floor((t - {_epoch(exp.start_date - dt.timedelta(days=exp.start_date.weekday()))!r}) / {_WEEK_SECONDS})"
        if events and len(looks) == 1:
            user_sql = sql_template("events_to_users").format(
                last_look=last.k, dims=dims, partials=_user_values(exp, plan, events=True, combine=False), where=where)
        elif events:
            eng.register_looks(looks)
            eng.materialize("user_buckets", sql_template("events_to_user_buckets").format(
                bucket=bucket, dims=dims, partials=_user_values(exp, plan, events=True, combine=False), where=where))
            user_sql = sql_template("user_buckets_to_looks").format(
                dims="".join(f", min(w.{g}) AS {g}" for g in plan.dims.values()),
                partials=_user_values(exp, plan, events=True, combine=True))
        else:
            eng.register_looks(looks)
            users_where = f"t < {last.end_epoch!r}" if has_time else "TRUE"
            user_sql = sql_template("users_to_looks").format(
                dims="".join(f", {g}" for g in plan.dims.values()),
                values=_user_values(exp, plan, events=False, combine=False),
                bucket=bucket if has_time else "0", where=users_where)
        if plan.dims:
            eng.materialize("user_looks", user_sql)
        else:
            eng.create_view("user_looks", user_sql)
        wide = eng.fetch(sql_template("variant_moments").format(moments=_moment_exprs(exp, plan)))
        conflicts = wide[wide["v"].isna()]
        wide = wide[wide["v"].notna()]
        if wide.empty:
            raise AggregationError(
                "NO_DATA", f"experiment {exp.name!r}: no users in the analysis window (start {exp.start_date}, "
                f"last week {last.label}); check start_date, the week and the timestamp column.")
        moments = _long_moments(exp, wide, looks, plan)
        at_last = wide[wide["k"] == last.k]
        variant_users = {str(v): int(n) for v, n in zip(at_last["v"], at_last["n"])}
        n_multi = int(conflicts.loc[conflicts["k"] == last.k, "n"].sum()) if not conflicts.empty else 0
        dim_counts = _dimension_counts(exp, plan, last.k)
        return Aggregates(exp.name, looks, moments, variant_users, n_multi, dim_counts, eng.name)
    finally:
        if own:
            eng.close()


def _dimension_counts(exp: "ExperimentConfig", plan: _Plan, last_k: int) -> "pd.DataFrame":
    import pandas as pd

    if not plan.dims:
        return pd.DataFrame(columns=["dimension", "level", "variant", "n"])
    frames = []
    for name, g in plan.dims.items():
        sql = sql_template("dimension_counts").format(
            dimension=_sql_text(name), column=g, text=plan.engine.text, last_look=last_k)
        frames.append(plan.engine.fetch(sql))
    out = pd.concat(frames, ignore_index=True).rename(columns={"v": "variant"})
    out["level"] = out["level"].fillna("(missing)")
    out["n"] = out["n"].astype(int)
    return out.sort_values(["dimension", "level", "variant"]).reset_index(drop=True)


def aggregate_summary(exp: "ExperimentConfig", week: str | None = None) -> Aggregates:
    """Moments from inline per-variant sums (``data.kind: summary``).

    Rows with a ``week`` are week-to-date sums of that look; rows without one belong to the last
    look. Sums are converted to centred moments (``m2 = sum_sq - sum^2 / n``), which is exact for
    0/1 and integer counts and as precise as the given sums otherwise.

    Raises
    ------
    AggregationError
        ``BAD_SUMMARY``: negative ``n``, more conversions than users, negative counts, ``sum_sq``
        missing for a continuous metric, an incomplete covariate/denominator block.
    """
    import numpy as np
    import pandas as pd

    from experiments.config import iso_week_label

    data = exp.data
    weeks = sorted({r.week for r in data.rows if r.week is not None})
    last_week = week or (weeks[-1] if weeks else iso_week_label(exp.start_date))
    looks = weekly_looks(exp.start_date, last_week)
    k_of = {lk.label: lk.k for lk in looks}
    problems, records = [], []
    for i, r in enumerate(data.rows):
        where = f"data.rows[{i}] ({r.variant}/{r.metric})"
        m = exp.metric(r.metric)
        k = looks[-1].k if r.week is None else k_of.get(r.week)
        if k is None:
            continue  # a week after the report week
        if r.n < 0:
            problems.append(f"{where}: n is {r.n}; the number of users must be >= 0")
            continue
        if m.kind == "proportion" and not 0 <= r.sum <= r.n:
            problems.append(f"{where}: sum (conversions) is {r.sum:g} for n = {r.n} users; it must be between 0 and n")
            continue
        if m.kind == "count" and r.sum < 0:
            problems.append(f"{where}: sum is {r.sum:g}; counts must be >= 0")
            continue
        sum_sq = r.sum if (m.kind == "proportion" and r.sum_sq is None) else r.sum_sq
        if sum_sq is None:
            problems.append(f"{where}: sum_sq is missing; it is needed for a {m.kind} metric's variance")
            continue
        rec: dict[str, Any] = {"k": k, "variant": r.variant, "metric": r.metric, "n": r.n}
        n = r.n
        rec["mean"] = r.sum / n if n else 0.0
        rec["m2"] = max(sum_sq - r.sum * r.sum / n, 0.0) if n else 0.0
        for name in _MOMENT_FIELDS[2:]:
            rec[name] = np.nan
        if r.cov_sum is not None or r.cov_sum_sq is not None or r.cross_sum is not None:
            if None in (r.cov_sum, r.cov_sum_sq, r.cross_sum):
                problems.append(f"{where}: give all of cov_sum, cov_sum_sq, cross_sum or none")
                continue
            rec["cov_mean"] = r.cov_sum / n if n else 0.0
            rec["cov_m2"] = max(r.cov_sum_sq - r.cov_sum ** 2 / n, 0.0) if n else 0.0
            rec["cross_m2"] = r.cross_sum - r.cov_sum * r.sum / n if n else 0.0
        if m.kind == "ratio":
            if None in (r.den_sum, r.den_sum_sq, r.num_den_sum):
                problems.append(f"{where}: a ratio metric needs den_sum, den_sum_sq and num_den_sum")
                continue
            rec["den_mean"] = r.den_sum / n if n else 0.0
            rec["den_m2"] = max(r.den_sum_sq - r.den_sum ** 2 / n, 0.0) if n else 0.0
            rec["num_den_m2"] = r.num_den_sum - r.sum * r.den_sum / n if n else 0.0
        records.append(rec)
    if problems:
        raise AggregationError("BAD_SUMMARY", f"experiment {exp.name!r}: " + "; ".join(problems) + ".")
    if not records:
        raise AggregationError("NO_DATA", f"experiment {exp.name!r}: no summary rows up to week {last_week}.")
    moments = pd.DataFrame.from_records(records)
    moments.insert(1, "week", moments["k"].map({lk.k: lk.label for lk in looks}))
    moments = moments.sort_values(["k", "metric", "variant"], kind="stable").reset_index(drop=True)
    last_k = int(moments["k"].max())
    looks = tuple(lk for lk in looks if lk.k <= last_k and lk.k in set(moments["k"])) or looks[-1:]
    at_last = moments[moments["k"] == last_k]
    variant_users = at_last.groupby("variant")["n"].max().astype(int).to_dict()
    dim_rows = [{"dimension": d, "level": lvl, "variant": v, "n": int(n)}
                for d, levels in data.dimension_counts.items() for lvl, per in levels.items() for v, n in per.items()]
    dim_counts = pd.DataFrame(dim_rows, columns=["dimension", "level", "variant", "n"])
    return Aggregates(exp.name, looks, moments, variant_users, 0, dim_counts, "summary")


@dataclass(frozen=True)
class DataIssue:
    """A data-quality finding about the variants of one experiment.

    Attributes
    ----------
    code : str
        ``UNKNOWN_VARIANT`` (data holds a variant the config does not name), ``ZERO_USERS`` (a
        configured variant has no users), ``SINGLE_VARIANT`` (only one variant has users),
        ``MULTI_VARIANT_USERS`` (users seen in two variants; left out).
    message : str
        What was found, with counts, and how to fix it.
    blocking : bool
        True when the experiment must not ship on this data (the analysis cannot be trusted).
    """

    code: str
    message: str
    blocking: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"code": self.code, "message": self.message, "blocking": self.blocking}


def variant_issues(exp: "ExperimentConfig", agg: Aggregates) -> tuple[DataIssue, ...]:
    """Check the variants found in the data against the configured ones (at the last look)."""
    issues = []
    found = agg.variant_users
    for name in sorted(set(found) - set(exp.variants)):
        hint = difflib.get_close_matches(name, exp.variants, n=1)
        issues.append(DataIssue(
            "UNKNOWN_VARIANT",
            f"experiment {exp.name!r}: the data has variant {name!r} ({found[name]} user(s)), which is not one of "
            f"variants {exp.variants}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            + " Those users are left out; fix the variant names in the data or in the config.",
            True,
        ))
    present = [v for v in exp.variants if found.get(v, 0) > 0]
    for name in exp.variants:
        if found.get(name, 0) == 0:
            issues.append(DataIssue(
                "ZERO_USERS",
                f"experiment {exp.name!r}: variant {name!r} has 0 users up to week {agg.looks[-1].label}; "
                "check the variant name, the assignment export and the start date.",
                True,
            ))
    if len(present) == 1:
        issues.append(DataIssue(
            "SINGLE_VARIANT",
            f"experiment {exp.name!r}: only variant {present[0]!r} has users; a comparison needs the control and "
            "at least one treatment.",
            True,
        ))
    if agg.n_multi_variant_users:
        total = sum(found.values()) + agg.n_multi_variant_users
        share = agg.n_multi_variant_users / total
        issues.append(DataIssue(
            "MULTI_VARIANT_USERS",
            f"experiment {exp.name!r}: {agg.n_multi_variant_users} user(s) ({share:.2%}) appear in more than one "
            "variant and were left out; check the assignment (sticky bucketing).",
            share > 0.01,  # a few leaked users are tolerable; more than 1 % means broken assignment
        ))
    return tuple(issues)
