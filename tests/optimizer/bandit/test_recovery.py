"""Crash recovery says what happened to unanswered chooses, and the operator chooses (issue #14, defect 6).

Before: the message said requests the dead worker had not acknowledged "were not stored", yet such
chooses were stored and later got the default reward 0 as if served. A crashed worker is simulated
by registering a worker name whose pid does not exist on this host, logging decisions under it,
and opening the store again (what the next service start does).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import httpx
import pytest

from optimizer.bandit.log import decision_log
from optimizer.bandit.service import create_app
from optimizer.bandit.store import ExpiredDecisionError, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, REDIS_SERVER, RedisServer, ThreadedService  # noqa: E402

T0 = 1_800_000_000.0
DEAD = f"{socket.gethostname()}:999999999"  # no such pid: a worker that died
CAMPAIGN = {"name": "conv", "arms": [{"name": "a"}, {"name": "b"}], "reward_window_seconds": 60}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not found")
    server = RedisServer(tmp_path_factory.mktemp("redis-rec"))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/b.db"
    server = request.getfixturevalue("redis_server")
    import redis

    c = redis.Redis(port=server.port, db=5)
    c.flushdb()
    c.close()
    return f"redis://127.0.0.1:{server.port}/5"


def crash_with_pending(url: str) -> tuple[list[str], str]:
    """A worker logs 3 decisions, one rewarded, then dies; a live worker logs 1 more."""
    st = open_store(url)
    st.create_campaign(CAMPAIGN, seed=1)
    st.register_worker(DEAD, now=T0)
    ds = [st.choose("conv", now=T0) for _ in range(3)]
    st.reward(ds[0].decision_id, 1, now=T0)
    st.close()  # no unregister_worker: the crash
    live = open_store(url)
    live.register_worker(f"{socket.gethostname()}:1", now=T0)  # pid 1 exists: alive
    other = live.choose("conv", now=T0)
    live.close()
    return [d.decision_id for d in ds[1:]], other.decision_id


def test_report_counts_the_dead_workers_unrewarded_decisions_and_says_what_happens(url):
    unrewarded, _ = crash_with_pending(url)
    st = open_store(url)
    try:
        report = st.recovery_report(now=T0)
        assert report.unclean_workers == (DEAD,) and report.n_pending == 3 and report.n_pending_unclean == 2
        text = str(report)
        assert "had not acknowledged were not stored" not in text  # the old, wrong sentence
        assert "2 decision(s) they logged have no reward" in text and "unknown whether its arm was served" in text
        import dataclasses

        assert "default reward is applied as if they were served" in str(dataclasses.replace(report, crash_pending="default"))
        assert "closed without a reward" in str(dataclasses.replace(report, crash_pending="expire", n_closed=2))
    finally:
        st.close()


def test_expire_closes_them_without_a_reward(url):
    unrewarded, other = crash_with_pending(url)
    st = open_store(url)
    try:
        report = st.recovery_report(now=T0)
        assert st.close_pending(report.unclean_workers) == 2
        assert st.get_campaign("conv").n_pending == 1  # only the live worker's decision
        assert st.expire(now=T0 + 3600) == 1  # the live worker's decision gets the default, not these
        info = st.get_campaign("conv")
        assert info.n_rewards == 2 and sum(s.n_default_rewards for s in info.arm_to_stats.values()) == 1
        version = st.policy_state("conv")[0]
        with pytest.raises(ExpiredDecisionError, match="closed without a reward"):
            st.reward(unrewarded[0], 1, now=T0 + 1)
        assert st.policy_state("conv")[0] == version  # no policy update
        log = decision_log(st, "conv")
        assert sorted(log["status"]) == ["closed", "closed", "defaulted", "rewarded"]
        snap = st.snapshot()
        ref = open_store("memory://")
        ref.restore(snap)  # closed stays closed in any store
        assert ref.get_campaign("conv").n_pending == 0
        assert sorted(decision_log(ref, "conv")["status"]) == ["closed", "closed", "defaulted", "rewarded"]
        ref.close()
    finally:
        st.close()


def test_default_keeps_them_pending_and_applies_the_default(url):
    unrewarded, _ = crash_with_pending(url)
    st = open_store(url)
    try:
        st.recovery_report(now=T0)
        assert st.reward(unrewarded[0], 1, now=T0 + 1).reward == 1.0  # a reward inside the window counts
        assert st.expire(now=T0 + 3600) == 2  # the other one and the live worker's: default reward
    finally:
        st.close()


def test_service_applies_the_operators_choice_at_startup(tmp_path, caplog):
    url = f"sqlite:///{tmp_path}/svc.db"
    crash_with_pending(url)
    import logging

    with caplog.at_level(logging.WARNING, logger="dmpopt.bandit.service"):
        svc = ThreadedService(create_app(url, API_KEY, expire_interval_seconds=0, crash_pending="expire"))
    try:
        rec = httpx.get(svc.url + "/health", headers={"X-API-Key": API_KEY}).json()["recovery"]
        assert rec["unclean_workers"] == [DEAD] and rec["n_pending_unclean"] == 2 and rec["n_closed"] == 2
        assert rec["crash_pending"] == "expire"
        assert any("crash_pending=expire), 2 of them were closed" in r.getMessage() for r in caplog.records)
    finally:
        svc.stop()
    with pytest.raises(Exception, match="crash_pending"):
        create_app(url, API_KEY, crash_pending="drop")
