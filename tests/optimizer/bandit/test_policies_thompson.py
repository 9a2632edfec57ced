"""Thompson sampling against independent references: MABWiser's stream, 1e6-draw Monte Carlo, closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.bandit.config import BudgetedThompsonConfig, ThompsonConfig
from optimizer.bandit.engine import decide
from optimizer.bandit.policies import make_policy

RATES = [0.02, 0.025, 0.03, 0.04, 0.05]
ARMS = ["a", "b", "c", "d", "e"]


def _reward_table(seed: int, n: int, rates=RATES) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, len(rates))) < rates).astype(int)


@pytest.mark.parametrize("seed", [0, 7, 123])
def test_beta_bernoulli_decisions_bit_identical_to_mabwiser(seed):
    """MABWiser 2.7.4 ThompsonSampling (prior Beta(1, 1), one rng.beta per arm per predict, first
    maximum wins) and our max_block=1 path, same seed, same reward table: identical decisions at
    every step, identical final counts."""
    from mabwiser.mab import MAB, LearningPolicy

    T = 1500
    table = _reward_table(seed + 1, T)
    mab = MAB(arms=ARMS, learning_policy=LearningPolicy.ThompsonSampling(), seed=seed)
    # MABWiser needs a fit before predicting; feed both the same warm-up data
    warm_arms, warm_rewards = ARMS * 2, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    mab.fit(decisions=warm_arms, rewards=warm_rewards)
    ours = make_policy(ThompsonConfig(kind="thompson"), ARMS, seed=0)  # default: reference path
    ours.update_batch(warm_arms, warm_rewards)
    rng = np.random.default_rng(seed)
    for t in range(T):
        theirs = mab.predict()
        mine = ours.arms[ours.choose(rng)]
        assert mine == theirs, f"step {t}: ours {mine}, MABWiser {theirs}"
        r = int(table[t, ARMS.index(mine)])
        mab.partial_fit(decisions=[theirs], rewards=[r])
        ours.update(mine, r)
    a, b = ours.alpha_beta()
    for i, arm in enumerate(ARMS):
        assert a[i] == mab._imp.arm_to_success_count[arm]
        assert b[i] == mab._imp.arm_to_fail_count[arm]


def test_batch_decisions_bit_identical_to_mabwiser_vectorized_predict():
    """MABWiser predicts n contexts with one rng.beta(a, b, n) per arm (arm-major); so do we."""
    from mabwiser.mab import MAB, LearningPolicy

    mab = MAB(arms=ARMS, learning_policy=LearningPolicy.ThompsonSampling(), seed=11)
    warm = ARMS * 40
    rewards = _reward_table(3, len(warm), [0.3] * 5)[np.arange(len(warm)), np.arange(len(warm)) % 5]
    mab.fit(decisions=warm, rewards=rewards.tolist())
    ours = make_policy(ThompsonConfig(kind="thompson"), ARMS, seed=0)
    ours.update_batch(warm, rewards.tolist())
    theirs = mab.predict(contexts=np.zeros((500, 1)))
    mine = ours.choose_batch(np.random.default_rng(11), 500)
    assert [ARMS[i] for i in mine] == theirs


def test_fast_path_matches_reference_path_in_distribution_and_bits():
    """Fast path (blocks of pre-drawn samples) vs reference path (max_block=1, MABWiser stream).

    Bits: with a fixed posterior (no update), each path's k-th draw for arm i comes from the same
    rng.beta(a_i, b_i) call sequence only when blocks are 1, so we check the fast path decision by
    decision against an explicit re-implementation of the block schedule. Distribution: choice
    frequencies of both paths agree with the quadrature probabilities within 4 standard errors.
    """
    pol_fast = make_policy(ThompsonConfig(kind="thompson"), ARMS, seed=0, max_block=64)
    pol_fast.update_batch(["a"] * 30 + ["b"] * 30, [1] * 5 + [0] * 25 + [1] * 7 + [0] * 23)
    rng = np.random.default_rng(5)
    n = 3000
    fast = [pol_fast.choose(rng) for _ in range(n)]
    # explicit block schedule: arm i refills with sizes 1, 2, 4, ..., 64, 64, ... in arm order
    a, b = pol_fast.alpha_beta()
    rng2 = np.random.default_rng(5)
    bufs = [[] for _ in ARMS]
    sizes = [1] * 5
    ref = []
    for _ in range(n):
        draws = []
        for i in range(5):
            if not bufs[i]:
                bufs[i] = list(rng2.beta(a[i], b[i], sizes[i])) if sizes[i] > 1 else [rng2.beta(a[i], b[i])]
                sizes[i] = min(2 * sizes[i], 64)
            draws.append(bufs[i].pop(0))
        ref.append(int(np.argmax(draws)))
    assert fast == ref
    p = pol_fast.probabilities()
    freq = np.bincount(fast, minlength=5) / n
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-3)


@pytest.mark.parametrize(
    "alpha_beta",
    [
        ([15, 14, 26, 10, 9909], [600, 586, 899, 433, 187518]),  # a long run: one dominant arm
        ([3, 4, 5, 2, 6], [97, 96, 95, 98, 94]),                 # early: close, wide posteriors
        ([1, 1, 1, 1, 1], [1, 1, 1, 1, 1]),                       # the prior: 0.2 each
    ],
)
def test_thompson_propensities_within_0_01_of_1e6_draw_reference(alpha_beta):
    """Reference: 1e6 posterior draws per arm (numpy, independent of the quadrature), share of
    draws in which each arm is the largest. Requirement: within 0.01; we also hold 0.003 (3 SE)."""
    a, b = (np.asarray(v, float) for v in alpha_beta)
    pol = make_policy(ThompsonConfig(kind="thompson"), ARMS, seed=0)
    n = a + b - 2
    pol.stats.n = n.tolist()
    pol.stats.s = (a - 1).tolist()
    draws = np.random.default_rng(2024).beta(a[:, None], b[:, None], size=(5, 1_000_000))
    reference = np.bincount(draws.argmax(axis=0), minlength=5) / 1e6
    got = pol.probabilities()  # the fast shared-grid rule
    assert np.abs(got - reference).max() < 0.01
    assert np.abs(got - reference).max() < 0.003
    pol.precise = True  # the quantile rule
    assert np.abs(pol.probabilities() - reference).max() < 0.003
    assert np.abs(pol.probabilities() - got).max() < 1e-3
    d = decide(pol, None, np.random.default_rng(0))
    assert abs(d.propensity - reference[d.arm_index]) < 0.01


def test_normal_thompson_posterior_matches_closed_form():
    """Murphy (2007) NIG update, by hand for one arm with prior mu0=0, kappa0=1, alpha0=0.5,
    beta0=0.5 (prior_variance=1) and data [2, 4]: n=2, mean=3, ss=2;
    kappa=3, mu=(0+6)/3=2, alpha=1.5, beta=0.5+1+1*2*9/(2*3)=4.5;
    marginal of the mean: t with 3 dof, loc 2, scale sqrt(4.5/(1.5*3)) = 1."""
    pol = make_policy(ThompsonConfig(kind="thompson", reward_model="normal"), ["x", "y"], seed=0,
                      reward_bounds=(-100.0, 100.0))
    pol.update("x", 2.0)
    pol.update("x", 4.0)
    mu, scale, df = pol.posterior()
    assert mu[0] == pytest.approx(2.0)
    assert scale[0] == pytest.approx(1.0)
    assert df[0] == pytest.approx(3.0)
    # the untouched arm keeps the prior: t with 1 dof, loc 0, scale sqrt(0.5/(0.5*1)) = 1
    assert (mu[1], scale[1], df[1]) == pytest.approx((0.0, 1.0, 1.0))


def test_normal_thompson_propensity_matches_monte_carlo():
    """P(best) for Student-t posteriors vs 1e6 draws of the same t's (numpy standard_t)."""
    pol = make_policy(ThompsonConfig(kind="thompson", reward_model="normal"), ["x", "y", "z"], seed=0,
                      reward_bounds=(0.0, 50.0))
    rng = np.random.default_rng(1)
    for arm, m in (("x", 10.0), ("y", 10.5), ("z", 9.0)):
        pol.update_batch([arm] * 20, np.clip(rng.normal(m, 3.0, 20), 0, 50).tolist())
    mu, scale, df = pol.posterior()
    draws = mu[:, None] + scale[:, None] * np.random.default_rng(9).standard_t(df[:, None], size=(3, 1_000_000))
    reference = np.bincount(draws.argmax(axis=0), minlength=3) / 1e6
    assert np.abs(pol.probabilities() - reference).max() < 0.003


def test_budgeted_thompson_never_overspends_and_prefers_conversions_per_cost():
    """Arm 'cheap' converts 2 % at cost 1, 'dear' 5 % at cost 5: per unit cost cheap is 0.02 vs 0.01.
    With budget 20,000 the policy must stop at or below 20,000 and buy mostly 'cheap' (seed 0:
    96 % cheap on the reference path, 97 % on the fast path; 94-99.6 % over seeds 0-5)."""
    from optimizer.bandit.config import ArmConfig
    from optimizer.bandit.policies import BudgetExhaustedError

    arms = [ArmConfig(name="cheap", cost_per_action=1.0), ArmConfig(name="dear", cost_per_action=5.0)]
    pol = make_policy(BudgetedThompsonConfig(kind="budgeted_thompson", budget=20_000.0), arms, seed=0)
    rng = np.random.default_rng(0)
    served = []
    with pytest.raises(BudgetExhaustedError, match="budget exhausted"):
        for _ in range(100_000):
            i = pol.choose(rng)
            served.append(i)
            pol.update(i, float(rng.random() < (0.02, 0.05)[i]))
    assert pol.spent <= 20_000.0
    assert pol.spent > 20_000.0 - 1.0  # it used the budget down to less than the cheapest arm
    assert served.count(0) > 0.8 * len(served)
