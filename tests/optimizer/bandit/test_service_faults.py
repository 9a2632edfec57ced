"""Fault tests of the service (issue #14, defects 4 and 5): break the store under a running worker.

Before: the default-reward job ended on the first unexpected error without a log line, and a
SQLite file locked past the busy timeout answered 500.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from pathlib import Path

import httpx
import pytest

from optimizer.bandit.service import create_app
from optimizer.bandit.service_jobs import backoff_seconds
from optimizer.bandit.store import open_store
from optimizer.bandit.store_sqlite import SQLiteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, REDIS_SERVER, RedisServer, ThreadedService  # noqa: E402

H = {"X-API-Key": API_KEY}
CAMPAIGN = {"name": "conv", "arms": [{"name": "a"}, {"name": "b"}], "reward_window_seconds": 0.3}


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def job(http: httpx.Client) -> dict:
    return http.get("/health").json()["default_reward_job"]


def metric(http: httpx.Client, name: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(1.0, k) for k in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert backoff_seconds(1.0, 50) == 60.0


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary not found")
def test_default_reward_job_survives_a_redis_outage_and_reports_it(tmp_path, caplog):
    server = RedisServer(tmp_path / "redis")
    svc = ThreadedService(create_app(server.url, API_KEY, expire_interval_seconds=0.1))
    try:
        with httpx.Client(base_url=svc.url, headers=H, timeout=10) as http:
            assert http.post("/v1/campaigns", json={"campaign": CAMPAIGN, "seed": 1}).status_code == 201
            wait_for(lambda: job(http)["last_success_at"], 5)
            for _ in range(3):
                assert http.post("/v1/campaigns/conv/choose").status_code == 200
            time.sleep(1.0)  # let the append-only file reach the disk (appendfsync everysec)
            server.stop()
            with caplog.at_level(logging.ERROR, logger="dmpopt.bandit.service"):
                failing = wait_for(lambda: (j := job(http))["consecutive_failures"] >= 2 and j, 10)
            assert "ConnectionError" in failing["last_error"] and not failing["healthy"]
            health = http.get("/health").json()
            assert health["status"] == "degraded" and not health["store"]["ok"]
            assert metric(http, "dmpopt_bandit_default_reward_job_consecutive_failures") >= 2
            assert metric(http, "dmpopt_bandit_store_up") == 0
            r = http.post("/v1/campaigns/conv/choose")
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert any("default-reward job failed" in rec.getMessage() for rec in caplog.records)
            server.start()
            recovered = wait_for(lambda: (j := job(http))["healthy"] and j["backlog"] == 0 and j, 30)
            assert recovered["n_failures_total"] >= 2 and recovered["n_applied_total"] == 3
            info = http.get("/v1/campaigns/conv").json()
            assert sum(s["n_default_rewards"] for s in info["arm_to_stats"].values()) == 3
            assert http.get("/health").json()["status"] == "ok"
            assert metric(http, "dmpopt_bandit_default_reward_job_backlog") == 0
    finally:
        svc.stop()
        server.stop()


def test_locked_sqlite_is_503_with_retry_after_and_the_job_recovers(tmp_path):
    path = tmp_path / "b.db"
    store = SQLiteStore(str(path), busy_timeout_ms=200, background_checkpoint=True)
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0.1))
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        with httpx.Client(base_url=svc.url, headers=H, timeout=10) as http:
            assert http.post("/v1/campaigns", json={"campaign": CAMPAIGN, "seed": 1}).status_code == 201
            d = http.post("/v1/campaigns/conv/choose").json()
            locker.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
            r = http.post("/v1/campaigns/conv/choose")
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert "stayed locked" in r.json()["error"]["message"]
            r = http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1})
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            failing = wait_for(lambda: (j := job(http))["consecutive_failures"] >= 1 and j, 10)
            assert "StoreBusyError" in failing["last_error"]
            locker.execute("ROLLBACK")
            wait_for(lambda: (j := job(http))["healthy"] and j["backlog"] == 0, 30)
            info = http.get("/v1/campaigns/conv").json()  # the decision got its default exactly once
            assert info["n_rewards"] == 1 and sum(s["n_default_rewards"] for s in info["arm_to_stats"].values()) == 1
    finally:
        locker.close()
        svc.stop()
        store.close()


def test_the_job_survives_an_unexpected_exception(caplog):
    """A bug (any exception, not a store error) is logged with its traceback; the job keeps running."""
    store = open_store("memory://")
    calls = {"n": 0}
    real = store.expire

    def flaky(*a, **kw):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise KeyError("corrupt record")
        return real(*a, **kw)

    store.expire = flaky
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0.05))
    try:
        with httpx.Client(base_url=svc.url, headers=H, timeout=10) as http, \
                caplog.at_level(logging.ERROR, logger="dmpopt.bandit.service"):
            j = wait_for(lambda: (j := job(http))["last_success_at"] and j, 10)
            assert j["n_failures_total"] == 2 and "KeyError" in j["last_error"] and j["healthy"]
        errors = [r for r in caplog.records if "default-reward job failed" in r.getMessage()]
        assert len(errors) == 2 and errors[0].exc_info is not None
    finally:
        svc.stop()
        store.close()
