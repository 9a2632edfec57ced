"""Study behind the per-segment fit minimum (>= 500 customers, >= 50 repeat buyers; optimizer.churn.clv.grouped).

Run: .venv/bin/python tests/benchmarks/study_clv_segment_minimum.py   (about a minute on 2 cores)

For segment sizes 100-2,000 it simulates 40 BG/NBD customer bases with CDNOW-like rates in days
(r 0.24, alpha 31, a 0.79, b 2.43; T uniform over 180-365 days), fits BG/NBD on each and prints how
many fits converged, the error of the parameters (|log(estimate / truth)|) and the mean absolute
error of the repeat buyers' P(alive) against the true parameters. Table in docs/clv.md.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from optimizer.churn.clv import BetaGeoModel  # noqa: E402
from optimizer.churn.clv.simulate import simulate_bgnbd  # noqa: E402

TRUE = {"r": 0.24, "alpha": 31.0, "a": 0.79, "b": 2.43}


def main() -> None:
    truth = BetaGeoModel(params=TRUE)
    for n in (100, 250, 500, 1000, 2000):
        errs, n_conv, reps, pa = [], 0, [], []
        for s in range(40):
            T = np.random.default_rng(s).integers(180, 366, n).astype(float)
            x, tx, T = simulate_bgnbd(n, **TRUE, T=T, seed=s)
            reps.append((x > 0).sum())
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                m = BetaGeoModel().fit(x, tx, T)
            n_conv += bool(m.converged_ and not caught)
            errs.append([abs(np.log(m.params_[k] / TRUE[k])) for k in TRUE])
            pos = x > 0
            pa.append(np.mean(np.abs(m.p_alive(x[pos], tx[pos], T[pos]) - truth.p_alive(x[pos], tx[pos], T[pos]))))
        e = np.array(errs)
        print(f"n={n:5d} repeat buyers (median) {int(np.median(reps)):4d}; converged {n_conv}/40; median |log err| "
              f"r, alpha, a, b {np.round(np.median(e, axis=0), 2)}; 90th pct a, b {np.round(np.quantile(e[:, 2:], 0.9, axis=0), 2)}; "
              f"P(alive) mean abs error median {np.median(pa):.3f}, 90th pct {np.quantile(pa, 0.9):.3f}")


if __name__ == "__main__":
    main()
