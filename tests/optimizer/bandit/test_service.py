"""The HTTP service on a real uvicorn server (127.0.0.1, free port): API, errors, auth, limits.

Every bad request is checked for its status, a clear message, and an unchanged stored state.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import httpx
import pytest

from optimizer.bandit.service import create_app
from optimizer.bandit.store import open_store

# the shared helpers next to this file, whatever pytest's import mode (prepend, importlib, packages)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, ThreadedService  # noqa: E402

H = {"X-API-Key": API_KEY}
CAMPAIGN = {"name": "welcome", "arms": [{"name": "email"}, {"name": "sms"}, {"name": "push"}]}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('svc')}/bandit.db", service=True)
    svc = ThreadedService(create_app(store, API_KEY, max_body_bytes=4096, expire_interval_seconds=0.1))
    with httpx.Client(base_url=svc.url, headers=H) as http:
        r = http.post("/v1/campaigns", json={"campaign": CAMPAIGN, "seed": 1})
        assert r.status_code == 201, r.text
        r = http.post("/v1/campaigns", json={"campaign": {**CAMPAIGN, "name": "ctx", "context_dim": 2,
                                                          "policy": {"kind": "lin_ts"}}, "seed": 2})
        assert r.status_code == 201, r.text
    yield svc
    svc.stop()
    store.close()


@pytest.fixture
def http(service):
    with httpx.Client(base_url=service.url, headers=H, timeout=10) as client:
        yield client


def snapshot(http: httpx.Client, name: str = "welcome") -> tuple:
    state = http.get(f"/v1/campaigns/{name}/state").json()
    log = http.get(f"/v1/campaigns/{name}/decisions").json()
    return state, log


def error_of(r: httpx.Response) -> dict:
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == r.status_code
    return body["error"]


# ---------------------------------------------------------------------------------- happy path
def test_choose_reward_state_shares(http):
    d = http.post("/v1/campaigns/welcome/choose", json={}).json()
    assert d["arm"] in ("email", "sms", "push") and len(d["decision_id"]) == 32
    assert math.isclose(sum(d["arm_to_probability"].values()), 1.0) and d["propensity"] > 0
    r = http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1})
    assert r.status_code == 200 and r.json()["duplicate"] is False
    dup = http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 0})
    assert dup.status_code == 200 and dup.json()["duplicate"] is True and dup.json()["reward"] == 1.0
    state = http.get("/v1/campaigns/welcome/state").json()
    assert state["state_version"] >= 1 and state["policy_state"]["kind"] == "thompson"
    shares = http.get("/v1/campaigns/welcome/shares").json()["arm_to_share"]
    assert set(shares) == {"email", "sms", "push"} and math.isclose(sum(shares.values()), 1.0)
    mc = http.get("/v1/campaigns/welcome/shares", params={"n_draws": 1000}).json()["arm_to_share"]
    assert math.isclose(sum(mc.values()), 1.0)


def test_empty_body_choose_and_batch(http):
    assert http.post("/v1/campaigns/welcome/choose").status_code == 200
    r = http.post("/v1/campaigns/welcome/choose/batch", json={"requests": [{}, {"eligible": ["sms"]}]})
    ds = r.json()["decisions"]
    assert r.status_code == 200 and ds[1]["arm"] == "sms" and ds[1]["seq"] == ds[0]["seq"] + 1


def test_list_and_get_campaign(http):
    names = [c["name"] for c in http.get("/v1/campaigns").json()["campaigns"]]
    assert names == ["ctx", "welcome"]
    info = http.get("/v1/campaigns/welcome").json()
    assert info["seed"] == 1 and info["config"]["arms"][0]["name"] == "email"


def test_contextual_campaign(http):
    d = http.post("/v1/campaigns/ctx/choose", json={"context": [0.5, 1.0]}).json()
    assert d["context"] == [0.5, 1.0]
    before = snapshot(http, "ctx")
    r = http.post("/v1/campaigns/ctx/choose", json={"context": [0.5]})
    assert r.status_code == 422 and "expects context_dim=2" in error_of(r)["message"]
    r = http.get("/v1/campaigns/ctx/shares")
    assert r.status_code == 422 and "contextual" in error_of(r)["message"]
    assert snapshot(http, "ctx") == before


# ------------------------------------------------------------------------------- bad requests
BAD_REQUESTS = [
    # (method, path, raw body, status, words in the message)
    ("POST", "/v1/campaigns/nope/choose", b"{}", 404, "campaign 'nope' does not exist"),
    ("POST", "/v1/campaigns/welcome/choose", b'{"eligible": ["fax"]}', 422, "no such arm"),
    ("POST", "/v1/campaigns/welcome/choose", b'{"context": [1, 2]}', 422, "not contextual"),
    ("POST", "/v1/campaigns/welcome/choose", b'{"colour": "red"}', 422, "colour is not a known field"),
    ("POST", "/v1/campaigns/welcome/choose", b'{"user_id": 5}', 422, "user_id is 5"),
    ("POST", "/v1/campaigns/welcome/choose", b'{"eligible": ', 400, "not valid JSON"),
    ("POST", "/v1/campaigns/welcome/choose", b"[1, 2]", 422, "expected a JSON object"),
    ("POST", "/v1/campaigns/welcome/choose/batch", b'{"requests": []}', 422, "requests is []"),
    ("POST", "/v1/campaigns/welcome/choose/batch", json.dumps({"requests": [{}] * 1001}).encode(), 422,
     "at most 1000"),
    ("POST", "/v1/rewards", b'{"decision_id": "nope", "reward": 1}', 404, "decision_id 'nope' is not known"),
    ("POST", "/v1/rewards", b'{"decision_id": "DID", "reward": NaN}', 422, "finite"),
    ("POST", "/v1/rewards", b'{"decision_id": "DID", "reward": Infinity}', 422, "finite"),
    ("POST", "/v1/rewards", b'{"decision_id": "DID", "reward": -1}', 422, "must be 0 or 1"),
    ("POST", "/v1/rewards", b'{"decision_id": "DID", "reward": 7}', 422, "must be 0 or 1"),
    ("POST", "/v1/rewards", b'{"decision_id": "DID", "reward": "yes"}', 422, "reward is \"yes\""),
    ("POST", "/v1/rewards", b'{"decision_id": "DID", "reward": 1, "cost": -2}', 422, "cost is -2"),
    ("POST", "/v1/rewards", b'{"decision_id": "DID"}', 422, "reward is missing"),
    ("POST", "/v1/rewards", b"", 400, "not valid JSON"),
    ("GET", "/v1/campaigns/welcome/shares?n_draws=5", b"", 422, "n_draws is"),
    ("POST", "/v1/campaigns", json.dumps({"campaign": {**CAMPAIGN, "name": "x", "arms": [
        {"name": "a", "cost_per_action": -5}, {"name": "b"}]}}).encode(), 422,
     "campaign.arms[0].cost_per_action is -5"),
    ("POST", "/v1/campaigns", json.dumps({"campaign": CAMPAIGN}).encode(), 409, "exists already"),
    ("GET", "/v1/nothing-here", b"", 404, "no endpoint"),
    ("DELETE", "/v1/campaigns/welcome", b"", 405, "not allowed"),
]


@pytest.mark.parametrize("method, path, body, status, words", BAD_REQUESTS,
                         ids=[f"{m} {p[:40]} {s}" for m, p, _, s, _ in BAD_REQUESTS])
def test_bad_request_is_clear_and_changes_nothing(http, method, path, body, status, words):
    d = http.post("/v1/campaigns/welcome/choose", json={}).json()
    body = body.replace(b"DID", d["decision_id"].encode())
    before = snapshot(http)
    n_campaigns = len(http.get("/v1/campaigns").json()["campaigns"])
    r = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    err = error_of(r)
    assert words in err["message"], err
    assert snapshot(http) == before
    assert len(http.get("/v1/campaigns").json()["campaigns"]) == n_campaigns


def test_expired_decision_is_410_and_default_applied_once(http):
    r = http.post("/v1/campaigns", json={"campaign": {**CAMPAIGN, "name": "short", "reward_window_seconds": 0.2},
                                         "seed": 3})
    assert r.status_code == 201
    d = http.post("/v1/campaigns/short/choose", json={}).json()
    deadline = time.time() + 10
    while time.time() < deadline:  # the service's expiry loop runs every 0.1 s
        log = http.get("/v1/campaigns/short/decisions").json()["decisions"]
        if log[0]["reward"] is not None:
            break
        time.sleep(0.05)
    assert log[0]["is_default"] is True and log[0]["reward"] == 0.0
    before = snapshot(http, "short")
    r = http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1})
    assert r.status_code == 410 and "expired" in error_of(r)["message"]
    assert snapshot(http, "short") == before
    assert http.get("/v1/campaigns/short").json()["n_rewards"] == 1


# ------------------------------------------------------------------------------ auth and size
@pytest.mark.parametrize("headers, words", [({}, "missing"), ({"X-API-Key": "wrong"}, "does not match")])
def test_api_key_required(service, headers, words):
    with httpx.Client(base_url=service.url, timeout=10) as anon:
        for method, path in [("GET", "/v1/campaigns"), ("POST", "/v1/campaigns/welcome/choose"),
                             ("POST", "/v1/rewards"), ("GET", "/metrics"), ("GET", "/v1/campaigns/welcome/state")]:
            r = anon.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (path, r.text)
            assert words in error_of(r)["message"]
        for path in ("/health", "/openapi.json", "/docs"):
            assert anon.get(path).status_code == 200


def test_oversized_body_is_413(http):
    before = snapshot(http)
    big = json.dumps({"requests": [{"user_id": "u" * 100}] * 100}).encode()  # > 4096 bytes
    r = http.post("/v1/campaigns/welcome/choose/batch", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than 4096 bytes" in error_of(r)["message"]

    def chunks():  # no Content-Length: chunked transfer, counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    r = http.post("/v1/campaigns/welcome/choose", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert snapshot(http) == before


# ----------------------------------------------------------------------- health, metrics, docs
def test_health(service):
    deadline = time.time() + 5  # the default-reward job runs every 0.1 s: wait for its first run
    while httpx.get(service.url + "/health", headers=H).json()["default_reward_job"]["last_success_at"] is None:
        assert time.time() < deadline
        time.sleep(0.05)
    body = httpx.get(service.url + "/health", headers=H).json()
    assert body["status"] == "ok" and body["store"]["ok"] and body["store"]["campaigns"] >= 2
    assert set(body["recovery"]) == {"n_pending", "n_overdue", "unclean_workers", "n_pending_unclean",
                                     "crash_pending", "n_closed"}
    job = body["default_reward_job"]
    assert job["healthy"] and job["last_success_at"] is not None and job["backlog"] == 0


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": API_KEY[:-1]}])
def test_health_without_the_key_shows_nothing_internal(service, headers):
    """Issue #14 defect 7: /health without a key showed the store's file path."""
    r = httpx.get(service.url + "/health", headers=headers)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert "sqlite" not in r.text and "bandit.db" not in r.text


def test_metrics_prometheus_text(http):
    http.post("/v1/campaigns/welcome/choose", json={})
    text = http.get("/metrics").text
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    for ln in lines:  # every sample line: name{labels} value
        name_labels, value = ln.rsplit(" ", 1)
        float(value)
        assert name_labels.startswith("dmpopt_bandit_")
    decisions = sum(float(ln.rsplit(" ", 1)[1]) for ln in lines
                    if ln.startswith('dmpopt_bandit_decisions_total{campaign="welcome"'))
    assert decisions == http.get("/v1/campaigns/welcome").json()["n_decisions"]
    assert 'route="/v1/campaigns/{name}/choose",status="200"' in text
    assert "# TYPE dmpopt_bandit_http_request_seconds histogram" in text


def test_openapi_documents_bodies_and_key(service):
    doc = httpx.get(service.url + "/openapi.json").json()
    assert doc["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    choose = doc["paths"]["/v1/campaigns/{name}/choose"]["post"]
    assert choose["security"] == [{"APIKeyHeader": []}]
    assert "eligible" in choose["requestBody"]["content"]["application/json"]["schema"]["properties"]
    reward = doc["paths"]["/v1/rewards"]["post"]
    assert set(reward["requestBody"]["content"]["application/json"]["schema"]["required"]) == {"decision_id", "reward"}
    for path in ("/v1/campaigns", "/v1/campaigns/{name}/state", "/v1/campaigns/{name}/shares", "/health", "/metrics"):
        assert path in doc["paths"]
    assert "security" not in doc["paths"]["/health"]["get"]
    assert "swagger" in httpx.get(service.url + "/docs").text.lower()


def test_create_app_rejects_tiny_body_limit():
    from optimizer.errors import ScenarioError

    with pytest.raises(ScenarioError, match="max_body_bytes"):
        create_app("memory://", API_KEY, max_body_bytes=10)


# --------------------------------------------------------------------------------- group commit
class CountingStore:
    """A real memory store that counts how requests reach it."""

    def __init__(self):
        self.inner = open_store("memory://")
        self.batches: list[int] = []
        self.singles = 0

    def choose_batch(self, name, requests, now=None):
        self.batches.append(len(requests))
        return self.inner.choose_batch(name, requests, now)

    def choose(self, name, **kw):
        self.singles += 1
        return self.inner.choose(name, **kw)


def test_choose_batcher_groups_a_loop_turn_and_isolates_bad_requests():
    import asyncio

    from optimizer.bandit.service_http import ChooseBatcher
    from optimizer.errors import ScenarioError

    store = CountingStore()
    store.inner.create_campaign({"name": "g", "arms": [{"name": "a"}, {"name": "b"}]}, seed=1)
    batcher = ChooseBatcher(store)

    async def burst(requests):
        return await asyncio.gather(*(batcher.choose("g", r) for r in requests), return_exceptions=True)

    ok = asyncio.run(burst([{"context": None, "eligible": None, "user_id": None}] * 5))
    assert store.batches == [5] and store.singles == 0
    assert [d.seq for d in ok] == [1, 2, 3, 4, 5]  # arrival order
    mixed = asyncio.run(burst([{"context": None, "eligible": ["a"], "user_id": None},
                               {"context": None, "eligible": ["zzz"], "user_id": None},
                               {"context": None, "eligible": ["b"], "user_id": None}]))
    assert isinstance(mixed[1], ScenarioError) and "no such arm" in str(mixed[1])
    assert (mixed[0].arm, mixed[2].arm) == ("a", "b") and mixed[2].seq == mixed[0].seq + 1
    assert store.singles == 3  # the failed batch was retried one by one
    assert store.inner.get_campaign("g").n_decisions == 7
    alone = asyncio.run(burst([{"context": None, "eligible": None, "user_id": None}]))
    assert alone[0].seq == 8 and store.singles == 4
    store.inner.close()


def test_choose_batcher_keeps_one_batch_in_flight_and_coalesces_what_arrives_meanwhile():
    """Issue #14: requests arriving while the store thread serves a batch wait and then go as one
    batch (one store call: one round-trip pair on Redis), not as one small batch per loop turn
    queued behind it; arrival order and the per-campaign batch cap are kept."""
    import asyncio
    import threading

    from optimizer.bandit.service_http import ChooseBatcher
    from optimizer.bandit.service_jobs import StoreRunner

    release = threading.Event()

    class BlockingStore(CountingStore):
        def choose(self, name, **kw):
            release.wait(10)  # the first (lone) request holds the store thread
            return super().choose(name, **kw)

    store = BlockingStore()
    store.inner.create_campaign({"name": "g", "arms": [{"name": "a"}, {"name": "b"}]}, seed=1)
    runner = StoreRunner()
    batcher = ChooseBatcher(store, runner)
    batcher.max_batch = 4
    req = {"context": None, "eligible": None, "user_id": None}

    async def scenario():
        first = asyncio.ensure_future(batcher.choose("g", req))
        await asyncio.sleep(0.05)  # the first batch is on the store thread now
        later = []
        for _ in range(6):  # six separate loop turns while it is in flight
            later.append(asyncio.ensure_future(batcher.choose("g", req)))
            await asyncio.sleep(0.01)
        assert batcher.in_flight and store.batches == []
        release.set()
        out = await first, await asyncio.gather(*later)
        await asyncio.sleep(0.05)  # the store thread's "batch done" callback may land just after the answers
        return out

    try:
        first, later = asyncio.run(scenario())
    finally:
        runner.close()
    assert store.batches == [4, 2]  # 6 waiting requests: the cap of 4, then the rest; not six batches
    assert store.singles == 1
    assert [first.seq] + [d.seq for d in later] == list(range(1, 8))  # arrival order
    assert not batcher.in_flight and batcher.pending == {}
    store.inner.close()


def test_budget_exhausted_is_409(http):
    r = http.post("/v1/campaigns", json={"campaign": {
        "name": "budget", "arms": [{"name": "a", "cost_per_action": 1.0}, {"name": "b", "cost_per_action": 2.0}],
        "policy": {"kind": "budgeted_thompson", "budget": 1.5}}, "seed": 1})
    assert r.status_code == 201, r.text
    d = http.post("/v1/campaigns/budget/choose", json={}).json()
    assert d["arm"] == "a" and d["propensity"] == 1.0  # b (cost 2) does not fit in 1.5
    assert http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1}).json()["cost"] == 1.0
    time.sleep(0.06)  # the service draws from a state refreshed every 50 ms
    before = snapshot(http, "budget")
    r = http.post("/v1/campaigns/budget/choose", json={})
    assert r.status_code == 409 and "budget exhausted" in error_of(r)["message"]
    assert snapshot(http, "budget") == before
