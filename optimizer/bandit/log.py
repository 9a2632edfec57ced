"""The decision log and its join with rewards, as tables for offline evaluation and audits.

Two entry points:

* :func:`decision_log` reads a campaign's log from any store as a pandas DataFrame, one row per
  decision with the reward joined to it (what :mod:`optimizer.bandit.offline` consumes:
  ``arm``, ``propensity``, ``reward``, ``context``).
* :func:`join_rewards` joins raw event streams (a table of decisions and a table of reward events,
  e.g. exported from another system) with exactly the store's rules, so logs collected elsewhere
  are read the same way:

  - rewards may arrive late or out of order: they are matched by ``decision_id``, in order of
    ``received_at``;
  - the first reward received inside the window (``received_at <= created_at +
    reward_window_seconds``) counts; any later one for the same ``decision_id`` is a duplicate and
    is ignored;
  - a reward received after the window is ignored (``late``); a decision whose window has passed
    at ``now`` without a counted reward gets ``default_reward`` exactly once (``is_default``);
  - a reward for a decision_id not in the log is counted as ``unknown`` and ignored.

Times are Unix seconds; rewards are in the campaign's reward unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Columns of :func:`decision_log` and :func:`join_rewards`, in order.
LOG_COLUMNS = (
    "decision_id", "seq", "arm", "propensity", "context", "user_id", "created_at", "expires_at",
    "state_version", "reward", "cost", "is_default", "rewarded_at", "status",
)


@dataclass(frozen=True)
class JoinReport:
    """Counts from :func:`join_rewards`.

    Attributes
    ----------
    n_decisions: decisions in the log.
    n_rewarded: decisions with a posted reward counted.
    n_defaulted: decisions given the default reward (window passed with no reward).
    n_pending: decisions still inside their window with no reward at ``now``.
    n_duplicates: reward events ignored because their decision already had a reward.
    n_late: reward events ignored because they arrived after the window.
    n_unknown: reward events whose decision_id is not in the log.
    """

    n_decisions: int
    n_rewarded: int
    n_defaulted: int
    n_pending: int
    n_duplicates: int
    n_late: int
    n_unknown: int

    def to_dict(self) -> dict[str, int]:
        """JSON-safe dict."""
        return dict(self.__dict__)


def _status(reward: Any, is_default: Any, closed: Any = False) -> str:
    if closed:
        return "closed"
    if reward is None or (isinstance(reward, float) and math.isnan(reward)):
        return "pending"
    return "defaulted" if bool(is_default) else "rewarded"


def decision_log(store: Any, campaign: str) -> Any:
    """A campaign's decisions joined with their rewards, one row per decision in ``seq`` order.

    Columns: :data:`LOG_COLUMNS`. ``reward``/``cost``/``rewarded_at`` are NaN while pending;
    ``status`` is ``pending``, ``rewarded``, ``defaulted`` or ``closed`` (closed without a reward
    after its worker crashed, ``crash_pending=expire``).

    Raises
    ------
    UnknownCampaignError
        No campaign of that name.
    """
    import pandas as pd

    rows = store.decisions(campaign)
    for r in rows:
        r["status"] = _status(r["reward"], r["is_default"], r.get("closed"))
    frame = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    return _typed(frame)


def _typed(frame: Any) -> Any:
    import pandas as pd

    for col in ("reward", "cost", "rewarded_at", "propensity", "created_at", "expires_at"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["is_default"] = frame["is_default"].astype("boolean")
    return frame


def join_rewards(
    decisions: Any,
    rewards: Any,
    reward_window_seconds: float,
    default_reward: float = 0.0,
    now: float | None = None,
) -> tuple[Any, JoinReport]:
    """Join reward events to decisions with the store's rules (see the module docstring).

    Parameters
    ----------
    decisions:
        DataFrame (or list of dicts) with ``decision_id``, ``arm``, ``propensity``, ``created_at``;
        other :data:`LOG_COLUMNS` are kept when present.
    rewards:
        DataFrame (or list of dicts) with ``decision_id``, ``reward``, ``received_at`` and
        optionally ``cost``, in any order.
    reward_window_seconds:
        Window after ``created_at`` during which a reward counts, seconds (> 0).
    default_reward:
        Reward given to a decision whose window passed without one.
    now:
        Unix seconds at which to close windows (default: the latest time seen in either table).

    Returns
    -------
    (DataFrame, JoinReport)
        One row per decision (columns :data:`LOG_COLUMNS`) and the counts of ignored events.

    Raises
    ------
    DataError
        Missing columns, repeated decision ids, NaN rewards or times, a non-positive window.
    """
    import pandas as pd

    from optimizer.errors import DataError

    if not (isinstance(reward_window_seconds, (int, float)) and math.isfinite(reward_window_seconds)
            and reward_window_seconds > 0):
        raise DataError(f"reward_window_seconds is {reward_window_seconds!r}; it must be a finite number > 0.")
    d = pd.DataFrame(decisions).copy()
    r = pd.DataFrame(rewards).copy()
    for name, frame, needed in (
        ("decisions", d, ("decision_id", "arm", "propensity", "created_at")),
        ("rewards", r, ("decision_id", "reward", "received_at")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing and not (name == "rewards" and frame.empty):
            raise DataError(f"{name} lacks column(s) {', '.join(missing)}; it needs {', '.join(needed)}.")
    if d["decision_id"].duplicated().any():
        n = int(d["decision_id"].duplicated().sum())
        raise DataError(f"decisions has {n} repeated decision_id(s); each decision must appear once.")
    if r.empty:
        r = pd.DataFrame({"decision_id": [], "reward": [], "received_at": []})
    if "cost" not in r.columns:
        r["cost"] = 0.0
    for col in ("reward", "received_at", "cost"):
        values = pd.to_numeric(r[col], errors="coerce")
        bad = int((~values.apply(lambda v: math.isfinite(v) if v == v else False)).sum()) if len(values) else 0
        if bad:
            raise DataError(f"rewards has {bad} row(s) with a missing, NaN or infinite {col}; fix or drop them.")
        r[col] = values.astype(float)
    created = pd.to_numeric(d["created_at"], errors="coerce").astype(float)
    if created.isna().any():
        raise DataError(f"decisions has {int(created.isna().sum())} row(s) with a missing created_at.")
    d["created_at"] = created
    d["expires_at"] = created + float(reward_window_seconds)
    if now is None:
        times = [created.max()] + ([r["received_at"].max()] if len(r) else [])
        now = float(max(times)) if len(d) else 0.0

    known = set(d["decision_id"])
    r = r.reset_index(drop=True)
    r["_order"] = range(len(r))
    r = r.sort_values(["received_at", "_order"], kind="stable")
    expires = dict(zip(d["decision_id"], d["expires_at"]))
    first: dict[str, tuple[float, float, float]] = {}
    n_dup = n_late = n_unknown = 0
    for decision_id, reward, cost, received in zip(r["decision_id"], r["reward"], r["cost"], r["received_at"]):
        if decision_id not in known:
            n_unknown += 1
        elif decision_id in first:
            n_dup += 1
        elif received > expires[decision_id]:
            n_late += 1
        else:
            first[decision_id] = (float(reward), float(cost), float(received))

    rewards_out, costs, defaults, at = [], [], [], []
    for decision_id, exp in zip(d["decision_id"], d["expires_at"]):
        if decision_id in first:
            reward, cost, received = first[decision_id]
            rewards_out.append(reward), costs.append(cost), defaults.append(False), at.append(received)
        elif now > exp:
            rewards_out.append(float(default_reward)), costs.append(0.0), defaults.append(True), at.append(exp)
        else:
            rewards_out.append(math.nan), costs.append(math.nan), defaults.append(None), at.append(math.nan)
    d["reward"], d["cost"], d["is_default"], d["rewarded_at"] = rewards_out, costs, defaults, at
    d["status"] = [_status(None if x != x else x, dflt) for x, dflt in zip(rewards_out, defaults)]
    for col in LOG_COLUMNS:
        if col not in d.columns:
            d[col] = None
    out = _typed(d[list(LOG_COLUMNS)].reset_index(drop=True))
    report = JoinReport(
        n_decisions=len(d),
        n_rewarded=sum(1 for x in defaults if x is False),
        n_defaulted=sum(1 for x in defaults if x is True),
        n_pending=sum(1 for x in defaults if x is None),
        n_duplicates=n_dup,
        n_late=n_late,
        n_unknown=n_unknown,
    )
    return out, report
