"""Study: posterior draws (``uncertainty="mcmc"``) vs the block bootstrap: interval coverage, width and speed.

Run: .venv/bin/python tests/benchmarks/study_curves_posterior.py [--sets 30] [--only coverage|speed|regret]

Coverage is ``coverage()`` of tests/benchmarks/bench_curves.py (same simulator call and seeds 100...,
2 independent channels, 104 weeks, noise 5 %, 4 starts, 40 draws, no holdout) with the uncertainty method
as its parameter; both methods fit the same sets. Reported per method: the
share of 90 % intervals that hold the true ROI / marginal ROI at current spend, the median interval width
divided by the true value, and the seconds per fit. Speed: 20 channels x 156 weeks (simulate(20, 156, 0.05,
seed=1)), 100 draws, holdout on (the defaults), as in the benchmark's speed line. Regret (optional): plan
on the posterior-mean curve vs the MAP curve (optimizer/curves/regret.py) on a few sets.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_curves import coverage  # noqa: E402  (the benchmark's coverage, the method as a parameter)

from optimizer.curves.model import CurveModel  # noqa: E402
from optimizer.curves.simulate import simulate  # noqa: E402


def speed(uncertainty: str) -> tuple[float, float, dict | None]:
    s = simulate(20, 156, 0.05, seed=1)
    t0, c0 = time.perf_counter(), time.process_time()
    res = CurveModel(seed=1, n_bootstrap=100, uncertainty=uncertainty).fit(
        s.data, spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"]).result
    return time.perf_counter() - t0, time.process_time() - c0, res.settings.get("uncertainty_diagnostics")


def regret_mean_vs_map(seeds: range) -> list[tuple[float, float]]:
    """(regret of the MAP curves, regret of the posterior-mean curves) per set: 5 channels x 156 weeks, noise 5 %,
    one period's budget (mean total of the last 13 weeks), each channel within 0.5-2x its mean spend. The
    posterior-mean curve of a channel is fitted (least squares on a spend grid over 0-3x mean spend) to the
    mean of the draws' responses, a Hill curve like the others."""
    from scipy.optimize import curve_fit

    from optimizer.curves.bounds import historical_bounds
    from optimizer.curves.regret import regret
    from optimizer.curves.results import response_value

    out = []
    for seed in seeds:
        s = simulate(5, 156, 0.05, seed=seed)
        res = CurveModel(seed=seed, n_bootstrap=100, holdout_periods=0, uncertainty="mcmc").fit(
            s.data, spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"]).result
        budget = float(s.data[[f"spend_{c}" for c in s.channels]].iloc[-13:].sum(axis=1).mean())
        hb = {c: historical_bounds(float(s.data[f"spend_{c}"].mean())) for c in s.channels}
        hi, lo = {c: b["max_spend"] for c, b in hb.items()}, {c: b["min_spend"] for c, b in hb.items()}
        map_curves = {c: res.channels[c].response for c in s.channels}
        mean_curves = {}
        for c in s.channels:
            ch = res.channels[c]
            grid = np.linspace(0, 3 * ch.historical_spend["mean"], 61)[1:]
            dr = ch.draws
            ys = np.mean([response_value({"kind": "s_hill", "max_response": m, "half_saturation_spend": h, "shape": n},
                                         grid) for m, h, n in zip(dr["max_response"], dr["half_saturation_spend"],
                                                                  dr["shape"])], axis=0)
            f = lambda x, m, h, n: m / (1 + (h / x) ** n)  # noqa: E731
            r0 = map_curves[c] if map_curves[c]["kind"] != "linear" else {
                "max_response": ys[-1], "half_saturation_spend": grid[30], "shape": 1.0}
            p, _ = curve_fit(f, grid, ys, p0=[r0["max_response"], r0["half_saturation_spend"], r0["shape"]],
                             bounds=([0, 1e-9, 0.3], [np.inf, np.inf, 5.0]), maxfev=20000)
            mean_curves[c] = {"kind": "hill" if p[2] <= 1 else "s_hill", "max_response": float(p[0]),
                              "half_saturation_spend": float(p[1]), "shape": float(p[2])}
        r_map = regret(map_curves, s.truth, budget, hi, lo)
        r_mean = regret(mean_curves, s.truth, budget, hi, lo, plan_true=r_map["plan_true"])
        out.append((r_map["regret"], r_mean["regret"]))
        print(f"  set {seed}: regret MAP {r_map['regret']:.2%}, posterior mean {r_mean['regret']:.2%}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=30, help="coverage sets (30 = bench_curves.coverage(30))")
    ap.add_argument("--only", choices=["coverage", "speed", "regret"])
    ap.add_argument("--methods", default="bootstrap,mcmc")
    ap.add_argument("--concave", action="store_true", help="also the concave-truth variant (shapes 0.6-1.0)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--shape-prior-mean", type=float, help="experiment: replace the shape prior's mean (1.0) for "
                    "this run, e.g. 1.8 = the simulator's mean shape (uniform 0.6-3.0), to see how much of the "
                    "under-coverage is the prior rather than the method")
    a = ap.parse_args()
    if a.shape_prior_mean is not None:
        import optimizer.curves.model as model_module

        model_module.PRIOR_MEAN = (model_module.PRIOR_MEAN[0], model_module.PRIOR_MEAN[1], a.shape_prior_mean)
        print(f"shape prior mean set to {a.shape_prior_mean} for this run", flush=True)
    print(f"load average: {os.getloadavg()}", flush=True)
    methods = a.methods.split(",")
    if a.only in (None, "speed"):
        for m in methods:
            wall, cpu, diag = speed(m)
            extra = (f", max R-hat {diag['max_rhat']:.3f} ({diag['max_rhat_parameter']}), min ESS "
                     f"{diag['min_ess']:.0f} ({diag['min_ess_parameter']})") if diag else ""
            print(f"speed {m}: 20 channels x 156 weeks, 100 draws: {wall:.2f} s wall, {cpu:.2f} s CPU{extra}",
                  flush=True)
    if a.only in (None, "coverage"):
        variants = [("as built", (0.6, 3.0))] + ([("true shapes concave", (0.6, 1.0))] if a.concave else [])
        for label, shapes in variants:
            for m in methods:
                r = coverage(a.sets, uncertainty=m, shape_range=shapes, verbose=a.verbose)
                print(f"coverage {m}, {label}, {r['n']} channel fits: ROI {r['roi']:.0%}, "
                      f"marginal ROI {r['mroi']:.0%}; "
                      f"median width / true: ROI {r['width_roi']:.2f}, marginal ROI {r['width_mroi']:.2f}; "
                      f"{r['seconds_per_fit']:.2f} s per fit", flush=True)
                if a.verbose:
                    for row in r["rows"]:
                        k, c, shape, roi, lo, hi, mroi, mlo, mhi = row
                        flag = "" if lo <= roi <= hi else "  ROI MISS"
                        print(f"    {k:2d} {c} shape {shape:.2f} ROI {roi:.2f} [{lo:.2f}, {hi:.2f}] "
                              f"mROI {mroi:.2f} [{mlo:.2f}, {mhi:.2f}]{flag}")
    if a.only == "regret":
        rs = regret_mean_vs_map(range(4))
        print(f"regret over {len(rs)} sets (5 channels x 156 weeks): MAP mean {np.mean([r[0] for r in rs]):.2%}, "
              f"posterior-mean curves {np.mean([r[1] for r in rs]):.2%}")


if __name__ == "__main__":
    main()
