"""Known answers: the Rossi data fitted here against R's survival package.

Reference run (R 4.2.2 Patched, survival 3.5.3), with ``rossi.csv`` written by
``lifelines.datasets.load_rossi().to_csv("rossi.csv", index=False)``::

    library(survival); options(digits=10)
    rossi <- read.csv("rossi.csv")
    f <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data=rossi, ties="efron")
    cbind(coef=coef(f), se=sqrt(diag(vcov(f)))); f$loglik; f$concordance
    s <- survreg(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data=rossi, dist=d)
    # for d in weibull, loglogistic, lognormal: coef, se, log(scale) and its se, loglik

The printed numbers are pasted below, one test per call; assertions use the printed precision
(10 significant digits) with a tolerance that covers optimiser convergence (1e-6 relative).
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.churn.aft import fit_aft
from optimizer.churn.coxph import fit_cox
from optimizer.churn.fitters import fit_kind
from optimizer.churn.metrics import brier_scores, concordance, integrated_brier_score

ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def test_cox_efron_matches_r_coxph(rossi_arrays):
    """R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data=rossi, ties="efron")

    ::

                       coef            se
        fin  -0.37942216649 0.19137948071
        age  -0.05743774268 0.02199947060
        race  0.31389978784 0.30799277656
        wexp -0.14979569767 0.21222429625
        mar  -0.43370387794 0.38186805767
        paro -0.08487108250 0.19575667191
        prio  0.09149708099 0.02864854996
        f$loglik: -675.3806323 -658.7476594
    """
    T, E, X = rossi_arrays
    f = fit_cox(T, E, X)
    coef = [-0.37942216649, -0.05743774268, 0.31389978784, -0.14979569767, -0.43370387794, -0.08487108250, 0.09149708099]
    se = [0.19137948071, 0.02199947060, 0.30799277656, 0.21222429625, 0.38186805767, 0.19575667191, 0.02864854996]
    np.testing.assert_allclose(f.params, coef, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f.se, se, rtol=1e-6)
    assert f.loglik == pytest.approx(-658.7476594, abs=1e-6)
    assert f.loglik_null == pytest.approx(-675.3806323, abs=1e-6)


def test_cox_strata_matches_r_coxph(rossi_arrays, rossi):
    """R: coxph(Surv(week, arrest) ~ fin + age + race + mar + paro + prio + strata(wexp), data=rossi, ties="efron")

    ::

                       coef            se
        fin  -0.38015409882 0.19127255032
        age  -0.05821347959 0.02206465868
        race  0.30656944942 0.30802980405
        mar  -0.45387162857 0.38173697920
        paro -0.08273891075 0.19568598517
        prio  0.09074364225 0.02868358841
        loglik: -592.7731203 -580.8857465
    """
    T, E, _ = rossi_arrays
    cols = [c for c in ROSSI_COVARIATES if c != "wexp"]
    f = fit_cox(T, E, rossi[cols].to_numpy(dtype=float), strata=rossi["wexp"].astype(str).to_numpy())
    np.testing.assert_allclose(
        f.params, [-0.38015409882, -0.05821347959, 0.30656944942, -0.45387162857, -0.08273891075, 0.09074364225], rtol=1e-6)
    np.testing.assert_allclose(
        f.se, [0.19127255032, 0.02206465868, 0.30802980405, 0.38173697920, 0.19568598517, 0.02868358841], rtol=1e-6)
    assert f.loglik == pytest.approx(-580.8857465, abs=1e-6)


def test_cox_penalized_and_baseline_match_lifelines(rossi, rossi_arrays):
    """lifelines 0.30.3 ``CoxPHFitter(penalizer=0.1).fit(rossi, "week", "arrest")`` as the oracle.

    R's ``ridge()`` penalises unstandardised coefficients with another scaling, so lifelines (whose
    convention we follow) is the reference here; the baseline is Breslow's, as lifelines'.
    """
    from lifelines import CoxPHFitter

    T, E, X = rossi_arrays
    ref = CoxPHFitter(penalizer=0.1).fit(rossi, "week", "arrest")
    f = fit_cox(T, E, X, penalizer=0.1)
    np.testing.assert_allclose(f.params, ref.params_.to_numpy(), atol=2e-5)
    np.testing.assert_allclose(f.se, ref.standard_errors_.to_numpy(), atol=2e-5)
    bch = ref.baseline_cumulative_hazard_
    times = bch.index.to_numpy()
    ours = f.cumulative_hazard(times, np.tile(X.mean(axis=0), (times.size, 1)))
    np.testing.assert_allclose(ours, bch.to_numpy()[:, 0], atol=1e-5)


SURVREG = {
    # dist: (coef incl. intercept, se incl. intercept, log(scale), se of log(scale), loglik)
    "weibull": (
        [3.99013479653, 0.27216335967, 0.04071379831, -0.22480244311, 0.10655658692, 0.31127326485, 0.05882725260, -0.06581690478],
        [0.41909518886, 0.13796191674, 0.01600355106, 0.22015888343, 0.15154096693, 0.27330224640, 0.13963823961, 0.02094057526],
        -0.3391082409, 0.08902669065, -679.9165639,
    ),
    "loglogistic": (
        [3.91830414401, 0.28887613923, 0.03636558904, -0.27914925908, 0.17842381455, 0.34730397706, 0.05079816985, -0.06918224429],
        [0.42743413749, 0.14558522614, 0.01557192459, 0.22965365212, 0.15718520313, 0.26966860539, 0.14957417134, 0.02274184364],
        -0.4352007282, 0.0864163385, -679.9384111,
    ),
    "lognormal": (
        [4.26766570382, 0.34284767924, 0.02720184150, -0.36315995894, 0.26813206195, 0.46035337474, 0.05587937616, -0.06551751014],
        [0.46168950166, 0.16408633214, 0.01575596337, 0.26469177783, 0.17888917179, 0.29514818130, 0.16911122801, 0.02709065862],
        0.2581785366, 0.07643588008, -683.2346253,
    ),
}


@pytest.mark.parametrize("dist", sorted(SURVREG))
def test_aft_matches_r_survreg(rossi_arrays, dist):
    """R: survreg(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data=rossi, dist=<dist>)

    Printed output (coef / se; "log(scale)" and its se from vcov(s)[9, 9]; loglik[2]) is in
    ``SURVREG`` above. survreg's ``scale`` is our sigma; lifelines' rho_ (Weibull) = 1/scale.
    """
    T, E, X = rossi_arrays
    coef, se, log_scale, se_log_scale, loglik = SURVREG[dist]
    f = fit_aft(T, E, X, dist)
    np.testing.assert_allclose(np.concatenate(([f.intercept], f.params)), coef, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f.se[:-1], se, rtol=1e-6)
    assert f.log_sigma == pytest.approx(log_scale, abs=1e-8)
    assert f.se[-1] == pytest.approx(se_log_scale, rel=1e-6)
    assert f.loglik == pytest.approx(loglik, abs=1e-6)


def test_univariate_weibull_matches_r_and_lifelines(rossi_arrays):
    """R: s0 <- survreg(Surv(week, arrest) ~ 1, data=rossi, dist="weibull")

    ``coef(s0)`` 4.817674108, ``log(s0$scale)`` -0.3112578639, ``s0$loglik`` -696.6243969.
    lifelines' WeibullFitter gives lambda_ = exp(4.8177), rho_ = 1/scale.
    """
    from lifelines import WeibullFitter

    T, E, X = rossi_arrays
    m = fit_kind("weibull", T, E, X, ROSSI_COVARIATES)
    assert m.fit.intercept == pytest.approx(4.817674108, abs=1e-8)
    assert m.fit.log_sigma == pytest.approx(-0.3112578639, abs=1e-8)
    assert m.loglik == pytest.approx(-696.6243969, abs=1e-6)
    wf = WeibullFitter().fit(T, E)
    assert wf.lambda_ == pytest.approx(np.exp(m.fit.intercept), rel=1e-5)
    assert wf.rho_ == pytest.approx(1 / m.fit.sigma, rel=1e-5)


def test_kaplan_meier_matches_r_survfit(rossi_arrays):
    """R: summary(survfit(Surv(week, arrest) ~ 1, data=rossi), times=c(10,20,30,40,52))

    ::

         time n.risk n.event survival
           10    418      15 0.965278
           20    397      25 0.907407
           30    374      20 0.861111
           40    351      25 0.803241
           52    322      29 0.736111
    """
    T, E, X = rossi_arrays
    km = fit_kind("kaplan_meier", T, E, X, ROSSI_COVARIATES)
    s = km.survival(np.array([10, 20, 30, 40, 52.0]), X[:5])
    np.testing.assert_allclose(s, [0.965278, 0.907407, 0.861111, 0.803241, 0.736111], atol=5e-7)


def test_harrell_c_matches_r_concordance(rossi_arrays):
    """R: f$concordance of the coxph fit above: concordance 6.403292471e-01 (27242 concordant, 15291 discordant)."""
    T, E, X = rossi_arrays
    m = fit_kind("cox", T, E, X, ROSSI_COVARIATES)
    assert concordance(T, E, m.risk_score(X)) == pytest.approx(0.6403292471, abs=1e-9)


def test_brier_matches_r_survfit_computation(rossi_arrays):
    """IPCW Brier score (Graf et al. 1999) of the Cox model, computed in R from R's own curves.

    R 4.2.2, survival 3.5.3 (rossi and f as above)::

        times <- c(10, 20, 30, 40, 50)
        sf <- survfit(f, newdata=rossi, ctype=1, stype=2, se.fit=FALSE)   # Breslow baseline, S = exp(-H)
        S <- t(summary(sf, times=times, extend=TRUE)$surv)
        cf <- survfit(Surv(week, 1 - arrest) ~ 1, data=rossi)              # censoring KM, G
        G <- stepfun(cf$time, c(1, cf$surv)); Gminus <- function(x) G(x - 1e-9)
        bs <- sapply(seq_along(times), function(j) { t <- times[j]
          died <- rossi$week <= t & rossi$arrest == 1; alive <- rossi$week > t
          sum(ifelse(died, S[, j]^2 / Gminus(rossi$week), 0) + ifelse(alive, (1 - S[, j])^2 / G(t), 0)) / nrow(rossi) })
        # [1] 0.03325008658 0.08053027341 0.11368048875 0.14694677286 0.17562133029
        ibs <- sum(diff(times) * (head(bs, -1) + tail(bs, -1)) / 2) / (max(times) - min(times))
        # [1] 0.1113983109
    """
    T, E, X = rossi_arrays
    m = fit_kind("cox", T, E, X, ROSSI_COVARIATES)
    times = np.array([10, 20, 30, 40, 50.0])
    S = m.survival(np.tile(times, (T.size, 1)), X)
    np.testing.assert_allclose(
        brier_scores(T, E, S, times), [0.03325008658, 0.08053027341, 0.11368048875, 0.14694677286, 0.17562133029], rtol=1e-7)
    assert integrated_brier_score(T, E, S, times) == pytest.approx(0.1113983109, rel=1e-8)


def test_brier_by_hand_with_censoring_weights():
    """Four customers, T = (1, 2, 3, 4), event = (1, 0, 1, 0), computed by hand.

    Censoring KM G: censorings at 2 (3 at risk) and 4 (1 at risk): G = 1 on [0, 2), 2/3 on [2, 4).
    At t = 2.5 with S(2.5) = (0.2, 0.5, 0.6, 0.9): customer 1 churned (weight 1/G(1-) = 1): 0.2^2;
    customer 2 censored before t: 0; customers 3, 4 alive (weight 1/G(2.5) = 3/2):
    1.5 * 0.4^2 + 1.5 * 0.1^2.  BS = (0.04 + 0.24 + 0.015) / 4 = 0.07375.
    At t = 3.5 with S = (0.1, 0.4, 0.5, 0.8): 0.1^2/1 + 0 + 0.5^2/G(3-) + 0.2^2/G(3.5)
    = 0.01 + 0.375 + 0.06 = 0.445;  BS = 0.11125.  IBS on [2.5, 3.5] = (0.07375 + 0.11125)/2 = 0.0925.
    """
    T = np.array([1.0, 2.0, 3.0, 4.0])
    E = np.array([1, 0, 1, 0])
    S = np.array([[0.2, 0.1], [0.5, 0.4], [0.6, 0.5], [0.9, 0.8]])
    times = np.array([2.5, 3.5])
    np.testing.assert_allclose(brier_scores(T, E, S, times), [0.07375, 0.11125], rtol=1e-12)
    assert integrated_brier_score(T, E, S, times) == pytest.approx(0.0925, rel=1e-12)
