"""CLV models benchmark: BG/NBD, Pareto/NBD and Gamma-Gamma fits on 1M customers.

Run: .venv/bin/python tests/benchmarks/bench_clv.py [--quick] [--n N]

Target (issue #12): 1M customers fitted in <= 10 s, also per segment (the churn section's
``fit_by: segment``: the pooled fit plus one fit per segment, 4 segments of 250k from different
BG/NBD parameters). Summaries are in whole days, as the segments
SQL produces them (T uniform over 1-730 days). The baseline in the same run is lifetimes 0.11.3
(BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter) at 100k customers when it is importable (it is not a project
dependency; it needs ``dill``); the ratio is printed. --quick uses 100k customers.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from optimizer.churn.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel  # noqa: E402
from optimizer.churn.clv.simulate import simulate_bgnbd  # noqa: E402


def make_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 731, n).astype(float)
    x, tx, T = simulate_bgnbd(n, 0.5, 20.0, 0.8, 2.5, T, seed=seed)
    tx = np.floor(tx)  # whole days, like the SQL summary
    m = np.where(x > 0, rng.gamma(6.0, 35.0 / 6.0, n) * rng.gamma(4.0, 1 / 3.0, n), 0.0).round(2)
    return x, tx, T, np.maximum(m, 0.01)


def make_segments(n: int, seed: int = 1):
    """Four segments of n/4 customers each from different BG/NBD parameters (rates per day)."""
    rng = np.random.default_rng(seed)
    params = [(0.5, 20.0, 0.8, 2.5), (1.5, 30.0, 0.4, 5.0), (0.3, 10.0, 1.5, 1.5), (2.5, 60.0, 0.6, 8.0)]
    parts = []
    for k, p in enumerate(params):
        m = n // 4 + (n % 4 if k == 0 else 0)
        T = rng.integers(1, 731, m).astype(float)
        x, tx, T = simulate_bgnbd(m, *p, T, seed=seed + k)
        parts.append((x, np.floor(tx), T, np.full(m, f"S{k + 1}")))
    return tuple(np.concatenate(c) for c in zip(*parts))


def timed(label, fn):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"{label:<44s} {dt:8.2f} s")
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    x, tx, T, m = make_data(n)
    print(f"customers: {n:,}; unique (x, t_x, T) rows: {len(np.unique(np.column_stack([x, tx, T]), axis=0)):,}")
    bg, t_bg = timed(f"BG/NBD fit ({n:,})", lambda: BetaGeoModel().fit(x, tx, T))
    print("  ", bg)
    pn, t_pn = timed(f"Pareto/NBD fit ({n:,})", lambda: ParetoNBDModel().fit(x, tx, T))
    print("  ", pn)
    gg, t_gg = timed(f"Gamma-Gamma fit ({int((x > 0).sum()):,} repeaters)", lambda: GammaGammaModel().fit(x, m))
    print("  ", gg)
    _, t_pa = timed(f"P(alive) + E[Y(30)] for {n:,}", lambda: (bg.p_alive(x, tx, T), bg.expected_purchases(30, x, tx, T)))
    print(f"target BG/NBD + Gamma-Gamma <= 10 s: {t_bg + t_gg:.2f} s -> {'met' if t_bg + t_gg <= 10 else 'NOT met'}")
    seg = make_segments(n)
    from optimizer.churn.clv.grouped import fit_grouped

    for model in ("bgnbd", "paretonbd"):
        g, t_g = timed(f"{model} pooled + per segment ({n:,}, 4 segments)",
                       lambda: fit_grouped(model, *seg[:3], seg[3]))
        print("   ", "; ".join(f"{f.segment}: {f.fit} n={f.n_customers:,}" for f in g.segments))
        print(f"target {model} per-segment fits (pooled + 4) <= 10 s: {t_g:.2f} s -> {'met' if t_g <= 10 else 'NOT met'}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoFitter, GammaGammaFitter
    except Exception as exc:  # noqa: BLE001 - any import failure means "no baseline"
        print(f"lifetimes baseline skipped ({type(exc).__name__}: {exc})")
        return
    k = min(n, 100_000)
    xs, txs, Ts, ms = x[:k], tx[:k], T[:k], m[:k]
    ours, t_ours = timed(f"dmpopt BG/NBD + GG ({k:,})", lambda: (BetaGeoModel().fit(xs, txs, Ts), GammaGammaModel().fit(xs, ms)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, t_lt = timed(f"lifetimes BG/NBD + GG ({k:,})", lambda: (
            BetaGeoFitter().fit(xs, txs, Ts), GammaGammaFitter().fit(xs[xs > 0], ms[xs > 0])))
    diff = max(abs(ours[0].params_[key] - theirs[0].params_[key]) / abs(theirs[0].params_[key]) for key in ("r", "alpha", "a", "b"))
    print(f"lifetimes / dmpopt time ratio at {k:,}: {t_lt / t_ours:.1f}x; max relative BG/NBD parameter difference {diff:.2e}")
    from lifetimes import ParetoNBDFitter

    pn_ours, t_pn_ours = timed(f"dmpopt Pareto/NBD ({k:,})", lambda: ParetoNBDModel().fit(xs, txs, Ts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pn_lt, t_pn_lt = timed(f"lifetimes Pareto/NBD ({k:,})", lambda: ParetoNBDFitter().fit(xs, txs, Ts))
    diff = max(abs(pn_ours.params_[key] - pn_lt.params_[key]) / abs(pn_lt.params_[key]) for key in ("r", "alpha", "s", "beta"))
    print(f"lifetimes / dmpopt Pareto/NBD time ratio at {k:,}: {t_pn_lt / t_pn_ours:.1f}x; "
          f"max relative parameter difference {diff:.2e}")


if __name__ == "__main__":
    main()
