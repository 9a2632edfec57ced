"""Per-segment purchase-model fits with a pooled fallback (optimizer.churn.clv.grouped, churn fit_by)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from optimizer.churn.clv import BetaGeoModel
from optimizer.churn.clv.bgnbd import bgnbd_loglik
from optimizer.churn.clv.grouped import fit_grouped
from optimizer.churn.clv.simulate import simulate_bgnbd
from optimizer.churn.section import ChurnConfig
from optimizer.churn.section import run as run_churn
from optimizer.sections import RunContext

# Two segments from DIFFERENT known BG/NBD parameters (rates per day): A buys rarely and lapses
# fast, B buys often and stays.
TRUE_A = {"r": 0.5, "alpha": 15.0, "a": 1.2, "b": 2.0}
TRUE_B = {"r": 2.0, "alpha": 30.0, "a": 0.4, "b": 6.0}
N = 6000


def _segments(seed=7, n_small=300):
    rng = np.random.default_rng(seed)
    parts = []
    for name, true, n in (("A", TRUE_A, N), ("B", TRUE_B, N), ("C", TRUE_B, n_small)):
        T = rng.integers(60, 366, n).astype(float)
        x, tx, T = simulate_bgnbd(n, **true, T=T, seed=int(rng.integers(1 << 31)))
        parts.append(pd.DataFrame({"segment": name, "frequency": x, "t_x_days": np.floor(tx), "tenure_days": T}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def data():
    return _segments()


@pytest.fixture(scope="module")
def grouped(data):
    return fit_grouped("bgnbd", data["frequency"].to_numpy(), data["t_x_days"].to_numpy(),
                       data["tenure_days"].to_numpy(), data["segment"].to_numpy())


def _log_se(params: dict, x, tx, T) -> np.ndarray:
    """Standard errors of the log-parameters from the observed information: the Hessian of the total
    log-likelihood by central differences of its analytic gradient (w.r.t. log-parameters)."""
    z = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    h, H = 1e-4, np.empty((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        H[:, j] = (bgnbd_loglik(np.exp(z + e), x, tx, T, grad=True)[1]
                   - bgnbd_loglik(np.exp(z - e), x, tx, T, grad=True)[1]) / (2 * h)
    return np.sqrt(np.diag(np.linalg.inv(-(H + H.T) / 2)))


def test_per_segment_fits_recover_each_segments_parameters_and_the_pooled_fit_does_not(data, grouped):
    """Simulated truth: A ~ BG/NBD(0.5, 15, 1.2, 2.0), B ~ BG/NBD(2.0, 30, 0.4, 6.0), 6,000 customers each.

    Tolerance from the sample size: the MLE is asymptotically normal, so each log-parameter must lie
    within 4 standard errors (observed information at the estimate, ~1 in 16,000 per parameter to
    fail by chance) of the truth. The pooled fit (one parameter vector for both) must miss each
    segment's truth by more than 8 of that segment's standard errors in at least one parameter. The
    likelihood-ratio test is reported only when every segment has its own fit, which C (300
    customers) has not: it is absent here and checked on A and B alone below.
    """
    by = {f.segment: f for f in grouped.segments}
    pooled = np.log([grouped.pooled.params_[k] for k in TRUE_A])
    for name, true in (("A", TRUE_A), ("B", TRUE_B)):
        f = by[name]
        assert f.fit == "own" and f.converged and f.reason == ""
        d = data[data["segment"] == name]
        x, tx, T = (d[c].to_numpy() for c in ("frequency", "t_x_days", "tenure_days"))
        se = _log_se(f.params, x, tx, T)
        assert np.all(se < 0.35), se  # the sample is large enough to pin every parameter down
        est, truth = np.log([f.params[k] for k in true]), np.log(list(true.values()))
        assert np.all(np.abs(est - truth) <= 4 * se), (name, f.params, se)
        assert np.max(np.abs(pooled - truth) / se) > 8, (name, grouped.pooled.params_, se)
        assert f.n_customers == len(d) and f.n_repeat == int((x > 0).sum())
        assert f.loglik == pytest.approx(bgnbd_loglik(tuple(f.params.values()), x, tx, T))
    assert grouped.lr_test is None


def test_small_segment_falls_back_to_the_pooled_fit_with_its_reason(grouped):
    c = {f.segment: f for f in grouped.segments}["C"]
    assert c.fit == "pooled" and c.params == grouped.pooled.params_ and c.n_customers == 300
    assert "300 customer(s)" in c.reason and ">= 500 customers" in c.reason
    assert grouped.segment_to_model["C"] is grouped.pooled
    assert any("segment 'C' uses the pooled bgnbd parameters" in w for w in grouped.warnings)


def test_repeat_buyer_floor_and_fit_by_all(data):
    x, tx, T = (data[c].to_numpy() for c in ("frequency", "t_x_days", "tenure_days"))
    seg = data["segment"].to_numpy()
    n_rep_a = int((x[seg == "A"] > 0).sum())
    g = fit_grouped("bgnbd", x, tx, T, seg, min_repeat_buyers=n_rep_a + 1)
    a = {f.segment: f for f in g.segments}["A"]
    assert a.fit == "pooled" and f"{n_rep_a} repeat buyer(s)" in a.reason
    everyone = fit_grouped("bgnbd", x, tx, T, seg, fit_by="all")
    assert {f.fit for f in everyone.segments} == {"pooled"} and not everyone.warnings
    # Sizes and log-likelihoods are still per segment and add up to the pooled fit's.
    assert sum(f.n_customers for f in everyone.segments) == x.size
    assert sum(f.loglik for f in everyone.segments) == pytest.approx(everyone.pooled.loglik_, rel=1e-9)


def test_likelihood_ratio_rejects_pooling_two_different_segments(data):
    """A and B only (both own fits): 2 (LL_A + LL_B - LL_pooled) ~ chi2(4) under pooling; here it is huge."""
    d = data[data["segment"] != "C"]
    x, tx, T = (d[c].to_numpy() for c in ("frequency", "t_x_days", "tenure_days"))
    g = fit_grouped("bgnbd", x, tx, T, d["segment"].to_numpy())
    lr = g.lr_test
    own = sum(f.loglik for f in g.segments)
    assert lr["df"] == 4 and lr["statistic"] == pytest.approx(2 * (own - g.pooled.loglik_))
    assert lr["statistic"] > 100 and lr["p_value"] < 1e-12 and lr["aic_by_segment"] < lr["aic_pooled"]
    # Same data split at random into two halves: pooling is not rejected at 0.1 % (same seed, fixed).
    half = np.random.default_rng(3).integers(0, 2, x.size).astype(str)
    same = fit_grouped("bgnbd", x[d["segment"].to_numpy() == "A"], tx[d["segment"].to_numpy() == "A"],
                       T[d["segment"].to_numpy() == "A"], half[d["segment"].to_numpy() == "A"])
    assert same.lr_test["p_value"] > 1e-3


def test_churn_section_scores_each_segment_with_its_own_fit(tmp_path, data):
    path = tmp_path / "summary.csv"
    data.to_csv(path, index=False)
    base = dict(data=str(path), model="bgnbd", segment_col="segment", horizon_days=30, threshold=0.6,
                uplift=0.2, clv=100.0, contact_cost=1.0, start_date="2026-12-01")
    ctx = RunContext(seed=1, rng=np.random.default_rng(1), base_dir=Path(tmp_path), results={})
    res = run_churn(ChurnConfig(**base), ctx)
    c = res.customers
    fits = {f.segment: f for f in res.report.fits.segments}
    for name in ("A", "B", "C"):
        rows = c[c["segment"] == name]
        m = BetaGeoModel(params=fits[name].params)
        np.testing.assert_allclose(rows["p_alive"], m.p_alive(rows["frequency"], rows["t_x_days"], rows["tenure_days"]),
                                   rtol=1e-9, atol=1e-12)  # p_alive is stored as 1 - (1 - P(alive))
    assert (c.loc[c["segment"] == "C", "purchase_model_fit"] == "pooled").all()
    d = res.to_dict()["model"]
    assert [s["fit"] for s in d["segments"]] == ["own", "own", "pooled"] and d["min_customers"] == 500
    assert set(res.report.summary()["segment"]) == {"A", "B", "C"}
    assert any("segment 'C' uses the pooled" in w for w in res.warnings)
    assert any("without a repeat purchase have P(alive) = 1 under BG/NBD" in w for w in res.warnings)
    pooled_all = run_churn(ChurnConfig(**base, fit_by="all"), ctx)
    assert {f.fit for f in pooled_all.report.fits.segments} == {"pooled"}
    assert not np.allclose(pooled_all.customers["p_alive"], c["p_alive"])


def test_fit_by_is_only_for_purchase_models():
    with pytest.raises(ValidationError, match="fit_by applies to model bgnbd or paretonbd"):
        ChurnConfig(data="x.csv", model="cox", fit_by="segment", uplift=0.1, clv=1.0, contact_cost=0.0,
                    start_date="2026-12-01")
    with pytest.raises(ValueError, match="fit_by is 'segments'"):
        fit_grouped("bgnbd", np.ones(3), np.ones(3), np.full(3, 2.0), ["a"] * 3, fit_by="segments")


@pytest.mark.parametrize("model", ["bgnbd", "paretonbd"])
def test_contract_every_purchase_model(model, data):
    """For each model: an own fit maximises its segment's likelihood, so it is >= the segment's log-likelihood
    under the pooled parameters; reported log-likelihoods are those of the segment's customers under the
    parameters used; every segment's customers are scored by the model the result names."""
    from optimizer.churn.clv import PURCHASE_MODELS

    d = data.groupby("segment").head(2000)
    x, tx, T = (d[c].to_numpy() for c in ("frequency", "t_x_days", "tenure_days"))
    seg = d["segment"].to_numpy()
    g = fit_grouped(model, x, tx, T, seg)
    assert [f.fit for f in g.segments] == ["own", "own", "pooled"]
    for f in g.segments:
        rows = seg == f.segment
        m = PURCHASE_MODELS[model](params=f.params)
        assert f.loglik == pytest.approx(m.loglik(x[rows], tx[rows], T[rows]), rel=1e-9)
        assert f.loglik >= g.pooled.loglik(x[rows], tx[rows], T[rows]) - 1e-6
        np.testing.assert_allclose(g.segment_to_model[f.segment].p_alive(x[rows], tx[rows], T[rows]),
                                   m.p_alive(x[rows], tx[rows], T[rows]))
    assert g.to_dict()["pooled"]["n_customers"] == x.size


def test_bad_fit_by_in_a_scenario_is_a_one_line_cli_error(tmp_path):
    """A scenario with ``fit_by`` on a survival model: exit 1, the field path and the fix, no traceback."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    scen = tmp_path / "s.yaml"
    scen.write_text("name: t\ncurrency: EUR\nchurn:\n  data: customers.csv\n  model: cox\n  fit_by: segment\n"
                    "  uplift: 0.1\n  clv: 100\n  contact_cost: 1\n  start_date: 2026-12-01\n")
    r = CliRunner().invoke(app, ["plan", str(scen)])
    assert r.exit_code == 1
    assert "fit_by applies to model bgnbd or paretonbd" in r.output and "churn" in r.output
    assert "Traceback" not in r.output
