"""Benchmark: per-variant statistics from raw events in Parquet, DuckDB (dmpopt's SQL) vs pandas.

Generates ``--events`` events of ``--users`` users in Parquet with DuckDB itself (in a temporary
folder, deleted afterwards), then measures, each in a fresh child process so that peak RSS
(``ru_maxrss`` of the child) is the measurement's own:

1. ``duckdb-1``: :func:`experiments.aggregate.aggregate` with one metric (purchase revenue per user);
2. ``duckdb-5``: five metrics in the same scan (revenue, purchases, clicks, buyer rate, revenue/click);
3. ``pandas-1``: the pandas baseline (read Parquet, group by user, then by variant) on a slice
   of ``--pandas-events`` events, and ``duckdb-1`` on the same slice, for a same-size ratio.

Full size (issue #6 target: <= 30 s and <= 4 GB RSS for 100M events / 10M users with one metric,
<= 60 s for five metrics)::

    /work/venv/bin/python tests/benchmarks/bench_experiments_aggregate.py

Quick (1M events, < 60 s)::

    /work/venv/bin/python tests/benchmarks/bench_experiments_aggregate.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRICS_1 = [{"name": "revenue", "kind": "mean", "event": "purchase", "column": "value"}]
METRICS_5 = METRICS_1 + [
    {"name": "purchases", "kind": "count", "event": "purchase"},
    {"name": "clicks", "kind": "count", "event": "click"},
    {"name": "buyer", "kind": "proportion", "event": "purchase"},
    {"name": "revenue_per_click", "kind": "ratio", "event": "purchase", "column": "value", "denominator_event": "click"},
]


def generate(path: Path, n_events: int, n_users: int, seed: int = 1) -> float:
    """Write the events Parquet with DuckDB; return seconds taken."""
    import duckdb

    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 1000})")
    # user i gets variant by parity; events: 40 % page_view, 30 % click, 20 % add_to_cart, 10 % purchase
    con.execute(f"""
        COPY (
          SELECT (hash(i) % {n_users})::BIGINT AS user_id,
                 CASE WHEN (hash(i) % {n_users}) % 2 = 0 THEN 'control' ELSE 'treatment' END AS variant,
                 TIMESTAMP '2026-11-02' + to_seconds((i % 1209600)::BIGINT) AS timestamp,
                 CASE WHEN r < 0.4 THEN 'page_view' WHEN r < 0.7 THEN 'click'
                      WHEN r < 0.9 THEN 'add_to_cart' ELSE 'purchase' END AS event,
                 CASE WHEN r >= 0.9 THEN round(10 + 90 * random(), 2) ELSE 0 END AS value
          FROM (SELECT range AS i, random() AS r FROM range({n_events}))
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """)
    con.close()
    return time.perf_counter() - t


def child(args: argparse.Namespace) -> None:
    """Run one measurement in this (fresh) process and print a JSON line (imports not timed)."""
    import pandas as pd

    from experiments.aggregate import DuckDBEngine, aggregate
    from experiments.config import ExperimentConfig

    t0 = time.perf_counter()
    c0 = _cpu()
    if args.child.startswith("duckdb"):

        metrics = METRICS_5 if args.child == "duckdb-5" else METRICS_1
        exp = ExperimentConfig.model_validate({
            "name": "bench", "start_date": "2026-11-02", "control": "control", "variants": ["control", "treatment"],
            "data": {"kind": "events", "path": args.path, "timestamp_col": None}, "metrics": metrics})
        engine = DuckDBEngine(memory_limit=args.memory_limit or None, temp_directory=args.tmp)
        agg = aggregate(exp, engine=engine)
        engine.close()
        out = agg.moments[agg.moments["metric"] == "revenue"][["variant", "n", "mean", "m2"]]
    else:
        df = pd.read_parquet(args.path, columns=["user_id", "variant", "event", "value"])
        df["rev"] = df["value"].where(df["event"] == "purchase", 0.0)
        users = df.groupby("user_id", sort=False).agg(variant=("variant", "first"), rev=("rev", "sum"))
        g = users.groupby("variant")["rev"]
        out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "m2": g.var(ddof=0) * g.size()}).reset_index()
    seconds = time.perf_counter() - t0
    cpu = _cpu() - c0
    rows = {r.variant: {"n": int(r.n), "mean": float(r.mean), "m2": float(r.m2)} for r in out.itertuples()}
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": rows}))


def _cpu() -> float:
    """User + system CPU seconds of this process, all threads (DuckDB runs on worker threads)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M events / 100k users (< 60 s)")
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--pandas-events", type=int, default=10_000_000, help="slice size for the pandas baseline")
    parser.add_argument("--memory-limit", default="",
                        help="DuckDB memory_limit, e.g. 3GB (default: DuckDB's own, 80 %% of RAM). A 3GB limit "
                             "made DuckDB spill and peak at 3.0 GiB; without it the same run peaked at 1.6 GiB.")
    parser.add_argument("--keep", action="store_true", help="keep the generated Parquet (prints its path)")
    parser.add_argument("--data", help="reuse a folder kept by --keep (events.parquet [+ slice.parquet])")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.events, args.users, args.pandas_events = 1_000_000, 100_000, 1_000_000
    tmp = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench_exp_agg_"))
    args.keep = args.keep or bool(args.data)
    try:
        full = tmp / "events.parquet"
        if full.exists():
            print(f"reusing {full} ({args.events:,} events / {args.users:,} users assumed)")
        else:
            gen_s = generate(full, args.events, args.users)
            size_gib = full.stat().st_size / 1024**3
            print(f"generated {args.events:,} events / {args.users:,} users: {size_gib:.2f} GiB Parquet in {gen_s:.1f} s")
        runs = [("duckdb-1", full), ("duckdb-5", full)]
        slice_path = full
        if args.pandas_events < args.events:
            slice_path = tmp / "slice.parquet"
            users_slice = max(1, args.users * args.pandas_events // args.events)
            if not slice_path.exists():
                generate(slice_path, args.pandas_events, users_slice)
            runs.append(("duckdb-1", slice_path))
        runs.append(("pandas-1", slice_path))
        results = []
        for kind, path in runs:
            # RUSAGE_CHILDREN keeps the maximum over all children ever waited for, so each run gets
            # its own wrapper process whose children figure covers that run alone.
            r = measure_isolated(kind, path, tmp, args.memory_limit)
            n_events = args.events if path == full else args.pandas_events
            results.append((kind, n_events, r))
            rss = f"{r['rss_gib']:.2f} GiB" if r["rss_gib"] is not None else "n/a"
            print(f"{kind:9s} {n_events:>12,} events: {r['seconds']:7.2f} s wall, "
                  f"{r['cpu_seconds']:7.2f} s CPU (all threads), peak RSS {rss}", flush=True)
        same = [r for k, n, r in results if n == args.pandas_events and k in ("duckdb-1", "pandas-1")]
        if len(same) == 2:
            d, p = same
            print(f"same-size ratio pandas/duckdb ({args.pandas_events:,} events): wall x{p['seconds'] / d['seconds']:.1f}, "
                  f"CPU x{p['cpu_seconds'] / d['cpu_seconds']:.1f}, RSS x{p['rss_gib'] / d['rss_gib']:.1f}")
            for variant in d["rows"]:
                a, b = d["rows"][variant], p["rows"][variant]
                assert a["n"] == b["n"], (a, b)
                assert abs(a["m2"] - b["m2"]) <= 1e-9 * abs(b["m2"]), (a, b)
            print("duckdb and pandas agree on n, mean and M2 of the slice (1e-9 relative)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def measure_isolated(kind: str, path: Path, tmp: Path, memory_limit: str) -> dict:
    """Run the measurement in a wrapper process whose RUSAGE_CHILDREN covers only that run."""
    code = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True)\n"
        "r = json.loads(p.stdout.strip().splitlines()[-1])\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "r['rss_gib'] = u.ru_maxrss / 1024**2\n"
        "r['cpu_seconds_process'] = u.ru_utime + u.ru_stime\n"
        "print(json.dumps(r))\n"
    )
    cmd = [sys.executable, "-c", code, sys.executable, __file__, "--child", kind, "--path", str(path), "--tmp", str(tmp),
           "--memory-limit", memory_limit]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ})
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
