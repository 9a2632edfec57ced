"""Request cost limits and the smaller service defects of issue #14 (defects 3, 5 and 7).

Each test reproduces a request the issue reports as accepted (or as a 500) and checks the
documented answer: 422 naming the limit or the field, nothing stored, the same answer on a retry.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from optimizer.bandit.limits import DEFAULT_LIMITS, ServiceLimits, check_batch, check_campaign, parse_limits
from optimizer.bandit.service import create_app
from optimizer.bandit.store import open_store
from optimizer.errors import ScenarioError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import API_KEY, ThreadedService  # noqa: E402

H = {"X-API-Key": API_KEY}


def arms(n: int) -> list[dict]:
    return [{"name": f"a{i}"} for i in range(n)]


def lin(name: str, n_arms: int, d: int) -> dict:
    return {"name": name, "arms": arms(n_arms), "policy": {"kind": "lin_ucb"}, "context_dim": d}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('lim')}/b.db", service=True)
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0))
    with httpx.Client(base_url=svc.url, headers=H, timeout=30) as http:
        assert http.post("/v1/campaigns", json={"campaign": {"name": "big", "arms": arms(1000)}, "seed": 1}).status_code == 201
        assert http.post("/v1/campaigns", json={"campaign": lin("lin", 600, 20), "seed": 1}).status_code == 201
        assert http.post("/v1/campaigns", json={"campaign": {"name": "w", "arms": arms(2)}, "seed": 1}).status_code == 201
    yield svc
    svc.stop()
    store.close()


@pytest.fixture
def http(service):
    with httpx.Client(base_url=service.url, headers=H, timeout=30) as client:
        yield client


def error(r: httpx.Response) -> str:
    return r.json()["error"]["message"]


# ---------------------------------------------------------------------------- defect 3: limits
@pytest.mark.parametrize("n_arms,d", [(1000, 1000), (50, 200)])
def test_huge_lin_ucb_campaign_is_422_before_allocation(http, n_arms, d):
    """1,000 arms x 1,000 features asked for 7.45 GiB from an 18 KB body; 50 x 200 blocked a worker 8.3 s."""
    body = {"campaign": lin(f"huge{n_arms}", n_arms, d), "seed": 1}
    r = http.post("/v1/campaigns", json=body)
    assert r.status_code == 422, r.text
    assert "max_policy_state_values" in error(r) and f"{n_arms * d * d:,}" in error(r)
    assert http.get(f"/v1/campaigns/huge{n_arms}").status_code == 404


def test_monte_carlo_shares_over_the_draw_limit_is_422(http):
    """shares?n_draws=1000000 on 1,000 arms asked for 1e9 draws."""
    r = http.get("/v1/campaigns/big/shares", params={"n_draws": 1_000_000})
    assert r.status_code == 422 and "max_share_draw_values" in error(r) and "n_draws <= 5,000" in error(r)
    r = http.get("/v1/campaigns/big/shares", params={"n_draws": 5000})
    assert r.status_code == 200 and abs(sum(r.json()["arm_to_share"].values()) - 1) < 1e-9


def test_batch_over_the_work_limit_is_422_and_logs_nothing(http):
    reqs = [{"context": [0.1] * 20}] * 300  # 300 x 600 arms x 20^2 = 7.2e7 > 5e7
    before = http.get("/v1/campaigns/lin").json()["n_decisions"]
    r = http.post("/v1/campaigns/lin/choose/batch", json={"requests": reqs})
    assert r.status_code == 422 and "max_batch_work" in error(r) and "at most 208 requests" in error(r)
    assert http.get("/v1/campaigns/lin").json()["n_decisions"] == before
    r = http.post("/v1/campaigns/lin/choose/batch", json={"requests": reqs[:20]})
    assert r.status_code == 200 and len(r.json()["decisions"]) == 20


def test_limits_are_settings_of_the_service():
    store = open_store("memory://")
    svc = ThreadedService(create_app(store, API_KEY, expire_interval_seconds=0,
                                     limits={"max_arms": 5, "max_share_draw_values": 1000}))
    try:
        with httpx.Client(base_url=svc.url, headers=H, timeout=10) as http:
            r = http.post("/v1/campaigns", json={"campaign": {"name": "six", "arms": arms(6)}})
            assert r.status_code == 422 and "max_arms is 5" in error(r)
            assert http.post("/v1/campaigns", json={"campaign": {"name": "five", "arms": arms(5)}}).status_code == 201
            r = http.get("/v1/campaigns/five/shares", params={"n_draws": 201})
            assert r.status_code == 422 and "max_share_draw_values is 1,000" in error(r)
    finally:
        svc.stop()
        store.close()
    with pytest.raises(ScenarioError, match="max_batch_work"):
        parse_limits('{"max_batch_work": -1}')
    with pytest.raises(ScenarioError, match="not valid JSON"):
        parse_limits("{max_arms: 3}")
    assert parse_limits(None) == DEFAULT_LIMITS


def test_limit_checks_do_not_depend_on_the_store():
    """The estimates are closed forms of the config: arms x d^2 for lin_*, arms otherwise."""
    lim = ServiceLimits(max_policy_state_values=1000, max_batch_work=10_000)
    check_campaign({"arms": arms(10), "context_dim": 10, "policy": {"kind": "lin_ts"}}, lim)  # exactly 1,000
    with pytest.raises(ScenarioError, match="1,210"):
        check_campaign({"arms": arms(10), "context_dim": 11, "policy": {"kind": "lin_ts"}}, lim)
    check_batch({"arms": arms(100), "policy": {"kind": "thompson"}}, 100, lim)  # 100 x 100 = 10,000
    with pytest.raises(ScenarioError, match="at most 100 requests"):
        check_batch({"arms": arms(100), "policy": {"kind": "thompson"}}, 101, lim)


# ------------------------------------------------------------------- defect 5: overflow is 422
def test_overflowing_cost_is_422_and_idempotent(http):
    """Costs of 1e308 made the cost total infinite: the state could not be serialised (500) and an
    at-least-once sender retried forever. Now: 422 naming the cap, the same on every retry."""
    d = http.post("/v1/campaigns/w/choose").json()
    for _ in range(3):
        r = http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1, "cost": 1e308})
        assert r.status_code == 422 and "cost is 1e+308" in error(r) and "1e+15" in error(r)
    r = http.post("/v1/rewards", json={"decision_id": d["decision_id"], "reward": 1, "cost": 2.5})
    assert r.status_code == 200 and r.json()["cost"] == 2.5


def test_huge_cost_per_action_is_refused_at_creation(http):
    r = http.post("/v1/campaigns", json={"campaign": {"name": "c", "arms": [{"name": "a", "cost_per_action": 1e300},
                                                                           {"name": "b"}]}})
    assert r.status_code == 422 and "cost_per_action" in error(r)


# --------------------------------------------------------------- defect 7: strict, keys, config
@pytest.mark.parametrize("bad", ['"1"', "true", '"0"', "false", "null"])
def test_reward_must_be_a_json_number(http, bad):
    d = http.post("/v1/campaigns/w/choose").json()
    raw = '{"decision_id": "%s", "reward": %s}' % (d["decision_id"], bad)
    r = http.post("/v1/rewards", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "reward" in error(r)
    pending = [x for x in http.get("/v1/campaigns/w/decisions").json()["decisions"] if x["decision_id"] == d["decision_id"]]
    assert pending[0]["reward"] is None


def test_context_values_must_be_json_numbers(http):
    r = http.post("/v1/campaigns/lin/choose", json={"context": ["0.1"] * 20})
    assert r.status_code == 422 and "context" in error(r)


def test_api_key_is_compared_in_constant_time(service, monkeypatch):
    """The gate must use hmac.compare_digest (constant time in the key's content), for every 401."""
    import hmac

    from optimizer.bandit import service_http

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(service_http.hmac, "compare_digest", spy)
    for key in (API_KEY[:-1] + "x", API_KEY[:3], API_KEY + "0", "z" * len(API_KEY)):
        r = httpx.get(service.url + "/v1/campaigns", headers={"X-API-Key": key})
        assert r.status_code == 401
    assert httpx.get(service.url + "/v1/campaigns", headers=H).status_code == 200
    assert len(calls) == 5


def test_make_policy_accepts_a_dict_or_explains():
    from optimizer.bandit.policies import make_policy

    assert type(make_policy({"kind": "ucb1", "c": 1.0}, ["a", "b"], seed=1)).__name__ == "UCB1"
    with pytest.raises(ScenarioError, match="policy.kind is 'thompsn'; expected one of"):
        make_policy({"kind": "thompsn"}, ["a", "b"], seed=1)
    with pytest.raises(TypeError, match="pass a policy config model"):
        make_policy(3, ["a", "b"], seed=1)
