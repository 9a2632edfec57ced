"""The posterior-mean curve (optimizer/curves/bayes_curve.py): closed-form known answers and a property.

Known answer: Hill curves that differ only in ``max_response`` average to the Hill curve with the mean
``max_response`` (the mean of ``m_s g(x)`` is ``mean(m_s) g(x)``), so the closest Hill curve is that
one exactly; identical draws give back their curve.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.curves.bayes_curve import closest_hill, hill_value, mean_of_hill_draws, posterior_mean_curve
from optimizer.curves.model import CurveModel
from optimizer.curves.simulate import ROBYN_DEMO_SPEND, simulate


def test_draws_differing_in_height_average_to_the_mean_height():
    m = [80.0, 100.0, 150.0, 90.0]
    draws = {"max_response": m, "half_saturation_spend": [40.0] * 4, "shape": [2.2] * 4}
    got = posterior_mean_curve(draws, {"kind": "s_hill", "max_response": 100.0, "half_saturation_spend": 30.0,
                                       "shape": 1.5}, top=200.0)
    assert got["kind"] == "s_hill"
    np.testing.assert_allclose([got["max_response"], got["half_saturation_spend"], got["shape"]],
                               [np.mean(m), 40.0, 2.2], rtol=1e-7)


def test_identical_draws_give_back_their_curve():
    draws = {"max_response": [5e4] * 3, "half_saturation_spend": [1.2e4] * 3, "shape": [0.7] * 3}
    got = posterior_mean_curve(draws, {"kind": "hill", "max_response": 3e4, "half_saturation_spend": 2e4,
                                       "shape": 1.0}, top=4e4)
    assert got["kind"] == "hill"
    np.testing.assert_allclose([got["max_response"], got["half_saturation_spend"], got["shape"]], [5e4, 1.2e4, 0.7],
                               rtol=1e-7)


def test_flat_start_and_non_hill_draws_are_left_alone():
    flat = {"kind": "linear", "roi": 0.0}
    assert posterior_mean_curve({"max_response": [1.0, 2.0], "half_saturation_spend": [1.0, 1.0],
                                 "shape": [1.0, 1.0]}, flat, 10.0) is flat
    log = {"kind": "log", "scale": 1.0, "saturation_spend": 2.0}
    assert posterior_mean_curve({"scale": [1.0, 2.0], "saturation_spend": [2.0, 2.0]}, log, 10.0) is log


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(10, 1000), st.floats(5, 200), st.floats(0.5, 3.0)), min_size=2, max_size=8))
def test_never_further_from_the_mean_than_the_start(params):
    """The least-squares curve is at least as close to the mean of the draws as the curve it starts from."""
    draws = {k: [p[i] for p in params] for i, k in enumerate(("max_response", "half_saturation_spend", "shape"))}
    start = dict(zip(("max_response", "half_saturation_spend", "shape"), params[0]))
    x = np.linspace(300 / 120, 300, 120)
    y = mean_of_hill_draws(draws, x)
    m, h, n = closest_hill(x, y, (start["max_response"], start["half_saturation_spend"], start["shape"]))
    sse = float(np.sum((hill_value(x, m, h, n) - y) ** 2))
    sse0 = float(np.sum((hill_value(x, *params[0]) - y) ** 2))
    assert sse <= sse0 * (1 + 1e-9) + 1e-12


def test_curve_model_point_posterior_mean():
    """``point="posterior_mean"``: each Hill channel's response is the curve closest to the mean of its own draws
    (checked here against the draws the fit reports), its ROI is read on it, and the settings say so."""
    s = simulate(3, 104, 0.05, seed=3, **ROBYN_DEMO_SPEND)
    kw = dict(spend_cols=s.spend_columns(), control_cols=["price"], holiday_cols=["holiday"])
    mp = CurveModel(seed=1, n_bootstrap=20, holdout_periods=0, n_starts=3).fit(s.data, **kw).result
    pm = CurveModel(seed=1, n_bootstrap=20, holdout_periods=0, n_starts=3, point="posterior_mean").fit(
        s.data, **kw).result
    assert pm.settings["point"] == "posterior_mean" and "point" not in mp.settings
    for c in s.channels:
        ch = pm.channels[c]
        assert ch.draws == mp.channels[c].draws  # same seed, same draws: only the point curve changes
        top = 3.0 * float(s.data[f"spend_{c}"].mean())
        x = np.linspace(top / 120, top, 120)
        y = mean_of_hill_draws(ch.draws, x)
        r = ch.response
        fit = hill_value(x, r["max_response"], r["half_saturation_spend"], r["shape"])
        m0 = mp.channels[c].response
        map_sse = np.sum((hill_value(x, m0["max_response"], m0["half_saturation_spend"], m0["shape"]) - y) ** 2)
        assert np.sum((fit - y) ** 2) <= map_sse * (1 + 1e-9)
        cur = ch.current_spend
        assert ch.roi["mean"] == pytest.approx(float(hill_value(np.array([cur]), r["max_response"],
                                                                r["half_saturation_spend"], r["shape"])[0]) / cur)


def test_posterior_mean_needs_draws():
    with pytest.raises(ValueError, match="n_bootstrap is 0"):
        CurveModel(n_bootstrap=0, point="posterior_mean")
    with pytest.raises(ValueError, match="point is 'mode'"):
        CurveModel(point="mode")


def test_config_point_with_field_paths(tmp_path):
    from optimizer.curves.config import load_config
    from optimizer.errors import ScenarioError

    path = tmp_path / "curves.yaml"
    head = "kpi: {column: revenue}\nchannels:\n  search: {spend: spend_search}\n"
    path.write_text(head + "fit: {point: mode}\n")
    with pytest.raises(ScenarioError, match=r"curves.yaml:4: fit.point is 'mode'; input should be 'map' or "
                                            r"'posterior_mean'"):
        load_config(path)
    path.write_text(head + "fit: {point: posterior_mean, n_bootstrap: 0}\n")
    with pytest.raises(ScenarioError, match=r"curves.yaml:4: fit.point is 'posterior_mean'; .*n_bootstrap is 0"):
        load_config(path)
    path.write_text(head + "fit: {point: posterior_mean, uncertainty: mcmc}\n")
    assert load_config(path).fit.point == "posterior_mean"
