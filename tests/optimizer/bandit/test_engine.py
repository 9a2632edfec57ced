"""decide / update / decide_batch / allocation_shares: propensities, guardrails, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandit import config as C
from optimizer.bandit.engine import allocation_shares, decide, decide_batch, update
from optimizer.bandit.policies import BudgetExhaustedError, make_policy
from optimizer.errors import DataError

ARMS = ["email", "sms", "push"]


def _trained(kind="thompson", seed=0, n=300, **kw):
    cfg = {"thompson": C.ThompsonConfig(kind="thompson"), "ucb1": C.UCB1Config(kind="ucb1"),
           "epsilon_greedy": C.EpsilonGreedyConfig(kind="epsilon_greedy"),
           "exp3": C.EXP3Config(kind="exp3"), "lin_ts": C.LinTSConfig(kind="lin_ts")}[kind]
    pol = make_policy(cfg, ARMS, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.random(pol.context_dim) if pol.contextual else None
        d = decide(pol, None, rng, context=x)
        update(pol, d.arm, float(rng.random() < (0.05, 0.08, 0.06)[d.arm_index]), context=x)
    return pol


def test_propensity_is_snapshotted_at_decision_time():
    pol = _trained()
    d = decide(pol, None, np.random.default_rng(1))
    expected = pol.probabilities()[d.arm_index]
    for _ in range(50):  # the state moves on before the propensity is read
        update(pol, "sms", 1)
    assert d.propensity == pytest.approx(expected, abs=1e-12)
    assert sum(d.arm_to_probability.values()) == pytest.approx(1)


@pytest.mark.parametrize("kind", ["thompson", "ucb1", "epsilon_greedy", "exp3"])
@pytest.mark.parametrize(
    "guard",
    [None, C.GuardrailConfig(exploration_floor=0.3), C.GuardrailConfig(min_share={"email": 0.25}, max_share={"sms": 0.5})],
)
def test_empirical_choice_frequencies_match_reported_propensities(kind, guard):
    """Frozen state, 20,000 decisions: frequency of each arm within 4 SE of its propensity."""
    pol = _trained(kind)
    pol.update = None  # the state must not move during the check
    rng = np.random.default_rng(2)
    n = 20_000
    ds = [decide(pol, guard, rng) for _ in range(n)]
    probs = ds[0].probabilities()
    assert all(np.array_equal(d.probabilities(), probs) for d in ds[:50])
    freq = np.bincount([d.arm_index for d in ds], minlength=3) / n
    assert np.all(np.abs(freq - probs) <= 4 * np.sqrt(probs * (1 - probs) / n) + 1e-3)


def test_eligibility_and_errors():
    pol = _trained()
    rng = np.random.default_rng(3)
    assert {decide(pol, None, rng, eligible=["push"]).arm for _ in range(20)} == {"push"}
    d = decide(pol, None, rng, eligible=["email", "push"])
    assert d.arm_to_probability["sms"] == 0.0
    with pytest.raises(DataError, match="arm 'fax' is unknown"):
        decide(pol, None, rng, eligible=["fax"])
    with pytest.raises(DataError, match="eligible is empty"):
        decide(pol, None, rng, eligible=[])
    lin = _trained("lin_ts", context_dim=2, n=20)
    with pytest.raises(DataError, match="expects 2 features"):
        decide(lin, None, rng, context=[1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="needs a context"):
        decide(lin, None, rng)


def test_sticky_users_keep_their_arm_while_weights_are_unchanged():
    pol = _trained()
    g = C.GuardrailConfig(sticky=True, exploration_floor=0.3)
    rng = np.random.default_rng(4)
    first = {u: decide(pol, g, rng, user_id=u).arm for u in map(str, range(300))}
    again = {u: decide(pol, g, rng, user_id=u).arm for u in map(str, range(300))}
    assert first == again
    assert len(set(first.values())) == 3  # the floor gives every arm some users
    d = decide(pol, g, rng, user_id="7")
    assert d.sticky and d.propensity == pytest.approx(d.probabilities()[d.arm_index])


def test_batch_decisions_and_allocation_shares():
    pol = _trained()
    rng = np.random.default_rng(5)
    b = decide_batch(pol, None, rng, n=1000)
    p = pol.probabilities()
    assert b.propensities == pytest.approx(p[b.arm_indices])
    g = C.GuardrailConfig(min_share={"push": 0.2})
    b = decide_batch(pol, g, rng, n=20_000)
    assert np.mean(b.arm_indices == 2) == pytest.approx(max(0.2, p[2]), abs=0.02)
    exact = allocation_shares(pol, g)
    mc = allocation_shares(pol, g, np.random.default_rng(6), n_draws=200_000)
    assert sum(exact.values()) == pytest.approx(1) and exact["push"] >= 0.2 - 1e-12
    assert max(abs(exact[a] - mc[a]) for a in ARMS) < 0.01


def test_budget_exhausted_is_a_clear_error_and_guardrails_cannot_overspend():
    arms = [C.ArmConfig(name="a", cost_per_action=2.0), C.ArmConfig(name="b", cost_per_action=3.0)]
    pol = make_policy(C.BudgetedThompsonConfig(kind="budgeted_thompson", budget=10.0), arms, seed=0)
    rng = np.random.default_rng(0)
    g = C.GuardrailConfig(exploration_floor=0.5, min_share={"b": 0.3})
    with pytest.raises(BudgetExhaustedError):
        for _ in range(100):
            d = decide(pol, g, rng)
            update(pol, d.arm, 0)
    assert pol.spent <= 10.0
    # 10 = 2 + 2 + 3 + 3 or 2 x 5: when 2 is left, only 'a' may be served, whatever the guardrails
    pol2 = make_policy(C.BudgetedThompsonConfig(kind="budgeted_thompson", budget=2.0), arms, seed=0)
    d = decide(pol2, C.GuardrailConfig(min_share={"b": 0.9}), rng)
    assert d.arm == "a" and d.arm_to_probability["b"] == 0.0


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), floor=st.floats(0, 0.9), sticky=st.booleans())
def test_property_same_seed_same_decisions_and_round_trip(seed, floor, sticky):
    g = C.GuardrailConfig(exploration_floor=floor, sticky=sticky)

    def run(pol, rng):
        out = []
        for k in range(40):
            d = decide(pol, g, rng, user_id=f"u{k % 7}")
            update(pol, d.arm, int(rng.random() < 0.1))
            out.append((d.arm, round(d.propensity, 12)))
        return out

    a, b = _trained(seed=seed % 1000, n=50), _trained(seed=seed % 1000, n=50)
    assert run(a, np.random.default_rng(seed)) == run(b, np.random.default_rng(seed))
    from optimizer.bandit.policies import policy_from_state

    clone = policy_from_state(a.config, json.loads(json.dumps(a.to_state())), ARMS)
    assert run(a, np.random.default_rng(seed + 1)) == run(clone, np.random.default_rng(seed + 1))
