"""Issue #14, "Redis that earns its place": the Redis store's wire cost per operation.

Counted by redis-server itself (``INFO commandstats`` after ``CONFIG RESETSTAT``), so whatever the
client library does (pool checks, retries, pings, ``SCRIPT LOAD``) is seen: a ``choose`` is two
scripts (reserve numbers, write decisions), a batch of k chooses is the same two, a ``reward`` is
two (read, compare-and-set commit), and nothing else is sent. Also: the store works over a unix
domain socket (``unix://`` URL) with the same key layout as over TCP.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servicekit import REDIS_SERVER, RedisServer  # noqa: E402

from optimizer.bandit.store import open_store  # noqa: E402


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not found; install redis-server to run the Redis store tests")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def _commandstats(client) -> dict[str, int]:
    """``command name -> calls`` since the last ``CONFIG RESETSTAT`` (redis-server's own count)."""
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in client.info("commandstats").items()}


def _campaign(store, n_arms: int = 5) -> str:
    name = "rt-" + uuid.uuid4().hex[:8]
    store.create_campaign({"name": name, "arms": [{"name": f"arm{i}"} for i in range(n_arms)]}, seed=3)
    return name


def _sent(client) -> dict[str, int]:
    """Command counts without the admin client's own CONFIG RESETSTAT / INFO."""
    return {k: v for k, v in _commandstats(client).items() if k not in ("config|resetstat", "info")}


# redis-server counts the commands a script runs as well as the EVALSHA itself, so the expected
# counts are the scripts' own commands (store_redis_lua.py); any command the Python side sent
# outside a script would add to them and fail the equality:
#   RESERVE          HEXISTS, HINCRBY seq, HGET state_version          (+ HGET state when stale)
#   WRITE_DECISIONS  per decision HSET, HINCRBY arm, 2 ZADD; then HINCRBY n_decisions
#   REWARD_READ      HGETALL decision, HGET state_version, HMGET sums  (+ HGET state when stale)
#   REWARD_COMMIT    HEXISTS, HGET state_version, HSET state, HINCRBY n_rewards, HSET decision,
#                    ZREM, 2 HINCRBY arm, HSET sums
@pytest.mark.parametrize("service", [False, True], ids=["newest-state", "service-refresh"])
def test_choose_and_reward_send_two_scripts_each_and_nothing_else(redis_server, service):
    import redis

    admin = redis.Redis(port=redis_server.port)
    store = open_store(redis_server.url, service=service)
    try:
        name = _campaign(store)
        store.reward(store.choose(name).decision_id, 0.0)  # scripts loaded (a first EVALSHA may need SCRIPT LOAD)
        admin.config_resetstat()
        n = 40
        ids = [store.choose(name).decision_id for _ in range(n)]
        assert _sent(admin) == {"evalsha": 2 * n, "hexists": n, "hincrby": 3 * n, "hget": n, "hset": n, "zadd": 2 * n}
        admin.config_resetstat()
        k = 25
        store.choose_batch(name, [{"context": None, "eligible": None, "user_id": None}] * k)
        assert _sent(admin) == {"evalsha": 2, "hexists": 1, "hincrby": 1 + k + 1, "hget": 1, "hset": k, "zadd": 2 * k}
        admin.config_resetstat()
        for i in ids:
            store.reward(i, 1.0)
        # one writer, so no compare-and-set conflict and our cached state is current: no state read
        assert _sent(admin) == {"evalsha": 2 * n, "hgetall": n, "hget": 2 * n, "hmget": n, "hexists": n,
                                "hset": 3 * n, "hincrby": 3 * n, "zrem": n}
        assert store.get_campaign(name).n_rewards == n + 1  # and the warm-up reward
    finally:
        store.close()
        admin.close()


def test_store_over_a_unix_socket_shares_the_tcp_store(redis_server):
    """The same server through ``unix://`` and ``redis://``: one store, the same keys."""
    db_prefix = "?db=0&prefix=ux" + uuid.uuid4().hex[:6] + ":"
    unix = open_store(redis_server.unix_url.replace("?db=0", db_prefix), service=True)
    tcp = open_store(redis_server.url + db_prefix.replace("db=0&", ""))
    try:
        assert unix.prefix == tcp.prefix and unix.prefix.startswith("ux")
        name = _campaign(unix)
        d = unix.choose(name)
        assert tcp.reward(d.decision_id, 1.0).duplicate is False
        assert unix.reward(d.decision_id, 1.0).duplicate is True  # exactly once across both connections
        info = tcp.get_campaign(name)
        assert (info.n_decisions, info.n_rewards) == (1, 1)
        assert [c.name for c in unix.list_campaigns()] == [name]
    finally:
        unix.close()
        tcp.close()


def test_unreachable_unix_socket_names_the_url(tmp_path):
    from optimizer.bandit.store import StoreError

    url = f"unix://{tmp_path}/none.sock?db=0"
    with pytest.raises(StoreError, match="cannot be reached") as err:
        open_store(url)
    assert "none.sock" in str(err.value)


def test_logged_store_urls_hide_passwords_of_both_url_forms():
    from optimizer.bandit.service_http import redact

    assert redact("redis://user:s3cret@host:6379/0") == "redis://***@host:6379/0"
    assert redact("unix:///run/redis.sock?db=0&password=s3cret&prefix=a:") == (
        "unix:///run/redis.sock?db=0&password=***&prefix=a:"
    )
    assert redact("unix:///run/redis.sock?db=0") == "unix:///run/redis.sock?db=0"


def test_a_refused_commit_keeps_the_runtime_and_its_decider(redis_server):
    """Regression (issue #14): a reward whose compare-and-set lost against another worker used to
    drop the campaign's runtime; the retry rebuilt it (config parse, extra read) and the next choose
    recomputed the Thompson propensity integral: 81 choose+reward pairs/s and 5 ms CPU per pair
    with 4 processes. Now the runtime is kept, reloaded from the state the re-read returns, and
    both rewards count exactly once."""
    from optimizer.bandit import store_redis_lua as lua

    url = redis_server.url
    a, b = open_store(url, service=True), open_store(url, service=True)
    try:
        name = _campaign(a)
        d1, d2 = a.choose(name), a.choose(name)
        rt, decider = a._runtimes[name], a._runtimes[name].decider
        inner = a._script
        calls = []

        def racing(script, keys, args, retry_lost_reply):
            if script is lua.REWARD_COMMIT and lua.REWARD_COMMIT not in calls:
                b.reward(d2.decision_id, 1.0)  # another worker commits first: A's commit is refused
            calls.append(script)
            return inner(script, keys, args, retry_lost_reply=retry_lost_reply)

        a._script = racing
        try:
            out = a.reward(d1.decision_id, 1.0)
        finally:
            a._script = inner
        # read, commit (refused), re-read, commit
        assert [c is lua.REWARD_COMMIT for c in calls] == [False, True, False, True]
        assert out.duplicate is False and out.state_version == 2
        assert a._runtimes[name] is rt and rt.decider is decider and rt.version == 2
        info = a.get_campaign(name)
        assert info.n_rewards == 2 and info.state_version == 2
        assert a.policy_state(name)[1] == rt.policy.to_state()  # the kept runtime holds both rewards
    finally:
        a.close()
        b.close()
