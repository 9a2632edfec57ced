"""Benchmark of the experiment statistics: vectorised throughput and long calibration runs.

Run: /work/venv/bin/python tests/benchmarks/bench_experiments_stats.py [--quick]

1. Throughput: K comparisons (half proportions, half Welch means) through ``compare_table``
   with a BH correction, against a baseline that calls statsmodels once per comparison
   (``proportions_ztest`` / ``ttest_ind_from_stats``) on a subsample, extrapolated. Prints the ratio.
2. Calibration: A/A false-positive rate and 95 % coverage per family with R replications
   (200,000; --quick: 20,000), and the sequential procedures under weekly peeking.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import time

import numpy as np

from experiments.analysis import compare_table
from experiments.stats import VariantArrays

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("calib", HERE.parent / "experiments" / "test_calibration.py")
calib = importlib.util.module_from_spec(spec)
spec.loader.exec_module(calib)


def throughput(k: int, baseline_sample: int) -> None:
    from statsmodels.stats.proportion import proportions_ztest
    from statsmodels.stats.weightstats import ttest_ind  # noqa: F401  (import cost outside timing)
    from scipy.stats import ttest_ind_from_stats

    rng = np.random.default_rng(1)
    n = rng.integers(1000, 100_000, (2, k)).astype(float)
    mean = rng.uniform(1, 20, (2, k))
    m2 = rng.uniform(1, 50, (2, k)) * (n - 1)
    conv = rng.binomial(n.astype(int), 0.05)
    kinds = np.where(np.arange(k) % 2 == 0, "mean", "proportion")
    mean = np.where(kinds == "proportion", conv / n, mean)
    m2 = np.where(kinds == "proportion", conv * (1 - conv / n), m2)
    c = VariantArrays.from_columns(n[0], mean[0], m2[0])
    t = VariantArrays.from_columns(n[1], mean[1], m2[1])
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        compare_table(c, t, kind=kinds, metric=np.where(kinds == "mean", "rev", "conv"), correction="bh")
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(baseline_sample):
        if kinds[i] == "proportion":
            proportions_ztest([conv[1, i], conv[0, i]], [n[1, i], n[0, i]])
        else:
            sd = np.sqrt(m2[:, i] / (n[:, i] - 1))
            ttest_ind_from_stats(mean[1, i], sd[1], n[1, i], mean[0, i], sd[0], n[0, i], equal_var=False)
    loop = (time.perf_counter() - t0) / baseline_sample * k
    print(f"throughput: {k} comparisons vectorised {best:.3f} s (best of 3); "
          f"statsmodels/scipy loop (extrapolated from {baseline_sample}) {loop:.2f} s; ratio {loop / best:.1f}x")


def calibration(reps: int) -> None:
    se = np.sqrt(0.05 * 0.95 / reps) * 100
    print(f"calibration: {reps} replications per family, MC s.e. {se:.3f} pp (target 5.0 % / 95.0 % +- 0.5 pp)")
    rows = [
        ("proportions z pooled, Wald CI", lambda s: (calib.simulate_proportions(reps, s)[0], calib.simulate_proportions(reps, s + 1, lift=0.01)[1])),
        ("proportions z pooled, Newcombe CI", lambda s: (calib.simulate_proportions(reps, s, ci="newcombe")[0], calib.simulate_proportions(reps, s + 1, ci="newcombe", lift=0.01)[1])),
        ("proportions unpooled z, Wald CI", lambda s: (calib.simulate_proportions(reps, s, pooled=False)[0], calib.simulate_proportions(reps, s + 1, pooled=False, lift=0.01)[1])),
        ("proportions pooled z + Yates (R default)", lambda s: (calib.simulate_proportions(reps, s, continuity=True)[0], calib.simulate_proportions(reps, s + 1, continuity=True, lift=0.01)[1])),
        ("counts, Welch (Poisson 0.8, n=300)", lambda s: calib.simulate_counts(reps, s)),
        ("Welch (gamma data, n=300)", lambda s: calib.simulate_means(reps, s)),
        ("Welch + CUPED", lambda s: calib.simulate_means(reps, s, cuped=True)),
        ("ratio delta method (n=400)", lambda s: calib.simulate_ratio(reps, s)),
        ("ratio delta + CUPED", lambda s: calib.simulate_ratio(reps, s, cuped=True)),
    ]
    for name, fn in rows:
        t0 = time.perf_counter()
        fpr, cover = fn(7)
        print(f"  {name:42s} A/A FPR {fpr * 100:6.2f} %   coverage {cover * 100:6.2f} %   ({time.perf_counter() - t0:.1f} s)")
    for kind in ("obrien_fleming", "pocock", "naive"):
        print(f"  sequential {kind:24s} 5 weekly looks: P(reject ever | H0) {calib.simulate_sequential(reps, 9, kind=kind) * 100:6.2f} %")
    print(f"  sequential {'msprt tau=0.01':24s} 5 weekly looks: P(reject ever | H0) {calib.simulate_sequential(reps, 9, tau=0.01) * 100:6.2f} %")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced size, < 60 s")
    args = ap.parse_args()
    throughput(20_000, 500 if args.quick else 2000)
    calibration(20_000 if args.quick else 200_000)
