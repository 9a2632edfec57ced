"""The MMM simulator: seeded, documented ranges, and its 'true curve' is the steady state of its own model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.curves.adstock import geometric
from optimizer.curves.simulate import simulate


def test_same_seed_same_data_and_ranges():
    a = simulate(6, 104, 0.1, seed=9)
    b = simulate(6, 104, 0.1, seed=9)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.seed == 9 and len(a.data) == 104
    for t in a.truth.values():
        assert 0 <= t.decay <= 0.8 and 0.6 <= t.shape <= 3.0
    assert not a.data.equals(simulate(6, 104, 0.1, seed=10).data)


def test_correlated_pair_and_flighted_channel():
    s = simulate(5, 208, 0.05, seed=2, correlation=0.9, n_correlated_pairs=1, flight_every=4)
    r = np.corrcoef(s.data["spend_ch01"], s.data["spend_ch02"])[0, 1]
    assert r > 0.75
    assert (s.data["spend_ch05"] == 0).mean() > 0.2  # flighted: off in blocks
    assert (s.data["spend_ch01"] > 0).all()


def test_true_curve_is_the_steady_state_of_the_generating_model():
    """Spending x every period for long enough: beta * hill(adstock) equals TrueChannel.response(x)."""
    s = simulate(3, 52, 0.05, seed=1)
    for t in s.truth.values():
        x = 0.7 * t.mean_spend
        e = geometric(np.full(40, x), t.decay, t.max_lag)[-1]
        direct = t.max_response * e**t.shape / (e**t.shape + t.half_saturation_effective**t.shape)
        assert t.response(np.array([x]))[0] == pytest.approx(direct, rel=1e-12)
        assert t.budget_response()["kind"] == ("hill" if t.shape <= 1 else "s_hill")


def test_noise_level_is_as_asked():
    s = simulate(4, 208, 0.1, seed=5)
    clean = s.baseline + s.contributions.sum(axis=1).to_numpy()
    assert s.noise_sd == pytest.approx(0.1 * clean.mean())
    assert np.std(s.data["kpi"] - clean) == pytest.approx(s.noise_sd, rel=0.15)
