"""Kaplan-Meier intervals and RMST against R (survival 3.5.3) on the Rossi data.

R 4.2.2, survival 3.5.3, rossi = lifelines' load_rossi()[c("week", "arrest")]::

    f1 <- survfit(Surv(week, arrest) ~ 1, data=rossi, conf.type="log-log")
    summary(f1, times=c(5, 10, 20, 30, 40, 52))
      time n.risk surv         std.err      lower        upper
         5    428 0.9884259259 0.0051460419 0.9724181447 0.9951661973
        10    418 0.9652777778 0.0088082176 0.9430645980 0.9789209971
        20    397 0.9074074074 0.0139459277 0.8759221434 0.9312168841
        30    374 0.8611111111 0.0166387798 0.8247865404 0.8904078161
        40    351 0.8032407407 0.0191270758 0.7625283313 0.8377250903
        52    322 0.7361111111 0.0212051020 0.6918597158 0.7750631834
    f2 <- survfit(Surv(week, arrest) ~ 1, data=rossi)          # conf.type "log", R's default
    summary(f2, times=c(10, 30, 52)): lower 0.9481674518 0.8291094982 0.6957013868
                                      upper 0.9826968712 0.8943479086 0.7788680290
    summary(f2, rmean=40)$table[c("rmean", "se(rmean)")]: 36.548611111111 0.409159343208
    summary(f2, rmean=52)$table[c("rmean", "se(rmean)")]: 45.854166666667 0.608509352265
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.churn.km import km_at, km_table, rmst
from optimizer.errors import DataError


def test_loglog_intervals_match_r(rossi):
    tab = km_at(km_table(rossi["week"], rossi["arrest"], conf_type="log-log"), [5, 10, 20, 30, 40, 52])
    np.testing.assert_array_equal(tab["n_risk"], [428, 418, 397, 374, 351, 322])
    np.testing.assert_allclose(tab["surv"], [0.9884259259, 0.9652777778, 0.9074074074, 0.8611111111, 0.8032407407,
                                             0.7361111111], atol=1e-10)
    np.testing.assert_allclose(tab["std_err"], [0.0051460419, 0.0088082176, 0.0139459277, 0.0166387798, 0.0191270758,
                                                0.0212051020], atol=1e-10)
    np.testing.assert_allclose(tab["lower"], [0.9724181447, 0.9430645980, 0.8759221434, 0.8247865404, 0.7625283313,
                                              0.6918597158], atol=1e-10)
    np.testing.assert_allclose(tab["upper"], [0.9951661973, 0.9789209971, 0.9312168841, 0.8904078161, 0.8377250903,
                                              0.7750631834], atol=1e-10)


def test_log_intervals_match_r_default(rossi):
    tab = km_at(km_table(rossi["week"], rossi["arrest"], conf_type="log"), [10, 30, 52])
    np.testing.assert_allclose(tab["lower"], [0.9481674518, 0.8291094982, 0.6957013868], atol=1e-10)
    np.testing.assert_allclose(tab["upper"], [0.9826968712, 0.8943479086, 0.7788680290], atol=1e-10)


@pytest.mark.parametrize("tau, mean, se", [(40, 36.548611111111, 0.409159343208), (52, 45.854166666667, 0.608509352265)])
def test_rmst_matches_r(rossi, tau, mean, se):
    r = rmst(rossi["week"], rossi["arrest"], tau)
    assert r.rmst == pytest.approx(mean, abs=1e-9) and r.se == pytest.approx(se, abs=1e-9)
    assert r.lower < r.rmst < r.upper


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.booleans()), min_size=2, max_size=60))
def test_interval_contains_estimate_and_rmst_bounded(rows):
    t = np.array([r[0] for r in rows], float)
    e = np.array([r[1] for r in rows])
    if not e.any():
        return
    for kind in ("log-log", "log", "plain"):
        tab = km_table(t, e, conf_type=kind)
        ok = tab["lower"].notna() & tab["upper"].notna()
        assert (tab.loc[ok, "lower"] <= tab.loc[ok, "surv"] + 1e-12).all()
        assert (tab.loc[ok, "surv"] <= tab.loc[ok, "upper"] + 1e-12).all()
        assert ((tab.loc[ok, "lower"] >= 0) & (tab.loc[ok, "upper"] <= 1)).all()
    r = rmst(t, e, 30.0)
    assert 0 <= r.rmst <= 30.0 and r.se >= 0


def test_bad_input():
    with pytest.raises(DataError, match="negative"):
        km_table([1.0, -2.0], [1, 0])
    with pytest.raises(ValueError, match="conf_type"):
        km_table([1.0], [1], conf_type="arcsine")


def test_churn_fit_prints_km_interval_and_rmst(rossi, tmp_path):
    """The same R values through `dmpopt churn fit --horizon-days 40`: S(40) 0.8032 (0.7625-0.8377), RMST 36.55."""
    import json

    from typer.testing import CliRunner

    from optimizer.cli import app

    p = tmp_path / "rossi.csv"
    rossi[["week", "arrest"]].to_csv(p, index=False)
    r = CliRunner().invoke(app, ["churn", "fit", str(p), "--duration-col", "week", "--event-col", "arrest",
                                 "--model", "kaplan_meier", "--horizon-days", "40", "--seed", "1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "S = 0.8032 (95 % log-log CI 0.7625-0.8377)" in r.output and "= 36.55 days" in r.output
    km = json.loads((tmp_path / "o" / "report.json").read_text())["kaplan_meier"]
    assert km["rmst"]["rmst_days"] == pytest.approx(36.548611111111, abs=1e-9)
