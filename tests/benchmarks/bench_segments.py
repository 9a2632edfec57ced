"""Segments benchmark: per-customer RFM features from raw transactions, DuckDB SQL vs pandas.

Run: .venv/bin/python tests/benchmarks/bench_segments.py [--quick] [--rows N] [--customers M] [--no-pandas]

Target (issue #12): 100M transactions / 10M customers -> RFM features in <= 60 s and <= 4 GB with
DuckDB on 2 cores. Data: a folder of Parquet files (customer_id int64, ts timestamp, amount double;
1 % returns), written once per size into a temporary folder. Each engine runs in its own child
process so that its peak resident memory is measured alone: the kernel's high-water mark of the
child's resident set (``ru_maxrss``, the same as VmHWM), which counts every page the process touched,
DuckDB's and Arrow's native allocations and threads included, not only Python objects; the larger of
it and the children's mark is printed (DuckDB starts none today). pandas runs the same
definitions (optimizer.segments.aggregate.features_pandas) in the same run and the ratio is printed.
--repeat N runs the DuckDB child N times and prints each run with the load average before and after.
--quick: 10M rows / 1M customers. --data DIR: keep the Parquet input in DIR (written there once,
reused by later runs; generation time is printed apart and never part of an engine's time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
engine, src, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
import pandas as pd
from optimizer.segments.aggregate import customer_features, features_pandas
from optimizer.segments.config import SegmentsConfig
t0 = time.perf_counter()  # imports excluded: they are the same for every size
if engine == "duckdb":
    cfg = SegmentsConfig(date_col="ts")  # the default path: exact duplicates dropped and counted
    # The engine users get (dmpopt segments fit): threads = usable cores (2 here), memory_limit 3 GB,
    # spill files in a temporary folder removed afterwards (optimizer.segments.aggregate._default_engine).
    out = customer_features(cfg, Path(src + "/*.parquet")).customers
else:
    df = pd.read_parquet(src)
    out = features_pandas(df, "customer_id", "ts", "amount")
dt = time.perf_counter() - t0
peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({{"seconds": dt, "peak_rss_gb": peak_kb / 2**20,
                  "n_customers": int(len(out)), "revenue": float(out["monetary"].mul(out["frequency"] + 1).sum())}}))
"""


def make_data(folder: Path, rows: int, customers: int, seed: int = 0, chunk: int = 10_000_000) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "s")
    for i, lo in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - lo)
        cust = rng.integers(0, customers, n)
        ts = start + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")
        amount = np.round(rng.gamma(2.0, 20.0, n), 2)
        amount[rng.random(n) < 0.01] *= -1  # returns
        table = pa.table({"customer_id": cust, "ts": ts, "amount": amount})
        pq.write_table(table, folder / f"part-{i:04d}.parquet", row_group_size=1_000_000)


def run_child(engine: str, src: Path, tmp: Path) -> dict:
    code = CHILD.format(root=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code, engine, str(src), str(tmp)], capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--customers", type=int)
    ap.add_argument("--no-pandas", action="store_true")
    ap.add_argument("--data", type=Path, help="folder for the Parquet input, reused when it holds files")
    ap.add_argument("--repeat", type=int, default=1, help="DuckDB runs (each in a new process)")
    args = ap.parse_args()
    rows = args.rows or (10_000_000 if args.quick else 100_000_000)
    customers = args.customers or rows // 10
    with tempfile.TemporaryDirectory(prefix="dmpopt-bench-seg-") as tmp:
        folder = args.data if args.data is not None else Path(tmp) / "tx"
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.glob("*.parquet")):
            import pyarrow.parquet as pq

            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))
            print(f"data: {rows:,} transactions reused from {folder} (made by make_data; customers = rows / 10 "
                  "unless --customers was given when it was written)")
        else:
            t0 = time.perf_counter()
            make_data(folder, rows, customers)
            print(f"data: {rows:,} transactions, {customers:,} customers, Parquet written in "
                  f"{time.perf_counter() - t0:.1f} s")
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        for run in range(1, args.repeat + 1):
            load0, clock0 = os.getloadavg()[0], time.strftime("%H:%M:%S", time.gmtime())
            duck = run_child("duckdb", folder, Path(tmp))
            load1, clock1 = os.getloadavg()[0], time.strftime("%H:%M:%S", time.gmtime())
            print(f"DuckDB run {run} (default engine: {threads} threads, 3 GB limit), {clock0}-{clock1} UTC, "
                  f"load {load0:.2f} -> {load1:.2f}: {duck}")
            if "error" not in duck:
                verdict = "met" if duck["seconds"] <= 60 * rows / 100_000_000 and duck["peak_rss_gb"] <= 4 else "NOT met"
                print(f"target scaled to this size ({60 * rows / 100_000_000:.1f} s, 4 GB): {verdict}")
        if args.no_pandas:
            return
        pand = run_child("pandas", folder, Path(tmp))
        print(f"pandas: {pand}")
        if "error" not in duck and "error" not in pand:
            same = duck["n_customers"] == pand["n_customers"] and abs(duck["revenue"] - pand["revenue"]) <= 1e-6 * abs(pand["revenue"])
            print(f"pandas / DuckDB: time {pand['seconds'] / duck['seconds']:.1f}x, memory "
                  f"{pand['peak_rss_gb'] / duck['peak_rss_gb']:.1f}x; same customers and revenue: {same}")


if __name__ == "__main__":
    main()
