"""Budget allocator benchmark: size targets and two baselines, measured in one run.

    /work/venv/bin/python tests/benchmarks/bench_budget.py            # full (1e5 and 1e6 variables)
    /work/venv/bin/python tests/benchmarks/bench_budget.py --quick    # reduced sizes, < 60 s

1. 1e5 LP variables (50 channels x 20 segments x 10 weeks x 10 pieces): build + solve, target <= 2 s.
2. 1e6 LP variables (50 x 20 x 100 weeks x 10 pieces): YAML -> written plan, target <= 20 s.
3. scipy SLSQP on the smooth curves (what PyMC-Marketing / Robyn do) on the same kind of instance
   (smaller: SLSQP is dense): objective ratio (want dmpopt >= SLSQP x (1 - 1e-4)) and time ratio.
4. The same first LP built with one pulp variable per piece: build-time ratio (and the solve).

Figures go to docs/performance-budget.md. Timings on a shared 2-core machine vary 2-3x: compare
the ratios printed within one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from optimizer.budget.allocation import allocate, cell_response
from optimizer.budget.estimate import estimate_spend
from optimizer.budget.problem import build_lp, build_model, initial_pieces
from optimizer.budget.synthetic import synthetic_config


def _t(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_size(n_seg: int, n_weeks: int, label: str, target: float) -> None:
    cfg = synthetic_config(50, n_seg, n_weeks, seed=1)
    (model, pieces, problem), t_build = _t(lambda: _build(cfg))
    sol, t_solve = _t(lambda: _solve_first(model, pieces, problem))
    res, t_total = _t(lambda: allocate(cfg))
    print(f"[{label}] first LP {problem.n_cols:,} variables x {problem.n_rows} rows; array build {t_build:.2f} s, "
          f"HiGHS solve {t_solve:.2f} s ({sol.status.value}; {sol.message}) -> build + solve {t_build + t_solve:.2f} s "
          f"vs target {target:g} s (ratio {(t_build + t_solve) / target:.2f})")
    print(f"[{label}] allocate (build + solve + certify + refine): {t_total:.2f} s, status {res.status}, "
          f"gap {res.optimality_gap:.1e}, final LP {res.n_variables:,} variables, {res.refinement_rounds} refinements"
          f" -> {'OK' if t_total <= target else 'ABOVE'} target {target:g} s (ratio {t_total / target:.2f})")


def _solve_first(model, pieces, problem):
    from optimizer.budget.allocation import _cell_groups
    from optimizer.budget.backends import get_backend
    from optimizer.budget.sifting import solve_sifted

    return solve_sifted(problem, _cell_groups(model)[pieces.cell], pieces.slope, get_backend("highs"), 600)


def _build(cfg):
    model = build_model(cfg)
    guess = estimate_spend(model)
    pieces = initial_pieces(model, cfg.pieces_per_curve, guess)
    problem, _ = build_lp(model, pieces, np.where(np.isfinite(guess), guess, 0.0))
    return model, pieces, problem


def bench_yaml_to_plan(n_seg: int, n_weeks: int, label: str, target: float) -> None:
    from optimizer.io import atomic_write_bytes
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    cfg = synthetic_config(50, n_seg, n_weeks, seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        doc = {"name": "big", "currency": "USD", "budget": cfg.model_dump(mode="json", exclude_none=True)}
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        t0 = time.perf_counter()
        plan = run(load_scenario(path))
        for name, data in plan.files().items():
            atomic_write_bytes(Path(tmp) / "out" / name, data)
        elapsed = time.perf_counter() - t0
        res = plan.sections["budget"][1]
        n_first = 50 * n_seg * n_weeks * cfg.pieces_per_curve
        print(f"[{label}] YAML -> written plan, ~{n_first:,} first-LP variables: {elapsed:.2f} s, status {res.status}, "
              f"gap {res.optimality_gap:.1e}, final LP {res.n_variables:,} variables "
              f"-> {'OK' if elapsed <= target else 'ABOVE'} target {target:g} s (ratio {elapsed / target:.2f})")


def bench_slsqp(n_seg: int, n_weeks: int, label: str) -> None:
    """Same instance, scipy SLSQP on the smooth curves with the same linear constraints."""
    from scipy.optimize import minimize

    cfg = synthetic_config(50, n_seg, n_weeks, seed=3)
    res, t_ours = _t(lambda: allocate(cfg))
    model = build_model(cfg)
    cells = model.cells
    n = cells.n
    upper = np.where(np.isfinite(cells.upper), cells.upper, 1e12)
    cons = []
    for g in model.groups:
        for r in range(len(g.entities)):
            member = (g.cell_row == r).astype(float)
            if np.isfinite(g.hi[r]):
                cons.append({"type": "ineq", "fun": lambda x, m=member, h=g.hi[r]: h - m @ x, "jac": lambda x, m=member: -m})
            if np.isfinite(g.lo[r]):
                cons.append({"type": "ineq", "fun": lambda x, m=member, lo=g.lo[r]: m @ x - lo, "jac": lambda x, m=member: m})

    def neg(x):
        return -float(cell_response(model, x).sum())

    def grad(x):
        out = np.zeros(n)
        for ci, curve in enumerate(model.curves):
            m = cells.channel == ci
            out[m] = curve.slope(np.maximum(x[m], 1e-9))
        return -out * cells.multiplier

    amount = cfg.total_budget.amount
    x0 = np.minimum(np.full(n, amount / n), upper)
    sq, t_sq = _t(lambda: minimize(neg, x0, jac=grad, method="SLSQP", bounds=list(zip(np.zeros(n), upper)),
                                   constraints=cons, options={"maxiter": 1000, "ftol": 1e-10}))
    sq_val = -sq.fun
    viol = max([0.0] + [-c["fun"](sq.x) for c in cons])
    print(f"[{label}] {n} cells: dmpopt {res.objective_value:,.2f} in {t_ours:.2f} s (gap {res.optimality_gap:.1e}); "
          f"SLSQP {sq_val:,.2f} in {t_sq:.2f} s ({sq.message}; worst row violation {viol:.2e})")
    print(f"[{label}] dmpopt's certified bound {res.bound:,.2f} is "
          f"{'above' if res.bound >= sq_val * (1 - 1e-12) else 'BELOW (a bug!)'} SLSQP's value")
    print(f"[{label}] objective ratio dmpopt/SLSQP = {res.objective_value / sq_val:.6f} "
          f"(want >= {1 - 1e-4}); time ratio SLSQP/dmpopt = {t_sq / t_ours:.1f}x")


def bench_pulp_objects(n_seg: int, n_weeks: int, label: str) -> None:
    """Build the same first LP with one pulp variable per piece vs the array build."""
    import pulp

    cfg = synthetic_config(50, n_seg, n_weeks, seed=1)
    (model, pieces, problem), t_arrays = _t(lambda: _build(cfg))

    def build_pulp():
        prob = pulp.LpProblem("budget", pulp.LpMaximize)
        make = prob.add_variable if hasattr(prob, "add_variable") else pulp.LpVariable
        ys = [make(f"y{j}", lowBound=0, upBound=float(w)) for j, w in enumerate(problem.col_hi)]
        prob += pulp.lpDot(problem.c.tolist(), ys)
        A = problem.A
        for r in range(problem.n_rows):
            cols = A.indices[A.indptr[r]:A.indptr[r + 1]]
            vals = A.data[A.indptr[r]:A.indptr[r + 1]]
            expr = pulp.LpAffineExpression([(ys[j], float(v)) for j, v in zip(cols, vals)])
            if np.isfinite(problem.row_hi[r]):
                prob += (expr <= float(problem.row_hi[r]), f"u{r}")
            if np.isfinite(problem.row_lo[r]):
                prob += (expr >= float(problem.row_lo[r]), f"l{r}")
        return prob

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pulp 3.3 v4-migration notices
        _, t_pulp = _t(build_pulp)
    print(f"[{label}] {problem.n_cols:,} variables: array build {t_arrays:.2f} s vs one pulp object per "
          f"variable {t_pulp:.2f} s -> ratio {t_pulp / t_arrays:.1f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced sizes (< 60 s)")
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]}; quick={args.quick}")
    if args.quick:
        bench_size(5, 10, "2.5e4 vars", 2.0)
        bench_yaml_to_plan(10, 10, "5e4 vars yaml", 20.0)
        bench_slsqp(1, 2, "vs SLSQP")
        bench_pulp_objects(5, 10, "vs pulp objects")
    else:
        bench_size(20, 10, "1e5 vars", 2.0)
        bench_yaml_to_plan(20, 100, "1e6 vars yaml", 20.0)
        bench_slsqp(4, 5, "vs SLSQP")
        bench_pulp_objects(20, 10, "vs pulp objects")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
