"""The Python client against a real service: every method, the error mapping, no Nagle stalls."""

from __future__ import annotations

import math
import socket
import statistics
import sys
import time
from pathlib import Path

import pytest

from optimizer.bandit.client import AuthenticationError, BanditClient, ServiceError
from optimizer.bandit.config import CampaignConfig
from optimizer.bandit.service import create_app
from optimizer.bandit.store import (
    ConflictError,
    ExpiredDecisionError,
    UnknownCampaignError,
    UnknownDecisionError,
    open_store,
)
from optimizer.errors import DmpoptError, ScenarioError

# the shared helpers next to this file, whatever pytest's import mode (prepend, importlib, packages)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, ThreadedService, free_port  # noqa: E402


@pytest.fixture(scope="module")
def service():
    store = open_store("memory://", service=True)
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0.05))
    yield svc
    svc.stop()
    store.close()


@pytest.fixture(scope="module")
def client(service):
    with BanditClient(service.url, API_KEY) as c:
        c.create_campaign(CampaignConfig(name="promo", arms=[{"name": "email"}, {"name": "sms"}]), seed=5)
        yield c


def test_round_trip(client):
    d = client.choose("promo", user_id="u1")
    assert d["arm"] in ("email", "sms") and d["user_id"] == "u1"
    out = client.reward(d["decision_id"], 1.0)
    assert out["duplicate"] is False and out["reward"] == 1.0
    assert client.reward(d["decision_id"], 0.0)["duplicate"] is True
    batch = client.choose_batch("promo", [{}, {"eligible": ["sms"]}])
    assert [b["arm"] for b in batch][1] == "sms"
    shares = client.shares("promo")
    assert math.isclose(sum(shares.values()), 1.0)
    assert client.state("promo")["policy_state"]["kind"] == "thompson"
    assert "promo" in [c["name"] for c in client.campaigns()]  # other tests of this module add campaigns
    assert client.campaign("promo")["n_decisions"] >= 3
    assert len(client.decisions("promo")) == client.campaign("promo")["n_decisions"]
    assert client.health()["status"] == "ok"
    assert "dmpopt_bandit_decisions_total" in client.metrics()


def test_errors_map_to_dmpopt_exceptions(client):
    with pytest.raises(UnknownCampaignError, match="does not exist"):
        client.choose("nope")
    with pytest.raises(UnknownDecisionError, match="not known"):
        client.reward("0" * 32, 1.0)
    with pytest.raises(ConflictError, match="exists already"):
        client.create_campaign({"name": "promo", "arms": [{"name": "a"}, {"name": "b"}]})
    d = client.choose("promo")
    with pytest.raises(ScenarioError, match="0 or 1") as info:
        client.reward(d["decision_id"], 0.5)
    assert info.value.status_code == 422
    with pytest.raises(ScenarioError, match="finite"):
        client.reward(d["decision_id"], float("nan"))
    with pytest.raises(ScenarioError) as info:
        client.create_campaign({"name": "bad", "arms": [{"name": "only"}]})
    assert any("arms" in p for p in info.value.problems)


def test_expired_maps_to_exception(client):
    client.create_campaign({"name": "brief", "arms": [{"name": "a"}, {"name": "b"}], "reward_window_seconds": 0.1})
    d = client.choose("brief")
    time.sleep(0.3)
    with pytest.raises(ExpiredDecisionError, match="expired"):
        client.reward(d["decision_id"], 1.0)


def test_wrong_key(service):
    with BanditClient(service.url, "not-the-key") as bad:
        with pytest.raises(AuthenticationError, match="does not match"):
            bad.campaigns()
        assert bad.health()["status"] == "ok"  # public


def test_unreachable_service_is_service_error():
    port = free_port()  # nothing listens there
    with BanditClient(f"http://127.0.0.1:{port}", API_KEY, reward_retries=1) as c:
        with pytest.raises(ServiceError, match="Is the service running"):
            c.choose("promo")
        t = time.perf_counter()
        with pytest.raises(ServiceError):
            c.reward("x", 1.0)
        assert time.perf_counter() - t >= 0.04  # one retry after a 50 ms pause
    assert issubclass(ServiceError, DmpoptError)


def test_no_delayed_ack_stalls(client):
    """httpx writes headers and body separately: with Nagle on (either end) each POST would wait
    for a delayed ACK, ~40 ms on Linux. The median of 200 sequential calls must be far below."""
    times = []
    for _ in range(200):
        t = time.perf_counter()
        client.choose("promo")
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.015, f"median {statistics.median(times) * 1000:.1f} ms"
    assert sorted(times)[int(0.9 * len(times))] < 0.035


def test_listening_socket_passes_nodelay_to_connections():
    """The server socket sets TCP_NODELAY before listen; Linux copies it to accepted sockets."""
    from optimizer.bandit.cli_serve import bind_socket

    port = free_port()
    srv = bind_socket("127.0.0.1", port)
    cli = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    try:
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()
        cli.close()
        srv.close()
