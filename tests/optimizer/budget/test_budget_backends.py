"""Backend contract: every exact backend gives the same optimum and the same dual signs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # budgetkit (--import-mode=importlib)
from budgetkit import article_config, config  # noqa: E402

from optimizer.budget import allocate
from optimizer.budget.backends import BACKENDS, EXACT_BACKENDS, SolveStatus, get_backend
from optimizer.budget.problem import LPProblem
from optimizer.errors import ScenarioError


def _hand_lp() -> LPProblem:
    """max 2 y1 + y2  s.t.  y1 + y2 <= 10,  y2 >= 7,  0 <= y1 <= 4,  y2 >= 0.

    By hand: y2 must be >= 7 and the budget row leaves 3 for y1 (worth 2 each, y1 <= 4 not
    binding): y = (3, 7), objective 13. One more unit of the first row buys one more y1: dual +2.
    Raising the floor of y2 by one moves one unit from y1 to y2: 1 - 2 = -1.
    """
    return LPProblem(
        c=np.array([2.0, 1.0]), A=sp.csr_matrix(np.array([[1.0, 1.0], [0.0, 1.0]])),
        row_lo=np.array([-np.inf, 7.0]), row_hi=np.array([10.0, np.inf]),
        col_lo=np.zeros(2), col_hi=np.array([4.0, np.inf]), integrality=np.zeros(2, dtype=np.int32),
    )


@pytest.mark.parametrize("name", list(BACKENDS))
def test_hand_lp_primal_and_normalised_duals(name: str) -> None:
    sol = BACKENDS[name](_hand_lp(), 30)
    tol = 1e-6 if name == "pdlp" else 1e-9
    assert sol.status == SolveStatus.OPTIMAL
    assert sol.x == pytest.approx([3.0, 7.0], abs=tol * 10)
    assert sol.objective == pytest.approx(13.0, abs=tol * 10)
    assert sol.row_dual == pytest.approx([2.0, -1.0], abs=1e-5)
    assert sol.solver == name and sol.solver_version


@pytest.mark.parametrize("name", list(BACKENDS))
def test_infeasible_and_unbounded_statuses(name: str) -> None:
    """y1 + y2 <= 10 with y2 >= 12 is infeasible; max y with no upper bound is unbounded."""
    bad = _hand_lp()
    infeasible = LPProblem(bad.c, bad.A, bad.row_lo, bad.row_hi, bad.col_lo, np.array([4.0, 5.0]), bad.integrality)
    infeasible = LPProblem(bad.c, bad.A, np.array([-np.inf, 12.0]), bad.row_hi, bad.col_lo, bad.col_hi, bad.integrality)
    assert BACKENDS[name](infeasible, 30).status in (SolveStatus.INFEASIBLE, SolveStatus.ERROR)
    if name != "pdlp":
        assert BACKENDS[name](infeasible, 30).status == SolveStatus.INFEASIBLE
    unb = LPProblem(np.array([1.0]), sp.csr_matrix((0, 1)), np.zeros(0), np.zeros(0), np.zeros(1),
                    np.array([np.inf]), np.zeros(1, dtype=np.int32))
    st = BACKENDS[name](unb, 30).status
    assert st in (SolveStatus.UNBOUNDED, SolveStatus.INFEASIBLE, SolveStatus.ERROR)
    assert st != SolveStatus.OPTIMAL


def _curvy_config():
    return config(
        total_budget={"amount": 1_000_000},
        segments=[{"name": "north", "response_multiplier": 1.2}, {"name": "south", "max_spend": 300_000}],
        periods=[{"name": "w1", "max_spend": 400_000}, {"name": "w2", "response_multiplier": 0.8}, {"name": "w3"}],
        channels=[
            {"name": "tv", "response": {"kind": "hill", "max_response": 900_000, "half_saturation_spend": 150_000,
                                        "shape": 0.8}, "min_spend": 100_000},
            {"name": "search", "response": {"kind": "log", "scale": 200_000, "saturation_spend": 30_000}, "max_share": 0.4},
            {"name": "social", "response": {"kind": "power", "coefficient": 300, "exponent": 0.5}, "segments": ["north"]},
            {"name": "display", "response": {"kind": "table", "points": [[50_000, 60_000], [100_000, 100_000],
                                                                        [200_000, 140_000]]}},
            {"name": "email", "cost_per_unit": 0.1, "response": {"kind": "linear", "roi": 1.1}, "max_units": 500_000},
        ],
    )


@pytest.mark.parametrize("make", [lambda: article_config("A"), lambda: article_config("B"), _curvy_config],
                         ids=["article-A", "article-B", "curves-segments-periods"])
def test_exact_backends_agree_and_pdlp_is_close(make) -> None:
    cfg = make()
    results = {name: allocate(cfg, solver=name, method="lp") for name in BACKENDS}
    ref = results["highs"]
    assert ref.status == "optimal"
    for name in EXACT_BACKENDS:
        r = results[name]
        assert r.status == "optimal", name
        # each run refines its own breakpoints, so plans agree to the certified gap (<= 1e-4 each)
        assert r.objective_value == pytest.approx(ref.objective_value, rel=2e-4), name
        assert r.optimality_gap <= cfg.gap_tolerance_relative
        # ... and every certified bound is above every plan's true value
        assert min(x.bound for x in results.values() if x.status == "optimal") >= r.objective_value * (1 - 1e-9)
    pd_ = results["pdlp"]
    assert pd_.status in ("optimal", "feasible", "error")
    if pd_.status != "error":
        assert pd_.objective_value == pytest.approx(ref.objective_value, rel=1e-4)


def test_exact_backends_same_optimum_on_the_same_lp() -> None:
    """The same piece LP (built once) solved by every backend: one optimum, one set of duals."""
    from optimizer.budget.estimate import estimate_spend
    from optimizer.budget.problem import build_lp, build_model, initial_pieces

    model = build_model(_curvy_config())
    pieces = initial_pieces(model, 10, estimate_spend(model))
    problem, _ = build_lp(model, pieces)
    sols = {name: BACKENDS[name](problem, 60) for name in BACKENDS}
    ref = sols["highs"]
    for name in EXACT_BACKENDS:
        assert sols[name].status == SolveStatus.OPTIMAL
        # CBC's answer comes through a text file: ~1e-7 relative
        assert sols[name].objective == pytest.approx(ref.objective, rel=1e-7), name
        assert sols[name].row_dual == pytest.approx(ref.row_dual, rel=1e-5, abs=1e-6), name
    assert sols["pdlp"].objective == pytest.approx(ref.objective, rel=1e-5)


def test_unknown_solver_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="solver is 'gurobi'; it must be one of highs, cbc, glop, pdlp"):
        get_backend("gurobi")


def test_pulp_highspy_and_ortools_load_and_solve_in_one_process() -> None:
    """SOLVER-NOTES: ortools 9.15 and highspy each ship libhighs.so.1; the pinned pair loads together.

    A fresh interpreter, so the import order is the risky one (pulp imports highspy first)."""
    code = r"""
import pulp, highspy
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model
from ortools.linear_solver.python import model_builder
p = pulp.LpProblem("t", pulp.LpMaximize); x = pulp.LpVariable("x", 0, 3); p += x
p.solve(pulp.PULP_CBC_CMD(msg=False)); assert pulp.value(x) == 3
h = highspy.Highs(); h.setOptionValue("output_flag", False)
h.addVar(0, 2); h.changeColCost(0, -1); h.run(); assert abs(h.getSolution().col_value[0] - 2) < 1e-9
s = pywraplp.Solver.CreateSolver("GLOP"); v = s.NumVar(0, 4, "v"); s.Maximize(v); s.Solve(); assert v.solution_value() == 4
m = cp_model.CpModel(); b = m.NewIntVar(0, 5, "b"); m.Maximize(b); cs = cp_model.CpSolver(); cs.Solve(m); assert cs.Value(b) == 5
mb = model_builder.Model(); y = mb.new_num_var(0, 6, "y"); mb.maximize(y); ms = model_builder.Solver("highs")
assert ms.solve(mb) == model_builder.SolveStatus.OPTIMAL and abs(ms.value(y) - 6) < 1e-9
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ok"


@pytest.mark.parametrize("name", list(BACKENDS))
def test_solvers_print_nothing_on_stdout(name: str, capfd) -> None:
    allocate(_curvy_config(), solver=name, method="lp")
    out, _ = capfd.readouterr()
    assert out == ""
