"""Contract tests over every policy, plus known answers for the index and linear policies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandit import config as C
from optimizer.bandit.policies import make_policy, policy_from_state
from optimizer.errors import DataError

ARMS = [C.ArmConfig(name="email", cost_per_action=0.1), C.ArmConfig(name="sms", cost_per_action=0.5),
        C.ArmConfig(name="push", cost_per_action=0.02)]

CASES = {
    "thompson": (C.ThompsonConfig(kind="thompson"), {}),
    "thompson_discount": (C.ThompsonConfig(kind="thompson", drift={"kind": "discount", "factor": 0.99}), {}),
    "thompson_window": (C.ThompsonConfig(kind="thompson", drift={"kind": "window", "size": 20}), {}),
    "thompson_change_detection": (C.ThompsonConfig(kind="thompson", drift={
        "kind": "change_detection", "horizon_decisions": 1000, "check_every": 5, "split_every": 2,
        "max_splits": 16, "forced_exploration": 0.1}), {}),
    "thompson_normal": (C.ThompsonConfig(kind="thompson", reward_model="normal"), {"reward_bounds": (0.0, 100.0)}),
    "ucb1": (C.UCB1Config(kind="ucb1"), {}),
    "ucb1_window": (C.UCB1Config(kind="ucb1", drift={"kind": "window", "size": 30}), {}),
    "kl_ucb": (C.KLUCBConfig(kind="kl_ucb"), {}),
    "kl_ucb_discount": (C.KLUCBConfig(kind="kl_ucb", drift={"kind": "discount", "factor": 0.95}), {}),
    "epsilon_greedy": (C.EpsilonGreedyConfig(kind="epsilon_greedy", epsilon=0.2), {}),
    "exp3": (C.EXP3Config(kind="exp3", gamma=0.2), {}),
    "lin_ucb": (C.LinUCBConfig(kind="lin_ucb"), {"context_dim": 3}),
    "lin_ts": (C.LinTSConfig(kind="lin_ts"), {"context_dim": 3}),
    "budgeted_thompson": (C.BudgetedThompsonConfig(kind="budgeted_thompson", budget=1e6), {}),
}


def _policy(name, seed=0, max_block=64):
    """Thompson-type policies on the fast path (the reference path is checked against MABWiser)."""
    cfg, kw = CASES[name]
    return make_policy(cfg, ARMS, seed=seed, max_block=max_block, **kw)


def _context(pol, rng):
    return rng.random(pol.context_dim) if pol.contextual else None


def _reward(pol, i, rng):
    if not pol.binary:
        return float(np.clip(rng.normal(20 + 10 * i, 5), 0, 100))
    return float(rng.random() < (0.1, 0.3, 0.2)[i])


def _run(pol, rng, n, mask=None):
    chosen = []
    for _ in range(n):
        x = _context(pol, rng)
        i = pol.choose(rng, x, mask)
        chosen.append(i)
        pol.update(i, _reward(pol, i, rng), context=x)
    return chosen


@pytest.mark.parametrize("name", list(CASES))
def test_probabilities_are_a_distribution_over_eligible_arms(name):
    pol = _policy(name)
    rng = np.random.default_rng(1)
    _run(pol, rng, 60)
    x = _context(pol, rng)
    for mask in (None, (True, False, True), (False, True, False)):
        p = pol.probabilities(x, mask)
        assert p.shape == (3,)
        assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-9)
        if mask is not None:
            assert all(p[i] == 0 for i in range(3) if not mask[i])
            assert all(pol.choose(rng, x, mask) in (0, 1, 2) and mask[pol.choose(rng, x, mask)] for _ in range(20))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("max_block", [1, 64])
def test_same_seed_same_decisions(name, max_block):
    a, b = _policy(name, max_block=max_block), _policy(name, max_block=max_block)
    assert _run(a, np.random.default_rng(3), 150) == _run(b, np.random.default_rng(3), 150)


@pytest.mark.parametrize("name", list(CASES))
def test_state_round_trip_through_json_gives_identical_next_decisions(name):
    pol = _policy(name)
    _run(pol, np.random.default_rng(4), 80)
    state = json.loads(json.dumps(pol.to_state(), allow_nan=False))
    cfg, kw = CASES[name]
    clone = policy_from_state(cfg, state, ARMS, seed=0, max_block=64, **kw)
    assert clone.to_state() == pol.to_state()
    assert _run(pol, np.random.default_rng(5), 60) == _run(clone, np.random.default_rng(5), 60)


BAD_UPDATES = [
    ({"arm": "fax"}, "unknown"),
    ({"arm": 7}, "index"),
    ({"reward": float("nan")}, "finite"),
    ({"reward": float("inf")}, "finite"),
    ({"reward": -1.0}, "reward"),
    ({"reward": 1000.0}, "reward"),
    ({"reward": "yes"}, "number"),
    ({"cost": -2.0}, "cost"),
    ({"context": [1.0, 2.0]}, "context"),
    ({"context": [1.0, float("nan"), 2.0]}, "context"),
    ({"propensity": 0.0}, "propensity"),
]
CONTEXTUAL = {"lin_ucb", "lin_ts"}


@pytest.mark.parametrize(
    "name, bad, match",
    [(n, b, m) for n in CASES for b, m in BAD_UPDATES if "context" not in b or n in CONTEXTUAL],
)
def test_bad_update_raises_clear_error_and_leaves_state_unchanged(name, bad, match):
    pol = _policy(name)
    rng = np.random.default_rng(6)
    _run(pol, rng, 30)
    before = json.dumps(pol.to_state())
    args = {"arm": "sms", "reward": 1.0 if pol.binary else 10.0, "cost": None,
            "context": _context(pol, rng), "propensity": None}
    args.update(bad)
    with pytest.raises(DataError, match=match):
        pol.update(**args)
    assert json.dumps(pol.to_state()) == before


def test_binary_campaign_rejects_non_binary_reward_and_unknown_arm_gets_suggestion():
    pol = _policy("thompson")
    with pytest.raises(DataError, match="0 or 1"):
        pol.update("sms", 0.5)
    with pytest.raises(DataError, match="Did you mean 'email'"):
        pol.update("emial", 1)


def test_state_for_another_policy_is_rejected():
    state = _policy("ucb1").to_state()
    with pytest.raises(DataError, match="state is for policy 'ucb1'"):
        policy_from_state(CASES["kl_ucb"][0], state, ARMS)
    bad = dict(state, stats={"n": [1, 2]})
    with pytest.raises(DataError, match="malformed"):
        policy_from_state(CASES["ucb1"][0], bad, ARMS)


@pytest.mark.parametrize("name", ["thompson", "kl_ucb", "ucb1", "epsilon_greedy", "exp3", "budgeted_thompson"])
def test_learns_the_best_arm_on_an_easy_problem(name):
    pol = _policy(name)
    rng = np.random.default_rng(8)
    chosen = _run(pol, rng, 3000)
    # rates 0.1/0.3/0.2; per unit cost (0.1, 0.5, 0.02) push is best: 10 conversions per unit
    best = 2 if name == "budgeted_thompson" else 1
    assert np.bincount(chosen[-1000:], minlength=3).argmax() == best


def test_ucb1_index_by_hand():
    """Arms served (email: 10 with 3 conversions, sms: 5 with 1): t = 15.
    email: 0.3 + sqrt(2 ln 15 / 10) = 0.3 + 0.73592 = 1.03592; sms: 0.2 + sqrt(2 ln 15 / 5) = 1.24075;
    push never served -> +inf."""
    pol = _policy("ucb1")
    pol.update_batch(["email"] * 10 + ["sms"] * 5, [1] * 3 + [0] * 7 + [1] + [0] * 4)
    idx = pol.indices()
    assert idx[0] == pytest.approx(0.3 + math.sqrt(2 * math.log(15) / 10))
    assert idx[1] == pytest.approx(0.2 + math.sqrt(2 * math.log(15) / 5))
    assert idx[2] == math.inf
    assert pol.probabilities().tolist() == [0.0, 0.0, 1.0]


def test_kl_ucb_index_solves_the_kl_equation():
    """Independent root: scipy.optimize.brentq on n * kl(mean, q) = ln t, q in (mean, 1)."""
    from scipy.optimize import brentq

    from optimizer.bandit.policies.ucb import bernoulli_kl

    pol = _policy("kl_ucb")
    pol.update_batch(["email"] * 200 + ["sms"] * 100 + ["push"] * 50, [1] * 6 + [0] * 194 + [1] * 4 + [0] * 96 + [0] * 50)
    t = 350
    for i, (n, s) in enumerate([(200, 6), (100, 4), (50, 0)]):
        m = s / n
        q = brentq(lambda q: n * bernoulli_kl(m, q) - math.log(t), m + 1e-12, 1 - 1e-12, xtol=1e-12)
        assert pol.indices()[i] == pytest.approx(q, abs=2e-6)


def test_epsilon_greedy_and_exp3_probabilities_by_hand():
    """eps-greedy, eps=0.2, best = sms: p = (0.2/3, 0.8 + 0.2/3, 0.2/3).
    EXP3 gamma=0.2, log-weights (0, ln 3, 0): w/sum = (0.2, 0.6, 0.2); p = 0.8 w + 0.2/3."""
    pol = _policy("epsilon_greedy")
    pol.update_batch(["email", "sms", "push"], [0, 1, 0])
    assert pol.probabilities() == pytest.approx([0.2 / 3, 0.8 + 0.2 / 3, 0.2 / 3])
    exp3 = _policy("exp3")
    exp3.log_weights = [0.0, math.log(3.0), 0.0]
    assert exp3.probabilities() == pytest.approx([0.8 * 0.2 + 0.2 / 3, 0.8 * 0.6 + 0.2 / 3, 0.8 * 0.2 + 0.2 / 3])
    # update: log w += gamma * r / (p K) with the logged propensity
    exp3.update("email", 1, propensity=0.25)
    assert exp3.log_weights[0] == pytest.approx(0.2 * 1 / (0.25 * 3))


def test_discounted_and_windowed_statistics_by_hand():
    """Discount 0.99: after rewards 1, 0, 1 on email the weighted count is 0.99^2 + 0.99 + 1 and
    the weighted sum 0.99^2 + 1. Window 20: after 25 updates only the last 20 count."""
    pol = _policy("thompson_discount")
    pol.update_batch(["email"] * 3, [1, 0, 1])
    assert pol.stats.n[0] == pytest.approx(0.99**2 + 0.99 + 1)
    assert pol.stats.s[0] == pytest.approx(0.99**2 + 1)
    win = _policy("thompson_window")
    win.update_batch(["email"] * 5 + ["sms"] * 20, [1] * 5 + [0] * 20)
    assert win.stats.n == [0.0, 20.0, 0.0] and win.stats.s == [0.0, 0.0, 0.0]


def test_lin_ucb_matches_ridge_regression_closed_form():
    """theta = (I + X^T X)^-1 X^T y per arm (numpy.linalg.solve, independent of Sherman-Morrison);
    score = x.theta + alpha sqrt(x^T A^-1 x)."""
    pol = _policy("lin_ucb")
    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    y = (X @ [0.5, -0.2, 0.1] + rng.normal(0, 0.05, 40) > 0.2).astype(float)
    for x, r in zip(X, y):
        pol.update("email", r, context=x)
    A = np.eye(3) + X.T @ X
    theta = np.linalg.solve(A, X.T @ y)
    assert pol.theta[0] == pytest.approx(theta, abs=1e-9)
    x = np.array([0.3, 0.6, 0.9])
    mean, var = pol._mean_var(x)
    assert mean[0] == pytest.approx(x @ theta)
    assert var[0] == pytest.approx(x @ np.linalg.solve(A, x))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 60),
       name=st.sampled_from(["thompson", "kl_ucb", "epsilon_greedy", "exp3", "budgeted_thompson"]))
def test_property_probabilities_sum_to_one_after_any_history(seed, n, name):
    pol = _policy(name, seed)
    _run(pol, np.random.default_rng(seed), n)
    p = pol.probabilities()
    assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-9


@pytest.mark.parametrize("name", ["thompson", "thompson_normal", "ucb1", "kl_ucb", "budgeted_thompson", "lin_ucb"])
def test_batch_update_equals_one_by_one_in_any_order(name):
    """Stationary statistics are sums: a batch, the same updates one by one, and the reversed
    order reach the same state (floating-point sums to 1e-9)."""
    rng = np.random.default_rng(9)
    probe = _policy(name)
    n = 200
    arms = rng.integers(0, 3, n)
    rewards = [_reward(probe, int(i), rng) for i in arms]
    xs = [rng.random(3) for _ in range(n)] if probe.contextual else None
    batch, single, reverse = _policy(name), _policy(name), _policy(name)
    batch.update_batch(arms, rewards, contexts=xs)
    for k in range(n):
        single.update(int(arms[k]), rewards[k], context=None if xs is None else xs[k])
    for k in reversed(range(n)):
        reverse.update(int(arms[k]), rewards[k], context=None if xs is None else xs[k])
    sa, sb, sc = batch.to_state(), single.to_state(), reverse.to_state()
    for key in ("stats", "A", "b"):
        if key in sa:
            for other in (sb, sc):
                left = sa[key] if key != "stats" else [sa[key][f] for f in sorted(sa[key])]
                right = other[key] if key != "stats" else [other[key][f] for f in sorted(other[key])]
                assert np.allclose(np.asarray(left, float), np.asarray(right, float), rtol=1e-9, atol=1e-9)


def test_bad_batch_is_rejected_whole_with_counts():
    pol = _policy("thompson")
    before = json.dumps(pol.to_state())
    with pytest.raises(DataError, match="2 item"):
        pol.update_batch(["email", "sms", "push"], [1.0, float("nan"), float("inf")])
    with pytest.raises(DataError, match="not 0 or 1"):
        pol.update_batch(np.array([0, 1]), [1.0, 0.5])
    with pytest.raises(DataError, match="outside 0..2"):
        pol.update_batch(np.array([0, 5]), [1.0, 0.0])
    with pytest.raises(DataError, match="same length"):
        pol.update_batch(["email"], [1.0, 0.0])
    assert json.dumps(pol.to_state()) == before
