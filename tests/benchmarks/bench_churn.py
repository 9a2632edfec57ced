"""Churn benchmark: fit on 1M customers x 8 covariates, and scoring throughput.

Run: /work/venv/bin/python tests/benchmarks/bench_churn.py [--quick] [--no-lifelines]

Targets (issue #5): Cox fit <= 20 s, Weibull AFT fit <= 10 s on 1M x 8; scoring >= 1M
customers/s. The baseline in the same run is lifelines (CoxPHFitter, WeibullAFTFitter) on the same
data; ratios are printed. --quick uses 100k customers (runs in well under 60 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from optimizer.churn.aft import fit_aft  # noqa: E402
from optimizer.churn.conditional import churn_within  # noqa: E402
from optimizer.churn.fitters import fit_kind  # noqa: E402
from optimizer.churn.timing import TimingSettings, plan_contacts  # noqa: E402


def make_data(n: int, p: int = 8, seed: int = 0):
    """Weibull PH lifetimes in whole days with censoring: like a real customer table."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(-0.5, 0.5, p)
    T = np.ceil(rng.weibull(1.5, size=n) * np.exp(-X @ beta / 1.5) * 300)
    C = rng.uniform(100, 700, size=n)
    return np.minimum(T, C).clip(1), (T <= C).astype(np.int8), X


def timed(fn, repeat: int = 1):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100k customers instead of 1M")
    ap.add_argument("--no-lifelines", action="store_true", help="skip the lifelines baseline")
    ap.add_argument("--auto", action="store_true", help="only time prepare() + ChurnModel('auto').fit()")
    args = ap.parse_args()
    n = 100_000 if args.quick else 1_000_000
    T, E, X = make_data(n)
    cols = [f"x{i}" for i in range(X.shape[1])]
    if args.auto:
        from optimizer.churn.data import prepare
        from optimizer.churn.models import ChurnModel

        df = pd.DataFrame(X, columns=cols)
        df["T"], df["E"] = T, E
        t_prep, data = timed(lambda: prepare(df, "T", "E"))
        t_fit, model = timed(lambda: ChurnModel("auto", horizon_days=90, seed=0).fit(data))
        print(f"n = {n:,}: prepare {t_prep:.2f} s, auto selection (6 models) {t_fit:.2f} s -> {model.report_.selected}")
        return
    print(f"n = {n:,} customers x {X.shape[1]} covariates, {E.mean():.1%} churned, {np.unique(T).size} distinct days")

    t_cox, cox = timed(lambda: fit_kind("cox", T, E, X, cols))
    t_aft, aft = timed(lambda: fit_aft(T, E, X, "weibull"))
    print(f"dmpopt Cox (Efron)     fit: {t_cox:7.2f} s   (target <= 20 s at 1M)")
    print(f"dmpopt Weibull AFT     fit: {t_aft:7.2f} s   (target <= 10 s at 1M)")
    for dist in ("loglogistic", "lognormal"):
        t, _ = timed(lambda: fit_aft(T, E, X, dist))
        print(f"dmpopt {dist:15s} fit: {t:7.2f} s")

    if not args.no_lifelines:
        from lifelines import CoxPHFitter, WeibullAFTFitter

        df = pd.DataFrame(X, columns=cols)
        df["T"], df["E"] = T, E
        t_lc, lc = timed(lambda: CoxPHFitter().fit(df, "T", "E"))
        t_la, la = timed(lambda: WeibullAFTFitter().fit(df, "T", "E"))
        d_cox = np.max(np.abs(lc.params_.to_numpy() - cox.fit.params))
        d_aft = np.max(np.abs(la.params_.loc["lambda_"].loc[cols].to_numpy() - aft.params))
        print(f"lifelines CoxPHFitter  fit: {t_lc:7.2f} s   ratio lifelines/dmpopt = {t_lc / t_cox:5.1f}x  max |coef diff| = {d_cox:.1e}")
        print(f"lifelines WeibullAFT   fit: {t_la:7.2f} s   ratio lifelines/dmpopt = {t_la / t_aft:5.1f}x  max |coef diff| = {d_aft:.1e}")

    rng = np.random.default_rng(1)
    tenure = rng.uniform(1, 700, size=n)
    weib = fit_kind("weibull_aft", T, E, X, cols)
    for name, model in (("Weibull AFT", weib), ("Cox", cox)):
        t, p = timed(lambda: churn_within(model, X, tenure, 30), repeat=3)
        print(f"score P(churn in 30 d | tenure), {name:11s}: {n / t / 1e6:6.2f} M customers/s  (target >= 1 M/s)")
    if not args.no_lifelines:
        sub = df.iloc[:100_000]
        t_ls, _ = timed(lambda: la.predict_survival_function(sub, times=[30.0]))
        t_ours, _ = timed(lambda: weib.survival(np.full(100_000, 30.0), X[:100_000]), repeat=3)
        print(f"S(30 d | x) for 100k: lifelines {t_ls:.3f} s, dmpopt {t_ours:.4f} s, ratio {t_ls / t_ours:.0f}x")
    m = min(n, 200_000)
    t, plan = timed(lambda: plan_contacts(weib, X[:m], tenure[:m], TimingSettings(30, 0.1, 15, 90),
                                          uplift=0.2, clv=300, contact_cost=5))
    print(f"contact timing (91-day grid) + economics: {m / t / 1e3:7.0f} k customers/s on {m:,}")


if __name__ == "__main__":
    main()
