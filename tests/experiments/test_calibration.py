"""Calibration by simulation (fixed seeds): A/A false-positive rate and 95 % interval coverage.

Each family runs R = 20,000 replications vectorised through the production code path
(``compare_table`` / ``group_sequential`` machinery). Monte-Carlo standard error of a rate near
5 % (or of 95 % coverage) is sqrt(0.05 * 0.95 / 20000) = 0.154 pp, so the required tolerance of
+-0.5 pp is 3.2 standard errors: a correct procedure fails it with probability ~0.1 %, and a
procedure off by 1 pp fails it almost surely. Seeds are fixed, so the outcome is deterministic.
The longer runs (200,000 replications) are in tests/benchmarks/bench_experiments_stats.py.
The ``simulate_*`` functions are shared with that benchmark.
"""

import numpy as np
import pytest

from experiments.analysis import AnalysisSettings, compare_table
from experiments.sequential import boundaries
from experiments.stats import VariantArrays

REPS = 20_000
TOL = 0.005


def _arrays(y, x=None, d=None):
    """VariantArrays of each row of per-user matrices (rows = replications)."""
    n = np.full(y.shape[0], float(y.shape[1]))
    mean = y.mean(axis=1)
    yc = y - mean[:, None]
    kw = {}
    if x is not None:
        xc = x - x.mean(axis=1)[:, None]
        kw.update(cov_mean=x.mean(axis=1), cov_m2=(xc * xc).sum(1), cross_m2=(xc * yc).sum(1))
    if d is not None:
        dc = d - d.mean(axis=1)[:, None]
        kw.update(den_mean=d.mean(axis=1), den_m2=(dc * dc).sum(1), num_den_m2=(yc * dc).sum(1))
        if x is not None:
            kw["cov_den_m2"] = (xc * dc).sum(1)
    return VariantArrays.from_columns(n, mean, (yc * yc).sum(1), **kw)


def _rates(table, true_diff):
    f = table.frame
    fpr = float((f.p_value < 0.05).mean())
    cover = float(((f.lift_absolute_ci_low <= true_diff) & (true_diff <= f.lift_absolute_ci_high)).mean())
    return fpr, cover


def simulate_proportions(reps, seed, ci="wald", n=4000, p=0.10, lift=0.0, pooled=True, continuity=False):
    rng = np.random.default_rng(seed)
    x0 = rng.binomial(n, p, reps)
    x1 = rng.binomial(n, p + lift, reps)
    c = VariantArrays.from_columns(np.full(reps, n), x0 / n, x0 * (1 - x0 / n))
    t = VariantArrays.from_columns(np.full(reps, n), x1 / n, x1 * (1 - x1 / n))
    settings = AnalysisSettings(effect_scale="absolute", proportion_ci=ci, pooled=pooled, continuity=continuity)
    return _rates(compare_table(c, t, kind="proportion", settings=settings), lift)


def simulate_counts(reps, seed, n=300, rate=0.8, chunk=5000):
    """Orders per user ~ Poisson(0.8): the count family (Welch on per-user counts)."""
    rng = np.random.default_rng(seed)
    hits = covered = 0
    for start in range(0, reps, chunk):
        k = min(chunk, reps - start)
        arms = [_arrays(rng.poisson(rate, (k, n)).astype(float)) for _ in range(2)]
        fpr, cov = _rates(compare_table(*arms, kind="count"), 0.0)
        hits += fpr * k
        covered += cov * k
    return hits / reps, covered / reps


def simulate_means(reps, seed, n=300, shift=0.0, cuped=False, chunk=5000):
    """Gamma(2, 3) revenue per user (skewness 1.4); CUPED covariate correlated 0.7 with it."""
    rng = np.random.default_rng(seed)
    hits = covered = 0
    for start in range(0, reps, chunk):
        k = min(chunk, reps - start)
        arms = []
        for arm in range(2):
            x = rng.gamma(2.0, 3.0, (k, n))
            y = 0.7 * x + rng.gamma(2.0, 2.0, (k, n)) + (shift if arm else 0.0)
            arms.append(_arrays(y, x if cuped else None))
        fpr, cov = _rates(compare_table(*arms, kind="mean", settings=AnalysisSettings(effect_scale="absolute", cuped=cuped)), shift)
        hits += fpr * k
        covered += cov * k
    return hits / reps, covered / reps


def simulate_ratio(reps, seed, n=400, cuped=False, chunk=4000):
    """Revenue per session: sessions 1 + Poisson(1.5) per user, revenue Gamma(2 * sessions, 1)."""
    rng = np.random.default_rng(seed)
    hits = covered = 0
    for start in range(0, reps, chunk):
        k = min(chunk, reps - start)
        arms = []
        for _ in range(2):
            d = 1.0 + rng.poisson(1.5, (k, n))
            x = rng.gamma(2.0 * d, 1.0)  # pre-period revenue: correlated through sessions
            y = rng.gamma(2.0 * d, 1.0) + 0.5 * x
            arms.append(_arrays(y, x if cuped else None, d))
        fpr, cov = _rates(compare_table(*arms, kind="ratio", settings=AnalysisSettings(effect_scale="absolute", cuped=cuped)), 0.0)
        hits += fpr * k
        covered += cov * k
    return hits / reps, covered / reps


def simulate_sequential(reps, seed, kind="obrien_fleming", looks=5, users_per_week=2000, p=0.1, tau=None):
    """Weekly looks at a conversion A/A test; returns the rate of ever rejecting (peeking at every look)."""
    rng = np.random.default_rng(seed)
    x0 = rng.binomial(users_per_week, p, (reps, looks)).cumsum(axis=1)
    x1 = rng.binomial(users_per_week, p, (reps, looks)).cumsum(axis=1)
    n = users_per_week * np.arange(1, looks + 1)
    p0, p1 = x0 / n, x1 / n
    se = np.sqrt(p0 * (1 - p0) / n + p1 * (1 - p1) / n)
    d = p1 - p0
    if tau is not None:  # mSPRT
        v = se**2
        log_lr = 0.5 * np.log(v / (v + tau**2)) + tau**2 * d**2 / (2 * v * (v + tau**2))
        return float((log_lr >= np.log(1 / 0.05)).any(axis=1).mean())
    z = d / se
    if kind == "naive":
        return float((np.abs(z) >= 1.959963984540054).any(axis=1).mean())
    c = boundaries(np.arange(1, looks + 1) / looks, 0.05, kind)
    return float((np.abs(z) >= c).any(axis=1).mean())


@pytest.mark.parametrize("ci", ["wald", "newcombe"])
def test_proportions_calibrated(ci):
    fpr, _ = simulate_proportions(REPS, seed=101, ci=ci)
    _, cover = simulate_proportions(REPS, seed=102, ci=ci, lift=0.01)
    assert abs(fpr - 0.05) <= TOL, fpr
    assert abs(cover - 0.95) <= TOL, cover


def test_unpooled_z_calibrated_and_continuity_correction_conservative():
    """Unpooled (Wald) z meets the band. Yates' correction (offered to match R prop.test) is
    conservative by construction: its A/A rate is below 5 % (about 4.5 % at n = 4,000) and its
    coverage above 95 %, so it is checked one-sided."""
    fpr, _ = simulate_proportions(REPS, seed=111, pooled=False)
    _, cover = simulate_proportions(REPS, seed=112, pooled=False, lift=0.01)
    assert abs(fpr - 0.05) <= TOL, fpr
    assert abs(cover - 0.95) <= TOL, cover
    fpr_cc, _ = simulate_proportions(REPS, seed=113, continuity=True)
    _, cover_cc = simulate_proportions(REPS, seed=114, continuity=True, lift=0.01)
    assert fpr_cc <= 0.05 and cover_cc >= 0.95, (fpr_cc, cover_cc)


def test_count_metric_calibrated():
    fpr, cover = simulate_counts(REPS, seed=121)
    assert abs(fpr - 0.05) <= TOL, fpr
    assert abs(cover - 0.95) <= TOL, cover


@pytest.mark.parametrize("cuped", [False, True])
def test_welch_calibrated(cuped):
    fpr, cover = simulate_means(REPS, seed=201 + cuped, cuped=cuped)
    assert abs(fpr - 0.05) <= TOL, fpr
    assert abs(cover - 0.95) <= TOL, cover
    _, cover_shift = simulate_means(REPS // 4, seed=203, shift=0.5, cuped=cuped)
    assert abs(cover_shift - 0.95) <= 2 * TOL, cover_shift  # 5,000 reps: MC s.e. 0.31 pp


@pytest.mark.parametrize("cuped", [False, True])
def test_ratio_delta_method_calibrated(cuped):
    fpr, cover = simulate_ratio(REPS, seed=301 + cuped, cuped=cuped)
    assert abs(fpr - 0.05) <= TOL, fpr
    assert abs(cover - 0.95) <= TOL, cover


@pytest.mark.parametrize("kind", ["obrien_fleming", "pocock"])
def test_group_sequential_keeps_alpha_under_weekly_peeking(kind):
    rate = simulate_sequential(REPS, seed=401, kind=kind)
    assert rate <= 0.05 + TOL, rate
    assert rate >= 0.05 - 2 * TOL, rate  # and it is not needlessly conservative


def test_msprt_keeps_alpha_and_naive_peeking_does_not():
    assert simulate_sequential(REPS, seed=402, tau=0.01) <= 0.05
    naive = simulate_sequential(REPS, seed=403, kind="naive")
    assert naive > 0.10, naive  # the failure the procedures above prevent (about 14 % with 5 looks)


def test_relative_scale_is_calibrated():
    """The default effect scale: delta-method relative lift. A/A false-positive rate within +-0.5 pp of
    5 %, and 95 % coverage of the true relative lift (+10 %: rate 0.10 -> 0.11; means 20 -> 22),
    20,000 replications each (seeds 301-304), n = 4,000 per arm."""
    rng = np.random.default_rng(301)
    n = 4000
    s = AnalysisSettings(effect_scale="relative")
    for lift, seed in ((0.0, 301), (0.10, 302)):
        rng = np.random.default_rng(seed)
        x0 = rng.binomial(n, 0.10, REPS)
        x1 = rng.binomial(n, 0.10 * (1 + lift), REPS)
        c = VariantArrays.from_columns(np.full(REPS, n), x0 / n, x0 * (1 - x0 / n))
        t = VariantArrays.from_columns(np.full(REPS, n), x1 / n, x1 * (1 - x1 / n))
        f = compare_table(c, t, kind="proportion", settings=s).frame
        if lift == 0:
            assert abs(float((f.p_value < 0.05).mean()) - 0.05) <= TOL
        cover = float(((f.lift_relative_ci_low <= lift) & (lift <= f.lift_relative_ci_high)).mean())
        assert abs(cover - 0.95) <= TOL, cover
    for lift, seed in ((0.0, 303), (0.10, 304)):
        rng = np.random.default_rng(seed)
        # per-arm sufficient statistics of n normal users (sd 10): mean ~ N(mu, 100/n), m2 ~ 100 chi2(n-1)
        means = [rng.normal(mu, 10 / np.sqrt(n), REPS) for mu in (20.0, 20.0 * (1 + lift))]
        m2s = [100 * rng.chisquare(n - 1, REPS) for _ in range(2)]
        c, t = (VariantArrays.from_columns(np.full(REPS, n), m, v) for m, v in zip(means, m2s))
        f = compare_table(c, t, kind="mean", settings=s).frame
        if lift == 0:
            assert abs(float((f.p_value < 0.05).mean()) - 0.05) <= TOL
        cover = float(((f.lift_relative_ci_low <= lift) & (lift <= f.lift_relative_ci_high)).mean())
        assert abs(cover - 0.95) <= TOL, cover
