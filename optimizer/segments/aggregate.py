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
Parquet files (``COPY``) rather than one large fetch (peak memory; see the performance page).

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


def _read_parquet_frame(path: Path):
    """A Parquet file as a DataFrame, freeing Arrow buffers while pandas' columns are built."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    # deduplicate_objects=False: ids are unique; its hash table cost 3x the time and 0.9 GB at 10M rows.
    return table.to_pandas(self_destruct=True, split_blocks=True, deduplicate_objects=False)


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

    ``engine``: an :mod:`experiments.aggregate` engine (default: a new ``DuckDBEngine``, closed
    here; an engine passed in is left open).
    """
    from experiments.aggregate import AggregationError, DuckDBEngine

    source = path.name
    if not path.exists() and not any(ch in str(path) for ch in "*?["):
        raise DataError(f"segments.data: file {path} not found. Paths are relative to the scenario/config file.")
    own = engine is None
    eng = DuckDBEngine() if own else engine
    if getattr(eng, "name", "") == "duckdb":
        # DuckDB prints a progress bar to stdout on long queries: it would corrupt `--format json`.
        eng.con.execute("SET enable_progress_bar = false")
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

        if parts == 1:
            feats = eng.fetch(f"SELECT * FROM ({features_sql('')}) f ORDER BY u")
            n_seen, n_rows_kept = len(feats), int(feats["n_transactions"].sum())
        else:
            # Customers split by a hash of the id: each part's hash tables fit in memory (no spill);
            # each part's features go to a Parquet file (COPY), not to a table held in memory.
            with tempfile.TemporaryDirectory(prefix="dmpopt-segments-", dir=_temp_dir(eng)) as tmp:
                for i in range(parts):
                    part = features_sql(f" AND {_PARTITION[eng.name].format(k=parts, i=i)}")
                    eng.con.execute(f"COPY ({part}) TO '{_sql_text(str(Path(tmp) / f'part-{i:03d}.parquet'))}' "
                                    "(FORMAT parquet)")
                glob = _sql_text(str(Path(tmp) / "part-*.parquet"))
                seen = eng.fetch(f"SELECT COUNT(*) AS n, SUM(n_transactions) AS n_kept FROM read_parquet('{glob}')")
                n_seen, n_rows_kept = int(seen.iloc[0, 0]), int(seen.iloc[0, 1])
                # The id order is a DuckDB sort (spills within its memory limit) written to Parquet, read
                # back with pyarrow: a direct fetch held the sort, DuckDB's result and pandas' copy at once
                # (5.5 GB peak at 10M customers; see docs/performance-customers.md).
                final = Path(tmp) / "features.parquet"
                eng.con.execute(f"COPY (SELECT * FROM read_parquet('{glob}') WHERE n_purchase_days > 0 ORDER BY u) "
                                f"TO '{_sql_text(str(final))}' (FORMAT parquet)")
                feats = _read_parquet_frame(final)
        if cfg.duplicates == "keep":
            n_dup = int(eng.fetch(sql_template("duplicates").format(as_of=as_of_epoch)).iloc[0, 0] or 0)
    finally:
        if own:
            eng.close()
        else:
            eng.release()
    if cfg.duplicates == "drop":
        # The rows DISTINCT removed: no extra scan (a duplicate count is a full hash aggregation).
        n_dup = n_rows - n_future - n_rows_kept
    buying = feats["n_purchase_days"].to_numpy() > 0
    if not buying.all():
        feats = feats[buying].reset_index(drop=True)
    # Ids arrive as text, in text order (SQL ORDER BY): the order of Python's str sort.
    feats.columns = ["customer" if c == "u" else c for c in feats.columns]  # in place: no copy of 10M rows
    for c in ("recency_days", "frequency", "tenure_days", "t_x_days", "n_purchase_days", "n_transactions",
              "first_day", "last_day"):
        feats[c] = feats[c].astype("int64", copy=False)
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
