"""ChurnModel selection and report, convergence failures, the PH test, the fast fitters vs lifelines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.churn.coxph import fit_cox
from optimizer.churn.data import prepare
from optimizer.churn.models import ChurnModel
from optimizer.churn.simulate import simulate_customers
from optimizer.errors import NotFittedError, ScenarioError, SolverError

ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def sim_data():
    df = simulate_customers(3000, 11)
    return prepare(df, "tenure_days", "churned", ["x1", "x2", "segment"], segment_col="segment")


def test_auto_selection_report(sim_data):
    m = ChurnModel(horizon_days=90, seed=3).fit(sim_data)
    r = m.report_
    assert set(r.comparison.model) == {"kaplan_meier", "weibull", "weibull_aft", "loglogistic_aft", "lognormal_aft", "cox"}
    assert (r.comparison.status == "ok").all()
    ok = r.comparison.set_index("model")
    assert r.selected == ok.ibs.idxmin()
    # covariates carry signal (true model: Weibull AFT): every covariate model beats KM on the holdout
    for kind in ("weibull_aft", "cox"):
        assert ok.loc[kind, "c_index"] > 0.65 and ok.loc[kind, "ibs"] < ok.loc["kaplan_meier", "ibs"]
    assert ok.loc["kaplan_meier", "c_index"] == 0.5
    assert np.isnan(ok.loc["cox", "aic"]) and np.isfinite(ok.loc["weibull_aft", "aic"])
    json.dumps(r.to_dict(), allow_nan=False)
    assert "Churn model:" in str(r) and r.n_train + r.n_holdout == 3000


def test_select_by_aic_and_concordance(sim_data):
    a = ChurnModel(select_by="aic", seed=3).fit(sim_data).report_
    pool = a.comparison.dropna(subset=["aic"])
    assert a.selected == pool.loc[pool.aic.idxmin(), "model"]
    c = ChurnModel(select_by="concordance", seed=3).fit(sim_data).report_
    assert c.comparison.set_index("model").loc[c.selected, "c_index"] == c.comparison.c_index.max()


def test_same_seed_same_report(sim_data):
    a = ChurnModel(seed=5).fit(sim_data).report_
    b = ChurnModel(seed=5).fit(sim_data).report_
    pd.testing.assert_frame_equal(a.comparison, b.comparison)


def test_not_fitted_and_bad_settings():
    with pytest.raises(NotFittedError):
        ChurnModel().survival(np.ones(2), np.zeros((2, 0)))
    with pytest.raises(ScenarioError, match="model is 'weibul'"):
        ChurnModel("weibul")
    with pytest.raises(ScenarioError, match="select_by"):
        ChurnModel(select_by="bic")


def test_separation_fails_with_a_penalizer_suggestion():
    """A covariate that perfectly orders churn (complete separation) makes the MLE infinite."""
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    T = np.argsort(np.argsort(-x)).astype(float) + 1  # higher x churns strictly earlier
    E = np.ones(n, dtype=int)
    E[T > 150] = 0
    with pytest.raises(SolverError, match="penalizer"):
        fit_cox(T, E, x[:, None] * 50)
    # with a penalizer it converges
    f = fit_cox(T, E, x[:, None] * 50, penalizer=0.1)
    assert np.isfinite(f.params).all()


def test_ph_violation_is_reported_in_words():
    """Two groups whose hazards cross (Weibull shapes 0.5 vs 3): PH is clearly violated."""
    rng = np.random.default_rng(1)
    n = 1500
    g = rng.integers(0, 2, n)
    life = np.where(g == 1, 100 * rng.weibull(3.0, n), 100 * rng.weibull(0.5, n))
    df = pd.DataFrame({"t": np.minimum(life, 150).clip(0.5), "e": (life <= 150).astype(int), "g": g, "z": rng.normal(size=n)})
    d = prepare(df, "t", "e", ["g", "z"])
    r = ChurnModel("cox", seed=0).fit(d).report_
    text = " ".join(r.ph_test)
    assert "the effect of g changes with tenure" in text
    assert "effect of z" not in text


def test_no_ph_violation_under_ph(sim_data):
    """The simulator's Weibull AFT is also PH (Weibull AFT == Weibull PH): no violation expected."""
    r = ChurnModel("weibull_aft", seed=0).fit(sim_data).report_
    assert r.ph_test[0].startswith("no evidence against proportional hazards")


def test_aft_fit_matches_lifelines_on_simulated_data(sim_data):
    """lifelines 0.30.3 WeibullAFTFitter as an oracle on 3,000 simulated customers."""
    from lifelines import WeibullAFTFitter

    from optimizer.churn.aft import fit_aft

    df = sim_data.frame()
    ref = WeibullAFTFitter().fit(df, "duration", "event")
    ours = fit_aft(sim_data.duration, sim_data.event, sim_data.X, "weibull")
    lam = ref.params_.loc["lambda_"]
    np.testing.assert_allclose(ours.params, lam.loc[list(sim_data.columns)].to_numpy(), atol=1e-4)
    assert ours.intercept == pytest.approx(lam.loc["Intercept"], abs=1e-4)
    assert -ours.log_sigma == pytest.approx(ref.params_.loc[("rho_", "Intercept")], abs=1e-4)
    assert ours.loglik == pytest.approx(ref.log_likelihood_, abs=1e-5)
