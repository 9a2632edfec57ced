"""Study: where the planning regret of fitted curves comes from (56 simulated sets, paired variants).

Run: .venv/bin/python tests/benchmarks/study_curves_regret.py [--variants base,oracle,...] [--replicates 8]
     [--spend robyn-demo|smooth]

Not a unit test and not the headline benchmark (bench_curves.py, which plans with the project's
allocator). This study answers "which part of the estimate costs the regret, and does a change of the
estimator help beyond the noise of the sets?", so it needs many sets and many variants fast:

* sets: the 7 configurations of bench_curves.py with noise <= 10 % (3-20 channels, 104-208 weeks), each
  with ``--replicates`` seeds (seed, seed + 10, ...; 8 -> 56 sets), Robyn-demo-like spend by default;
* plan: each channel within 0.5-2x its mean historical spend (Robyn's allocator default), the budget =
  mean total spend of the last 13 weeks, maximised by an exact dynamic programme over a grid of
  ``budget / 1000`` steps (separable curves: exact on the grid, any shape; the grid step costs at most one
  step of spend per channel). The same planner serves the fitted and the true curves, so its grid error
  cancels to first order; on the 14 sets of bench_curves.py it reproduced the allocator's regret (3.10 %
  mean / 11.01 % worst vs 3.15 % / 10.86 %);
* variants (``--variants``, comma-separated):

  - ``base``: ``CurveModel`` as shipped (MAP fit, 8 starts);
  - ``oracle``: the TRUE decay, half-saturation and shape, coefficients by NNLS (optimizer.curves.regret);
  - ``true-d``, ``true-k``, ``true-n``, ``true-dk``: the fit with the true decay / half-saturation (kappa) /
    shape pinned (bounds lo = hi = truth) and the rest fitted: how much regret each parameter's error costs;
  - ``no-prior``: ``prior=False``;
  - ``prior=d/sd_d/log_kappa/sd_k/n/sd_n``: another prior (e.g. ``prior=0.4/0.25/0/0.7/1.75/0.72``, the
    moments of U(0, 0.8) decays and U(0.5, 3) shapes, Robyn's usual hyperparameter ranges);
  - ``ev:METHOD:N``: plan on the mean over ``N`` curve draws of the fit's uncertainty method (``bootstrap``
    or ``mcmc``, ``CurveModel(uncertainty=...)``) instead of the point fit: the Bayes decision when the
    draws are posterior draws (maximises the expected response under them);
  - ``evfit:METHOD:N``: as ``ev:``, but the mean of the draws is replaced by the Hill curve closest to it
    (least squares on 120 spends over 0-3x mean spend, from the point fit's parameters): what a curves file
    with one closed-form curve per channel can carry;
  - ``pm:METHOD:N``: the shipped option ``CurveModel(point="posterior_mean", uncertainty=METHOD, n_bootstrap=N)``
    (``fit: {point: posterior_mean}``), i.e. ``evfit:`` as the fit itself computes it;
  - ``hold-weak``: the base fit, but channels with coefficient t < 2 (the fit's weak-signal warning) held at
    their mean spend of the last 13 weeks and only the others planned (the literal reading of "keep
    them near current spend").

Prints per variant: mean, median, worst regret, share of sets within 5 %, and the paired difference
to the first variant with its standard error (sets differ far more than variants: compare paired).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import optimizer.curves.model as curve_model  # noqa: E402
from optimizer.curves.bayes_curve import mean_of_hill_draws, posterior_mean_curve  # noqa: E402
from optimizer.curves.model import CurveModel  # noqa: E402
from optimizer.curves.regret import oracle_curves  # noqa: E402
from optimizer.curves.results import response_value  # noqa: E402
from optimizer.curves.simulate import ROBYN_DEMO_SPEND, simulate  # noqa: E402

#: (channels, weeks, noise, seed) of bench_curves.py's sets with noise <= 10 %.
CONFIGS = [(3, 104, 0.02, 0), (5, 156, 0.05, 1), (5, 156, 0.10, 2), (8, 156, 0.05, 3), (10, 208, 0.05, 4),
           (12, 156, 0.10, 5), (20, 156, 0.05, 6)]
KW = dict(control_cols=["price"], holiday_cols=["holiday"])


def grid_plan(funcs: list, budget: float, lo: list[float], hi: list[float], n: int = 1000) -> np.ndarray:
    """Exact best split of ``budget`` over separable curves on a grid of ``budget / n`` (dynamic programme).

    ``funcs[c](x)`` is channel c's response at spends ``x`` (array). Channel c may take grid spends in
    ``[lo[c], hi[c]]``; the total is at most ``budget``.
    """
    step = budget / n
    ks = np.arange(n + 1)
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    choice = []
    # value[b, k] = best[b - k] + f(k step); only k <= b is allowed
    shift = ks[:, None] - ks[None, :]
    for c, f in enumerate(funcs):
        x = ks * step
        ok = (x >= lo[c] - 1e-9 * budget) & (x <= hi[c] + 1e-9 * budget)
        val = np.where(ok, f(x), -np.inf)
        cand = np.where(shift >= 0, best[np.clip(shift, 0, n)] + val[None, :], -np.inf)
        arg = np.argmax(cand, axis=1)
        choice.append(arg)
        best = cand[ks, arg]
    b = int(np.argmax(best))
    alloc = np.zeros(len(funcs))
    for c in range(len(funcs) - 1, -1, -1):
        k = int(choice[c][b])
        alloc[c] = k * step
        b -= k
    return alloc


def curve_fn(resp: dict):
    return lambda x: response_value(resp, x)


def mean_of_draws(draws: dict[str, list[float]]):
    """``x -> mean over draws`` of the fit's columnar Hill draws (optimizer.curves.bayes_curve)."""
    if set(draws) != {"max_response", "half_saturation_spend", "shape"}:
        raise ValueError(f"ev: draws of {sorted(draws)}; this study averages Hill draws only")
    return lambda x: mean_of_hill_draws(draws, x)


_FITS: dict = {}


def fit_curves(s, seed: int, variant: str) -> tuple[dict, object]:
    """Fitted curves (budget schema, or callables for ``ev:``) of one variant, and the fit result (None for
    the oracle)."""
    if variant == "oracle":
        return oracle_curves(s), None
    opts: dict = {}
    pin = ""
    if variant.startswith("pm:"):
        _, method, n = variant.split(":")
        res = CurveModel(seed=seed, n_bootstrap=int(n), holdout_periods=0, uncertainty=method,
                         point="posterior_mean").fit(s.data, spend_cols=s.spend_columns(), **KW).result
        return {c: res.channels[c].response for c in s.channels}, res
    if variant.startswith(("ev:", "evfit:")):
        how, method, n = variant.split(":")
        key = (seed, tuple(s.channels), s.settings["n_weeks"], s.settings["noise"], method, n)  # ev:, evfit: share it
        if key not in _FITS:
            _FITS.clear()
            _FITS[key] = CurveModel(seed=seed, n_bootstrap=int(n), holdout_periods=0, uncertainty=method).fit(
                s.data, spend_cols=s.spend_columns(), **KW).result
        res = _FITS[key]
        means = {c: mean_of_draws(res.channels[c].draws) for c in s.channels}
        if how == "ev":
            return means, res
        return {c: posterior_mean_curve(res.channels[c].draws, res.channels[c].response,
                                        3.0 * float(s.data[f"spend_{c}"].mean())) for c in s.channels}, res
    if variant == "no-prior":
        opts["prior"] = False
    elif variant.startswith("true-"):
        pin = variant[5:]
    model = CurveModel(seed=seed, n_bootstrap=0, holdout_periods=0, **opts)
    if pin:
        # pin the true values through the bounds (lo = hi): the fit keeps them, the prior there is constant
        original = model._design

        def pinned(h, lift):
            design, y_scale, groups = original(h, lift)
            truth = np.array([[t.decay, np.log(t.half_saturation_spend / design.scale[i]), t.shape]
                              for i, t in enumerate(s.truth.values())])
            b = design.bounds.copy()
            for k, p in enumerate("dkn"):
                if p in pin:
                    v = np.clip(truth[:, k], b[:, k, 0], b[:, k, 1])
                    b[:, k, 0] = b[:, k, 1] = v
            return replace(design, bounds=b), y_scale, groups

        model._design = pinned
    res = model.fit(s.data, spend_cols=s.spend_columns(), **KW).result
    return {c: res.channels[c].response for c in s.channels}, res


def one_set(C: int, T: int, noise: float, seed: int, spend: dict, variants: list[str]) -> dict[str, float]:
    s = simulate(C, T, noise, seed=seed, **spend)
    ch = s.channels
    budget = float(s.data[[f"spend_{c}" for c in ch]].iloc[-13:].sum(axis=1).mean())
    mean = [float(s.data[f"spend_{c}"].mean()) for c in ch]
    lo, hi = [0.5 * m for m in mean], [2 * m for m in mean]
    true_f = [s.truth[c].response for c in ch]

    def true_value(plan) -> float:
        return sum(float(true_f[i](np.array([plan[i]]))[0]) for i in range(len(ch)))

    top = true_value(grid_plan(true_f, budget, lo, hi))
    out = {}
    for v in variants:
        if v.startswith("prior="):
            vals = [float(x) for x in v[6:].split("/")]
            saved = curve_model.PRIOR_MEAN, curve_model.PRIOR_SD
            curve_model.PRIOR_MEAN, curve_model.PRIOR_SD = tuple(vals[0::2]), tuple(vals[1::2])
            try:
                curves, _ = fit_curves(s, seed, "base")
            finally:
                curve_model.PRIOR_MEAN, curve_model.PRIOR_SD = saved
        else:
            curves, res = fit_curves(s, seed, "base" if v == "hold-weak" else v)
        funcs = [curves[c] if callable(curves[c]) else curve_fn(curves[c]) for c in ch]
        if v == "hold-weak":
            held = [i for i, c in enumerate(ch) if res.channels[c].signal_t < 2]
            fixed = {i: min(max(float(s.data[f"spend_{ch[i]}"].iloc[-13:].mean()), lo[i]), hi[i]) for i in held}
            free = [i for i in range(len(ch)) if i not in fixed]
            part = grid_plan([funcs[i] for i in free], budget - sum(fixed.values()),
                             [lo[i] for i in free], [hi[i] for i in free])
            plan = np.zeros(len(ch))
            plan[free] = part
            for i, x in fixed.items():
                plan[i] = x
        else:
            plan = grid_plan(funcs, budget, lo, hi)
        out[v] = 1 - true_value(plan) / top
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="base,oracle,true-d,true-n,true-k,true-dk,no-prior,hold-weak")
    ap.add_argument("--replicates", type=int, default=8, help="seeds per configuration (8 -> 56 sets)")
    ap.add_argument("--spend", choices=["robyn-demo", "smooth"], default="robyn-demo")
    a = ap.parse_args()
    import os

    variants = a.variants.split(",")
    spend = ROBYN_DEMO_SPEND if a.spend == "robyn-demo" else {}
    print(f"load average: {os.getloadavg()}; spend regime {a.spend}; variants {variants}", flush=True)
    rows = []
    t0 = time.perf_counter()
    for k in range(a.replicates):
        for C, T, noise, seed in CONFIGS:
            r = one_set(C, T, noise, seed + 10 * k, spend, variants)
            rows.append(r)
            print(f"C={C:2d} T={T} noise={noise:.2f} seed={seed + 10 * k:2d}: "
                  + ", ".join(f"{v} {r[v]:.2%}" for v in variants), flush=True)
    print(f"{len(rows)} sets in {time.perf_counter() - t0:.0f} s; regret within 0.5-2x mean spend (target: mean <= 2 %, "
          "worst <= 5 %):")
    first = np.array([r[variants[0]] for r in rows])
    for v in variants:
        x = np.array([r[v] for r in rows])
        d = x - first
        print(f"  {v:34s} mean {x.mean():6.2%}  median {np.median(x):6.2%}  worst {x.max():6.2%}  within 5 %: "
              f"{np.mean(x <= 0.05):4.0%}  | vs {variants[0]}: {d.mean():+.2%} +- {d.std(ddof=1) / np.sqrt(len(d)):.2%} (se)")


if __name__ == "__main__":
    main()
