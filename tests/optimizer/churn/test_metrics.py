"""Brier score and calibration: invariants and simple known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.churn.fitters import kaplan_meier, step_eval
from optimizer.churn.metrics import brier_scores, calibration_at


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60))
def test_without_censoring_brier_is_plain_mean_squared_error(seed, n):
    """With no censoring G = 1 everywhere, so BS(t) = mean((1{T > t} - S(t))^2)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(1, 100, n)
    E = np.ones(n, dtype=int)
    times = np.array([10.0, 50.0, 90.0])
    S = rng.uniform(0, 1, (n, 3))
    want = ((T[:, None] > times[None, :]).astype(float) - S) ** 2
    np.testing.assert_allclose(brier_scores(T, E, S, times), want.mean(axis=0), rtol=1e-12)


def test_calibration_of_kaplan_meier_on_its_own_data_is_exact(rossi_arrays):
    """One group, predicted = the KM of the same data at the horizon: observed equals predicted."""
    T, E, _ = rossi_arrays
    t, s = kaplan_meier(T, E)
    p = np.full(T.size, 1 - step_eval(t, s, np.array([40.0]))[0])
    table, err = calibration_at(T, E, p, 40.0, n_groups=1)
    assert table.loc[0, "observed"] == pytest.approx(table.loc[0, "predicted"], abs=1e-12)
    assert err == pytest.approx(0.0, abs=1e-12)
    assert table.loc[0, "predicted"] == pytest.approx(1 - 0.803241, abs=5e-7)  # R: survfit at 40 = 0.803241


def test_calibration_groups_by_predicted_risk():
    """Two populations, predictions right for one and wrong for the other: the error shows it."""
    rng = np.random.default_rng(0)
    n = 2000
    high = np.arange(n) < n // 2
    T = np.where(high, rng.exponential(20, n), rng.exponential(200, n))
    E = np.ones(n, dtype=int)
    true_p = np.where(high, 1 - np.exp(-30 / 20), 1 - np.exp(-30 / 200))
    table, err = calibration_at(T, E, true_p, 30.0, n_groups=2)
    assert err < 0.03
    _, err_bad = calibration_at(T, E, np.where(high, 0.5, 0.5), 30.0, n_groups=2)
    assert err_bad > 0.2


def test_stratified_concordance_matches_r(rossi):
    """R 4.2.2, survival 3.5.3:
    fit <- coxph(Surv(week, arrest) ~ fin + age + prio + strata(wexp), data=rossi); concordance(fit)
    -> 0.602986857826 (concordant 5532 + 7032, discordant 3914 + 4340, tied.x 46 + 61, within strata only);
    coef: fin -0.3508034440823, age -0.0600149996103, prio 0.0878762105309."""
    import numpy as np

    from optimizer.churn.metrics import concordance

    X = rossi[["fin", "age", "prio"]].to_numpy(float)
    beta = np.array([-0.3508034440823, -0.0600149996103, 0.0878762105309])
    c = concordance(rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(), X @ beta, strata=rossi["wexp"].to_numpy())
    assert abs(c - 0.602986857826) < 1e-9
    pooled = concordance(rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(), X @ beta)
    assert abs(pooled - c) > 1e-4  # ignoring the strata compares pairs across baselines: a different number
