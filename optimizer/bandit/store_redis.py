"""Redis bandit store: one campaign state shared by many service workers or hosts.

Key layout (prefix ``dmpopt:bandit:`` by default; ``?prefix=...`` in the URL changes it). A
campaign's keys are built from ``hex(name)``, the hex digits of its UTF-8 name, never from the raw
name: hex has no ':' and is injective, so no campaign name (whatever it contains) can produce
another campaign's key or a store-wide key (``tests/optimizer/bandit/test_redis_keys.py`` checks
this with hypothesis). Decision keys are built only from 32-hex-digit ids::

    {p}layout                    STRING "2" (this layout; a store written by the old raw-name layout is refused)
    {p}campaigns                 SET   campaign names (the registry: members, never keys)
    {p}c:{hex(name)}             HASH  name, config, seed, created_at, state, state_version,
                                       seq (decision numbers handed out), n_decisions, n_rewards
    {p}c:{hex(name)}:arms        HASH  "{arm}|n_decisions", "{arm}|n_rewards", "{arm}|n_default_rewards",
                                       "{arm}|reward_sum", "{arm}|cost_sum"
    {p}c:{hex(name)}:decisions   ZSET  decision_id scored by seq (the decision log order)
    {p}c:{hex(name)}:pending     ZSET  decision_id scored by expires_at (not yet rewarded)
    {p}d:{decision_id}           HASH  the decision (and, once rewarded, reward, cost, is_default...)
    {p}workers                   HASH  "host:pid" -> started_at, for the recovery report

Atomicity and round trips (scripts in ``store_redis_lua.py``; one pooled connection):

* ``choose`` (2 round trips): a Lua script checks the campaign exists, reserves ``k`` decision
  numbers (``HINCRBY seq``) and returns the state if this process's copy is stale (at most every
  ``decision_refresh_seconds`` in a service); a second script then writes and counts all the
  decisions atomically. A worker killed in between leaves an unused number, never a half decision.
* ``reward`` (2 round trips): a read script returns the decision, its campaign's
  ``state_version``, the arm's sums (and the state if ours is stale); the new policy state is
  computed in Python; a commit script stores reward, state (``state_version + 1``) and counters
  only if the decision is still unrewarded and the campaign still at the version read (a
  compare-and-set), else the step is retried from the read: the decision is rewarded once and no
  update is lost. (It replaced a ``WATCH``/``MULTI`` transaction of 6 round trips.)

Durability is Redis's: run redis-server with ``appendonly yes`` (``appendfsync everysec`` loses at
most a second of acknowledged writes on a power loss; ``always`` none).
"""

from __future__ import annotations

import json
import random
import re
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
from optimizer.bandit.store_redis_lua import CLOSE as _CLOSE
from optimizer.bandit.store_redis_lua import RESERVE as _RESERVE
from optimizer.bandit.store_redis_lua import REWARD_COMMIT as _REWARD_COMMIT
from optimizer.bandit.store_redis_lua import REWARD_READ as _REWARD_READ
from optimizer.bandit.store_redis_lua import WRITE_DECISIONS as _WRITE_DECISIONS
from optimizer.bandit.store_redis_wire import ScriptCaller
from optimizer.bandit.store_policy import (
    CampaignRuntime,
    build_decisions,
    check_requests,
    new_policy_state,
    parse_config,
)
from optimizer.bandit.store_recovery import (
    arm_totals,
    check_snapshot,
    closed_message,
    expired_message,
    worker_alive,
)
from optimizer.errors import ScenarioError
from optimizer.seeding import resolve_seed

#: Version of the key layout (stored at ``{prefix}layout``); 1 was the raw-name layout.
KEY_LAYOUT = "2"
CAMPAIGN_KEY_SUFFIXES = ("", ":arms", ":decisions", ":pending")
_DECISION_ID_OK = re.compile(r"[0-9a-f]{32}").fullmatch


def campaign_key(prefix: str, name: str) -> str:
    """The campaign's hash key: ``{prefix}c:{hex(name)}`` (injective, no ':' inside the hex part)."""
    return f"{prefix}c:{name.encode('utf-8').hex()}"


def campaign_keys(prefix: str, name: str) -> tuple[str, ...]:
    """Every key a campaign owns (its hash, arm counters, decision log and pending set)."""
    base = campaign_key(prefix, name)
    return tuple(base + s for s in CAMPAIGN_KEY_SUFFIXES)


_ARM_FIELDS = ("n_decisions", "n_rewards", "n_default_rewards", "reward_sum", "cost_sum")
#: give up on a reward after this many optimistic-transaction conflicts (each retry re-reads).
MAX_WATCH_RETRIES = 10_000


class RedisStore:
    """Bandit store in Redis (see the module docstring).

    Parameters
    ----------
    url:
        ``redis://host:port/db`` over TCP, or ``unix:///path/to/redis.sock?db=0`` over a unix domain
        socket (redis-server ``--unixsocket``; same host only, fewer CPU cycles per round trip than
        loopback TCP); optionally ``&prefix=myapp:`` (``?prefix=`` after a TCP URL), otherwise as
        for ``redis.Redis.from_url``.
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
        if parts.scheme == "unix":
            # urlunsplit drops the '//' of a scheme without a host ('unix:/path'), which redis-py refuses
            self._redis_url = f"unix://{parts.path}" + (f"?{rest}" if rest else "")
        else:
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
        self._close = self._r.register_script(_CLOSE)
        # the four hot-path scripts go over one dedicated connection (store_redis_wire.py)
        self._script = ScriptCaller(self._r)
        #: the service worker (``host:pid``) tagging the decisions this object logs (register_worker)
        self.worker: str | None = None
        self._check_layout()

    def _check_layout(self) -> None:
        """Mark an empty prefix with this key layout; refuse data written by another layout."""
        layout_key = self.prefix + "layout"
        layout = self._r.get(layout_key)
        if layout is None:
            if self._r.exists(self.prefix + "campaigns"):
                raise StoreError(
                    f"redis store {self.url!r} holds campaigns in the old key layout 1 (raw campaign names in "
                    "keys, unsafe with ':' in names). Export them with a dmpopt release that wrote them "
                    "(snapshot), then restore the snapshot into an empty prefix (e.g. ?prefix=dmpopt:bandit2:)."
                )
            self._r.set(layout_key, KEY_LAYOUT, nx=True)
        elif layout != KEY_LAYOUT:
            raise StoreError(
                f"redis store {self.url!r} uses key layout {layout!r}; this dmpopt reads layout {KEY_LAYOUT}."
            )

    # ---------------------------------------------------------------------------- plumbing
    def _c(self, name: str) -> str:
        return campaign_key(self.prefix, name)

    def _d(self, decision_id: str) -> str:
        if not _DECISION_ID_OK(decision_id):
            raise UnknownDecisionError(
                f"decision_id {decision_id!r} is not known; decision ids are 32 hex digits, use the one returned by choose."
            )
        return f"{self.prefix}d:{decision_id}"

    def close(self) -> None:
        """Close the connection pool."""
        self._script.close()
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
            "config": dumps(cfg.model_dump(mode="json")), "name": cfg.name, "seed": used, "created_at": repr(now_or(now)),
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
        """Decide and log several requests; one script stores them all (atomically)."""
        with self._lock:
            return self._choose_batch(name, requests, now_or(now))

    def _choose_batch(self, name: str, requests: Sequence[dict[str, Any]], t: float) -> list[DecisionRecord]:
        # validate against the config before reserving numbers, so bad input changes nothing
        rt = self._runtimes.get(name) or self._runtime(name)
        checked = check_requests(rt.config, requests)
        # with a refresh interval (the service), the newest state is fetched at most that often:
        # decisions may use a state up to decision_refresh_seconds old (and log its version)
        want = self.decision_refresh_seconds <= 0 or time.monotonic() - rt.fetched_at >= self.decision_refresh_seconds
        reserved = self._script(_RESERVE, [self._c(name)], [len(checked), rt.version, "1" if want else "0"],
                                retry_lost_reply=True)
        if not reserved:
            self._runtimes.pop(name, None)
            raise UnknownCampaignError(self._unknown_campaign(name))
        last, version, state = int(reserved[0]), int(reserved[1]), reserved[2]
        if state is not None:
            rt.reload(version, json.loads(state))
        if want:
            rt.fetched_at = time.monotonic()
        out = build_decisions(rt, name, last - len(checked) + 1, checked, t)
        c = self._c(name)
        # round trip 2: one script writes every decision and its counters (atomic, one reply);
        # values go as strings (repr) so the stored numbers are exactly the logged ones
        payload = [[rec.decision_id, str(rec.seq), rec.arm, repr(rec.expires_at), [
            "campaign", name, "seq", str(rec.seq), "arm", rec.arm, "propensity", repr(rec.propensity),
            "arm_to_probability", dumps(rec.arm_to_probability),
            "context", "" if rec.context is None else dumps(list(rec.context)),
            "user_id", "" if rec.user_id is None else "u:" + rec.user_id,
            "created_at", repr(t), "expires_at", repr(rec.expires_at), "state_version", str(rec.state_version),
            "worker", self.worker or "",
        ]] for rec in out]
        self._script(_WRITE_DECISIONS, [c, c + ":arms", c + ":decisions", c + ":pending"],
                     [self.prefix + "d:", dumps(payload)], retry_lost_reply=False)
        return out

    # ------------------------------------------------------------------------------ rewards
    def _reward_once(
        self, decision_id: str, reward: Any, cost: Any, t: float, force_default: bool
    ) -> tuple[RewardOutcome, bool]:
        """One optimistic transaction; returns ``(outcome, expired_now)``. Retries on conflicts."""
        with self._lock:
            try:
                return self._reward_locked(decision_id, reward, cost, t, force_default)
            except BaseException:
                # a runtime marked ahead of Redis (version -1, after a refused commit) must not
                # outlive a failed reward: drop it, the next use rebuilds it from Redis
                for n in [n for n, r in self._runtimes.items() if r.version < 0]:
                    del self._runtimes[n]
                raise

    def _reward_locked(
        self, decision_id: str, reward: Any, cost: Any, t: float, force_default: bool
    ) -> tuple[RewardOutcome, bool]:
        """Two round trips when no other worker interferes: a read script (decision, version, the
        arm's sums, the state if ours is stale) and a commit script that applies everything if
        the campaign is still at the version read (else re-read and retry: no update is lost)."""
        dkey = self._d(decision_id)
        for attempt in range(MAX_WATCH_RETRIES):
            known = dumps({n: rt.version for n, rt in self._runtimes.items()})
            got = self._script(_REWARD_READ, [dkey], [self.prefix, known], retry_lost_reply=True)
            if not got:
                raise UnknownDecisionError(
                    f"decision_id {decision_id!r} is not known; use the decision_id returned by choose."
                )
            flat, version, old_reward_sum, old_cost_sum, state = got
            d = dict(zip(flat[::2], flat[1::2]))
            name = d["campaign"]
            version = int(version)
            rt = self._runtimes.get(name)
            if rt is None or rt.version != version:
                if state is None:  # our cache was dropped meanwhile: read it the slow way
                    rt = self._runtime(name, version)
                elif rt is None:
                    rt = self._runtime(name, version)
                else:
                    rt.reload(version, json.loads(state))
            if rt.version != version:
                continue  # moved again between the two reads
            if d.get("closed") == "1":
                if force_default:
                    return self._outcome(decision_id, {**d, "reward": "nan", "cost": "nan", "is_default": "0",
                                                       "reward_state_version": version}, duplicate=True), False
                raise ExpiredDecisionError(closed_message(decision_id))
            if "reward" in d:
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
            # sums in Python doubles, like SQLite's REAL (HINCRBYFLOAT uses long double and would
            # differ in the last digit); safe: every writer of these sums also moves the version,
            # which the commit script checks
            # the runtime runs ahead of Redis from here until the commit succeeds (apply copies the
            # decider's policy on write, so decisions keep drawing from the committed state)
            new_state = rt.apply(arm, value, cost_value, context, float(d["propensity"]))
            new_version = rt.version
            ckey = self._c(name)
            try:
                status = self._script(
                    _REWARD_COMMIT, [dkey, ckey, ckey + ":arms", ckey + ":pending"],
                    [version, dumps(new_state), new_version, repr(value), repr(cost_value), int(is_default), repr(t),
                     arm, repr(float(old_reward_sum) + value), repr(float(old_cost_sum) + cost_value), decision_id],
                    retry_lost_reply=False,
                )
            except BaseException:
                rt.version = -1  # ahead of Redis, commit unknown: dropped by _reward_once
                raise
            if status != "ok":  # another worker rewarded it or moved the campaign: re-read, retry
                # keep the runtime (its config and decider, with the decider's cached propensities)
                # but mark it behind, so the re-read returns the stored state and reloads it;
                # rebuilding it here cost a config parse, an extra read and a fresh propensity
                # integral on the next choose (issue #14: 5 ms CPU per choose+reward, 4 workers)
                rt.version = -1
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
                "closed": d.get("closed") == "1",
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
            bad = [d["decision_id"] for d in c["decisions"] if not _DECISION_ID_OK(str(d["decision_id"]))]
            if bad:
                raise ScenarioError(
                    f"snapshot campaign {c['name']!r} has {len(bad)} decision id(s) that are not 32 hex digits, "
                    f"e.g. {bad[0]!r}; restore only snapshots written by dmpopt stores."
                )
            if self._r.exists(self._c(c["name"])):
                raise ConflictError(f"campaign {c['name']!r} exists already in {self.url}; restore into an empty store.")
        for c in campaigns:
            cfg = parse_config(c["config"])
            key = self._c(cfg.name)
            decisions = c["decisions"]
            done = [d for d in decisions if d["reward"] is not None]
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(key, mapping={
                "config": dumps(cfg.model_dump(mode="json")), "name": cfg.name, "seed": int(c["seed"]),
                "created_at": repr(float(c["created_at"])),
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
                elif d.get("closed"):
                    mapping["closed"] = 1
                else:
                    pipe.zadd(key + ":pending", {d["decision_id"]: float(d["expires_at"])})
                pipe.hset(self._d(d["decision_id"]), mapping=mapping)
                pipe.zadd(key + ":decisions", {d["decision_id"]: int(d["seq"])})
            pipe.sadd(self.prefix + "campaigns", cfg.name)
            pipe.execute()
        self._runtimes.clear()

    def overdue_count(self, now: float | None = None) -> int:
        """Decisions past their reward window still without a reward (the expiry job's backlog)."""
        t = now_or(now)
        names = sorted(self._r.smembers(self.prefix + "campaigns"))
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.zcount(self._c(name) + ":pending", "-inf", f"({t!r}")
        return int(sum(pipe.execute())) if names else 0

    # ------------------------------------------------------------------------ worker tracking
    def register_worker(self, worker: str, now: float | None = None) -> None:
        """Record that service worker ``worker`` (``host:pid``) started on this store; the decisions
        this object logs from now on are tagged with it (see :meth:`close_pending`)."""
        self.worker = worker
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
        n_unclean = len(self._pending_of(dead)) if dead else 0
        return RecoveryReport(int(n_pending), int(n_overdue), dead, n_unclean)

    def _pending_of(self, workers: Sequence[str]) -> list[tuple[str, str]]:
        """``(campaign, decision_id)`` of the unrewarded decisions logged by ``workers``."""
        wanted = set(workers)
        out = []
        for name in sorted(self._r.smembers(self.prefix + "campaigns")):
            ids = self._r.zrange(self._c(name) + ":pending", 0, -1)
            pipe = self._r.pipeline(transaction=False)
            for i in ids:
                pipe.hget(self._d(i), "worker")
            out += [(name, i) for i, w in zip(ids, pipe.execute() if ids else []) if w in wanted]
        return out

    def close_pending(self, workers: Sequence[str]) -> int:
        """Close the unrewarded decisions logged by ``workers`` without a reward; see
        :meth:`SQLiteStore.close_pending`. Returns how many were closed."""
        n = 0
        for name, decision_id in self._pending_of(workers):
            ckey = self._c(name)
            n += int(self._close(keys=[self._d(decision_id), ckey + ":pending"], args=[decision_id]))
        return n
