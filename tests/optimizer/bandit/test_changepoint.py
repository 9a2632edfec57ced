"""Thompson sampling with Bernoulli GLR change detection (optimizer/bandit/policies/changepoint.py)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandit import config as C
from optimizer.bandit.policies import make_policy, policy_from_state
from optimizer.bandit.policies.changepoint import (
    GLRDetector,
    GLRThompson,
    bernoulli_glr,
    default_alpha,
    default_delta,
    glr_threshold,
)
from optimizer.errors import ScenarioError

ARMS = ["email", "sms", "push"]


def _cfg(**drift) -> C.ThompsonConfig:
    d = {"kind": "change_detection", "horizon_decisions": 100_000}
    d.update(drift)
    return C.ThompsonConfig(kind="thompson", drift=d)


def _kl(x: float, y: float) -> float:
    x, y = min(max(x, 1e-12), 1 - 1e-12), min(max(y, 1e-12), 1 - 1e-12)
    return x * math.log(x / y) + (1 - x) * math.log((1 - x) / (1 - y))


def _brute_glr(z, positions) -> float:
    """The GLR statistic straight from its definition (kl form, pure Python)."""
    n, total = len(z), sum(z)
    mu = total / n
    prefix = [0.0, *itertools.accumulate(z)]
    best = 0.0
    for s in positions:
        if 0 < s < n:
            head = prefix[s]
            best = max(best, s * _kl(head / s, mu) + (n - s) * _kl((total - head) / (n - s), mu))
    return best


def _brute_detection_time(z, delta, check_every, split_every):
    """First n (a multiple of check_every) with GLR(z[:n]) > ln(3 n^1.5 / delta), or None."""
    for n in range(check_every, len(z) + 1, check_every):
        if _brute_glr(z[:n], range(split_every, n, split_every)) > math.log(3 * n ** 1.5 / delta):
            return n
    return None


# ------------------------------------------------------------------------------- known answers
def test_glr_statistic_by_hand():
    """Hand computations (LL = maximized Bernoulli log-likelihood of a segment).

    1. Ten 0s then ten 1s, splits every 10: only s = 10; GLR = 10 kl(0, 1/2) + 10 kl(1, 1/2)
       = 20 ln 2 = 13.862943611198906.
    2. 1 success in the first 10, then 5 successes (the first five) in the next 10, splits every 5
       (marks 1, 1, 6): LL(all) = 6 ln .3 + 14 ln .7 = -12.217286041097871;
       s = 5:  ln .2 + 4 ln .8 + 5 ln(1/3) + 10 ln(2/3) - LL(all) = 0.16756139898473776
       s = 10: ln .1 + 9 ln .9 + 10 ln .5 - LL(all)                = 2.0349845015839367
       s = 15: 6 ln .4 + 9 ln .6 + 0 - LL(all)                     = 2.1221110359590263  <- max
    3. Threshold beta(20, 0.01) = ln(3 * 20^1.5 / 0.01) = 10.197380884987188.
    """
    stat, s = bernoulli_glr(np.array([0.0]), 10, 20, 10.0)
    assert stat == pytest.approx(13.862943611198906, rel=1e-12) and s == 10
    stat, s = bernoulli_glr(np.array([1.0, 1.0, 6.0]), 5, 20, 6.0)
    assert stat == pytest.approx(2.1221110359590263, rel=1e-12) and s == 15
    stat, s = bernoulli_glr(np.array([1.0]), 5, 20, 6.0)  # only s = 5 offered
    assert stat == pytest.approx(0.16756139898473776, rel=1e-12) and s == 5
    assert glr_threshold(20, 0.01) == pytest.approx(10.197380884987188, rel=1e-14)
    assert bernoulli_glr(np.array([]), 10, 5, 1.0) == (0.0, 0)


def test_default_tuning_is_the_papers_formula():
    """Besson et al. (2022) tuning as in SMPyBandits (alpha scaled by 0.1), T = 1e5:
    global, Upsilon = 1: delta = 1/sqrt(1e5) = 0.003162277660168379,
                         alpha = 0.1 sqrt(ln(1e5) / 1e5) = 0.0010729830131446737;
    local, K = 5, Upsilon = 3: delta = 1/sqrt(15e5) = 0.0008164965809277261,
                               alpha = 0.1 sqrt(15 ln(1e5) / 1e5) = 0.004155645340672775."""
    assert default_delta(100_000, 1, 5, "global") == pytest.approx(0.003162277660168379, rel=1e-14)
    assert default_alpha(100_000, 1, 5, "global") == pytest.approx(0.0010729830131446737, rel=1e-14)
    assert default_delta(100_000, 3, 5, "local") == pytest.approx(0.0008164965809277261, rel=1e-14)
    assert default_alpha(100_000, 3, 5, "local") == pytest.approx(0.004155645340672775, rel=1e-14)
    pol = make_policy(_cfg(), ARMS, seed=0)
    assert pol.detector.delta == pytest.approx(0.003162277660168379) and pol.alpha == pytest.approx(0.0010729830131446737)
    pol = make_policy(_cfg(delta=0.05, forced_exploration=0.2), ARMS, seed=0)
    assert (pol.detector.delta, pol.alpha) == (0.05, 0.2)


def test_detector_matches_brute_force_on_random_streams():
    """The incremental detector's statistic equals the definition at every test, including after
    the split grid is coarsened (max_splits = 8, split_every = 3: steps 3 -> 6 -> 12 ...)."""
    rng = np.random.default_rng(0)
    z = (rng.random(400) < np.where(np.arange(400) < 150, 0.3, 0.6)).astype(float).tolist()
    det = GLRDetector(1, delta=1e-300, check_every=7, split_every=3, max_splits=8)  # never fires
    for k, r in enumerate(z, start=1):
        assert det.add(0, r) is False
        step = det.step[0]
        assert len(det.marks(0)) == k // step <= 8
        if k % 7 == 0:
            assert det.statistic(0) == pytest.approx(_brute_glr(z[:k], range(step, k, step)), rel=1e-9, abs=1e-9)
    assert det.step[0] == 48  # 400 observations: 8 marks of 3 * 2^4 = 48 fit (384 <= 400)


def test_detection_delay_on_deterministic_stream():
    """An arm converting exactly 1 in 5 (0.2) for 1,000 observations, then 1 in 20 (0.05): the
    detector fires at the first test where the definition (brute force) exceeds the threshold
    (delta = 1/sqrt(1e5)), not before the change (a periodic stream has no change), and within
    the first 600 observations after it. The brute force finds n = 1,210 (210 after the change);
    by hand at the split s = 1,000: n = 1,210, 210 successes, mu = 0.17355;
    1000 kl(0.2, mu) + 210 kl(10/210, mu) = 2.339 + 15.443 = 17.78 > ln(3 * 1210^1.5 / delta) = 17.50,
    while at n = 1,200: 2.088 + 14.287 = 16.38 < 17.49."""
    z = [1.0 if k % 5 == 4 else 0.0 for k in range(1000)] + [1.0 if k % 20 == 19 else 0.0 for k in range(600)]
    delta, check, split = 1 / math.sqrt(1e5), 10, 10
    expected = _brute_detection_time(z, delta, check, split)
    assert expected == 1210
    det = GLRDetector(1, delta, check, split)
    fired = next(k for k, r in enumerate(z, start=1) if det.add(0, r))
    assert fired == expected


def test_restart_global_and_local():
    """Arm 0 converts every time for 200 updates, then never: the test fires, arm 0 (local) or
    every arm (global) is back to the prior; spend is kept; n_restarts and last_restart count."""
    for restart in ("global", "local"):
        arms = [C.ArmConfig(name=a, cost_per_action=1.0) for a in ARMS]
        pol = make_policy(_cfg(restart=restart, forced_exploration=0.0), arms, seed=0)
        for _ in range(50):
            pol.update("sms", 1.0)
        for _ in range(200):
            pol.update("email", 1.0)
        k = 0
        while pol.detector.n_restarts == 0:
            pol.update("email", 0.0)
            k += 1
            assert k < 200
        st = pol.to_state()
        assert st["detector"]["n_restarts"] == 1 and st["detector"]["last_restart"] == 250 + k
        assert st["stats"]["n"][0] == 0.0 and st["stats"]["cost"][0] == 200 + k
        assert st["stats"]["n"][1] == (0.0 if restart == "global" else 50.0)
        assert pol.arm_to_expectation()["email"] == 0.5  # the Beta(1, 1) prior mean


def test_no_forced_exploration_and_no_change_is_plain_thompson_reference_stream():
    """With forced_exploration 0 and no detection, the decisions are the default Thompson's
    (the MABWiser-identical reference path, max_block=1) decision for decision."""
    plain = make_policy(C.ThompsonConfig(kind="thompson"), ARMS, seed=3)
    cd = make_policy(_cfg(forced_exploration=0.0), ARMS, seed=3)
    assert isinstance(cd, GLRThompson)
    r1, r2, rw = np.random.default_rng(9), np.random.default_rng(9), np.random.default_rng(10)
    for _ in range(2000):
        i, j = plain.choose(r1), cd.choose(r2)
        assert i == j
        r = float(rw.random() < (0.1, 0.3, 0.2)[i])
        plain.update(i, r)
        cd.update(j, r)
    assert cd.detector.n_restarts == 0


def test_probabilities_mix_forced_exploration():
    pol = make_policy(_cfg(forced_exploration=0.3), ARMS, seed=1)
    for i, r in [(0, 1.0), (1, 0.0), (1, 1.0), (2, 0.0)] * 5:
        pol.update(i, r)
    from optimizer.bandit.policies.thompson import BetaThompson

    base = BetaThompson.probabilities(pol)
    assert np.allclose(pol.probabilities(), 0.7 * base + 0.1)
    masked = pol.probabilities(None, (True, False, True))
    assert masked[1] == 0 and masked.sum() == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    batch = pol.choose_batch(rng, 20_000, mask=(True, False, True))
    assert set(batch.tolist()) <= {0, 2}
    share = np.bincount(batch, minlength=3) / 20_000
    assert np.allclose(share, masked, atol=0.02)  # 20,000 draws: sd of a share <= 0.0035


# ------------------------------------------------------------------------------ properties
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 400), restart=st.sampled_from(["global", "local"]),
       max_block=st.sampled_from([1, 64]))
def test_property_state_round_trip_and_probabilities(seed, n, restart, max_block):
    """After any history (changes included), probabilities sum to 1 and a JSON round trip of the
    state gives an identical policy: same state, same next decisions."""
    cfg = _cfg(restart=restart, horizon_decisions=500, check_every=5, split_every=2, max_splits=12)
    pol = make_policy(cfg, ARMS, seed=seed, max_block=max_block)
    rng = np.random.default_rng(seed)
    for t in range(n):
        i = pol.choose(rng)
        rate = (0.1, 0.5, 0.3)[i] if t < n // 2 else (0.6, 0.1, 0.3)[i]
        pol.update(i, float(rng.random() < rate))
    p = pol.probabilities()
    assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-9
    state = json.loads(json.dumps(pol.to_state(), allow_nan=False))
    clone = policy_from_state(cfg, state, ARMS, seed=seed, max_block=max_block)
    assert clone.to_state() == pol.to_state()
    a, b = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    for _ in range(30):
        i, j = pol.choose(a), clone.choose(b)
        assert i == j
        r = float(a.random() < 0.4)
        b.random()
        pol.update(i, r)
        clone.update(j, r)
    assert clone.to_state() == pol.to_state()


def test_batch_update_equals_the_same_updates_one_by_one():
    """Detection is order-dependent, so a batch is folded in one observation at a time: same
    final state (restarts and their positions included) as the same sequence of updates."""
    cfg = _cfg(horizon_decisions=1000, check_every=5, split_every=5)
    rng = np.random.default_rng(4)
    arms = rng.integers(0, 3, 600)
    rewards = [float(rng.random() < (0.8 if t < 300 else 0.05)) for t in range(600)]
    one, batch = make_policy(cfg, ARMS, seed=0), make_policy(cfg, ARMS, seed=0)
    for i, r in zip(arms.tolist(), rewards):
        one.update(i, r)
    batch.update_batch(arms, rewards)
    s1, s2 = one.to_state(), batch.to_state()
    assert s1["detector"]["n_restarts"] >= 1
    assert s1["stats"] == s2["stats"] and s1["detector"] == s2["detector"] and s1["n_updates"] == s2["n_updates"]


def test_malformed_detector_state_is_rejected():
    from optimizer.errors import DataError

    pol = make_policy(_cfg(), ARMS, seed=0)
    for _ in range(25):
        pol.update(0, 1.0)
    state = pol.to_state()
    bad = json.loads(json.dumps(state))
    bad["detector"]["marks"][0] = [1.0]  # 25 observations at step 10 need 2 marks
    with pytest.raises(DataError, match="malformed"):
        policy_from_state(_cfg(), bad, ARMS)
    bad = json.loads(json.dumps(state))
    del bad["detector"]
    with pytest.raises(DataError, match="malformed"):
        policy_from_state(_cfg(), bad, ARMS)


# ------------------------------------------------------------------------------ config errors
@pytest.mark.parametrize(
    "drift, message",
    [
        ({"kind": "change_detection"}, "policy.thompson.drift.change_detection.horizon_decisions is missing"),
        ({"kind": "change_detection", "horizon_decisions": 1000, "delta": 1.5},
         "policy.thompson.drift.change_detection.delta is 1.5"),
        ({"kind": "change_detection", "horizon_decisions": 1000, "forced_exploration": -0.1},
         "policy.thompson.drift.change_detection.forced_exploration is -0.1"),
        ({"kind": "change_detection", "horizon_decisions": 1000, "restart": "all"},
         "policy.thompson.drift.change_detection.restart is 'all'"),
        ({"kind": "change_detection", "horizon_decisions": 1000, "max_changes": 1000},
         "max_changes is 1000; it must be < horizon_decisions (1000)"),
        ({"kind": "change_detection", "horizon_decisions": 1000, "check_evry": 5},
         "unknown key policy.thompson.drift.change_detection.check_evry"),
    ],
)
def test_config_errors_name_the_field(drift, message):
    from optimizer.validation import parse_model

    data = {"name": "c", "arms": [{"name": "a"}, {"name": "b"}], "policy": {"kind": "thompson", "drift": drift}}
    with pytest.raises(ScenarioError) as err:
        parse_model(C.CampaignConfig, data, "campaign.yaml")
    assert message in str(err.value)


def test_change_detection_needs_bernoulli_rewards():
    with pytest.raises(ValueError, match="change_detection needs reward_model: bernoulli"):
        C.ThompsonConfig(kind="thompson", reward_model="normal",
                         drift={"kind": "change_detection", "horizon_decisions": 1000})


def test_shipped_drift_example_runs():
    """scenarios/bandit/simulate_drift.yaml validates and runs, shortened to 40,000 decisions (the
    changes and horizon_decisions scaled with it, 1 run) to keep the unit suite fast; change
    detection beats stationary Thompson on it, as at full size (docs/performance-bandit-policies.md)."""
    from pathlib import Path

    from optimizer.bandit.simulate import SimulationConfig, run_simulation
    from optimizer.validation import load_model

    root = Path(__file__).resolve().parents[3]
    cfg = load_model(SimulationConfig, root / "scenarios" / "bandit" / "simulate_drift.yaml")
    assert cfg.horizon == 100_000
    scale = 40_000 / cfg.horizon
    drift = [c.model_copy(update={"step": int(c.step * scale)}) for c in cfg.drift]
    policies = []
    for p in cfg.policies:
        d = p.policy.drift
        if d is not None and d.kind == "change_detection":
            d = d.model_copy(update={"horizon_decisions": 40_000})
        policies.append(p.model_copy(update={"policy": p.policy.model_copy(update={"drift": d})}))
    small = cfg.model_copy(update={"horizon": 40_000, "n_runs": 1, "drift": drift, "policies": policies})
    res = run_simulation(small)
    assert {o.label for o in res.outcomes} == {p.label for p in cfg.policies}
    assert res.outcome("change detection").regret < 0.7 * res.outcome("thompson").regret


def test_engine_decision_propensity_includes_forced_exploration():
    """engine.decide logs the mixture probability of the served arm, read after later updates too."""
    from optimizer.bandit.engine import decide

    pol = make_policy(_cfg(forced_exploration=0.25), ARMS, seed=5)
    rng = np.random.default_rng(5)
    for _ in range(40):
        d = decide(pol, None, rng)
        expected = pol.probabilities()[d.arm_index]
        pol.update(d.arm_index, float(rng.random() < 0.3))
        assert d.propensity == pytest.approx(expected, abs=2e-3)  # shared-grid quadrature, error <= 1e-3
        assert d.propensity >= 0.25 / 3


def test_campaign_with_change_detection_through_the_store():
    """A campaign served by the (in-memory SQLite) store: the state survives every rebuild from the
    stored JSON, the change at decision 700 is detected (arm a falls 0.6 -> 0.05, b rises 0.2 -> 0.4)
    shortly after, and a snapshot restores a store that makes the same next decision."""
    from optimizer.bandit.store_sqlite import MemoryStore

    store = MemoryStore()
    store.create_campaign({"name": "c", "arms": [{"name": "a"}, {"name": "b"}], "policy": {
        "kind": "thompson", "drift": {"kind": "change_detection", "horizon_decisions": 2000, "check_every": 5,
                                      "split_every": 5, "forced_exploration": 0.05}}}, seed=1)
    rng = np.random.default_rng(0)
    for t in range(1200):
        d = store.choose("c")
        rate = {"a": 0.6, "b": 0.2}[d.arm] if t < 700 else {"a": 0.05, "b": 0.4}[d.arm]
        store.reward(d.decision_id, float(rng.random() < rate))
    _, state = store.policy_state("c")
    det = state["detector"]
    assert det["n_restarts"] >= 1 and 700 < det["last_restart"] < 800
    assert state["stats"]["n"][1] > state["stats"]["n"][0]  # b is served most after the change
    copy = MemoryStore()
    copy.restore(store.snapshot())
    assert copy.policy_state("c")[1] == state
    assert copy.choose("c").arm == store.choose("c").arm
