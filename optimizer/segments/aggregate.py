"""Per-customer RFM features from raw transactions, in SQL (DuckDB embedded; the same SQL on Spark).

The SQL lives in ``optimizer/segments/sql/`` and runs on any engine of
:mod:`experiments.aggregate` (``DuckDBEngine``, or :class:`experiments.aggregate_spark.SparkEngine`
for data beyond one machine): same mechanism, same engine interface, no fork.

Steps: ``source.sql`` normalises columns (``u`` id in its own type, ``t`` epoch seconds, ``amt``, ``cur``);
``checks.sql``, ``duplicates.sql`` and ``currencies.sql`` count every defect in a few scans;
``customer_days.sql`` nets amounts per customer and UTC day (future rows out, exact duplicates
out unless ``duplicates: keep``); ``customer_features.sql`` gives recency/frequency/monetary/tenure
and the BG/NBD summary (all in days, money in the report currency) for every customer, ordered by
the id's text, with ``customer_days.sql`` as a streamed subquery (no stored table).

Speed (docs/performance-customers.md): two scans of the file (checks, then features; plus one per
optional count), time as integer microseconds (integer keys hash faster than DOUBLE seconds),
the currency out of the duplicate key when there is no currency column, no per-customer-day table
stored, the data-quality counts taken from the per-customer result instead of a second pass, and
the id order (text) done by the engine instead of a Python sort of millions of strings. On DuckDB,
above ``ROWS_PER_PART`` rows the per-customer query runs per customer partition (one more scan each)
so that its hash tables stay within the memory limit; each part and the sorted result go through
Parquet files (``COPY``) rather than one large fetch, and the sorted file is read in record batches
into preallocated columns after the engine is closed (peak memory; see the performance page).

Memory: an engine created here has ``threads`` = the usable cores and ``memory_limit`` = 3 GB (at most
half the RAM), spilling into a temporary folder removed at the end (``_default_engine``). 100M rows /
10M customers peak at about 2.5 GB for the whole process (DuckDB's sort of the per-customer result).

Handling of bad input (each counted in :class:`FeatureTable.counts`, nothing dropped silently):

====================  =====================================================================
empty file            DataError
missing column        DataError naming the column and the columns found
NULL id/date/amount   DataError with the row count
mixed currencies      DataError listing codes and row counts, unless ``currency_to_rate``
                      lists every code (then converted)
future dates          rows at or after ``as_of`` are dropped, counted (``n_future``)
duplicate rows        dropped (``n_duplicates``) unless ``duplicates: keep``
negative amounts      returns: netted into revenue and ``returns``; never a purchase occasion
returns-only customer left out of the features, counted (``n_customers_no_purchase``)
one purchase only     kept: frequency 0, ``monetary_repeat`` 0 (left out of the Gamma-Gamma fit)
====================  =====================================================================
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.segments.config import SegmentsConfig

_SQL_DIR = Path(__file__).with_name("sql")
_DAY = 86400
_US = 10**6  # t is in epoch microseconds
# DuckDB: above this many rows the per-customer query runs in customer partitions (hash of the id),
# so that its two hash aggregations stay within the memory limit instead of spilling to disk.
# Spark partitions by itself: no entry in _PARTITION.
ROWS_PER_PART = 20_000_000
_PARTITION = {"duckdb": "hash(u) % {k} = {i}"}
# Rows per record batch when the sorted per-customer Parquet is read back (about 15 MB in flight,
# against about 150 bytes per customer for the finished frame).
_BATCH_ROWS = 1 << 17
# Integer columns of the per-customer frame. DuckDB sums integers to HUGEINT, which Parquet and pandas
# carry as DOUBLE: they are made int64 as they are read (exact below 2**53).
_INT_COLS = ("recency_days", "frequency", "tenure_days", "t_x_days", "n_purchase_days", "n_transactions",
             "first_day", "last_day")
# DuckDB limits of an engine created here (an engine passed in keeps its own settings). 3 GB: one
# 20M-row customer partition (ROWS_PER_PART) peaked at 1.9-2.2 GB and the sort of 10M customers at
# 2.5 GB, so neither spills; DuckDB has freed it all before the pandas frame (about 150 bytes per
# customer) is built, which keeps 100M rows / 10M customers under 4 GB for the whole process. Never
# more than half the machine's memory: beyond its limit DuckDB spills to the temporary folder instead.
DUCKDB_MEMORY_LIMIT_BYTES = 3 * 10**9  # DuckDB's "3GB"
# Epoch microseconds (BIGINT) of a column, per engine name; engines without an entry use their
# epoch seconds (DOUBLE) times 10**6, rounded.
_EPOCH_US = {
    "duckdb": "epoch_us(CAST({} AS TIMESTAMP))",
    "spark": "unix_micros(CAST({} AS TIMESTAMP))",
}


@lru_cache(maxsize=None)
def sql_template(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class FeatureTable:
    """Per-customer features and the data-quality counts of the run.

    Attributes
    ----------
    customers:
        DataFrame, one row per customer: ``customer`` (raw id, never logged), ``recency_days``,
        ``frequency`` (repeat purchase days), ``monetary`` (currency per purchase day),
        ``tenure_days``, ``t_x_days``, ``monetary_repeat``, ``n_purchase_days``,
        ``n_transactions``, ``revenue`` (net, currency), ``returns`` (currency).
    counts:
        ``n_rows``, ``n_duplicates`` (dropped unless kept), ``n_future`` (dropped), ``n_returns``
        (rows with amount < 0), ``n_zero_amount``, ``n_customers_seen``, ``n_customers_no_purchase``,
        ``n_customers``.
    as_of:
        End of observation (exclusive) as an ISO date.
    currencies:
        Currency code -> rows (empty without a currency column).
    """

    customers: Any
    counts: dict[str, int]
    as_of: str
    currencies: dict[str, int] = field(default_factory=dict)


def _projection(cfg: "SegmentsConfig", eng) -> str:
    q = eng.quote
    amount = f"CAST({q(cfg.amount_col)} AS DOUBLE)"
    if cfg.currency_col is not None and cfg.currency_to_rate:
        cases = " ".join(f"WHEN '{_sql_text(code)}' THEN {float(rate)!r}" for code, rate in sorted(cfg.currency_to_rate.items()))
        amount = f"{amount} * (CASE CAST({q(cfg.currency_col)} AS {eng.text}) {cases} ELSE NULL END)"
    cur = f"CAST({q(cfg.currency_col)} AS {eng.text})" if cfg.currency_col else "''"
    # The id keeps its own type (an integer id groups faster and in less memory than its text);
    # it becomes text in Python after the per-customer fetch.
    col = q(cfg.date_col)
    template = _EPOCH_US.get(getattr(eng, "name", ""))
    t = template.format(col) if template else f"CAST(ROUND({eng.epoch(col)} * {_US}) AS BIGINT)"
    return (f"{q(cfg.customer_col)} AS u, {t} AS t, "
            f"{amount} AS amt, {cur} AS cur")


def _n_parts(eng, n_rows: int) -> int:
    """Customer partitions for the per-customer query: 1 unless the engine has a partition filter and
    the rows exceed ``ROWS_PER_PART`` (measured: docs/performance-customers.md)."""
    if getattr(eng, "name", "") not in _PARTITION or n_rows <= ROWS_PER_PART:
        return 1
    return -(-n_rows // ROWS_PER_PART)


def _read_parquet_frame(path: Path) -> "pd.DataFrame":
    """The sorted per-customer Parquet file as a DataFrame, streamed in record batches into
    preallocated columns of their final dtype (ids as Python ``str``, ``_INT_COLS`` int64, the rest float64).

    Peak memory is the finished frame plus one batch. Reading the file whole (``read_table``, then
    ``to_pandas``) held Arrow's copy and pandas' at once, and casting the integer columns afterwards
    copied each of them again: 3.3-3.9 GB peak for a 1.4 GB frame at 9.5M customers
    (docs/performance-customers.md).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        n = pf.metadata.num_rows
        cols = {}
        for f in pf.schema_arrow:
            if f.name == "u" and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                cols[f.name] = np.empty(n, dtype=object)
            elif f.name in _INT_COLS and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)):
                cols[f.name] = np.empty(n, dtype=np.int64)
            elif f.name not in _INT_COLS and pa.types.is_floating(f.type):
                cols[f.name] = np.empty(n, dtype=np.float64)
            else:  # a column added to customer_features.sql needs its dtype here
                raise RuntimeError(f"internal error: column {f.name!r} of {path.name} has Arrow type {f.type}")
        pos = 0
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
            k = batch.num_rows
            for c, arr in zip(batch.schema.names, batch.columns):
                if arr.null_count:  # only buying customers are written: no day or money column is NULL
                    raise RuntimeError(f"internal error: {arr.null_count} NULL(s) in column {c!r} of {path.name}")
                cols[c][pos:pos + k] = arr.to_numpy(zero_copy_only=False)
            pos += k
    if pos != n:
        raise RuntimeError(f"internal error: read {pos} of {n} row(s) from {path.name}")
    # copy=False: one block per column, no consolidation copy. The ids go in as an object Series: a bare
    # object array is scanned for datetimes and the like first (42 bytes per row in temporaries: 0.4 GB at 10M).
    cols["u"] = pd.Series(cols["u"], dtype=object, copy=False)
    return pd.DataFrame(cols, copy=False)


def _default_engine(temp_directory: str):
    """A DuckDB engine with deliberate limits (see ``DUCKDB_MEMORY_LIMIT_BYTES``).

    Threads: the cores this process may run on (``sched_getaffinity``: a container or ``taskset``
    may allow fewer than the machine has); every extra thread keeps its own partial hash tables
    (memory) and adds nothing on cores it cannot use. Spill files go to ``temp_directory``, a
    folder the caller removes, not DuckDB's default ``.tmp`` in the working directory.
    """
    import os

    from experiments.aggregate import DuckDBEngine

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = DUCKDB_MEMORY_LIMIT_BYTES
    try:
        limit = min(limit, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): the fixed limit
        pass
    return DuckDBEngine(threads=threads, memory_limit=f"{max(limit // 10**6, 256)}MB", temp_directory=temp_directory)


def _temp_dir(eng) -> str | None:
    """DuckDB's ``temp_directory`` when set (where it would spill), else the system's."""
    try:
        value = eng.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    except Exception:  # noqa: BLE001 - no such setting: the system temporary folder
        return None
    return value if value and Path(value).is_dir() else None


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _check_columns(cfg: "SegmentsConfig", available: list[str], source: str) -> None:
    wanted = {"customer_col": cfg.customer_col, "date_col": cfg.date_col, "amount_col": cfg.amount_col}
    if cfg.currency_col:
        wanted["currency_col"] = cfg.currency_col
    for key, col in wanted.items():
        if col not in available:
            hint = difflib.get_close_matches(col, available, n=1, cutoff=0.5)
            raise DataError(f"{source}: segments.{key} is {col!r}, which is not a column of the file; columns found: "
                            f"{available[:20]}." + (f" Did you mean {hint[0]!r}?" if hint else ""))


def customer_features(cfg: "SegmentsConfig", path: Path, engine=None) -> FeatureTable:
    """Run the SQL steps on ``path`` and return the per-customer features (see module docstring).

    ``engine``: an :mod:`experiments.aggregate` engine (default: a new ``DuckDBEngine`` with the
    limits of ``_default_engine``, spilling to a temporary folder; both are closed and removed here;
    an engine passed in is left open, and so is the memory its connection keeps after its last query,
    0.3-0.9 GB at 10M customers, under the frame: the default engine gives the lowest peak).
    """
    source = path.name
    if not path.exists() and not any(ch in str(path) for ch in "*?["):
        raise DataError(f"segments.data: file {path} not found. Paths are relative to the scenario/config file.")
    # `work` holds the per-customer Parquet files (raw ids): removed on return and on error.
    if engine is not None:
        with tempfile.TemporaryDirectory(prefix="dmpopt-segments-", dir=_temp_dir(engine)) as tmp:
            return _customer_features(cfg, path, engine, own=False, work=Path(tmp))
    with tempfile.TemporaryDirectory(prefix="dmpopt-segments-") as tmp:
        spill = Path(tmp) / "duckdb"
        spill.mkdir()
        return _customer_features(cfg, path, _default_engine(str(spill)), own=True, work=Path(tmp))


def _customer_features(cfg: "SegmentsConfig", path: Path, eng, own: bool, work: Path) -> FeatureTable:
    from experiments.aggregate import AggregationError

    source = path.name
    if getattr(eng, "name", "") == "duckdb":
        # DuckDB prints a progress bar to stdout on long queries: it would corrupt `--format json`.
        eng.con.execute("SET enable_progress_bar = false")
    final = None  # the sorted per-customer Parquet file (DuckDB), read once the engine is closed
    try:
        try:
            available = eng.open_raw(path)
        except AggregationError as exc:
            raise DataError(str(exc)) from None
        _check_columns(cfg, available, source)
        eng.create_view("staged", sql_template("source").format(projection=_projection(cfg, eng)))
        as_of_epoch = None
        if cfg.as_of is not None:
            as_of_epoch = (cfg.as_of - dt.date(1970, 1, 1)).days * _DAY * _US
        pre = eng.fetch(sql_template("checks").format(as_of=as_of_epoch if as_of_epoch is not None else 2**62))
        row = {k: (None if _isnull(v) else v) for k, v in pre.iloc[0].to_dict().items()}
        n_rows = int(row["n_rows"] or 0)
        if n_rows == 0:
            raise DataError(f"{source}: the file has 0 transactions; at least one row is needed.")
        for key, what in (("n_null_id", cfg.customer_col), ("n_null_time", cfg.date_col)):
            if row[key]:
                raise DataError(f"{source}: {int(row[key])} of {n_rows} row(s) have an empty {what!r}; every row needs one.")
        currencies: dict[str, int] = {}
        if cfg.currency_col:
            cur = eng.fetch(sql_template("currencies"))
            currencies = {str(c): int(n) for c, n in zip(cur["cur"], cur["n"])}
            if cfg.currency_to_rate is None and len(currencies) > 1:
                raise DataError(f"{source}: column {cfg.currency_col!r} has {len(currencies)} currencies "
                                f"{currencies}; amounts cannot be added up. Suggestion: set segments.currency_to_rate "
                                "(code -> factor to one report currency) or filter the file to one currency.")
            if cfg.currency_to_rate is not None:
                missing = sorted(set(currencies) - set(cfg.currency_to_rate))
                if missing:
                    raise DataError(f"{source}: currencies {missing} are not in segments.currency_to_rate "
                                    f"{sorted(cfg.currency_to_rate)}; add a factor for each.")
        if row["n_null_amount"]:
            raise DataError(f"{source}: {int(row['n_null_amount'])} of {n_rows} row(s) have an empty or NaN "
                            f"{cfg.amount_col!r}; every row needs a number (negative for a return).")
        if as_of_epoch is None:
            as_of_epoch = (int(row["max_t"]) // (_DAY * _US) + 1) * _DAY * _US
            n_future = 0
        else:
            n_future = int(row["n_future"] or 0)
        as_of_day = as_of_epoch // (_DAY * _US)
        keys = "u, t, amt, cur" if cfg.currency_col else "u, t, amt"  # cur is a constant '' without the column
        parts = _n_parts(eng, n_rows - n_future)

        def features_sql(part: str) -> str:
            days = sql_template("customer_days").format(
                as_of=as_of_epoch, distinct="DISTINCT" if cfg.duplicates == "drop" else "", keys=keys, part=part)
            return sql_template("customer_features").format(as_of_day=as_of_day, customer_days=days, text=eng.text)

        if getattr(eng, "name", "") not in _PARTITION:  # Spark: the sorted frame in one fetch
            feats = eng.fetch(f"SELECT * FROM ({features_sql('')}) f ORDER BY u")
            n_seen, n_rows_kept = len(feats), int(feats["n_transactions"].sum())
        else:
            # Customers split by a hash of the id: each part's hash tables fit in memory (no spill);
            # each part's features go to a Parquet file (COPY), not to a table held in memory. One part
            # below ROWS_PER_PART rows goes the same way: a small file may still hold millions of customers.
            for i in range(parts):
                part = features_sql(f" AND {_PARTITION[eng.name].format(k=parts, i=i)}" if parts > 1 else "")
                eng.con.execute(f"COPY ({part}) TO '{_sql_text(str(work / f'part-{i:03d}.parquet'))}' (FORMAT parquet)")
            glob = _sql_text(str(work / "part-*.parquet"))
            seen = eng.fetch(f"SELECT COUNT(*) AS n, SUM(n_transactions) AS n_kept FROM read_parquet('{glob}')")
            n_seen, n_rows_kept = int(seen.iloc[0, 0]), int(seen.iloc[0, 1])
            # The id order is a DuckDB sort (spills within its memory limit) written to Parquet, read
            # back after the engine is closed: a direct fetch held the sort, DuckDB's result and pandas'
            # copy at once (5.5 GB peak at 10M customers; see docs/performance-customers.md).
            final = work / "features.parquet"
            eng.con.execute(f"COPY (SELECT * FROM read_parquet('{glob}') WHERE n_purchase_days > 0 ORDER BY u) "
                            f"TO '{_sql_text(str(final))}' (FORMAT parquet)")
        if cfg.duplicates == "keep":
            n_dup = int(eng.fetch(sql_template("duplicates").format(as_of=as_of_epoch)).iloc[0, 0] or 0)
    finally:
        if own:
            eng.close()
        else:
            eng.release()
    if final is not None:
        # Read after close: a DuckDB connection kept 0.3-0.9 GB resident after its last query at 10M
        # customers (freed by close, not by glibc's malloc_trim), and the frame came on top of it.
        feats = _read_parquet_frame(final)
    if cfg.duplicates == "drop":
        # The rows DISTINCT removed: no extra scan (a duplicate count is a full hash aggregation).
        n_dup = n_rows - n_future - n_rows_kept
    buying = feats["n_purchase_days"].to_numpy() > 0
    if not buying.all():
        feats = feats[buying].reset_index(drop=True)
    # Ids arrive as text, in text order (SQL ORDER BY): the order of Python's str sort.
    feats.columns = ["customer" if c == "u" else c for c in feats.columns]  # in place: no copy of 10M rows
    for c in _INT_COLS:
        if feats[c].dtype != "int64":  # assigning a column copies it even when astype did not: only when needed
            feats[c] = feats[c].astype("int64")
    counts = {
        "n_rows": n_rows,
        "n_duplicates": n_dup,
        "duplicates_dropped": cfg.duplicates == "drop",
        "n_future": n_future,
        "n_returns": int(row["n_returns"] or 0),
        "n_zero_amount": int(row["n_zero_amount"] or 0),
        "n_customers_seen": n_seen,
        "n_customers_no_purchase": int(n_seen - len(feats)),
        "n_customers": int(len(feats)),
        "n_single_purchase": int((feats["frequency"] == 0).sum()),
    }
    if counts["n_customers"] == 0:
        raise DataError(f"{source}: no customer has a purchase (amount > 0) before as_of "
                        f"{dt.date(1970, 1, 1) + dt.timedelta(days=as_of_day)}; nothing to segment.")
    as_of = (dt.date(1970, 1, 1) + dt.timedelta(days=as_of_day)).isoformat()
    return FeatureTable(feats, counts, as_of, currencies)


def _isnull(v) -> bool:
    try:
        return v is None or v != v
    except Exception:  # noqa: BLE001 - pandas NA compares oddly
        return True


def features_pandas(df: "pd.DataFrame", customer_col: str, date_col: str, amount_col: str, as_of: dt.date | None = None):
    """The same features with pandas (reference for tests and the benchmark baseline; no defect checks)."""
    import numpy as np
    import pandas as pd

    t = pd.to_datetime(df[date_col], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    x = pd.DataFrame({"u": df[customer_col].astype(str).to_numpy(), "t": t, "amt": df[amount_col].to_numpy(float)})
    x = x.drop_duplicates()
    x["d"] = x["t"] // (10**9 * _DAY)
    as_of_day = int(x["d"].max()) + 1 if as_of is None else (as_of - dt.date(1970, 1, 1)).days
    x = x[x["d"] < as_of_day]
    days = x.groupby(["u", "d"], sort=False)["amt"].sum().reset_index()
    pos = days[days["amt"] > 0]
    g = pos.groupby("u")
    first, last, n = g["d"].min(), g["d"].max(), g["d"].size()
    revenue = days.groupby("u")["amt"].sum().reindex(first.index)
    first_amt = pos.merge(first.rename("d0"), left_on="u", right_index=True)
    rep = first_amt[first_amt["d"] > first_amt["d0"]].groupby("u")["amt"].sum().reindex(first.index, fill_value=0.0)
    out = pd.DataFrame({
        "customer": first.index,
        "recency_days": as_of_day - last.to_numpy(),
        "frequency": n.to_numpy() - 1,
        "monetary": revenue.to_numpy() / n.to_numpy(),
        "tenure_days": as_of_day - first.to_numpy(),
        "t_x_days": (last - first).to_numpy(),
        "monetary_repeat": np.where(n.to_numpy() > 1, rep.to_numpy() / np.maximum(n.to_numpy() - 1, 1), 0.0),
    })
    return out.sort_values("customer", kind="stable").reset_index(drop=True)
