"""The decision log and the reward join: hand-checked table, and the store obeys the same rules."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.bandit.config import CampaignConfig
from optimizer.bandit.log import LOG_COLUMNS, decision_log, join_rewards
from optimizer.bandit.store import ExpiredDecisionError, open_store
from optimizer.errors import DataError

WINDOW = 100.0


def decisions_table() -> pd.DataFrame:
    return pd.DataFrame({
        "decision_id": ["a", "b", "c", "d", "e"],
        "arm": ["email", "sms", "email", "push", "sms"],
        "propensity": [0.5, 0.25, 0.5, 0.25, 0.25],
        "created_at": [0.0, 10.0, 20.0, 30.0, 250.0],
    })


def test_join_known_answer():
    """Hand-worked example (window 100 s, default 0, now = 300):

    a: rewards at 50 (1.0) and 40 (0.0), arriving out of order -> the earlier one (t=40, 0.0) counts,
       the other is a duplicate.
    b: reward at 120 (window ends 110) -> late, ignored; window passed -> default 0.
    c: reward at 120 (window ends 120) -> counts (the window is inclusive).
    d: no reward; window ended at 130 -> default.
    e: created at 250, window ends 350 > now -> pending.
    z: reward for an unknown decision -> ignored, counted.
    """
    rewards = pd.DataFrame({
        "decision_id": ["a", "a", "b", "c", "z"],
        "reward": [1.0, 0.0, 1.0, 1.0, 1.0],
        "received_at": [50.0, 40.0, 120.0, 120.0, 60.0],
    })
    out, report = join_rewards(decisions_table(), rewards, WINDOW, default_reward=0.0, now=300.0)
    assert list(out.columns) == list(LOG_COLUMNS)
    got = dict(zip(out["decision_id"], zip(out["reward"].tolist(), out["status"])))
    assert got["a"] == (0.0, "rewarded")
    assert got["b"] == (0.0, "defaulted")
    assert got["c"] == (1.0, "rewarded")
    assert got["d"] == (0.0, "defaulted")
    assert math.isnan(got["e"][0]) and got["e"][1] == "pending"
    assert report.to_dict() == {"n_decisions": 5, "n_rewarded": 2, "n_defaulted": 2, "n_pending": 1,
                                "n_duplicates": 1, "n_late": 1, "n_unknown": 1}


def test_join_defaults_now_to_latest_event_and_empty_rewards():
    out, report = join_rewards(decisions_table(), pd.DataFrame(), WINDOW, default_reward=0.5)
    # now = 250 (latest created_at): a, b, c, d expired -> default 0.5; e pending
    assert report.n_defaulted == 4 and report.n_pending == 1
    assert out.loc[out["decision_id"] == "a", "reward"].item() == 0.5


@pytest.mark.parametrize("mutate, match", [
    (lambda d, r: (d.drop(columns="propensity"), r), "lacks column"),
    (lambda d, r: (pd.concat([d, d.head(1)]), r), "repeated decision_id"),
    (lambda d, r: (d, r.assign(reward=[float("nan")])), "NaN"),
    (lambda d, r: (d, r.assign(received_at=[None])), "received_at"),
])
def test_join_bad_input(mutate, match):
    d, r = mutate(decisions_table(), pd.DataFrame({"decision_id": ["a"], "reward": [1.0], "received_at": [5.0]}))
    with pytest.raises(DataError, match=match):
        join_rewards(d, r, WINDOW)


def test_join_bad_window():
    with pytest.raises(DataError, match="reward_window_seconds"):
        join_rewards(decisions_table(), [], 0.0)


def test_decision_log_frame():
    store = open_store("memory://")
    store.create_campaign(CampaignConfig(name="c", arms=[{"name": "x"}, {"name": "y"}], reward_window_seconds=WINDOW), seed=1)
    ds = store.choose_batch("c", [{}, {}, {}], now=0.0)
    store.reward(ds[0].decision_id, 1.0, now=1.0)
    store.expire(now=WINDOW + 1)
    store.choose("c", now=WINDOW + 2)
    frame = decision_log(store, "c")
    assert list(frame.columns) == list(LOG_COLUMNS)
    assert frame["status"].tolist() == ["rewarded", "defaulted", "defaulted", "pending"]
    assert frame["seq"].tolist() == [1, 2, 3, 4]
    assert frame["reward"].iloc[0] == 1.0 and math.isnan(frame["reward"].iloc[3])
    store.close()


# One event stream: decisions at given times, rewards (maybe duplicated, late, out of order) and
# expiry sweeps at random times. The store, fed in time order, must end with the same log as the
# pure join of the streams.
event = st.tuples(
    st.sampled_from(["choose", "reward", "expire"]),
    st.floats(min_value=0, max_value=400, allow_nan=False),
    st.integers(min_value=0, max_value=30),
    st.sampled_from([0.0, 1.0]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=60))
def test_store_log_equals_join_of_event_streams(events):
    events = sorted(events, key=lambda e: e[1])
    store = open_store("memory://")
    store.create_campaign(CampaignConfig(name="c", arms=[{"name": "x"}, {"name": "y"}],
                                         reward_window_seconds=WINDOW, default_reward=0.0), seed=3)
    made, reward_events = [], []
    for kind, t, k, value in events:
        if kind == "choose":
            made.append(store.choose("c", now=t))
        elif kind == "reward" and made:
            d = made[k % len(made)]
            reward_events.append({"decision_id": d.decision_id, "reward": value, "received_at": t})
            try:
                store.reward(d.decision_id, value, now=t)
            except ExpiredDecisionError:
                pass
        elif kind == "expire":
            store.expire(now=t)
    end = events[-1][1]
    store.expire(now=end)
    got = decision_log(store, "c")
    decisions = pd.DataFrame([{"decision_id": d.decision_id, "arm": d.arm, "propensity": d.propensity,
                               "created_at": d.created_at} for d in made],
                             columns=["decision_id", "arm", "propensity", "created_at"])
    want, report = join_rewards(decisions, pd.DataFrame(reward_events), WINDOW, 0.0, now=end)
    assert got["decision_id"].tolist() == want["decision_id"].tolist()
    assert got["status"].tolist() == want["status"].tolist()
    assert got["reward"].fillna(-1).tolist() == want["reward"].fillna(-1).tolist()
    assert store.get_campaign("c").n_rewards == report.n_rewarded + report.n_defaulted
    store.close()
