"""Helpers every store backend shares for snapshots, crash reports and expired decisions.

* :func:`check_snapshot` validates the top of a :data:`~optimizer.bandit.store.SNAPSHOT_FORMAT`
  dict; :func:`arm_totals` recomputes the per-arm counters of a restored campaign from its log
  (so counters and log cannot disagree after a restore).
* :func:`worker_alive` tells whether a registered service worker (``host:pid``) still runs.
* :func:`expired_message` is the one wording of "this reward came after the window".
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from optimizer.bandit.store import SNAPSHOT_FORMAT, ArmStats
from optimizer.errors import ScenarioError


def check_snapshot(snapshot: Any) -> list[dict[str, Any]]:
    """The campaigns of a snapshot; ``ScenarioError`` if it is not one."""
    if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
        got = snapshot.get("format") if isinstance(snapshot, dict) else type(snapshot).__name__
        raise ScenarioError(f"snapshot format is {got!r}; expected {SNAPSHOT_FORMAT!r} (written by store.snapshot()).")
    campaigns = snapshot.get("campaigns")
    if not isinstance(campaigns, list):
        raise ScenarioError("snapshot.campaigns is missing or not a list.")
    return campaigns


def arm_totals(arm_names: tuple[str, ...], decisions: list[dict[str, Any]]) -> dict[str, ArmStats]:
    """Per-arm counters recomputed from a joined decision log (rows of ``store.decisions()``)."""
    out = {}
    for arm in arm_names:
        mine = [d for d in decisions if d["arm"] == arm]
        done = [d for d in mine if d["reward"] is not None]
        out[arm] = ArmStats(
            n_decisions=len(mine),
            n_rewards=len(done),
            n_default_rewards=sum(1 for d in done if d["is_default"]),
            reward_sum=float(sum(d["reward"] for d in done)),
            cost_sum=float(sum(d["cost"] for d in done)),
        )
    return out


def worker_alive(worker: str) -> bool:
    """True when ``worker`` (``host:pid``) is a live process on this host; other hosts: assumed alive."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


#: ``decisions.rewarded`` value (SQLite) / ``closed`` field (Redis) of a decision closed without a
#: reward after its worker crashed (the operator's ``crash_pending: expire``).
CLOSED = 2


def closed_message(decision_id: str) -> str:
    """What a reward posted for a decision closed after a crash is told (HTTP 410)."""
    return (
        f"decision_id {decision_id!r} was logged by a worker that stopped without a clean shutdown and was closed "
        "without a reward at the next start (the service runs with crash_pending=expire); this reward is ignored."
    )


def expired_message(decision_id: str, config: Any, expires_at: float) -> str:
    """What a reward posted after the window is told (HTTP 410)."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
    return (
        f"decision_id {decision_id!r} expired at {when} (reward_window_seconds="
        f"{config.reward_window_seconds:g}); the default reward {config.default_reward:g} was applied "
        "and this reward is ignored. Post rewards within the window, or lengthen it for new campaigns."
    )
