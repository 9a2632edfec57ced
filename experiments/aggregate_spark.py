"""The experiment aggregation on Spark: the same SQL files as DuckDB, for data beyond one machine.

:class:`SparkEngine` implements the small engine interface of :mod:`experiments.aggregate`
(open a file as the view ``raw``, create views/cached tables, fetch a result), so
``aggregate(exp, engine=SparkEngine(spark))`` runs the identical queries in ``aggregate_sql/``.
Differences from DuckDB are confined here: backtick quoting, ``avg`` instead of the compensated
``favg`` (Spark's ``avg`` sums in double precision), timestamps -> epoch seconds by a cast, and
the session time zone pinned to UTC so ISO weeks start at Monday 00:00 UTC.

pyspark is an optional dependency (``pip install dmpopt[dev]`` or ``pip install pyspark``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.aggregate import AggregationError, Look, _first_line, _reader_for

if TYPE_CHECKING:
    import pandas as pd


def local_session(app_name: str = "dmpopt-experiments", cores: int = 1, conf: dict[str, str] | None = None) -> Any:
    """A local-mode ``SparkSession`` with quiet logs, UTC time and few shuffle partitions.

    Parameters
    ----------
    app_name : str
        Spark application name.
    cores : int
        ``local[cores]`` worker threads.
    conf : dict, optional
        Extra Spark settings, e.g. ``{"spark.driver.memory": "2g"}``.
    """
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(f"local[{int(cores)}]")
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        # Per-variant results are tiny: 200 default shuffle partitions only add task overhead.
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * int(cores))))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Loopback only: no network traffic beyond this machine.
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.ansi.enabled", "false")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkEngine:
    """Runs :mod:`experiments.aggregate`'s SQL on a ``SparkSession``.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        An active session (see :func:`local_session`). Its time zone is set to UTC.
    """

    name = "spark"
    avg = "avg"
    text = "STRING"

    def __init__(self, spark: Any):
        self.spark = spark
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self._cached: list[str] = []

    def quote(self, column: str) -> str:
        return "`" + column.replace("`", "``") + "`"

    def epoch(self, expr: str) -> str:
        # TIMESTAMP -> DOUBLE is seconds since the epoch (with fractions) in Spark.
        return f"CAST(CAST({expr} AS TIMESTAMP) AS DOUBLE)"

    def open_raw(self, path: Path) -> list[str]:
        from pyspark.errors import AnalysisException

        reader = _reader_for(path)
        try:
            if reader == "parquet":
                df = self.spark.read.parquet(str(path))
            else:
                df = self.spark.read.option("header", True).option("inferSchema", True).csv(str(path))
        except AnalysisException as exc:
            raise AggregationError("READ_ERROR", f"{path}: cannot be read as {reader}: {_first_line(exc)}") from None
        df.createOrReplaceTempView("raw")
        return list(df.columns)

    def register_looks(self, looks: tuple[Look, ...]) -> None:
        rows = [(lk.k, float(lk.end_epoch)) for lk in looks]
        self.spark.createDataFrame(rows, "k INT, end_epoch DOUBLE").createOrReplaceTempView("looks")

    def _drop(self, name: str) -> None:
        if name in self._cached:
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
            self._cached.remove(name)
        self.spark.catalog.dropTempView(name)

    def create_view(self, name: str, sql: str) -> None:
        self._drop(name)
        self.spark.sql(f"CREATE TEMP VIEW {name} AS {sql}")

    def materialize(self, name: str, sql: str) -> None:
        self._drop(name)
        self.spark.sql(f"CACHE TABLE {name} AS {sql}")
        self._cached.append(name)

    def fetch(self, sql: str) -> "pd.DataFrame":
        import pandas as pd

        df = self.spark.sql(sql)
        rows = df.collect()
        # collect() + DataFrame avoids needing pyarrow/pandas version alignment inside Spark.
        return pd.DataFrame([r.asDict() for r in rows], columns=df.columns)

    def release(self) -> None:
        """Uncache this run's tables (while the views they read still exist)."""
        for name in list(self._cached):
            self._drop(name)

    def close(self) -> None:
        self.release()
