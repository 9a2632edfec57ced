"""Hostile campaign names (issue #14, defect 1): one name rule everywhere, collision-free Redis keys.

Before the fix the Redis store built keys from the raw name (``{p}c:{name}:pending``), so a
campaign named ``x:pending`` and a campaign ``x`` shared a key: creating both made
``GET /v1/campaigns``, ``/metrics`` and ``/health`` answer 500 (WRONGTYPE), and a choose on ``y``
after ``y:decisions`` existed failed half-way. The tests below reproduce those cases on a real
redis-server, and a hypothesis property shows no two valid names can touch each other's keys.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandit.config import CAMPAIGN_NAME_PATTERN, CampaignConfig
from optimizer.bandit.service import create_app
from optimizer.bandit.store import open_store
from optimizer.bandit.store_redis import CAMPAIGN_KEY_SUFFIXES, campaign_keys
from optimizer.errors import ScenarioError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, REDIS_SERVER, RedisServer, ThreadedService  # noqa: E402

ARMS = [{"name": "email"}, {"name": "sms"}]
H = {"X-API-Key": API_KEY}
BAD_NAMES = ["..", ".", "-x", ".hidden", "a/b", "a b", "", "x" * 101, "caf\u00e9", "a\nb", "a%2Fb"]


def cfg(name: str) -> dict:
    return {"name": name, "arms": ARMS}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not found; install redis-server to run the Redis store tests")
    server = RedisServer(tmp_path_factory.mktemp("redis-keys"))
    yield server
    server.stop()


def fresh_url(server, db: int) -> str:
    import redis

    client = redis.Redis(port=server.port, db=db)
    client.flushdb()
    client.close()
    return f"redis://127.0.0.1:{server.port}/{db}"


# ---------------------------------------------------------------------------- the name rule
@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_campaign_names_are_refused_by_every_store(name, tmp_path, redis_server):
    """The same rule (CampaignConfig.name) for memory, SQLite and Redis; nothing is stored."""
    with pytest.raises(ValueError):
        CampaignConfig.model_validate(cfg(name))
    for url in ("memory://", f"sqlite:///{tmp_path}/b.db", fresh_url(redis_server, 9)):
        store = open_store(url)
        try:
            with pytest.raises(ScenarioError, match=r"name is .*; string should"):
                store.create_campaign(cfg(name), seed=1)
            assert store.list_campaigns() == []
        finally:
            store.close()


@pytest.mark.parametrize("name", ["a", "0", "x:pending", "y:decisions", "a..b", "v1.2-beta_3", "Z" * 100])
def test_good_campaign_names_match_the_documented_pattern(name):
    assert re.fullmatch(CAMPAIGN_NAME_PATTERN, name)
    assert CampaignConfig.model_validate(cfg(name)).name == name


# --------------------------------------------------------------------- property: no overlap
NAMES = st.from_regex(CAMPAIGN_NAME_PATTERN, fullmatch=True)
PREFIXES = st.sampled_from(["dmpopt:bandit:", "", "app:", "x:"])


@settings(max_examples=400, deadline=None)
@given(NAMES, NAMES, PREFIXES)
def test_no_two_names_share_a_key(a, b, prefix):
    """Distinct valid names own disjoint key sets, and no campaign key is a store-wide or decision key."""
    if a == b:
        return
    ka, kb = set(campaign_keys(prefix, a)), set(campaign_keys(prefix, b))
    assert not ka & kb
    shared = {prefix + "campaigns", prefix + "workers", prefix + "layout"}
    for k in ka | kb:
        assert k not in shared
        assert not k.startswith(prefix + "d:")
    # the layout is fixed: {p}c:<hex><suffix> with one of the known suffixes
    for name, keys in ((a, ka), (b, kb)):
        for k in keys:
            rest = k[len(prefix) + 2:]
            h = name.encode().hex()
            assert rest.startswith(h) and rest[len(h):] in CAMPAIGN_KEY_SUFFIXES


def test_real_redis_keys_are_owned_by_exactly_one_campaign(redis_server):
    """Every key in Redis after hostile names is a store-wide key, a decision, or one campaign's key."""
    import redis

    url = fresh_url(redis_server, 10)
    names = ["x", "x:pending", "x:arms", "x:decisions", "y:decisions", "y", "c", "d", "campaigns", "workers", "layout"]
    store = open_store(url)
    try:
        for n in names:
            store.create_campaign(cfg(n), seed=1)
            d = store.choose(n)
            store.reward(d.decision_id, 1)
            store.choose(n)
        client = redis.Redis(port=redis_server.port, db=10, decode_responses=True)
        keys = set(client.keys("*"))
        client.close()
        p = store.prefix
        owned = {n: set(campaign_keys(p, n)) for n in names}
        for k in keys:
            owners = [n for n, ks in owned.items() if k in ks]
            assert len(owners) <= 1
            assert owners or k in {p + "campaigns", p + "layout", p + "workers"} or k.startswith(p + "d:"), k
        for n in names:
            info = store.get_campaign(n)
            assert (info.n_decisions, info.n_rewards, info.n_pending) == (2, 1, 1), n
            assert len(store.decisions(n)) == 2
        assert [c.name for c in store.list_campaigns()] == sorted(names)
    finally:
        store.close()


def test_issue_cases_over_http_on_redis(redis_server):
    """The issue's sequence: create x:pending then x, y:decisions then y; list, /metrics, /health, choose all 200."""
    store = open_store(fresh_url(redis_server, 11), service=True)
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0.05))
    try:
        with httpx.Client(base_url=svc.url, headers=H, timeout=10) as http:
            for n in ("x:pending", "x", "y:decisions"):
                assert http.post("/v1/campaigns", json={"campaign": cfg(n), "seed": 3}).status_code == 201
            d = http.post("/v1/campaigns/y:decisions/choose").json()
            assert http.post("/v1/campaigns", json={"campaign": cfg("y"), "seed": 3}).status_code == 201
            for path in ("/v1/campaigns", "/metrics", "/health", "/v1/campaigns/x", "/v1/campaigns/x:pending"):
                r = http.get(path)
                assert r.status_code == 200, (path, r.text)
            r = http.post("/v1/campaigns/y/choose")
            assert r.status_code == 200, r.text
            assert http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1}).status_code == 200
            counts = {c["name"]: (c["n_decisions"], c["n_rewards"]) for c in http.get("/v1/campaigns").json()["campaigns"]}
            assert counts == {"x": (0, 0), "x:pending": (0, 0), "y": (1, 0), "y:decisions": (1, 1)}
    finally:
        svc.stop()
        store.close()


def test_bad_names_over_http_are_422(tmp_path):
    """Create, read and choose with a name outside the rule: 422 naming the field and the rule."""
    store = open_store("memory://")
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0))
    try:
        with httpx.Client(base_url=svc.url, headers=H, timeout=10) as http:
            r = http.post("/v1/campaigns", json={"campaign": cfg(".."), "seed": 1})
            assert r.status_code == 422, r.text
            assert "campaign.name" in r.text and "A-Za-z0-9" in r.text, r.text
            for method, path in (("GET", "/v1/campaigns/-x"), ("POST", "/v1/campaigns/-x/choose"),
                                 ("POST", "/v1/campaigns/.x/choose"), ("GET", "/v1/campaigns/-x/state")):
                r = http.request(method, path)
                assert r.status_code == 422, (path, r.text)
                assert "name" in r.json()["error"]["message"]
            assert http.get("/v1/campaigns").json()["campaigns"] == []
    finally:
        svc.stop()
        store.close()


def test_old_raw_name_layout_is_refused(redis_server):
    """A prefix holding campaigns but no layout marker was written by the raw-name layout: refuse it."""
    import redis

    from optimizer.bandit.store import StoreError

    url = fresh_url(redis_server, 12)
    client = redis.Redis(port=redis_server.port, db=12)
    client.sadd("dmpopt:bandit:campaigns", "old")
    client.close()
    with pytest.raises(StoreError, match="old key layout"):
        open_store(url)


def test_malformed_decision_id_is_404_not_a_key(redis_server):
    from optimizer.bandit.store import UnknownDecisionError

    store = open_store(fresh_url(redis_server, 13))
    try:
        store.create_campaign(cfg("w"), seed=1)
        for bad in ("../w", "x" * 32, "campaigns", "0" * 31):
            with pytest.raises(UnknownDecisionError, match="32 hex"):
                store.reward(bad, 1)
    finally:
        store.close()


def test_round_trips_per_operation(redis_server, monkeypatch):
    """Issue #14: choose and reward take 2 round trips each (reward took 6 with WATCH/MULTI), counted as
    commands sent by redis-py (a pipeline or a script is one send)."""
    import redis.connection as rc

    store = open_store(fresh_url(redis_server, 14), service=True)
    try:
        store.create_campaign(cfg("rt"), seed=1)
        for _ in range(5):
            store.reward(store.choose("rt").decision_id, 1)
        sent = []
        real = rc.Connection.send_packed_command
        monkeypatch.setattr(rc.Connection, "send_packed_command", lambda self, *a, **k: (sent.append(1), real(self, *a, **k))[1])
        ids = [store.choose("rt").decision_id for _ in range(20)]
        assert len(sent) == 40
        sent.clear()
        for i in ids:
            store.reward(i, 0)
        assert len(sent) == 40
        sent.clear()
        store.choose_batch("rt", [{}] * 50)
        assert len(sent) == 2
    finally:
        store.close()
