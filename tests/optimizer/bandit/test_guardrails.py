"""Guardrails: floor, min/max shares, eligibility and sticky users."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandit.config import CampaignConfig, GuardrailConfig
from optimizer.bandit.guardrails import apply_guardrails, project_shares, sticky_choice, user_position
from optimizer.errors import ScenarioError
from optimizer.validation import parse_model

ARMS = ["email", "sms", "push", "web"]


def test_floor_and_shares_by_hand():
    """p = (0.7, 0.2, 0.1, 0); floor 0.2 -> 0.8 p + 0.05 = (0.61, 0.21, 0.13, 0.05).
    max email 0.5: email -> 0.5, the other 0.5 shared pro rata to (0.21, 0.13, 0.05)/0.39.
    then min web 0.1: web -> 0.1, sms and push share 0.4 as 0.21 : 0.13."""
    p = np.array([0.7, 0.2, 0.1, 0.0])
    g = GuardrailConfig(exploration_floor=0.2)
    assert apply_guardrails(p, g, ARMS) == pytest.approx([0.61, 0.21, 0.13, 0.05])
    g = GuardrailConfig(exploration_floor=0.2, max_share={"email": 0.5}, min_share={"web": 0.1})
    q = apply_guardrails(p, g, ARMS)
    assert q == pytest.approx([0.5, 0.4 * 0.21 / 0.34, 0.4 * 0.13 / 0.34, 0.1])


def test_ineligible_arms_get_zero_and_max_shares_relax_when_they_cannot_sum_to_one():
    p = np.array([0.7, 0.2, 0.1, 0.0])
    g = GuardrailConfig(max_share={"email": 0.3, "sms": 0.3})
    q = apply_guardrails(p, g, ARMS, mask=(True, True, False, False))
    assert q == pytest.approx([0.5, 0.5, 0.0, 0.0])  # 0.3 + 0.3 < 1: scaled up to 0.5 each


@settings(max_examples=200, deadline=None)
@given(
    p=st.lists(st.floats(0, 1), min_size=4, max_size=4).filter(lambda v: sum(v) > 1e-6),
    floor=st.floats(0, 0.5),
    lo=st.lists(st.floats(0, 0.25), min_size=4, max_size=4),
    hi_extra=st.lists(st.floats(0, 1), min_size=4, max_size=4),
    mask=st.lists(st.booleans(), min_size=4, max_size=4).filter(any),
)
def test_property_guarded_probabilities_sum_to_one_and_respect_bounds(p, floor, lo, hi_extra, mask):
    hi = [min(1.0, l + h) for l, h in zip(lo, hi_extra)]
    g = GuardrailConfig(exploration_floor=floor, min_share=dict(zip(ARMS, lo)), max_share=dict(zip(ARMS, hi)))
    q = apply_guardrails(np.array(p), g, ARMS, mask)
    assert q.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(q >= 0)
    idx = [i for i in range(4) if mask[i]]
    assert all(q[i] == 0 for i in range(4) if not mask[i])
    lo_e = np.array([lo[i] for i in idx])
    hi_e = np.array([hi[i] for i in idx])
    if hi_e.sum() >= 1 and lo_e.sum() <= 1:  # feasible: bounds hold
        assert np.all(q[idx] >= lo_e - 1e-9) and np.all(q[idx] <= hi_e + 1e-9)
    if not g.min_share and not g.max_share:
        assert np.all(q[idx] >= floor / len(idx) - 1e-12)


@settings(max_examples=200, deadline=None)
@given(q=st.lists(st.floats(0.001, 1), min_size=2, max_size=6), data=st.data())
def test_property_projection_keeps_ratios_among_free_arms(q, data):
    q = np.array(q) / sum(q)
    n = len(q)
    lo = np.zeros(n)
    hi = np.ones(n)
    k = data.draw(st.integers(0, n - 1))
    hi[k] = data.draw(st.floats(0, 1))
    if hi.sum() < 1:
        return
    x = project_shares(q, lo, hi)
    assert x.sum() == pytest.approx(1)
    assert x[k] <= hi[k] + 1e-12
    free = [i for i in range(n) if i != k]
    if x[k] < hi[k] - 1e-9:  # bound not active: untouched
        assert x == pytest.approx(q)
    else:
        assert x[free] / x[free].sum() == pytest.approx(q[free] / q[free].sum())


def test_sticky_user_keeps_arm_while_weights_unchanged_and_few_move_on_small_change():
    q = np.array([0.4, 0.3, 0.2, 0.1])
    users = [f"user-{k}" for k in range(5000)]
    first = [sticky_choice(u, q, "c") for u in users]
    assert first == [sticky_choice(u, q, "c") for u in users]
    shares = np.bincount(first, minlength=4) / len(users)
    assert shares == pytest.approx(q, abs=0.03)
    moved = np.array([0.41, 0.29, 0.2, 0.1])
    changed = sum(a != sticky_choice(u, moved, "c") for u, a in zip(users, first))
    assert changed < 0.03 * len(users)  # ~1 % of users sit in the moved slice
    assert user_position("u1", "c") == user_position("u1", "c") != user_position("u1", "d")


def test_guardrail_config_errors_are_clear():
    with pytest.raises(ScenarioError, match="min_share sums to 1.2"):
        parse_model(GuardrailConfig, {"min_share": {"a": 0.6, "b": 0.6}}, "g.yaml")
    with pytest.raises(ScenarioError, match=r"min_share\[a\] is 0.5; it must be <= max_share\[a\]"):
        parse_model(GuardrailConfig, {"min_share": {"a": 0.5}, "max_share": {"a": 0.2}}, "g.yaml")
    with pytest.raises(ScenarioError, match="unknown arm 'emial'; did you mean 'email'"):
        parse_model(CampaignConfig, {"name": "c", "arms": [{"name": "email"}, {"name": "sms"}],
                                     "guardrails": {"max_share": {"emial": 0.5}}}, "c.yaml")
    with pytest.raises(ScenarioError, match="exploration_floor"):
        parse_model(GuardrailConfig, {"exploration_floor": 1.5}, "g.yaml")


def test_subnormal_share_does_not_overflow():
    """Found by hypothesis in the full suite: a share of 5e-324 made ``hi / q`` overflow (a warning,
    an error under filterwarnings=error). Such a share is zero; the projection still sums to 1."""
    from optimizer.bandit.guardrails import project_shares

    x = project_shares(np.array([1 - 5e-324, 5e-324, 0.0, 0.0]), np.array([0.1, 0, 0.1, 0]), np.array([0.5, 1, 1, 1]))
    assert x.sum() == pytest.approx(1.0)
    assert np.all(x >= [0.1, 0, 0.1, 0]) and np.all(x <= [0.5, 1, 1, 1])
