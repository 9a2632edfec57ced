"""Plan on a REAL Meridian fit's posterior: import (draws carried as table draws) -> ``draws: true`` -> risk plan.

The fixture is the google-meridian 2.1.0 fit of tests/fixtures/curves/meridian/ (3 channels, 80 weeks, 100
posterior draws; see tests/optimizer/curves/test_import_meridian.py for its provenance). Known answer for the
plan: an INDEPENDENT linear programme written here (hypograph form, solved by scipy.optimize.linprog) instead
of the risk module's chord-piece LP:

* each draw's per-period table curve is concave and non-decreasing from (0, 0), so
  ``f_{s,i}(x) = min_k (y_k + m_k (x - x_k))`` over its pieces (the flat piece after the last knot included);
* expected value: ``max 1/S sum_s sum_i t_{s,i}`` with ``t_{s,i} <= y_k + m_k (x_i - x_k)`` for every piece,
  ``sum_i x_i = B``, ``x >= 0``;
* CVaR (Rockafellar and Uryasev 2000, Theorem 1): ``max eta - 1/(alpha S) sum_s u_s`` with
  ``u_s >= eta - sum_i t_{s,i}``, ``u_s >= 0``.

The reported expected response and CVaR are also recomputed from the curves file's draws (``evaluate_draws``)
at the planned spends, and a brute-force grid over the budget split checks that no split does better.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.curves.curvefile import evaluate_draws, load_curves, sidecar_path

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "curves" / "meridian" / "meridian_mmm.binpb"
BUDGET = 60_000.0  # per week; the knots reach 71.8k (tv), 24.6k (search), 18.0k (social)
runner = CliRunner()

SCENARIO = """\
name: meridian-posterior
currency: USD
budget:
  total_budget: {{amount: {budget}, mode: equal}}
  channels:
  - name: tv
    response: {{from: curves/curves.yaml, channel: tv, draws: true}}
  - name: search
    response: {{from: curves/curves.yaml, channel: search, draws: true}}
  - name: social
    response: {{from: curves/curves.yaml, channel: social, draws: true}}
  advanced:
    uncertainty: {{objective: {objective}, cvar_level: 0.1}}
"""


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """``dmpopt curves import --from meridian`` of the real fit into <tmp>/curves (draws in the sidecar: 100 > 50)."""
    root = tmp_path_factory.mktemp("meridian_risk")
    res = runner.invoke(app, ["curves", "import", "--from", "meridian", str(REAL), "--out", str(root / "curves"),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    assert "tv: table 10 points, 100 draws" in res.output
    return root


def _scenario(root: Path, objective: str, name: str = "s.yaml", budget: float = BUDGET) -> Path:
    p = root / name
    p.write_text(SCENARIO.format(objective=objective, budget=budget), encoding="utf-8")
    return p


def _pieces(knots: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intercept, slope) of every affine piece of the table through (0, 0), the knots, then flat."""
    x = np.r_[0.0, knots]
    v = np.r_[0.0, y]
    m = np.diff(v) / np.diff(x)
    b = v[:-1] - m * x[:-1]
    return np.r_[b, v[-1]], np.r_[m, 0.0]


def _independent_lp(draws: list, objective: str, alpha: float) -> tuple[float, np.ndarray]:
    """Optimum of the hypograph LP of the module docstring (scipy linprog, HiGHS dual simplex)."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    S, n = draws[0].n_draws, len(draws)
    cvar = objective == "cvar"
    # columns: x (n) | t (S*n, index s*n + i) | [eta | u (S)]
    nt = S * n
    ncol = n + nt + (1 + S if cvar else 0)
    rows, cols, vals, rhs = [], [], [], []
    r = 0
    for i, d in enumerate(draws):
        knots = np.asarray(d.spend)
        for s, y in enumerate(np.asarray(d.params["response"])):
            b, m = _pieces(knots, y)
            k = b.size
            # t_{s,i} - m_k x_i <= b_k
            rows += [np.arange(r, r + k), np.arange(r, r + k)]
            cols += [np.full(k, n + s * n + i), np.full(k, i)]
            vals += [np.ones(k), -m]
            rhs.append(b)
            r += k
    if cvar:
        eta, u0 = n + nt, n + nt + 1
        # eta - sum_i t_{s,i} - u_s <= 0
        for s in range(S):
            rows += [np.full(n + 2, r)]
            cols += [np.r_[eta, n + s * n + np.arange(n), u0 + s]]
            vals += [np.r_[1.0, -np.ones(n), -1.0]]
            rhs.append(np.zeros(1))
            r += 1
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, ncol))
    c = np.zeros(ncol)
    if cvar:
        c[n + nt] = -1.0
        c[n + nt + 1:] = 1.0 / (alpha * S)
    else:
        c[n:n + nt] = -1.0 / S
    A_eq = np.zeros((1, ncol))
    A_eq[0, :n] = 1.0
    bounds = [(0, None)] * n + [(None, None)] * nt + ([(None, None)] + [(0, None)] * S if cvar else [])
    res = linprog(c, A_ub=A, b_ub=np.concatenate(rhs), A_eq=A_eq, b_eq=[BUDGET], bounds=bounds, method="highs-ds")
    assert res.status == 0, res.message
    return -res.fun, res.x[:n]


def _my_cvar(values: np.ndarray, alpha: float) -> float:
    """Mean of the worst alpha share (alpha S = 10 draws here, a whole number)."""
    k = int(round(alpha * values.size))
    return float(np.sort(values)[:k].mean())


@pytest.mark.parametrize("objective", ["expected", "cvar"])
def test_meridian_posterior_plan_matches_an_independent_lp(imported, objective):
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    cf = load_curves(imported / "curves" / "curves.yaml")
    assert sidecar_path(imported / "curves" / "curves.yaml").exists()
    names = ["tv", "search", "social"]
    draws = [cf.channels[c].draws for c in names]
    doc = run(load_scenario(_scenario(imported, objective)), seed=1).to_dict()
    b = doc["sections"]["budget"] if "sections" in doc else doc["budget"]
    assert b["status"] == "optimal"
    x = np.array([next(a["spend"] for a in b["allocations"] if a["channel"] == c) for c in names])
    assert x.sum() == pytest.approx(BUDGET, rel=1e-9) and np.all(x >= -1e-9)

    # the reported figures are the curves file's draws evaluated at the plan
    R = sum(evaluate_draws(d, [xi])[:, 0] for d, xi in zip(draws, x))
    risk = b["risk"]
    assert risk["expected_response"] == pytest.approx(R.mean(), rel=1e-9)
    assert risk["cvar_response"] == pytest.approx(_my_cvar(R, 0.1), rel=1e-9)
    np.testing.assert_allclose(risk["draw_response"], R, rtol=1e-9)

    # optimal against the independent formulation
    got = R.mean() if objective == "expected" else _my_cvar(R, 0.1)
    best, x_ref = _independent_lp(draws, objective, 1.0 if objective == "expected" else 0.1)
    assert got == pytest.approx(best, rel=1e-9)  # measured: 1e-15
    np.testing.assert_allclose(x, x_ref, atol=1e-6 * BUDGET)  # the optimum is unique here (a vertex at the knots)
    R_ref = sum(evaluate_draws(d, [xi])[:, 0] for d, xi in zip(draws, x_ref))
    assert (R_ref.mean() if objective == "expected" else _my_cvar(R_ref, 0.1)) == pytest.approx(best, rel=1e-9)

    # and no split of the budget on a 500-currency grid does better
    g = np.arange(0.0, BUDGET + 1, 500.0)
    xt, xs = np.meshgrid(g, g, indexing="ij")
    ok = xt + xs <= BUDGET
    xt, xs = xt[ok], xs[ok]
    Rg = (evaluate_draws(draws[0], xt) + evaluate_draws(draws[1], xs) + evaluate_draws(draws[2], BUDGET - xt - xs))
    grid_best = Rg.mean(axis=0).max() if objective == "expected" else np.sort(Rg, axis=0)[:10].mean(axis=0).max()
    assert grid_best <= got * (1 + 1e-9)


def test_cvar_plan_gives_up_mean_for_the_tail(imported):
    """Consistency of the two objectives on the same draws: the CVaR plan's CVaR >= the expected plan's CVaR, and
    its mean <= the expected plan's mean."""
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    out = {}
    for objective in ("expected", "cvar"):
        doc = run(load_scenario(_scenario(imported, objective, name=f"{objective}.yaml")), seed=1).to_dict()
        out[objective] = (doc["sections"]["budget"] if "sections" in doc else doc["budget"])["risk"]
    assert out["cvar"]["cvar_response"] >= out["expected"]["cvar_response"] * (1 - 1e-9)
    assert out["cvar"]["expected_response"] <= out["expected"]["expected_response"] * (1 + 1e-9)


def test_cli_import_and_plan_and_bad_inputs(tmp_path):
    """dmpopt curves import writes the draws (sidecar, table kind in the YAML); dmpopt plan on a scenario using
    them exits 0; --no-draws, then draws: true, and a tampered sidecar each exit 1 with one line, no traceback."""
    import yaml

    res = runner.invoke(app, ["curves", "import", "--from", "meridian", str(REAL), "--out", str(tmp_path / "curves")])
    assert res.exit_code == 0, res.output
    side = sidecar_path(tmp_path / "curves" / "curves.yaml")
    stub = yaml.safe_load((tmp_path / "curves" / "curves.yaml").read_text())["channels"]["tv"]["draws"]
    assert stub["kind"] == "table" and stub["n_draws"] == 100 and stub["file"] == side.name and len(stub["spend"]) == 10
    with np.load(side) as z:
        assert z["tv/response"].shape == (100, 10)
    p = _scenario(tmp_path, "cvar")
    res = runner.invoke(app, ["plan", str(p), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert '"cvar_response"' in res.output

    # curves without draws: the reference's draws: true is refused with the field path
    res = runner.invoke(app, ["curves", "import", "--from", "meridian", str(REAL), "--out", str(tmp_path / "nd"),
                              "--no-draws", "--quiet"])
    assert res.exit_code == 0 and "draws" not in res.output
    assert not sidecar_path(tmp_path / "nd" / "curves.yaml").exists()
    p2 = tmp_path / "nd.yaml"
    p2.write_text(p.read_text().replace("curves/curves.yaml", "nd/curves.yaml"), encoding="utf-8")
    res = runner.invoke(app, ["plan", str(p2)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "budget.channels[0].response.draws is True; channel 'tv' in" in res.output and "has no draws" in res.output

    # a sidecar from another export is refused
    raw = bytearray(side.read_bytes())
    side.write_bytes(bytes(raw[:-8]) + b"\0" * 8)
    res = runner.invoke(app, ["plan", str(p)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "the sidecar belongs to another export" in res.output
