"""Known answers and invariants of the non-contractual models (BG/NBD, Pareto/NBD, Gamma-Gamma, sBG, CLV).

Data: the CDNOW sample summary (2,357 customers, time in weeks), shipped in
tests/fixtures/clv/cdnow_summary.csv (copied from lifetimes 0.11.3, MIT; see the README there).

Oracle values marked "lifetimes 0.11.3" were computed once with::

    from lifetimes import BetaGeoFitter, ParetoNBDFitter, GammaGammaFitter   # lifetimes 0.11.3
    b = BetaGeoFitter().fit(d.x, d.t_x, d["T"]); p = ParetoNBDFitter().fit(d.x, d.t_x, d["T"])
    r = d[d.x > 0]; g = GammaGammaFitter().fit(r.x, r.zbar)
    x = [0, 1, 2, 10]; t_x = [0, 30, 30, 30]; T = [38.86] * 4
    b.conditional_probability_alive(x, t_x, T); b.conditional_expected_number_of_purchases_up_to_time(10, x, t_x, T)
    g.customer_lifetime_value(b, x, t_x, T, [20, 20, 50, 35], time=12, discount_rate=0.01, freq="W")

(numpy 2.4, scipy 1.17, pandas 2.3; lifetimes is not a test dependency: it needs ``dill`` and has
not been released since 2020, so its outputs are stored here.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.churn.clv import (BetaGeoModel, GammaGammaModel, ParetoNBDModel, ShiftedBetaGeometricModel,
                                 customer_lifetime_value)
from optimizer.churn.clv._base import numeric_grad
from optimizer.churn.clv.bgnbd import bgnbd_loglik
from optimizer.churn.clv.gammagamma import gammagamma_loglik
from optimizer.churn.clv.simulate import simulate_bgnbd
from optimizer.errors import DataError, NotFittedError

CDNOW = Path(__file__).resolve().parents[2] / "fixtures" / "clv" / "cdnow_summary.csv"
X = np.array([0, 1, 2, 10.0])
TX = np.array([0, 30, 30, 30.0])
TT = np.full(4, 38.86)


@pytest.fixture(scope="module")
def cdnow():
    return pd.read_csv(CDNOW)


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeoModel().fit(cdnow.x, cdnow.t_x, cdnow["T"])


@pytest.fixture(scope="module")
def pnbd(cdnow):
    return ParetoNBDModel().fit(cdnow.x, cdnow.t_x, cdnow["T"])


@pytest.fixture(scope="module")
def gg(cdnow):
    return GammaGammaModel().fit(cdnow.x, cdnow.zbar)


def test_bgnbd_matches_fader_hardie_lee_2005(bg):
    """Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 279: CDNOW, r = 0.243, alpha = 4.414,
    a = 0.793, b = 2.426, LL = -9582.4."""
    p = bg.params_
    assert [round(p[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert round(bg.loglik_, 1) == -9582.4
    assert bg.converged_ and bg.n_ == 2357


def test_bgnbd_predictions_match_lifetimes(bg):
    """lifetimes 0.11.3 (see module docstring): P(alive), E[Y(10) | x, t_x, T], E[X(t)]."""
    np.testing.assert_allclose(bg.p_alive(X, TX, TT), [1.0, 0.69710511, 0.72104246, 0.57967918], rtol=1e-6)
    np.testing.assert_allclose(bg.expected_purchases(10, X, TX, TT), [0.0542101, 0.19117884, 0.3541965, 1.27632227],
                               rtol=1e-6)
    np.testing.assert_allclose(bg.expected_purchases_new([10.0, 39.0]), [0.43176099, 1.19501623], rtol=1e-6)


def test_paretonbd_matches_published_cdnow_fit(pnbd):
    """Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 279 (Pareto/NBD on CDNOW): r = 0.553,
    alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0; lifetimes 0.11.3 gives 0.55328, 10.5777,
    0.60624, 11.6687 and P(alive) = [0.29509362, 0.87296751, 0.86059342, 0.70110096],
    E[Y(10)] = [0.03123048, 0.25937041, 0.4203091, 1.41527241] for the module's four customers."""
    p = pnbd.params_
    np.testing.assert_allclose([p["r"], p["alpha"], p["s"], p["beta"]], [0.553, 10.578, 0.606, 11.669], atol=2e-3)
    assert round(pnbd.loglik_, 1) == -9595.0
    np.testing.assert_allclose(pnbd.p_alive(X, TX, TT), [0.29509362, 0.87296751, 0.86059342, 0.70110096], rtol=1e-4)
    np.testing.assert_allclose(pnbd.expected_purchases(10, X, TX, TT),
                               [0.03123048, 0.25937041, 0.4203091, 1.41527241], rtol=1e-4)


def test_gammagamma_matches_fader_hardie_lee_rfm_clv(gg):
    """Fader, Hardie & Lee (2005), "RFM and CLV", JMR 42(4) (946 CDNOW customers with repeat purchases):
    p = 6.25, q = 3.74, gamma = 15.44; lifetimes 0.11.3: conditional_expected_average_profit([1, 2, 10],
    [20, 50, 35]) = [24.62986182, 47.32981368, 35.00719472]."""
    p = gg.params_
    assert round(p["p"], 2) == 6.25 and round(p["q"], 2) == 3.74 and round(p["gamma"], 2) == 15.45
    # The paper prints gamma = 15.44; the MLE is 15.4477 (lifetimes: 15.44775), which rounds to 15.45.
    assert abs(p["gamma"] - 15.44) < 0.01
    assert gg.n_ == 946
    np.testing.assert_allclose(gg.expected_spend([1, 2, 10], [20.0, 50.0, 35.0]),
                               [24.62986182, 47.32981368, 35.00719472], rtol=1e-6)


def test_clv_matches_lifetimes(bg, gg):
    """lifetimes 0.11.3: GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01,
    freq="W") = [8.34409312, 19.83873914, 69.0995705, 175.23123631] (12 months of 4.345 weeks)."""
    spend = gg.expected_spend(X, [20.0, 20.0, 50.0, 35.0])
    clv = customer_lifetime_value(bg, X, TX, TT, spend, n_periods=12, period_length=4.345, discount_rate=0.01)
    np.testing.assert_allclose(clv, [8.34409312, 19.83873914, 69.0995705, 175.23123631], rtol=1e-6)


@pytest.mark.parametrize("counts, alpha, beta", [
    ([1000, 631, 468, 382, 326, 290, 262, 241], 0.704, 1.182),
    ([1000, 869, 743, 653, 593, 551, 517, 491], 0.668, 3.806),
], ids=["regular", "high_end"])
def test_sbg_matches_fader_hardie_2007(counts, alpha, beta):
    """Fader & Hardie (2007), "How to Project Customer Retention", JIM 21(1), Table 1 / Figure 4: survivors of
    1,000 customers over years 0-7; MLEs regular alpha = 0.704, beta = 1.182; high end alpha = 0.668, beta = 3.806."""
    m = ShiftedBetaGeometricModel().fit(counts)
    assert round(m.params_["alpha"], 3) == alpha and round(m.params_["beta"], 3) == beta
    # Retention rates rise with tenure (heterogeneity sorts the cohort), each in (0, 1).
    r = m.retention_rate(np.arange(1, 12))
    assert np.all(np.diff(r) > 0) and np.all((r > 0) & (r < 1))


def test_sbg_derl_closed_form_equals_sum():
    """Fader & Hardie (2010), eq. 6 (hypergeometric closed form) against the direct discounted sum."""
    m = ShiftedBetaGeometricModel(params={"alpha": 0.704, "beta": 1.182})
    j = np.arange(1, 5000)  # 1.1^-5000 is below double precision
    for k in (0, 3):
        direct = np.sum(m.survival(k + j) / m.survival(k) / 1.1 ** (j - 1))
        assert m.derl(0.1, k) == pytest.approx(direct, rel=1e-6)


def test_bgnbd_gradient_is_exact(cdnow):
    x, tx, T = cdnow.x.to_numpy(float), cdnow.t_x.to_numpy(), cdnow["T"].to_numpy()
    p = np.array([0.3, 4.0, 0.8, 2.0])
    _, g = bgnbd_loglik(p, x, tx, T, grad=True)
    np.testing.assert_allclose(g, numeric_grad(lambda z: bgnbd_loglik(np.exp(z), x, tx, T), np.log(p)), rtol=1e-5)


def test_gammagamma_gradient_is_exact(cdnow):
    r = cdnow[cdnow.x > 0]
    x, m = r.x.to_numpy(float), r.zbar.to_numpy()
    p = np.array([5.0, 3.0, 12.0])
    _, g = gammagamma_loglik(p, x, m, grad=True)
    np.testing.assert_allclose(g, numeric_grad(lambda z: gammagamma_loglik(np.exp(z), x, m), np.log(p)), rtol=1e-5)


def test_bgnbd_recovers_simulated_parameters():
    """20,000 seeded BG/NBD customers (r=0.5, alpha=5, a=0.8, b=2.5, T=40): estimates within ~2 standard errors."""
    x, tx, T = simulate_bgnbd(20_000, 0.5, 5.0, 0.8, 2.5, 40.0, seed=1)
    p = BetaGeoModel().fit(x, tx, T).params_
    np.testing.assert_allclose([p["r"], p["alpha"], p["a"], p["b"]], [0.5, 5.0, 0.8, 2.5], rtol=0.15)


def test_simulation_is_seeded():
    a = simulate_bgnbd(500, 0.5, 5.0, 0.8, 2.5, 40.0, seed=7)
    b = simulate_bgnbd(500, 0.5, 5.0, 0.8, 2.5, 40.0, seed=7)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


MODELS = {
    "bgnbd": BetaGeoModel(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    "paretonbd": ParetoNBDModel(params={"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=60, deadline=None)
@given(x=st.integers(0, 60), frac=st.floats(0, 1), T=st.floats(0.5, 400), dt=st.floats(0.01, 50))
def test_p_alive_is_a_probability_and_monotone(name, x, frac, T, dt):
    """0 <= P(alive) <= 1; for x > 0 it rises with recency (a later last purchase) and falls as time passes."""
    m = MODELS[name]
    tx = frac * T if x > 0 else 0.0
    p = float(m.p_alive(x, tx, T))
    assert 0.0 <= p <= 1.0
    assert float(m.p_alive(x, tx, T + dt)) <= p + 1e-12
    if x > 0:
        assert float(m.p_alive(x, min(tx + dt, T), T)) >= p - 1e-12
    assert float(m.expected_purchases(dt, x, tx, T)) >= 0.0


def test_bad_summaries_name_the_defect():
    with pytest.raises(DataError, match=r"1 customer\(s\): recency is larger than T"):
        BetaGeoModel().fit([1, 2], [5.0, 3.0], [4.0, 10.0])
    with pytest.raises(DataError, match="frequency is negative"):
        ParetoNBDModel().fit([-1, 2], [0.0, 3.0], [4.0, 10.0])
    with pytest.raises(DataError, match="NaN"):
        BetaGeoModel().fit([1, np.nan], [1.0, 3.0], [4.0, 10.0])
    with pytest.raises(DataError, match="monetary <= 0"):
        GammaGammaModel().fit([1, 2], [10.0, -3.0])
    with pytest.raises(DataError, match="never increase"):
        ShiftedBetaGeometricModel().fit([100, 80, 90])


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        BetaGeoModel().p_alive([1], [1.0], [2.0])
    assert "not fitted" in str(GammaGammaModel())


def test_results_are_json_safe(bg):
    import json

    d = bg.to_dict()
    json.dumps(d)
    assert d["model"] == "bgnbd" and set(d["params"]) == {"r", "alpha", "a", "b"}
    assert list(bg.summary()["parameter"]) == ["r", "alpha", "a", "b"]


def test_bgnbd_fast_loglik_equals_reference(cdnow):
    """The fitting path (terms summed per distinct x, logs per distinct T) equals the row-wise formula."""
    from optimizer.churn.clv._base import collapse
    from optimizer.churn.clv.bgnbd import _Prepared, fast_loglik

    (x, tx, T), w = collapse(cdnow.x.to_numpy(float), cdnow.t_x.to_numpy(), cdnow["T"].to_numpy())
    for p in ([0.3, 4.0, 0.8, 2.0], [1.7, 0.2, 3.0, 0.5]):
        ll, g = bgnbd_loglik(np.array(p), x, tx, T, w, grad=True)
        ll2, g2 = fast_loglik(np.array(p), _Prepared(x, tx, T, w))
        assert ll2 == pytest.approx(ll, rel=1e-12)
        np.testing.assert_allclose(g2, g, rtol=1e-9)


def test_paretonbd_pair_cache_equals_rowwise(cdnow):
    from optimizer.churn.clv.paretonbd import _Pairs, paretonbd_loglik

    x, tx, T = cdnow.x.to_numpy(float), cdnow.t_x.to_numpy(), cdnow["T"].to_numpy()
    for p in ([0.55, 10.6, 0.6, 11.7], [0.9, 3.0, 1.5, 1.0]):  # alpha >= beta and alpha < beta
        assert paretonbd_loglik(np.array(p), x, tx, T, pairs=_Pairs(x, tx, T)) == pytest.approx(
            paretonbd_loglik(np.array(p), x, tx, T), rel=1e-13)
