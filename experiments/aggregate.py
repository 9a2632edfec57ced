"""Per-variant sufficient statistics from per-user rows or raw events, in SQL (DuckDB by default).

The aggregation runs in three steps, the same SQL text on DuckDB and on Spark
(:mod:`experiments.aggregate_spark`); the SQL lives in ``experiments/aggregate_sql/``:

1. ``source.sql`` normalises the file to fixed column names (``u`` user, ``v`` variant, ``t``
   epoch seconds, ``e`` event, ``c<j>`` numeric inputs, ``g<j>`` dimensions); ``checks.sql`` counts
   every defect in one scan grouped by variant (NaN, negative counts, non-0/1 conversions, NULL
   ids) and lists the variant names; ``encode_variants.sql`` turns names into integer codes.
2. Events become one row per user (and per ISO week bucket when there is a timestamp); per-user
   rows are joined to the looks: look ``k`` holds the users exposed by the end of week ``k`` with
   their week-to-date values.
3. ``variant_moments.sql`` gives, per look and variant, ``n`` and the *centred* moments
   (mean, M2 = sum (y - mean)^2, co-moments) from ``var_pop``/``covar_pop``, which both engines
   compute by stable streaming updates. The naive ``sum(y^2) - sum(y)^2 / n`` would give a
   variance of 0 for ``1e9 + {1, 2, 3}``.

Units: ``mean`` is in the metric's unit per user; ``m2`` in unit^2; ``t`` in seconds since
1970-01-01 UTC; weeks are ISO weeks (Monday 00:00 UTC to Sunday 24:00 UTC).

The SQL text is built in :mod:`experiments.aggregate_plan`; inline summary statistics go through
:mod:`experiments.aggregate_summary` instead of SQL.

Public API: :func:`aggregate` (config -> :class:`Aggregates`), :func:`variant_issues`,
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


def _latest_week(eng: Engine, exp: "ExperimentConfig") -> str:
    """ISO week (``YYYY-Www``) of the latest timestamp at or after the experiment's start in ``staged``."""
    from experiments.config import iso_week_label

    t = eng.fetch(f"SELECT max(t) AS t FROM staged WHERE t >= {_epoch(exp.start_date)!r}")["t"].iloc[0]
    if t is None or t != t:  # NULL: no row in the window
        raise AggregationError(
            "NO_DATA", f"experiment {exp.name!r}: no rows at or after start_date {exp.start_date}; check start_date "
            "and the timestamp column.")
    return iso_week_label(dt.datetime.fromtimestamp(float(t), tz=dt.timezone.utc).date())


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
    dimension_moments : pandas.DataFrame or None
        The ``moments`` columns per (``dimension``, ``level``) at the last look, for the
        breakdown by dimension (None without dimensions or for inline statistics).
    """

    experiment: str
    looks: tuple[Look, ...]
    moments: "pd.DataFrame"
    variant_users: dict[str, int]
    n_multi_variant_users: int
    dimension_counts: "pd.DataFrame"
    engine: str
    warnings: tuple[str, ...] = field(default=())
    dimension_moments: "pd.DataFrame | None" = None

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

    def slice_stats(self, metric: str, dimension: str, level: str) -> dict[str, "VariantStats"]:
        """``{variant: VariantStats}`` of ``metric`` in one dimension level at the last look."""
        from experiments.stats import VariantStats

        dm = self.dimension_moments
        if dm is None or dm.empty:
            return {}
        rows = dm[(dm["metric"] == metric) & (dm["dimension"] == dimension) & (dm["level"] == level)]
        out: dict[str, VariantStats] = {}
        for row in rows.itertuples(index=False):
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
    def release(self) -> None: ...  # free this run's materialised tables; the engine stays usable
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

    def release(self) -> None:
        for (name,) in self.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
            self.con.execute(f"DROP TABLE IF EXISTS {name}")

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
        Last ISO week to include (``"2026-W47"``); looks run from the start week to it. Default: all
        data, i.e. looks up to the ISO week of the latest timestamp (without a timestamp column: one
        look, labelled with the start week).
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
        from experiments.aggregate_summary import aggregate_summary

        return aggregate_summary(exp, week)
    has_time = exp.data.timestamp_col is not None
    looks: tuple[Look, ...] = ()
    if has_time and week is not None:
        looks = weekly_looks(exp.start_date, week)
    elif not has_time:
        # Without timestamps the whole file is one look, labelled with the report week if given.
        from experiments.config import iso_week_label

        looks = (Look(0, week or iso_week_label(exp.start_date), _NO_END),)
    path = Path(exp.data.path)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.exists() and not any(ch in str(path) for ch in "*?["):
        raise AggregationError("READ_ERROR", f"experiment {exp.name!r}: data file {path} not found. Paths are relative to the experiments file.")
    from experiments import aggregate_plan as P

    own = engine is None
    eng: Engine = DuckDBEngine() if engine is None else engine
    try:
        available = eng.open_raw(path)
        P.check_columns(exp, available, path)
        plan = P.Plan(eng)
        eng.create_view("staged", sql_template("source").format(projection=P.source_projection(exp, plan)))
        rows_per_variant = P.run_checks(exp, plan)
        P.encode_variants(exp, plan, rows_per_variant)
        if not looks:
            # No week given: the looks run to the ISO week of the latest timestamp in the experiment's window
            # (all the data), as a summary file's do to its latest week.
            looks = weekly_looks(exp.start_date, _latest_week(eng, exp))
        events = isinstance(exp.data, EventsSource)
        dims = "".join(f", min({g}) AS {g}" for g in plan.dims.values())
        last = looks[-1]
        start = _epoch(exp.start_date)
        where = f"t >= {start!r} AND t < {last.end_epoch!r}" if has_time else "TRUE"
        bucket = f"floor((t - {_epoch(exp.start_date - dt.timedelta(days=exp.start_date.weekday()))!r}) / {_WEEK_SECONDS})"
        if events and len(looks) == 1:
            user_sql = sql_template("events_to_users").format(
                last_look=last.k, dims=dims, partials=P.user_values(exp, plan, events=True, combine=False), where=where)
        elif events:
            eng.register_looks(looks)
            eng.materialize("user_buckets", sql_template("events_to_user_buckets").format(
                bucket=bucket, dims=dims, partials=P.user_values(exp, plan, events=True, combine=False), where=where))
            user_sql = sql_template("user_buckets_to_looks").format(
                dims="".join(f", min(w.{g}) AS {g}" for g in plan.dims.values()),
                partials=P.user_values(exp, plan, events=True, combine=True))
        else:
            eng.register_looks(looks)
            # users exposed before the start are left out, as events before it are (QA or pre-launch traffic)
            users_where = f"t >= {start!r} AND t < {last.end_epoch!r}" if has_time else "TRUE"
            user_sql = sql_template("users_to_looks").format(
                dims="".join(f", {g}" for g in plan.dims.values()),
                values=P.user_values(exp, plan, events=False, combine=False),
                bucket=bucket if has_time else "0", where=users_where)
        if plan.dims:
            eng.materialize("user_looks", user_sql)
        else:
            eng.create_view("user_looks", user_sql)
        wide = eng.fetch(sql_template("variant_moments").format(moments=P.moment_exprs(exp, plan)))
        conflicts = wide[wide["v"].isna()]
        wide = wide[wide["v"].notna()].copy()
        wide["v"] = wide["v"].astype(int).map(plan.code_to_variant)
        if wide.empty:
            raise AggregationError(
                "NO_DATA", f"experiment {exp.name!r}: no users in the analysis window (start {exp.start_date}, "
                f"last week {last.label}); check start_date, the week and the timestamp column.")
        moments = P.long_moments(exp, wide, looks, plan)
        at_last = wide[wide["k"] == last.k]
        variant_users = {str(v): int(n) for v, n in zip(at_last["v"], at_last["n"])}
        n_multi = int(conflicts.loc[conflicts["k"] == last.k, "n"].sum()) if not conflicts.empty else 0
        dim_counts = P.dimension_counts(exp, plan, last.k)
        dim_moments = P.dimension_moments(exp, plan, looks)
        return Aggregates(exp.name, looks, moments, variant_users, n_multi, dim_counts, eng.name,
                          dimension_moments=dim_moments)
    finally:
        if own:
            eng.close()
        else:
            eng.release()


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
