"""CurveModel: result contract, bootstrap intervals, seeding, lift-test calibration, curves-file round trip."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.curves.model import CurveModel
from optimizer.curves.results import response_value
from optimizer.curves.simulate import simulate
from optimizer.errors import NotFittedError


@pytest.fixture(scope="module")
def sim():
    return simulate(3, 104, 0.05, seed=4, n_correlated_pairs=0, flight_every=3)


@pytest.fixture(scope="module")
def fitted(sim):
    return CurveModel(seed=11, n_bootstrap=12, n_starts=3, holdout_periods=8).fit(
        sim.data, spend_cols=sim.spend_columns(), control_cols=["price"], holiday_cols=["holiday"])


def test_not_fitted_raises():
    with pytest.raises(NotFittedError, match="call fit"):
        CurveModel().result


def test_result_contract(fitted, sim):
    res = fitted.result
    assert set(res.channels) == set(sim.channels)
    summ = res.summary()
    assert list(summ.index) == sim.channels
    d = res.to_dict()
    import json

    json.dumps(d, allow_nan=False)
    assert d["seed"] == 11 and d["n_bootstrap"] == 12
    assert "Curve fit: 3 channel(s)" in str(res)
    for c in res.channels.values():
        # ROI and marginal ROI are the curve's average and slope at current spend (consistency)
        x = c.current_spend
        assert c.roi["mean"] == pytest.approx(float(response_value(c.response, np.array([x]))[0]) / x, rel=1e-9)
        assert c.roi["low"] <= c.roi["high"]
        assert c.marginal_roi["low"] <= c.marginal_roi["high"]
        assert all(len(v) == 12 for v in c.draws.values())
    dec = res.decomposition
    parts = dec[["baseline", "holidays", "controls"] + sim.channels].sum(axis=1)
    np.testing.assert_allclose(parts, dec["fitted"], rtol=1e-9)


def test_same_seed_same_result_and_none_draws_a_seed(sim):
    kw = dict(spend_cols=sim.spend_columns(), control_cols=["price"])
    a = CurveModel(seed=3, n_bootstrap=3, n_starts=2, holdout_periods=0).fit(sim.data, **kw).result
    b = CurveModel(seed=3, n_bootstrap=3, n_starts=2, holdout_periods=0).fit(sim.data, **kw).result
    assert a.to_dict()["channels"] == b.to_dict()["channels"]
    c = CurveModel(seed=None, n_bootstrap=0, n_starts=1, holdout_periods=0).fit(sim.data, **kw).result
    assert isinstance(c.seed, int)


def test_curves_file_round_trip_evaluates_like_the_fit(fitted, tmp_path):
    from optimizer.curves.curvefile import evaluate, load_curves
    from optimizer.curves.output import write

    write(fitted.result, tmp_path / "c.yaml", currency="EUR", kpi_name="sales", kpi_unit="currency", period="week")
    cf = load_curves(tmp_path / "c.yaml")
    x = np.linspace(0, 50_000, 11)
    for name, ch in fitted.result.channels.items():
        np.testing.assert_allclose(evaluate(cf.channels[name].response, x), response_value(ch.response, x), rtol=1e-12)
        assert cf.channels[name].adstock.decay == pytest.approx(ch.decay)
        assert cf.channels[name].adstock.normalised is False


def test_lift_tests_reduce_planning_regret_on_confounded_channels():
    """Two channels with spend correlation 0.95: the history cannot tell them apart. One lift test per
    confounded channel (true increment at mean spend + 50 %, 10 % noise) must cut the planning regret
    (plan on fitted curves with the project's allocator, evaluate on the true curves). Measured with
    seed 3: 17 % -> 0.1 %."""
    from optimizer.curves.regret import regret

    s = simulate(3, 104, 0.05, seed=3, shape_range=(0.6, 1.0), correlation=0.95, flight_every=0)
    spend = s.data[[f"spend_{c}" for c in s.channels]]
    budget = float(spend.iloc[-13:].sum(axis=1).mean())
    caps = {c: 1.5 * float(s.data[f"spend_{c}"].max()) for c in s.channels}
    kw = dict(spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"])
    tests = s.lift_tests(s.channels[:2], np.random.default_rng(3))
    model = dict(seed=1, n_bootstrap=0, n_starts=4, holdout_periods=0)
    plain = CurveModel("hill_concave", **model).fit(s.data, **kw).result
    calibrated = CurveModel("hill_concave", **model).fit(s.data, lift_tests=tests, **kw).result
    r0 = regret({c: plain.channels[c].response for c in s.channels}, s.truth, budget, caps)["regret"]
    r1 = regret({c: calibrated.channels[c].response for c in s.channels}, s.truth, budget, caps)["regret"]
    assert r0 > 0.05
    assert r1 < r0 / 5
    assert r1 < 0.02


def test_lift_row_from_an_experiments_comparison():
    """A geo/holdout spend test analysed by `experiments` (Welch, effect_scale absolute): sigma is the standard
    error of the lift, sqrt(s_c^2/n_c + s_t^2/n_t) (t quantile ~ normal at 20,000 units), scaled to KPI per
    period. (With the default relative scale the absolute interval is the relative one rescaled by the
    control mean, so it also carries the control mean's uncertainty: about 2 % wider here.)"""
    from experiments.analysis import AnalysisSettings, analyze
    from experiments.stats import VariantStats

    from optimizer.curves.lift import from_comparison

    rng = np.random.default_rng(0)
    yc, yt = rng.normal(10, 3, 20_000), rng.normal(10.4, 3, 20_000)
    stats = [VariantStats(name, len(y), float(y.sum()), float((y**2).sum())) for name, y in (("control", yc), ("t", yt))]
    res = analyze(stats[0], stats[1], kind="mean", settings=AnalysisSettings(effect_scale="absolute"))[0]
    row = from_comparison(res, "search", 5000, 2500, kpi_per_unit_lift=1000)
    se = np.sqrt(yc.var(ddof=1) / len(yc) + yt.var(ddof=1) / len(yt))
    assert row.delta_y == pytest.approx((yt.mean() - yc.mean()) * 1000, rel=1e-9)
    assert row.sigma == pytest.approx(se * 1000, rel=1e-3)
    assert (row.channel, row.x, row.delta_x) == ("search", 5000.0, 2500.0)
