"""Segments benchmark: per-customer RFM features from raw transactions, DuckDB SQL vs pandas.

Run: .venv/bin/python tests/benchmarks/bench_segments.py [--quick] [--rows N] [--customers M] [--no-pandas]

Target (issue #12): 100M transactions / 10M customers -> RFM features in <= 60 s and <= 4 GB with
DuckDB on 2 cores. Data: a folder of Parquet files (customer_id int64, ts timestamp, amount double;
1 % returns), written once per size into a temporary folder. Each engine runs in its own child
process so that its peak resident memory (ru_maxrss) is measured alone; pandas runs the same
definitions (optimizer.segments.aggregate.features_pandas) in the same run and the ratio is printed.
--quick: 10M rows / 1M customers. --data DIR: keep the Parquet input in DIR (written there once,
reused by later runs; generation time is printed apart and never part of an engine's time).
"""

from __future__ import annotations

import argparse
import json
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
from experiments.aggregate import DuckDBEngine
from optimizer.segments.aggregate import customer_features, features_pandas
from optimizer.segments.config import SegmentsConfig
t0 = time.perf_counter()  # imports excluded: they are the same for every size
if engine == "duckdb":
    cfg = SegmentsConfig(date_col="ts")  # the default path: exact duplicates dropped and counted
    eng = DuckDBEngine(threads=2, memory_limit="3GB", temp_directory=tmp)
    out = customer_features(cfg, Path(src + "/*.parquet"), engine=eng).customers
    eng.close()
else:
    df = pd.read_parquet(src)
    out = features_pandas(df, "customer_id", "ts", "amount")
dt = time.perf_counter() - t0
print(json.dumps({{"seconds": dt, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
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
        duck = run_child("duckdb", folder, Path(tmp))
        print(f"DuckDB (2 threads, 3 GB limit): {duck}")
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
