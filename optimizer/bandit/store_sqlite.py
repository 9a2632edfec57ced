"""SQLite bandit store (the embedded default) and the in-memory store built on it.

One database file, shared by any number of processes on one host. Settings and why:

* ``journal_mode=WAL``: readers never block the writer; a commit is an append to the WAL.
* ``synchronous=NORMAL`` (default; ``?synchronous=full`` in the URL for FULL): a committed
  transaction survives a crash of the process (``kill -9``); with NORMAL the last commits before a
  power loss or kernel crash may roll back, with FULL they do not (one fsync per commit).
* Every write is one ``BEGIN IMMEDIATE`` transaction, committed before the method returns, so a
  service acknowledges only what is on disk.
* Checkpoints (copying the WAL back into the database, with an fsync) are what a commit costs
  on this disk: with SQLite's automatic checkpoint every 1,000 pages, a 4-page ``choose`` commit
  averaged 150-200 us here, against ~25-35 us without. With ``background_checkpoint=True`` (the
  service's setting) automatic checkpoints are off and a daemon thread with its own connection
  checkpoints every ``checkpoint_interval_seconds`` (0.5 s), see :meth:`SQLiteStore.checkpoint`:
  the copying and fsync happen off the request path, and writers wait only for the short
  final step that restarts the WAL. A crash before a checkpoint loses nothing committed: the WAL
  is replayed on the next open.
* Writers of cooperating processes queue on an ``flock`` of ``<db>.lock`` before ``BEGIN
  IMMEDIATE``: the kernel wakes the next writer the moment the lock is released, whereas SQLite's
  own busy handler sleeps 1, 2, 5, 10... ms between retries, which showed up as millisecond tail
  latencies with two workers. ``busy_timeout`` (5 s) stays as the fallback for other writers.
* Exactly-once rewards: ``rewards.id`` (the decision's row id) is the PRIMARY KEY, and "insert
  the reward, mark the decision, store the new policy state, bump the counters" is one transaction.
* A decision id is the row id in 12 hex digits followed by 20 random hex digits: a lookup is a
  primary-key read (the random part is checked), and a ``choose`` writes two b-trees (the table
  and the partial index of pending decisions) instead of four. Ids restored from another store
  keep their value through the small ``decision_aliases`` table. The per-campaign log is read by
  a scan (an export, not a hot path).

``memory://`` is the same schema in an SQLite ``:memory:`` database (one process, no file).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from optimizer.bandit.store import (
    SNAPSHOT_FORMAT,
    ArmStats,
    CampaignInfo,
    ConflictError,
    DecisionRecord,
    ExpiredDecisionError,
    RecoveryReport,
    RewardOutcome,
    StoreBusyError,
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
from optimizer.bandit.store_recovery import (
    CLOSED,
    arm_totals,
    check_snapshot,
    closed_message,
    expired_message,
    worker_alive,
)
from optimizer.bandit.store_sqlite_schema import SCHEMA, SCHEMA_VERSION, find_decision, make_decision_id
from optimizer.seeding import resolve_seed

class SQLiteStore:
    """Bandit store in one SQLite file (see the module docstring).

    Parameters
    ----------
    path:
        Database file (created with its folder if missing), or ``":memory:"``. A ``?synchronous=full``
        suffix selects ``PRAGMA synchronous=FULL``.
    busy_timeout_ms:
        How long a writer waits for a lock held by a non-cooperating process, in milliseconds.
    background_checkpoint:
        Checkpoint the WAL from a daemon thread instead of inside commits (see the module docstring).
    checkpoint_interval_seconds:
        Pause between background checkpoints, seconds.
    decision_refresh_seconds:
        Shortest interval between refreshes of the state decisions are drawn from (0: every
        decision uses the newest state); see :class:`~optimizer.bandit.store_policy.CampaignRuntime`.
    wal_restart_bytes:
        With ``background_checkpoint``, the WAL size above which the checkpoint thread briefly
        holds writers to restart the WAL (see :meth:`checkpoint`), bytes.
    """

    def __init__(
        self,
        path: str,
        busy_timeout_ms: int = 5000,
        background_checkpoint: bool = False,
        checkpoint_interval_seconds: float = 0.5,
        decision_refresh_seconds: float = 0.0,
        wal_restart_bytes: int = 64 * 1024 * 1024,
    ):
        path, _, query = str(path).partition("?")
        synchronous = "NORMAL"
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            if key == "synchronous" and value.upper() in ("NORMAL", "FULL"):
                synchronous = value.upper()
            else:
                raise StoreError(f"sqlite store option {item!r} is not known; allowed: synchronous=normal|full.")
        self.path = path
        self.memory = path == ":memory:"
        self.url = "memory://" if self.memory else f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._busy_timeout_s = busy_timeout_ms / 1000
        self._runtimes: dict[str, CampaignRuntime] = {}
        self.decision_refresh_seconds = float(decision_refresh_seconds)
        self.wal_restart_bytes = int(wal_restart_bytes)
        self._touched: set[str] = set()
        self._lockfd: int | None = None
        try:
            if not self.memory:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._lockfd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"sqlite store {path!r} cannot be opened: {exc}. Check the path and its permissions.") from None
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # 1 KiB pages for a new file (ignored for an existing one): a choose commit writes ~4
        # pages to the WAL, 5,068 instead of 17,347 bytes with 4 KiB pages, and the worst call
        # was shorter in every comparison (13-21 ms vs 36-85 ms; bench_bandit_service.py).
        self._conn.execute("PRAGMA page_size=1024")
        if not self.memory:
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite store {path!r}: WAL journal mode refused (got {mode!r}); use a local disk.")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._checkpointer: threading.Thread | None = None
        self._stop = threading.Event()
        if background_checkpoint and not self.memory:
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            # a restarted WAL is truncated back to this size
            self._conn.execute(f"PRAGMA journal_size_limit={int(wal_restart_bytes)}")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, args=(float(checkpoint_interval_seconds), busy_timeout_ms),
                name="dmpopt-sqlite-checkpoint", daemon=True,
            )
            self._checkpointer.start()
        # executescript commits implicitly, so the schema is applied outside _write, under flock
        with self._lock, self._flock():
            self._conn.executescript(SCHEMA)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            columns = {r[1] for r in self._conn.execute("PRAGMA table_info(decisions)")}
            if "worker" not in columns:  # files written before decisions recorded their worker
                self._conn.execute("ALTER TABLE decisions ADD COLUMN worker TEXT")
            if "n_closed" not in {r[1] for r in self._conn.execute("PRAGMA table_info(campaigns)")}:
                self._conn.execute("ALTER TABLE campaigns ADD COLUMN n_closed INTEGER NOT NULL DEFAULT 0")
        #: the service worker (``host:pid``) tagging the decisions this object logs (register_worker)
        self.worker: str | None = None

    # ---------------------------------------------------------------------------- plumbing
    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        if self._lockfd is None:
            yield
            return
        fcntl.flock(self._lockfd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lockfd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on any error."""
        with self._lock, self._flock():
            self._touched.clear()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusyError(
                        f"the SQLite store {self.path!r} stayed locked by another connection for longer than "
                        f"its busy timeout ({self._busy_timeout_s:g} s); nothing was changed. Retry in a moment "
                        "(HTTP: 503 with Retry-After); if it persists, find the process holding a write "
                        "transaction on the file."
                    ) from None
                raise
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                # policies changed in memory during the failed transaction are rebuilt from disk
                for name in self._touched:
                    self._runtimes.pop(name, None)
                raise

    def _checkpoint_loop(self, interval: float, busy_timeout_ms: int) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=busy_timeout_ms / 1000)
        try:
            while not self._stop.wait(interval):
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection | None = None, restart: bool | None = None) -> float:
        """Copy the WAL into the database; restart it when it is large. Return the seconds writers
        were held (0.0 when only the passive step ran).

        Step 1, a PASSIVE checkpoint without any lock, does the copying and the fsync while
        writers go on. But under steady writes a passive checkpoint never catches up, so the WAL
        never restarts: it grew by ~17 KB per ``choose``, to 277 MB after 16,000, when measured
        here. So when the WAL file is larger than ``wal_restart_bytes`` (``restart=None``), step 2
        takes the writers' locks and runs a RESTART checkpoint (the frames appended meanwhile,
        then an fsync), after which the next writer starts the WAL from the beginning. Writers
        wait for step 2: 24 ms on average, 55 ms at worst, over 8 restarts measured here, which is
        why it runs only when the WAL is large rather than every round.
        """
        own = conn is None
        if own:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        try:
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:  # busy: another process is checkpointing; the next round retries
                pass
            if restart is None:
                try:
                    restart = os.path.getsize(self.path + "-wal") > self.wal_restart_bytes
                except OSError:
                    restart = False
            if not restart:
                return 0.0
            t = time.perf_counter()
            with self._lock, self._flock():
                try:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                except sqlite3.Error:
                    pass
            return time.perf_counter() - t
        finally:
            if own:
                conn.close()

    def close(self) -> None:
        """Stop the checkpoint thread, close the connection and the lock file."""
        if self._checkpointer is not None:
            self._stop.set()
            self._checkpointer.join()
            self._checkpointer = None
        with self._lock:
            self._conn.close()
            if self._lockfd is not None:
                os.close(self._lockfd)
                self._lockfd = None

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"

    def _runtime(self, db: sqlite3.Connection, name: str) -> tuple[CampaignRuntime, int]:
        """The campaign's runtime at the stored version, and its ``n_decisions``."""
        row = db.execute("SELECT seed, state_version, n_decisions FROM campaigns WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownCampaignError(self._unknown_campaign(db, name))
        seed, version, n_decisions = row
        rt = self._runtimes.get(name)
        if rt is None or rt.version != version:
            config_text, state_text = db.execute(
                "SELECT config, state FROM campaigns WHERE name = ?", (name,)
            ).fetchone()
            if rt is None:
                rt = CampaignRuntime(parse_config(json.loads(config_text)), seed, version, json.loads(state_text),
                                     self.decision_refresh_seconds)
                self._runtimes[name] = rt
            else:
                rt.reload(version, json.loads(state_text))
        return rt, n_decisions

    @staticmethod
    def _unknown_campaign(db: sqlite3.Connection, name: str) -> str:
        import difflib

        names = [r[0] for r in db.execute("SELECT name FROM campaigns ORDER BY name")]
        hint = difflib.get_close_matches(str(name), names, n=1)
        tail = f" Did you mean {hint[0]!r}?" if hint else (
            f" Campaigns: {', '.join(names[:20])}." if names else " The store holds no campaign; create one first."
        )
        return f"campaign {name!r} does not exist.{tail}"

    # --------------------------------------------------------------------------- campaigns
    def create_campaign(self, config: Any, seed: int | None = None, now: float | None = None) -> CampaignInfo:
        """Store a new campaign with a fresh policy (``seed=None`` draws one, kept in the store)."""
        cfg = parse_config(config)
        used = resolve_seed(seed)
        state = new_policy_state(cfg, used)
        created = now_or(now)
        with self._write() as db:
            if db.execute("SELECT 1 FROM campaigns WHERE name = ?", (cfg.name,)).fetchone():
                raise ConflictError(
                    f"campaign {cfg.name!r} exists already; choose another name (campaigns are never overwritten)."
                )
            db.execute(
                "INSERT INTO campaigns (name, config, seed, created_at, state) VALUES (?, ?, ?, ?, ?)",
                (cfg.name, dumps(cfg.model_dump(mode="json")), used, created, dumps(state)),
            )
            db.executemany(
                "INSERT INTO arm_stats (campaign, arm) VALUES (?, ?)", [(cfg.name, a) for a in cfg.arm_names]
            )
        return self.get_campaign(cfg.name)

    def list_campaigns(self) -> list[CampaignInfo]:
        """Every campaign, sorted by name."""
        with self._lock:
            names = [r[0] for r in self._conn.execute("SELECT name FROM campaigns ORDER BY name")]
        return [self.get_campaign(n) for n in names]

    def get_campaign(self, name: str) -> CampaignInfo:
        """One campaign with its counters (``UnknownCampaignError`` if absent)."""
        with self._lock:
            db = self._conn
            db.execute("BEGIN")  # one consistent read snapshot
            try:
                row = db.execute(
                    "SELECT config, seed, created_at, state_version, n_decisions, n_rewards, n_closed FROM campaigns WHERE name = ?",
                    (name,),
                ).fetchone()
                if row is None:
                    raise UnknownCampaignError(self._unknown_campaign(db, name))
                stats = db.execute(
                    "SELECT arm, n_decisions, n_rewards, n_default_rewards, reward_sum, cost_sum "
                    "FROM arm_stats WHERE campaign = ?",
                    (name,),
                ).fetchall()
            finally:
                db.execute("COMMIT")
        config = json.loads(row[0])
        order = {a["name"]: i for i, a in enumerate(config["arms"])}
        arm_to_stats = {
            s[0]: ArmStats(int(s[1]), int(s[2]), int(s[3]), float(s[4]), float(s[5]))
            for s in sorted(stats, key=lambda s: order.get(s[0], 0))
        }
        return CampaignInfo(
            name=name,
            config=config,
            seed=int(row[1]),
            created_at=float(row[2]),
            state_version=int(row[3]),
            n_decisions=int(row[4]),
            n_rewards=int(row[5]),
            n_pending=int(row[4]) - int(row[5]) - int(row[6]),
            arm_to_stats=arm_to_stats,
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
        """Decide an arm for one request and log it (committed before returning)."""
        return self.choose_batch(name, [{"context": context, "eligible": eligible, "user_id": user_id}], now)[0]

    def choose_batch(
        self, name: str, requests: Sequence[dict[str, Any]], now: float | None = None
    ) -> list[DecisionRecord]:
        """Decide and log several requests in one transaction (all or none are stored)."""
        t = now_or(now)
        with self._write() as db:
            rt, n_decisions = self._runtime(db, name)
            checked = check_requests(rt.config, requests)
            first_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM decisions").fetchone()[0]
            ids = [make_decision_id(first_id + i) for i in range(len(checked))]
            out = build_decisions(rt, name, n_decisions + 1, checked, t, ids)
            arm_counts: dict[str, int] = {}
            rows = []
            for i, rec in enumerate(out):
                arm_counts[rec.arm] = arm_counts.get(rec.arm, 0) + 1
                rows.append((
                    first_id + i, rec.decision_id, name, rec.seq, rec.arm, rec.propensity,
                    dumps(rec.arm_to_probability), None if rec.context is None else dumps(list(rec.context)),
                    rec.user_id, t, rec.expires_at, rec.state_version, self.worker,
                ))
            insert = ("INSERT INTO decisions (id, decision_id, campaign, seq, arm, propensity, arm_to_probability, "
                      "context, user_id, created_at, expires_at, state_version, worker) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            bump = "UPDATE arm_stats SET n_decisions = n_decisions + ? WHERE campaign = ? AND arm = ?"
            if len(rows) == 1:  # the common case; execute() is cheaper than executemany() for one row
                db.execute(insert, rows[0])
                db.execute(bump, (1, name, out[0].arm))
            else:
                db.executemany(insert, rows)
                db.executemany(bump, [(n, name, arm) for arm, n in arm_counts.items()])
            db.execute("UPDATE campaigns SET n_decisions = n_decisions + ? WHERE name = ?", (len(rows), name))
        return out

    # ------------------------------------------------------------------------------ rewards
    def _apply(
        self, db: sqlite3.Connection, decision: tuple, reward: float, cost: float | None, is_default: bool, t: float
    ) -> RewardOutcome:
        """Apply one reward inside an open write transaction (the caller checked it is pending).

        ``decision`` is ``(id, decision_id, campaign, arm, context_json, propensity)``; ``cost=None``
        records the arm's ``cost_per_action`` (an expired decision was still served and paid for).
        """
        rid, decision_id, name, arm, context_text, propensity = decision
        rt, _ = self._runtime(db, name)
        if cost is None:
            cost = arm_cost(rt.config, arm)
        context = None if context_text is None else json.loads(context_text)
        self._touched.add(name)  # the runtime runs ahead of the database until COMMIT
        state = rt.apply(arm, reward, cost, context, propensity)
        version = rt.version
        db.execute("INSERT INTO rewards VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (rid, name, arm, reward, cost, int(is_default), t, version))
        db.execute("UPDATE decisions SET rewarded = 1 WHERE id = ?", (rid,))
        db.execute(
            "UPDATE campaigns SET state = ?, state_version = ?, n_rewards = n_rewards + 1 WHERE name = ?",
            (dumps(state), version, name),
        )
        db.execute(
            "UPDATE arm_stats SET n_rewards = n_rewards + 1, n_default_rewards = n_default_rewards + ?, "
            "reward_sum = reward_sum + ?, cost_sum = cost_sum + ? WHERE campaign = ? AND arm = ?",
            (int(is_default), reward, cost, name, arm),
        )
        return RewardOutcome(decision_id, name, arm, reward, cost, False, is_default, version)

    def reward(
        self, decision_id: str, reward: float, cost: float | None = None, now: float | None = None
    ) -> RewardOutcome:
        """Apply a reward exactly once; a second one for the same decision returns ``duplicate=True``.

        ``cost=None`` records the arm's ``cost_per_action`` (campaign currency).

        Raises
        ------
        UnknownDecisionError
            No such decision.
        ExpiredDecisionError
            The reward window had passed; the default reward was applied instead (exactly once).
        ScenarioError
            The reward or cost is not valid for the campaign (nothing is stored).
        """
        t = now_or(now)
        expired: RewardOutcome | None = None
        try:
            with self._write() as db:
                row = find_decision(db, str(decision_id))
                if row is None:
                    raise UnknownDecisionError(
                        f"decision_id {decision_id!r} is not known; use the decision_id returned by choose."
                    )
                rt, _ = self._runtime(db, row[2])
                expires_at = row[6]
                if row[7] == CLOSED:
                    raise ExpiredDecisionError(closed_message(row[1]))
                if row[7]:
                    prior = db.execute(
                        "SELECT reward, cost, is_default, state_version FROM rewards WHERE id = ?", (row[0],)
                    ).fetchone()
                    if prior[2]:
                        raise ExpiredDecisionError(expired_message(row[1], rt.config, expires_at))
                    # validate anyway: a malformed duplicate is an error, not a silent 200
                    check_reward(rt.config, reward, cost)
                    return RewardOutcome(row[1], row[2], row[3], float(prior[0]), float(prior[1]), True, False, int(prior[3]))
                value, cost_value = check_reward(rt.config, reward, cost)
                if t > expires_at:
                    expired = self._apply(db, row[:6], float(rt.config.default_reward), None, True, t)
                else:
                    return self._apply(db, row[:6], value, cost_value, False, t)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self.path!r} failed: {exc}.") from exc
        raise ExpiredDecisionError(expired_message(expired.decision_id, rt.config, expires_at))

    def expire(self, now: float | None = None, limit: int = 1000) -> int:
        """Apply the default reward to up to ``limit`` decisions past their window; return how many."""
        t = now_or(now)
        with self._write() as db:
            rows = db.execute(
                "SELECT id, decision_id, campaign, arm, context, propensity FROM decisions WHERE rewarded = 0 AND expires_at < ? "
                "ORDER BY expires_at LIMIT ?",
                (t, int(limit)),
            ).fetchall()
            for row in rows:
                rt, _ = self._runtime(db, row[2])
                self._apply(db, row, float(rt.config.default_reward), None, True, t)
        return len(rows)

    # ------------------------------------------------------------------------------- reading
    def policy_state(self, name: str) -> tuple[int, dict[str, Any]]:
        """``(state_version, policy state dict)``."""
        with self._lock:
            row = self._conn.execute("SELECT state_version, state FROM campaigns WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownCampaignError(self._unknown_campaign(self._conn, name))
        return int(row[0]), json.loads(row[1])

    def shares(self, name: str, n_draws: int | None = None) -> tuple[int, dict[str, float]]:
        """``(state_version, arm -> share)`` for the next period (batch mode); ``n_draws=None``:
        exact/quadrature probabilities, an int: a Monte Carlo estimate from that many draws."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                rt, _ = self._runtime(self._conn, name)
            finally:
                self._conn.execute("COMMIT")
            return rt.version, rt.shares(n_draws)

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """The campaign's decision log joined with its rewards, in ``seq`` order."""
        with self._lock:
            if self._conn.execute("SELECT 1 FROM campaigns WHERE name = ?", (name,)).fetchone() is None:
                raise UnknownCampaignError(self._unknown_campaign(self._conn, name))
            rows = self._conn.execute(
                "SELECT d.decision_id, d.seq, d.arm, d.propensity, d.arm_to_probability, d.context, d.user_id, "
                "d.created_at, d.expires_at, d.state_version, r.reward, r.cost, r.is_default, r.received_at, r.state_version, "
                "d.rewarded "
                "FROM decisions d LEFT JOIN rewards r ON r.id = d.id "
                "WHERE d.campaign = ? ORDER BY d.seq",
                (name,),
            ).fetchall()
        out = []
        for r in rows:
            out.append({
                "decision_id": r[0], "campaign": name, "seq": r[1], "arm": r[2], "propensity": r[3],
                "arm_to_probability": json.loads(r[4]), "context": None if r[5] is None else json.loads(r[5]),
                "user_id": r[6], "created_at": r[7], "expires_at": r[8], "state_version": r[9],
                "reward": r[10], "cost": r[11], "is_default": None if r[12] is None else bool(r[12]),
                "rewarded_at": r[13], "reward_state_version": r[14], "closed": r[15] == CLOSED,
            })
        return out

    # ------------------------------------------------------------------------ snapshot/restore
    def snapshot(self) -> dict[str, Any]:
        """Everything in the store as one JSON-safe dict (format :data:`SNAPSHOT_FORMAT`)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                campaigns = []
                for row in self._conn.execute(
                    "SELECT name, config, seed, created_at, state, state_version, n_decisions FROM campaigns ORDER BY name"
                ).fetchall():
                    campaigns.append({
                        "name": row[0], "config": json.loads(row[1]), "seed": row[2], "created_at": row[3],
                        "state": json.loads(row[4]), "state_version": row[5], "n_decisions": row[6],
                        "decisions": self.decisions(row[0]),
                    })
            finally:
                self._conn.execute("COMMIT")
        return {"format": SNAPSHOT_FORMAT, "campaigns": campaigns}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load a snapshot (from any backend) into this store; ``ConflictError`` if a campaign exists."""
        campaigns = check_snapshot(snapshot)
        with self._write() as db:
            for c in campaigns:
                if db.execute("SELECT 1 FROM campaigns WHERE name = ?", (c["name"],)).fetchone():
                    raise ConflictError(f"campaign {c['name']!r} exists already in {self.url}; restore into an empty store.")
                cfg = parse_config(c["config"])
                decisions = c["decisions"]
                n_rewards = sum(1 for d in decisions if d["reward"] is not None)
                n_closed = sum(1 for d in decisions if d["reward"] is None and d.get("closed"))
                db.execute(
                    "INSERT INTO campaigns (name, config, seed, created_at, state, state_version, n_decisions, n_rewards, "
                    "n_closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (cfg.name, dumps(cfg.model_dump(mode="json")), int(c["seed"]), float(c["created_at"]),
                     dumps(c["state"]), int(c["state_version"]), int(c["n_decisions"]), n_rewards, n_closed),
                )
                for arm, t in arm_totals(cfg.arm_names, decisions).items():
                    db.execute(
                        "INSERT INTO arm_stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (cfg.name, arm, t.n_decisions, t.n_rewards, t.n_default_rewards, t.reward_sum, t.cost_sum),
                    )
                first_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM decisions").fetchone()[0]
                for k, d in enumerate(sorted(decisions, key=lambda d: d["seq"])):
                    rid = first_id + k
                    db.execute(
                        "INSERT INTO decisions (id, decision_id, campaign, seq, arm, propensity, arm_to_probability, "
                        "context, user_id, created_at, expires_at, state_version, rewarded) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (rid, d["decision_id"], cfg.name, d["seq"], d["arm"], d["propensity"],
                         dumps(d["arm_to_probability"]), None if d["context"] is None else dumps(d["context"]),
                         d["user_id"], d["created_at"], d["expires_at"], d["state_version"],
                         CLOSED if d.get("closed") else int(d["reward"] is not None)),
                    )
                    db.execute("INSERT INTO decision_aliases VALUES (?, ?)", (d["decision_id"], rid))
                    if d["reward"] is not None:
                        db.execute(
                            "INSERT INTO rewards VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (rid, cfg.name, d["arm"], d["reward"], d["cost"], int(d["is_default"]),
                             d["rewarded_at"], d["reward_state_version"]),
                        )
        self._runtimes.clear()

    # ------------------------------------------------------------------------ worker tracking
    def register_worker(self, worker: str, now: float | None = None) -> None:
        """Record that service worker ``worker`` (``host:pid``) started on this store; the decisions
        this object logs from now on are tagged with it (see :meth:`close_pending`)."""
        self.worker = worker
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO workers VALUES (?, ?, NULL)", (worker, now_or(now)))

    def unregister_worker(self, worker: str, now: float | None = None) -> None:
        """Record a clean stop (the worker is then not reported by :meth:`recovery_report`)."""
        with self._write() as db:
            db.execute("DELETE FROM workers WHERE worker = ?", (worker,))

    def recovery_report(self, now: float | None = None, live_workers: Sequence[str] = ()) -> RecoveryReport:
        """Pending/overdue decisions and workers that never stopped cleanly (minus ``live_workers``).

        Reporting forgets the unclean workers found, so each crash is reported once.
        """
        t = now_or(now)
        with self._write() as db:
            n_pending = db.execute("SELECT COUNT(*) FROM decisions WHERE rewarded = 0").fetchone()[0]
            n_overdue = db.execute(
                "SELECT COUNT(*) FROM decisions WHERE rewarded = 0 AND expires_at < ?", (t,)
            ).fetchone()[0]
            workers = [r[0] for r in db.execute("SELECT worker FROM workers WHERE stopped_at IS NULL ORDER BY worker")]
            dead = tuple(w for w in workers if w not in live_workers and not worker_alive(w))
            db.executemany("DELETE FROM workers WHERE worker = ?", [(w,) for w in dead])
            n_unclean = 0
            for w in dead:
                n_unclean += db.execute(
                    "SELECT COUNT(*) FROM decisions WHERE rewarded = 0 AND worker = ?", (w,)).fetchone()[0]
        return RecoveryReport(int(n_pending), int(n_overdue), dead, int(n_unclean))

    def close_pending(self, workers: Sequence[str]) -> int:
        """Close the unrewarded decisions logged by ``workers`` without a reward (the operator's
        ``crash_pending: expire`` choice after those workers crashed): they leave the pending set,
        never get the default reward, never update the policy, and a reward posted later for one of
        them is refused (HTTP 410). Returns how many were closed."""
        with self._write() as db:
            n = 0
            for w in workers:
                per_campaign = db.execute(
                    "SELECT campaign, COUNT(*) FROM decisions WHERE rewarded = 0 AND worker = ? GROUP BY campaign", (w,)
                ).fetchall()
                db.execute("UPDATE decisions SET rewarded = ? WHERE rewarded = 0 AND worker = ?", (CLOSED, w))
                for name, k in per_campaign:
                    db.execute("UPDATE campaigns SET n_closed = n_closed + ? WHERE name = ?", (k, name))
                    n += k
        return int(n)


    def overdue_count(self, now: float | None = None) -> int:
        """Decisions past their reward window still without a reward (the expiry job's backlog)."""
        t = now_or(now)
        with self._lock:
            return int(self._conn.execute(
                "SELECT COUNT(*) FROM decisions WHERE rewarded = 0 AND expires_at < ?", (t,)).fetchone()[0])


class MemoryStore(SQLiteStore):
    """The ``memory://`` store: the SQLite schema in a private ``:memory:`` database.

    Same semantics as :class:`SQLiteStore` (so the contract tests cover both with one code path);
    one process, nothing persists after :meth:`close`.
    """

    def __init__(self, decision_refresh_seconds: float = 0.0) -> None:
        super().__init__(":memory:", decision_refresh_seconds=decision_refresh_seconds)
