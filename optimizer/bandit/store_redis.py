"""Redis bandit store: one campaign state shared by many service workers or hosts.

Key layout (prefix ``dmpopt:bandit:`` by default; ``?prefix=...`` in the URL changes it)::

    {p}campaigns                 SET   campaign names
    {p}c:{name}                  HASH  config, seed, created_at, state, state_version,
                                       seq (decision numbers handed out), n_decisions, n_rewards
    {p}c:{name}:arms             HASH  "{arm}|n_decisions", "{arm}|n_rewards", "{arm}|n_default_rewards",
                                       "{arm}|reward_sum", "{arm}|cost_sum"
    {p}c:{name}:decisions        ZSET  decision_id scored by seq (the decision log order)
    {p}c:{name}:pending          ZSET  decision_id scored by expires_at (not yet rewarded)
    {p}d:{decision_id}           HASH  the decision (and, once rewarded, reward, cost, is_default...)
    {p}workers                   HASH  "host:pid" -> started_at, for the recovery report

Atomicity:

* ``choose``: a Lua script checks the campaign exists and reserves ``k`` decision numbers
  (``HINCRBY seq``) in one step; the decisions are then written, and counted, in one
  ``MULTI``/``EXEC``. A worker killed in between leaves an unused number, never a half decision.
* ``reward``: ``WATCH`` the decision and the campaign, read, compute the new policy state in
  Python, then ``MULTI``: store the reward in the decision, drop it from ``pending``, store the
  state with ``state_version + 1``, bump the counters; ``EXEC``. If another worker touched either
  key in between, ``EXEC`` fails and the step is retried from the read, so the decision is
  rewarded once and no update is lost.

Durability is Redis's: run redis-server with ``appendonly yes`` (``appendfsync everysec`` loses at
most a second of acknowledged writes on a power loss; ``always`` none).
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

from optimizer.bandit.store import (
    SNAPSHOT_FORMAT,
    ArmStats,
    CampaignInfo,
    ConflictError,
    DecisionRecord,
    ExpiredDecisionError,
    RecoveryReport,
    RewardOutcome,
    StoreError,
    UnknownCampaignError,
    UnknownDecisionError,
    arm_cost,
    check_reward,
    dumps,
    now_or,
)
from optimizer.bandit.store_policy import (
    CampaignRuntime,
    build_decisions,
    check_requests,
    new_policy_state,
    parse_config,
)
from optimizer.bandit.store_recovery import arm_totals, check_snapshot, expired_message, worker_alive
from optimizer.seeding import resolve_seed

_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local last = redis.call('HINCRBY', KEYS[1], 'seq', ARGV[1])
return {last, redis.call('HGET', KEYS[1], 'state_version'), redis.call('HGET', KEYS[1], 'seed')}
"""

_ARM_FIELDS = ("n_decisions", "n_rewards", "n_default_rewards", "reward_sum", "cost_sum")
#: give up on a reward after this many optimistic-transaction conflicts (each retry re-reads).
MAX_WATCH_RETRIES = 10_000


class RedisStore:
    """Bandit store in Redis (see the module docstring).

    Parameters
    ----------
    url:
        ``redis://host:port/db`` (optionally ``?prefix=myapp:``), as for ``redis.Redis.from_url``.
    decision_refresh_seconds:
        See :class:`~optimizer.bandit.store_sqlite.SQLiteStore`.
    """

    def __init__(self, url: str, decision_refresh_seconds: float = 0.0):
        import redis

        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.prefix = query.pop("prefix", ["dmpopt:bandit:"])[0]
        rest = "&".join(f"{k}={v[0]}" for k, v in query.items())
        self.url = url
        self._redis_url = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        self._runtimes: dict[str, CampaignRuntime] = {}
        self.decision_refresh_seconds = float(decision_refresh_seconds)
        # the cached runtimes are shared by this process's threads; Redis itself needs no lock
        self._lock = threading.RLock()
        try:
            self._r = redis.Redis.from_url(self._redis_url, decode_responses=True, socket_timeout=10)
            self._r.ping()
        except (redis.RedisError, ValueError) as exc:
            raise StoreError(
                f"redis store {url!r} cannot be reached: {exc}. Is redis-server running at that address?"
            ) from None
        self._reserve = self._r.register_script(_RESERVE)

    # ---------------------------------------------------------------------------- plumbing
    def _c(self, name: str) -> str:
        return f"{self.prefix}c:{name}"

    def _d(self, decision_id: str) -> str:
        return f"{self.prefix}d:{decision_id}"

    def close(self) -> None:
        """Close the connection pool."""
        self._r.close()

    def __enter__(self) -> "RedisStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"

    def _unknown_campaign(self, name: str) -> str:
        import difflib

        names = sorted(self._r.smembers(self.prefix + "campaigns"))
        hint = difflib.get_close_matches(str(name), names, n=1)
        tail = f" Did you mean {hint[0]!r}?" if hint else (
            f" Campaigns: {', '.join(names[:20])}." if names else " The store holds no campaign; create one first."
        )
        return f"campaign {name!r} does not exist.{tail}"

    def _runtime(self, name: str, version: int | None = None, client: Any = None) -> CampaignRuntime:
        """The campaign's runtime, rebuilt if the stored version differs from ``version`` / the cache."""
        r = client if client is not None else self._r
        rt = self._runtimes.get(name)
        if rt is not None and version is not None and rt.version == int(version):
            return rt
        config_text, seed, state, stored_version = r.hmget(self._c(name), "config", "seed", "state", "state_version")
        if config_text is None:
            raise UnknownCampaignError(self._unknown_campaign(name))
        if rt is None:
            rt = CampaignRuntime(parse_config(json.loads(config_text)), int(seed), int(stored_version), json.loads(state),
                                 self.decision_refresh_seconds)
            self._runtimes[name] = rt
        elif rt.version != int(stored_version):
            rt.reload(int(stored_version), json.loads(state))
        return rt

    # --------------------------------------------------------------------------- campaigns
    def create_campaign(self, config: Any, seed: int | None = None, now: float | None = None) -> CampaignInfo:
        """Store a new campaign with a fresh policy; ``ConflictError`` if the name is taken."""
        cfg = parse_config(config)
        used = resolve_seed(seed)
        state = new_policy_state(cfg, used)
        key = self._c(cfg.name)
        mapping = {
            "config": dumps(cfg.model_dump(mode="json")), "seed": used, "created_at": repr(now_or(now)),
            "state": dumps(state), "state_version": 0, "seq": 0, "n_decisions": 0, "n_rewards": 0,
        }
        # HSETNX on the config field decides the race between two creators atomically
        if not self._r.hsetnx(key, "config", mapping["config"]):
            raise ConflictError(
                f"campaign {cfg.name!r} exists already; choose another name (campaigns are never overwritten)."
            )
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={k: v for k, v in mapping.items() if k != "config"})
        pipe.hset(key + ":arms", mapping={f"{a}|{f}": 0 for a in cfg.arm_names for f in _ARM_FIELDS})
        pipe.sadd(self.prefix + "campaigns", cfg.name)
        pipe.execute()
        return self.get_campaign(cfg.name)

    def list_campaigns(self) -> list[CampaignInfo]:
        """Every campaign, sorted by name."""
        return [self.get_campaign(n) for n in sorted(self._r.smembers(self.prefix + "campaigns"))]

    def get_campaign(self, name: str) -> CampaignInfo:
        """One campaign with its counters (``UnknownCampaignError`` if absent)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.hmget(self._c(name), "config", "seed", "created_at", "state_version", "n_decisions", "n_rewards")
        pipe.hgetall(self._c(name) + ":arms")
        pipe.zcard(self._c(name) + ":pending")
        (config_text, seed, created, version, n_dec, n_rew), arms, n_pending = pipe.execute()
        if config_text is None or seed is None:
            raise UnknownCampaignError(self._unknown_campaign(name))
        config = json.loads(config_text)
        arm_to_stats = {}
        for a in config["arms"]:
            v = [arms.get(f"{a['name']}|{f}", 0) for f in _ARM_FIELDS]
            arm_to_stats[a["name"]] = ArmStats(int(v[0]), int(v[1]), int(v[2]), float(v[3]), float(v[4]))
        return CampaignInfo(
            name=name, config=config, seed=int(seed), created_at=float(created), state_version=int(version),
            n_decisions=int(n_dec), n_rewards=int(n_rew), n_pending=int(n_pending), arm_to_stats=arm_to_stats,
        )

    # ---------------------------------------------------------------------------- decisions
    def choose(
        self,
        name: str,
        context: Sequence[float] | None = None,
        eligible: Sequence[str] | None = None,
        user_id: str | None = None,
        now: float | None = None,
    ) -> DecisionRecord:
        """Decide an arm for one request and log it (stored before returning)."""
        return self.choose_batch(name, [{"context": context, "eligible": eligible, "user_id": user_id}], now)[0]

    def choose_batch(
        self, name: str, requests: Sequence[dict[str, Any]], now: float | None = None
    ) -> list[DecisionRecord]:
        """Decide and log several requests; one ``MULTI`` stores them all."""
        with self._lock:
            return self._choose_batch(name, requests, now_or(now))

    def _choose_batch(self, name: str, requests: Sequence[dict[str, Any]], t: float) -> list[DecisionRecord]:
        # validate against the config before reserving numbers, so bad input changes nothing
        config = (self._runtimes.get(name) or self._runtime(name)).config
        checked = check_requests(config, requests)
        reserved = self._reserve(keys=[self._c(name)], args=[len(checked)])
        if not reserved:
            raise UnknownCampaignError(self._unknown_campaign(name))
        last, version, _seed = (int(x) for x in reserved)
        rt = self._runtime(name, version)
        out = build_decisions(rt, name, last - len(checked) + 1, checked, t)
        c = self._c(name)
        pipe = self._r.pipeline(transaction=True)
        for rec in out:
            pipe.hset(self._d(rec.decision_id), mapping={
                "campaign": name, "seq": rec.seq, "arm": rec.arm, "propensity": repr(rec.propensity),
                "arm_to_probability": dumps(rec.arm_to_probability),
                "context": "" if rec.context is None else dumps(list(rec.context)),
                "user_id": "" if rec.user_id is None else "u:" + rec.user_id,
                "created_at": repr(t), "expires_at": repr(rec.expires_at), "state_version": rec.state_version,
            })
            pipe.hincrby(c + ":arms", f"{rec.arm}|n_decisions", 1)
        pipe.zadd(c + ":decisions", {rec.decision_id: rec.seq for rec in out})
        pipe.zadd(c + ":pending", {rec.decision_id: rec.expires_at for rec in out})
        pipe.hincrby(c, "n_decisions", len(out))
        pipe.execute()
        return out

    # ------------------------------------------------------------------------------ rewards
    def _reward_once(
        self, decision_id: str, reward: Any, cost: Any, t: float, force_default: bool
    ) -> tuple[RewardOutcome, bool]:
        """One optimistic transaction; returns ``(outcome, expired_now)``. Retries on conflicts."""
        with self._lock:
            return self._reward_locked(decision_id, reward, cost, t, force_default)

    def _reward_locked(
        self, decision_id: str, reward: Any, cost: Any, t: float, force_default: bool
    ) -> tuple[RewardOutcome, bool]:
        import redis

        dkey = self._d(decision_id)
        name = self._r.hget(dkey, "campaign")
        if name is None:
            raise UnknownDecisionError(
                f"decision_id {decision_id!r} is not known; use the decision_id returned by choose."
            )
        ckey = self._c(name)
        for attempt in range(MAX_WATCH_RETRIES):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(dkey, ckey)
                    d = pipe.hgetall(dkey)
                    version = pipe.hget(ckey, "state_version")
                    rt = self._runtime(name, int(version), client=pipe)
                    if "reward" in d:
                        pipe.unwatch()
                        if d["is_default"] == "1":
                            if force_default:
                                return self._outcome(decision_id, d, duplicate=True), False
                            raise ExpiredDecisionError(expired_message(decision_id, rt.config, float(d["expires_at"])))
                        check_reward(rt.config, reward, cost)
                        return self._outcome(decision_id, d, duplicate=True), False
                    expires_at = float(d["expires_at"])
                    if force_default:
                        value, cost_value, is_default = float(rt.config.default_reward), None, True
                    else:
                        value, cost_value = check_reward(rt.config, reward, cost)
                        is_default = t > expires_at
                        if is_default:
                            value, cost_value = float(rt.config.default_reward), None
                    arm = d["arm"]
                    if cost_value is None:
                        cost_value = arm_cost(rt.config, arm)
                    context = json.loads(d["context"]) if d["context"] else None
                    akey = ckey + ":arms"
                    # sums in Python doubles, like SQLite's REAL (HINCRBYFLOAT uses long double and
                    # would differ in the last digit); safe to read here: every writer of these
                    # sums also writes the watched campaign key, so a race fails the EXEC
                    old_reward_sum, old_cost_sum = pipe.hmget(akey, f"{arm}|reward_sum", f"{arm}|cost_sum")
                    # the runtime runs ahead of Redis from here until EXEC succeeds
                    self._runtimes.pop(name, None)
                    state = rt.apply(arm, value, cost_value, context, float(d["propensity"]))
                    new_version = rt.version
                    pipe.multi()
                    pipe.hset(ckey, mapping={"state": dumps(state), "state_version": new_version})
                    pipe.hincrby(ckey, "n_rewards", 1)
                    pipe.hset(dkey, mapping={
                        "reward": repr(value), "cost": repr(cost_value), "is_default": int(is_default),
                        "rewarded_at": repr(t), "reward_state_version": new_version,
                    })
                    pipe.zrem(ckey + ":pending", decision_id)
                    pipe.hincrby(akey, f"{arm}|n_rewards", 1)
                    pipe.hincrby(akey, f"{arm}|n_default_rewards", int(is_default))
                    pipe.hset(akey, mapping={f"{arm}|reward_sum": repr(float(old_reward_sum) + value),
                                             f"{arm}|cost_sum": repr(float(old_cost_sum) + cost_value)})
                    pipe.execute()
                except redis.WatchError:
                    # another worker changed the campaign or the decision: re-read and retry
                    if attempt > 3:
                        time.sleep(random.uniform(0, 0.0005 * min(attempt, 20)))
                    continue
                self._runtimes[name] = rt
                outcome = RewardOutcome(decision_id, name, arm, value, cost_value, False, is_default, new_version)
                return outcome, is_default and not force_default
        raise StoreError(
            f"reward for {decision_id!r} conflicted {MAX_WATCH_RETRIES} times with other workers; retry the request."
        )

    @staticmethod
    def _outcome(decision_id: str, d: dict[str, str], duplicate: bool) -> RewardOutcome:
        return RewardOutcome(
            decision_id, d["campaign"], d["arm"], float(d["reward"]), float(d["cost"]), duplicate,
            d["is_default"] == "1", int(d["reward_state_version"]),
        )

    def reward(self, decision_id: str, reward: Any, cost: Any = None, now: float | None = None) -> RewardOutcome:
        """Apply a reward exactly once; see :meth:`SQLiteStore.reward` for the outcomes and errors."""
        outcome, expired = self._reward_once(str(decision_id), reward, cost, now_or(now), force_default=False)
        if expired:
            rt = self._runtimes[outcome.campaign]
            expires_at = float(self._r.hget(self._d(outcome.decision_id), "expires_at"))
            raise ExpiredDecisionError(expired_message(outcome.decision_id, rt.config, expires_at))
        return outcome

    def expire(self, now: float | None = None, limit: int = 1000) -> int:
        """Apply the default reward to up to ``limit`` decisions past their window; return how many."""
        t = now_or(now)
        n = 0
        for name in sorted(self._r.smembers(self.prefix + "campaigns")):
            if n >= limit:
                break
            ids = self._r.zrangebyscore(self._c(name) + ":pending", "-inf", f"({t!r}", start=0, num=limit - n)
            for decision_id in ids:
                outcome, _ = self._reward_once(decision_id, None, None, t, force_default=True)
                n += 0 if outcome.duplicate else 1
        return n

    # ------------------------------------------------------------------------------- reading
    def policy_state(self, name: str) -> tuple[int, dict[str, Any]]:
        """``(state_version, policy state dict)``."""
        version, state = self._r.hmget(self._c(name), "state_version", "state")
        if state is None:
            raise UnknownCampaignError(self._unknown_campaign(name))
        return int(version), json.loads(state)

    def shares(self, name: str, n_draws: int | None = None) -> tuple[int, dict[str, float]]:
        """``(state_version, arm -> share)`` for the next period (batch mode); ``n_draws=None``:
        exact/quadrature probabilities, an int: a Monte Carlo estimate from that many draws."""
        version = self._r.hget(self._c(name), "state_version")
        if version is None:
            raise UnknownCampaignError(self._unknown_campaign(name))
        with self._lock:
            rt = self._runtime(name, int(version))
            return rt.version, rt.shares(n_draws)

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """The campaign's decision log joined with its rewards, in ``seq`` order."""
        if not self._r.exists(self._c(name)):
            raise UnknownCampaignError(self._unknown_campaign(name))
        ids = self._r.zrange(self._c(name) + ":decisions", 0, -1)
        pipe = self._r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self._d(i))
        out = []
        for decision_id, d in zip(ids, pipe.execute()):
            rewarded = "reward" in d
            out.append({
                "decision_id": decision_id, "campaign": name, "seq": int(d["seq"]), "arm": d["arm"],
                "propensity": float(d["propensity"]), "arm_to_probability": json.loads(d["arm_to_probability"]),
                "context": json.loads(d["context"]) if d["context"] else None,
                "user_id": d["user_id"][2:] if d["user_id"] else None,
                "created_at": float(d["created_at"]), "expires_at": float(d["expires_at"]),
                "state_version": int(d["state_version"]),
                "reward": float(d["reward"]) if rewarded else None,
                "cost": float(d["cost"]) if rewarded else None,
                "is_default": (d["is_default"] == "1") if rewarded else None,
                "rewarded_at": float(d["rewarded_at"]) if rewarded else None,
                "reward_state_version": int(d["reward_state_version"]) if rewarded else None,
            })
        return out

    # ------------------------------------------------------------------------ snapshot/restore
    def snapshot(self) -> dict[str, Any]:
        """Everything under this store's prefix as one JSON-safe dict (format :data:`SNAPSHOT_FORMAT`).

        Take it while no worker writes (Redis has no multi-key read snapshot outside MULTI).
        """
        campaigns = []
        for name in sorted(self._r.smembers(self.prefix + "campaigns")):
            config, seed, created, state, version, n_dec = self._r.hmget(
                self._c(name), "config", "seed", "created_at", "state", "state_version", "n_decisions"
            )
            campaigns.append({
                "name": name, "config": json.loads(config), "seed": int(seed), "created_at": float(created),
                "state": json.loads(state), "state_version": int(version), "n_decisions": int(n_dec),
                "decisions": self.decisions(name),
            })
        return {"format": SNAPSHOT_FORMAT, "campaigns": campaigns}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load a snapshot (from any backend); ``ConflictError`` if one of its campaigns exists here."""
        campaigns = check_snapshot(snapshot)
        for c in campaigns:
            if self._r.exists(self._c(c["name"])):
                raise ConflictError(f"campaign {c['name']!r} exists already in {self.url}; restore into an empty store.")
        for c in campaigns:
            cfg = parse_config(c["config"])
            key = self._c(cfg.name)
            decisions = c["decisions"]
            done = [d for d in decisions if d["reward"] is not None]
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(key, mapping={
                "config": dumps(cfg.model_dump(mode="json")), "seed": int(c["seed"]), "created_at": repr(float(c["created_at"])),
                "state": dumps(c["state"]), "state_version": int(c["state_version"]), "seq": int(c["n_decisions"]),
                "n_decisions": int(c["n_decisions"]), "n_rewards": len(done),
            })
            arms: dict[str, Any] = {}
            for a, t in arm_totals(cfg.arm_names, decisions).items():
                arms.update({
                    f"{a}|n_decisions": t.n_decisions, f"{a}|n_rewards": t.n_rewards,
                    f"{a}|n_default_rewards": t.n_default_rewards,
                    f"{a}|reward_sum": repr(t.reward_sum), f"{a}|cost_sum": repr(t.cost_sum),
                })
            pipe.hset(key + ":arms", mapping=arms)
            for d in decisions:
                mapping = {
                    "campaign": cfg.name, "seq": int(d["seq"]), "arm": d["arm"], "propensity": repr(float(d["propensity"])),
                    "arm_to_probability": dumps(d["arm_to_probability"]),
                    "context": "" if d["context"] is None else dumps(d["context"]),
                    "user_id": "" if d["user_id"] is None else "u:" + d["user_id"],
                    "created_at": repr(float(d["created_at"])), "expires_at": repr(float(d["expires_at"])),
                    "state_version": int(d["state_version"]),
                }
                if d["reward"] is not None:
                    mapping.update({
                        "reward": repr(float(d["reward"])), "cost": repr(float(d["cost"])),
                        "is_default": int(bool(d["is_default"])), "rewarded_at": repr(float(d["rewarded_at"])),
                        "reward_state_version": int(d["reward_state_version"]),
                    })
                else:
                    pipe.zadd(key + ":pending", {d["decision_id"]: float(d["expires_at"])})
                pipe.hset(self._d(d["decision_id"]), mapping=mapping)
                pipe.zadd(key + ":decisions", {d["decision_id"]: int(d["seq"])})
            pipe.sadd(self.prefix + "campaigns", cfg.name)
            pipe.execute()
        self._runtimes.clear()

    # ------------------------------------------------------------------------ worker tracking
    def register_worker(self, worker: str, now: float | None = None) -> None:
        """Record that service worker ``worker`` (``host:pid``) started on this store."""
        self._r.hset(self.prefix + "workers", worker, repr(now_or(now)))

    def unregister_worker(self, worker: str, now: float | None = None) -> None:
        """Record a clean stop."""
        self._r.hdel(self.prefix + "workers", worker)

    def recovery_report(self, now: float | None = None, live_workers: Sequence[str] = ()) -> RecoveryReport:
        """Pending/overdue decisions and workers of this host that died without a clean stop."""
        t = now_or(now)
        n_pending = n_overdue = 0
        for name in self._r.smembers(self.prefix + "campaigns"):
            n_pending += self._r.zcard(self._c(name) + ":pending")
            n_overdue += self._r.zcount(self._c(name) + ":pending", "-inf", f"({t!r}")
        workers = sorted(self._r.hkeys(self.prefix + "workers"))
        dead = tuple(w for w in workers if w not in live_workers and not worker_alive(w))
        if dead:
            self._r.hdel(self.prefix + "workers", *dead)
        return RecoveryReport(int(n_pending), int(n_overdue), dead)
