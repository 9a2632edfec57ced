"""Thompson sampling with many arms (issue #14, defect 2): bounded cost, exact logged propensities,
and a service whose event loop stays free while a slow store call runs.

Before: with 1,000 arms a choose after any reward took 22 s (the shared-grid propensity rule cost
arms^2 x 64 betainc calls), and /health waited for it (store calls ran on the event loop).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandit.config import ThompsonConfig
from optimizer.bandit.engine import decide, update
from optimizer.bandit.policies import make_policy
from optimizer.bandit.policies._quadrature import GRID_BUDGET, MC_BUDGET, beta_prob_best
from optimizer.bandit.service import create_app
from optimizer.bandit.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, ThreadedService  # noqa: E402

ARMS = [f"arm{i}" for i in range(1000)]
#: Documented bound (docs/bandit-service.md): CPU seconds of one 1,000-arm decision that must
#: compute fresh propensities (a reward arrived since the last one). Measured median 23-32 ms.
CHOOSE_CPU_BOUND_SECONDS = 0.150


def distinct_policy(reward_model: str, seed: int = 1):
    """A 1,000-arm policy whose arms all have different posteriors (the expensive case)."""
    pol = make_policy(ThompsonConfig(kind="thompson", reward_model=reward_model), ARMS, seed=0)
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 200, len(ARMS)).astype(float)
    s = np.round(n * rng.uniform(0, 0.2, len(ARMS))) if reward_model == "bernoulli" else n * rng.uniform(0, 1, len(ARMS))
    pol.stats.n, pol.stats.s, pol.stats.q = n.tolist(), s.tolist(), (s * 1.1).tolist()
    return pol


@pytest.mark.parametrize("reward_model", ["bernoulli", "normal"])
def test_1000_arm_choose_after_a_reward_is_bounded(reward_model):
    """Each decision follows a reward, so each recomputes every arm's propensity (the issue's 22 s)."""
    pol = distinct_policy(reward_model)
    rng = np.random.default_rng(7)
    reward = 1.0 if reward_model == "bernoulli" else 0.5
    update(pol, ARMS[0], reward)
    decide(pol, None, rng).propensity  # warm-up: imports, first-call allocations
    cpu = []
    for k in range(15):
        update(pol, ARMS[k + 1], reward)
        t = time.process_time()
        d = decide(pol, None, rng)
        probs = d.arm_to_probability
        cpu.append(time.process_time() - t)
        assert 0 < d.propensity == probs[d.arm] and abs(sum(probs.values()) - 1) < 1e-9
    assert max(cpu) < CHOOSE_CPU_BOUND_SECONDS, sorted(cpu)[-3:]
    t = time.process_time()
    for _ in range(200):  # same state: cached propensities, O(arms) vectorised draw
        decide(pol, None, rng).propensity
    assert (time.process_time() - t) / 200 < 0.005


def test_vectorised_draws_are_the_scalar_stream():
    """One rng.beta call on arrays == one rng.beta(a_i, b_i) per eligible arm in order (MABWiser's stream)."""
    arms = [f"a{i}" for i in range(40)]
    pol = make_policy(ThompsonConfig(kind="thompson"), arms, seed=0)
    g = np.random.default_rng(3)
    n = g.integers(0, 50, 40).astype(float)
    pol.stats.n, pol.stats.s = n.tolist(), np.floor(n * g.uniform(0, 1, 40)).tolist()
    a, b = pol.alpha_beta()
    mask = tuple(bool(x) for x in g.integers(0, 2, 40))
    for m in (None, mask):
        r1, r2 = np.random.default_rng(11), np.random.default_rng(11)
        for _ in range(50):
            got = pol.choose(r1, None, m)
            idx = [i for i in range(40) if m is None or m[i]]
            draws = [r2.beta(a[i], b[i]) for i in idx]
            assert got == idx[int(np.argmax(draws))]


def test_identical_arms_are_grouped_closed_form():
    """Arm 0 ~ Beta(2, 1), 999 arms ~ Beta(1, 1): P(arm 0 best) = int_0^1 2x * x^999 dx = 2/1001 (closed form)."""
    a = np.ones(1000)
    a[0] = 2.0
    b = np.ones(1000)
    p = beta_prob_best(a, b)
    assert abs(p[0] - 2 / 1001) < 2e-5  # measured 8.6e-6 (the documented bound is 1e-3)
    assert np.allclose(p[1:], (1 - p[0]) / 999, rtol=1e-9)  # the group shares its probability equally
    assert np.allclose(p[1:], (1 - 2 / 1001) / 999, atol=2e-8)
    assert np.array_equal(beta_prob_best(np.ones(1000), np.ones(1000)), np.full(1000, 1e-3))


def test_monte_carlo_rule_and_probability_matching_agree():
    """Above the grid budget the propensities come from the bounded Monte Carlo rule, and the arm is
    drawn from those very probabilities, so the logged propensity is the true choice frequency.

    References: 150,000 joint posterior draws (numpy), share of draws each arm wins."""
    k = 80
    assert k * k * 64 > GRID_BUDGET
    arms = [f"a{i}" for i in range(k)]
    pol = make_policy(ThompsonConfig(kind="thompson"), arms, seed=0)
    g = np.random.default_rng(5)
    n = g.integers(20, 400, k).astype(float)
    pol.stats.n, pol.stats.s = n.tolist(), np.round(n * g.uniform(0.02, 0.1, k)).tolist()
    p = pol.probabilities()
    a, b = pol.alpha_beta()
    ref = np.bincount(g.beta(a[:, None], b[:, None], size=(k, 150_000)).argmax(axis=0), minlength=k) / 150_000
    m = MC_BUDGET // k
    tol = 4 * np.sqrt(np.maximum(p * (1 - p), 1e-12) / m) + 4 * np.sqrt(ref * (1 - ref) / 150_000) + 1e-4
    assert np.all(np.abs(p - ref) <= tol)
    assert np.abs(p - ref).max() < 0.05
    rng = np.random.default_rng(9)
    n_dec = 10_000
    counts = np.bincount([pol.choose(rng) for _ in range(n_dec)], minlength=k) / n_dec
    assert np.all(np.abs(counts - p) <= 4 * np.sqrt(p * (1 - p) / n_dec) + 1e-4)


# ------------------------------------------------------------------- the event loop stays free
class SlowStore:
    """A memory store whose choose takes 3 s (a stand-in for any slow store call)."""

    def __init__(self):
        self.inner = open_store("memory://")
        self.url = "memory://slow"

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def choose(self, name, **kw):
        time.sleep(3.0)
        return self.inner.choose(name, **kw)

    def choose_batch(self, name, requests, now=None):
        time.sleep(3.0)
        return self.inner.choose_batch(name, requests, now)


def test_health_answers_while_a_slow_choose_runs():
    store = SlowStore()
    store.inner.create_campaign({"name": "big", "arms": [{"name": a} for a in ARMS]}, seed=1)
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0))
    try:
        result = {}

        def slow():
            with httpx.Client(base_url=svc.url, headers={"X-API-Key": API_KEY}, timeout=30) as c:
                result["r"] = c.post("/v1/campaigns/big/choose")

        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(0.5)  # the choose is now sleeping in the store
        t = time.perf_counter()
        r = httpx.get(svc.url + "/health", timeout=10)
        assert r.status_code == 200 and time.perf_counter() - t < 1.0
        t = time.perf_counter()
        r = httpx.get(svc.url + "/health", headers={"X-API-Key": API_KEY}, timeout=10)
        assert r.status_code == 200 and r.json()["store"]["ok"] and time.perf_counter() - t < 1.5
        assert worker.is_alive()  # health was answered during the slow choose
        worker.join(30)
        assert result["r"].status_code == 200 and result["r"].json()["arm"] in ARMS
    finally:
        svc.stop()
        store.inner.close()


def test_default_propensity_rule_meets_its_documented_1e_3():
    """Issue #14 defect 7: the shared-grid rule erred up to 1.5e-3 (64 nodes) against a documented 1e-3.

    Reference: the quantile rule (``policy.precise``; trapezoid on 256 nodes in z, error ~1e-7,
    itself checked against 4e6 Monte Carlo draws in test_policies_thompson.py), on random
    posteriors of the kinds that were worst: small a (rare conversions) with large b."""
    from optimizer.bandit.policies._quadrature import beta_cdf, beta_ppf_z, prob_best

    g = np.random.default_rng(0)
    worst = 0.0
    for t in range(120):
        k = int(g.integers(2, 9))
        if t % 2:
            a, b = g.uniform(0.5, 3, k), g.uniform(50, 5000, k)
        else:
            n = g.integers(1, 50, k)
            s = g.binomial(n, 0.3)
            a, b = (1.0 + s).astype(float), (1.0 + n - s).astype(float)
        ref = prob_best([beta_ppf_z(x, y) for x, y in zip(a, b)], [beta_cdf(x, y) for x, y in zip(a, b)])
        worst = max(worst, float(np.abs(beta_prob_best(a, b) - ref).max()))
    assert worst <= 1e-3, worst


def test_many_arm_change_detection_logs_the_probability_it_draws_from():
    """With forced exploration alpha, the logged propensity is (1 - alpha) P_TS + alpha / K; with many
    distinct arms the TS part is drawn from P_TS itself, so the choice frequencies must equal it."""
    k = 60
    arms = [f"a{i}" for i in range(k)]
    cfg = ThompsonConfig(kind="thompson", drift={"kind": "change_detection", "horizon_decisions": 10_000,
                                                 "forced_exploration": 0.2})
    pol = make_policy(cfg, arms, seed=0)
    g = np.random.default_rng(6)
    n = g.integers(20, 400, k).astype(float)
    pol.stats.n, pol.stats.s = n.tolist(), np.round(n * g.uniform(0.02, 0.1, k)).tolist()
    assert pol._matching(None)
    p = pol.probabilities()
    rng = np.random.default_rng(2)
    n_dec = 10_000
    counts = np.bincount([pol.choose(rng) for _ in range(n_dec)], minlength=k) / n_dec
    assert np.all(np.abs(counts - p) <= 4 * np.sqrt(p * (1 - p) / n_dec) + 1e-4)
    assert p.min() >= 0.2 / k


def test_1000_arm_campaign_through_a_store_is_bounded(tmp_path):
    """The service's path (store -> CampaignRuntime -> policy), a reward before every choose, so
    every choose draws from a new state and logs fresh propensities for all 1,000 arms."""
    st = open_store(f"sqlite:///{tmp_path}/b.db")
    try:
        st.create_campaign({"name": "big", "arms": [{"name": a} for a in ARMS],
                            "policy": {"kind": "thompson", "reward_model": "normal"},
                            "reward_kind": "continuous", "reward_bounds": [0, 10]}, seed=1)
        g = np.random.default_rng(0)
        cpu = []
        for k in range(30):
            t = time.process_time()
            d = st.choose("big")
            cpu.append(time.process_time() - t)
            assert len(d.arm_to_probability) == 1000 and d.propensity == d.arm_to_probability[d.arm] > 0
            st.reward(d.decision_id, float(g.uniform(0, 10)))
        assert max(cpu[5:]) < CHOOSE_CPU_BOUND_SECONDS, sorted(cpu)[-3:]
    finally:
        st.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 60)), min_size=2, max_size=5),
       st.lists(st.integers(0, 4), min_size=1, max_size=6))
def test_grouped_probabilities_agree_with_the_ungrouped_quantile_rule(pairs, copies):
    """Grouping identical posteriors is only a shortcut: the result sums to 1, is equal within a group,
    and matches the quantile rule on the ungrouped arms (error ~1e-7) within the documented 1e-3."""
    from optimizer.bandit.policies._quadrature import beta_cdf, beta_ppf_z, prob_best

    arms = list(pairs) + [pairs[i % len(pairs)] for i in copies]  # force duplicates
    a = np.array([1.0 + s for s, _ in arms])
    b = np.array([1.0 + f for _, f in arms])
    p = beta_prob_best(a, b)
    assert abs(p.sum() - 1) < 1e-12 and np.all(p >= 0)
    for i in range(len(arms)):
        for j in range(len(arms)):
            if arms[i] == arms[j]:
                assert p[i] == pytest.approx(p[j], abs=1e-15)
    ref = prob_best([beta_ppf_z(x, y) for x, y in zip(a, b)], [beta_cdf(x, y) for x, y in zip(a, b)])
    assert np.abs(p - ref).max() <= 1e-3


def test_many_arm_budgeted_thompson_logs_the_probability_it_draws_from():
    from optimizer.bandit.config import ArmConfig, BudgetedThompsonConfig

    k = 60
    arms = [ArmConfig(name=f"a{i}", cost_per_action=0.5 + i / 20) for i in range(k)]
    pol = make_policy(BudgetedThompsonConfig(kind="budgeted_thompson", budget=1e9), arms, seed=0)
    g = np.random.default_rng(8)
    n = g.integers(20, 400, k).astype(float)
    pol.stats.n, pol.stats.s = n.tolist(), np.round(n * g.uniform(0.02, 0.1, k)).tolist()
    assert pol._many_distinct(pol.affordable(None))
    p = pol.probabilities()
    rng = np.random.default_rng(3)
    n_dec = 10_000
    counts = np.bincount([pol.choose(rng) for _ in range(n_dec)], minlength=k) / n_dec
    assert np.all(np.abs(counts - p) <= 4 * np.sqrt(p * (1 - p) / n_dec) + 1e-4)
