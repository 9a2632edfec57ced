"""Benchmark: the planner outputs of issue 15 (media-plan rounding, charts + report.html).

Run: .venv/bin/python tests/benchmarks/bench_plan_report.py
Prints the time of the controlled rounding of a 1,000-channel x 3-segment x 52-week media plan
(156,000 cells) and of every planner file (media_plan.csv/.xlsx, charts, report.html) for
scenarios/media_plan.yaml, whose solve is timed alongside as the baseline in the same run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    from optimizer.planreport import planner_files
    from optimizer.planreport.rounding import round_table
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    rng = np.random.default_rng(0)
    a = rng.uniform(0, 5_000, (3_000, 52))
    t0 = time.perf_counter()
    r = round_table(a, np.repeat(np.arange(1_000), 3))
    t1 = time.perf_counter()
    assert r.sum() == int(np.floor(a.sum() + 0.5))
    print(f"round_table 3,000 rows x 52 weeks (156,000 cells, 1,000 channel groups): {t1 - t0:.2f} s")
    loaded = load_scenario(ROOT / "scenarios" / "media_plan.yaml")
    t0 = time.perf_counter()
    plan = run(loaded)
    t1 = time.perf_counter()
    files = planner_files(plan)
    t2 = time.perf_counter()
    print(f"media_plan.yaml: solve {t1 - t0:.2f} s; planner files ({len(files)}, "
          f"{sum(map(len, files.values())) / 1e6:.2f} MB) {t2 - t1:.2f} s")


if __name__ == "__main__":
    main()
