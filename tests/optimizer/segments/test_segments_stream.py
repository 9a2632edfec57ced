"""Segments: the per-customer result of large inputs is streamed from Parquet into preallocated columns.

On DuckDB the per-customer features (one query, or one per customer partition above ``ROWS_PER_PART``
rows) are sorted into a Parquet file, which ``_read_parquet_frame`` reads in record batches
(docs/performance-customers.md: the whole-file read through pyarrow and the column casts after it made
the 100M-row peak vary between 3.0 and 4.3 GB).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer.segments.aggregate as agg
from optimizer.segments.config import SegmentsConfig


def _whole_file_frame(path: Path) -> pd.DataFrame:
    """The read used before streaming (pyarrow ``read_table`` + ``to_pandas``, then int64 casts): the reference."""
    import pyarrow.parquet as pq

    frame = pq.read_table(path).to_pandas(self_destruct=True, split_blocks=True, deduplicate_objects=False)
    for c in agg._INT_COLS:
        frame[c] = frame[c].astype("int64")
    return frame


def test_streamed_read_equals_the_whole_file_read(sim_csv, monkeypatch):
    """Batches of 97 rows (many batches, a ragged last one) give exactly, bit for bit, the frame of the
    whole-file read on the same Parquet file; 3 customer partitions give the one-query features."""
    single = agg.customer_features(SegmentsConfig(), sim_csv)
    seen: dict[str, pd.DataFrame] = {}
    stream = agg._read_parquet_frame

    def both(path: Path) -> pd.DataFrame:
        seen["whole"] = _whole_file_frame(path)
        frame = stream(path)
        seen["streamed"] = frame.copy()  # the caller renames the id column in place
        return frame

    monkeypatch.setattr(agg, "_BATCH_ROWS", 97)
    monkeypatch.setattr(agg, "ROWS_PER_PART", single.counts["n_rows"] // 3 + 1)
    monkeypatch.setattr(agg, "_read_parquet_frame", both)
    parts = agg.customer_features(SegmentsConfig(), sim_csv)
    assert len(seen["streamed"]) == single.counts["n_customers"] > 97 * 5
    pd.testing.assert_frame_equal(seen["streamed"], seen["whole"], check_exact=True)
    assert all(type(u) is str for u in seen["streamed"]["u"])
    assert parts.counts == single.counts
    pd.testing.assert_frame_equal(parts.customers, single.customers, check_exact=False, rtol=1e-12)  # sum order


def test_reading_holds_no_second_copy_of_the_frame(tmp_path, monkeypatch):
    """Python-side peak (tracemalloc: numpy buffers and str objects; DuckDB's and Arrow's own pools are
    not traced, the 100M-row benchmark measures those) from the start of the read to the returned
    features stays within 5 % of the finished frame. Measured: 2.4 % (a boolean mask and a count per
    customer). Handing pandas the ids as a bare object array made it scan them first (+27 %, 42 bytes
    per customer in temporaries, 0.4 GB at 10M customers); casting a column after the read costs
    +10 % per column. 50,000 customers x 3 rows keep this near a second."""
    import duckdb
    import pyarrow.parquet  # noqa: F401 - imported before tracing: its module objects are not the frame's

    n_customers, n_rows = 50_000, 150_000
    p = tmp_path / "tx.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT i % {n_customers} AS customer_id, TIMESTAMP '2025-01-01' + to_seconds((i * 7919) "
                    f"% 31536000) AS date, CAST(1 + (i * 31) % 997 AS DOUBLE) / 10 AS amount FROM range({n_rows}) t(i)) "
                    f"TO '{p}' (FORMAT parquet)")
    monkeypatch.setattr(agg, "_BATCH_ROWS", 512)
    monkeypatch.setattr(agg, "ROWS_PER_PART", n_rows // 2 + 1)
    stream = agg._read_parquet_frame
    start: dict[str, int] = {}

    def traced(path: Path) -> pd.DataFrame:
        tracemalloc.start()
        start["bytes"] = tracemalloc.get_traced_memory()[0]
        return stream(path)

    monkeypatch.setattr(agg, "_read_parquet_frame", traced)
    try:
        out = agg.customer_features(SegmentsConfig(), p).customers
        peak = tracemalloc.get_traced_memory()[1] - start["bytes"]
    finally:
        tracemalloc.stop()
    assert len(out) == n_customers
    frame = int(out.memory_usage(deep=True).sum())
    bound = 1.05 * frame + 64 * 1024
    assert peak <= bound, f"peak {peak:,} B > 1.05 x frame {frame:,} B + 64 kB"
    assert np.all(out["customer"].to_numpy()[:-1] < out["customer"].to_numpy()[1:])  # text order kept


def test_default_engine_has_set_limits_and_its_spill_folder_is_removed(sim_csv, tmp_path, monkeypatch):
    """Without an engine, DuckDB gets the usable cores as threads, at most 3 GB (and half the RAM), and
    spills into a folder under the system temporary folder that is gone afterwards (DuckDB's default is
    ``.tmp`` in the working directory, left behind)."""
    import os
    import re
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = []
    default_engine = agg._default_engine

    def spy(folder: str):
        eng = default_engine(folder)
        made.append((folder, eng.con.execute("SELECT current_setting('threads'), current_setting('memory_limit'), "
                                             "current_setting('temp_directory')").fetchone()))
        return eng

    monkeypatch.setattr(agg, "_default_engine", spy)
    monkeypatch.chdir(tmp_path)
    agg.customer_features(SegmentsConfig(), sim_csv)
    [(folder, (threads, limit, spill))] = made
    assert spill == folder and Path(folder).parent.parent == tmp_path
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads == cores
    value, unit = re.fullmatch(r"([\d.]+) (MiB|GiB)", limit).groups()
    assert float(value) * {"MiB": 2**20, "GiB": 2**30}[unit] <= 3e9 * 1.01
    assert list(tmp_path.iterdir()) == []  # spill and part files removed, no .tmp in the working folder
