"""The SQLite bandit store's schema and decision-id helpers (see :mod:`optimizer.bandit.store_sqlite`).

A decision id is the row id in 12 hex digits followed by 20 random hex digits, so a lookup is a
primary-key read (the random part is then compared); ids restored from another store keep their
value through ``decision_aliases``.
"""

from __future__ import annotations

import os
import sqlite3

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL,
    state_version INTEGER NOT NULL DEFAULT 0,
    n_decisions INTEGER NOT NULL DEFAULT 0,
    n_rewards INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS arm_stats (
    campaign TEXT NOT NULL,
    arm TEXT NOT NULL,
    n_decisions INTEGER NOT NULL DEFAULT 0,
    n_rewards INTEGER NOT NULL DEFAULT 0,
    n_default_rewards INTEGER NOT NULL DEFAULT 0,
    reward_sum REAL NOT NULL DEFAULT 0,
    cost_sum REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, arm)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    decision_id TEXT NOT NULL,
    campaign TEXT NOT NULL,
    seq INTEGER NOT NULL,
    arm TEXT NOT NULL,
    propensity REAL NOT NULL,
    arm_to_probability TEXT NOT NULL,
    context TEXT,
    user_id TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    state_version INTEGER NOT NULL,
    rewarded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS decisions_pending ON decisions (expires_at) WHERE rewarded = 0;
CREATE TABLE IF NOT EXISTS decision_aliases (decision_id TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rewards (
    id INTEGER PRIMARY KEY REFERENCES decisions (id),
    campaign TEXT NOT NULL,
    arm TEXT NOT NULL,
    reward REAL NOT NULL,
    cost REAL NOT NULL,
    is_default INTEGER NOT NULL,
    received_at REAL NOT NULL,
    state_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (worker TEXT PRIMARY KEY, started_at REAL NOT NULL, stopped_at REAL);
"""


def make_decision_id(rid: int) -> str:
    """Decision id of row ``rid``: 12 hex digits of the row id, then 20 random hex digits."""
    return f"{rid:012x}{os.urandom(10).hex()}"


FIND_COLUMNS = "id, decision_id, campaign, arm, context, propensity, expires_at, rewarded"


def find_decision(db: sqlite3.Connection, decision_id: str) -> tuple | None:
    """The decision row (:data:`FIND_COLUMNS`) of ``decision_id``, or None."""
    if len(decision_id) == 32:
        try:
            rid = int(decision_id[:12], 16)
        except ValueError:
            rid = None
        if rid is not None:
            row = db.execute(f"SELECT {FIND_COLUMNS} FROM decisions WHERE id = ?", (rid,)).fetchone()
            if row is not None and row[1] == decision_id:
                return row
    alias = db.execute("SELECT id FROM decision_aliases WHERE decision_id = ?", (decision_id,)).fetchone()
    if alias is None:
        return None
    return db.execute(f"SELECT {FIND_COLUMNS} FROM decisions WHERE id = ?", (alias[0],)).fetchone()
