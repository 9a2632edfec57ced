"""Generate the small example data of ``scenarios/experiments/weekly.yaml`` (deterministic, seed 2026).

Run ``python scenarios/experiments/data/experiments_make_data.py`` from the repository root to rebuild:

- ``experiments_checkout_users.csv``: one row per user (exposure time, variant, converted 0/1,
  revenue, pre-period revenue, sessions, country, device); treatment lifts conversion ~ +15 %.
- ``experiments_feed_events.parquet``: raw events (exposure, click, purchase with value) of a
  creative test; the new creative lifts clicks ~ +12 %.
- ``experiments_banner_users.csv``: a test whose assignment is broken (55/45 split: SRM).

The experiment starts Monday 2026-10-26 (ISO week 2026-W44); data runs to Sunday 2026-11-22
(2026-W47).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2026-10-26")
DAYS = 28


def _exposure(rng: np.random.Generator, n: int) -> pd.Series:
    seconds = rng.uniform(0, DAYS * 86400, n)
    return pd.Series(START + pd.to_timedelta(np.sort(seconds).round(), unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S")


def checkout(rng: np.random.Generator, n: int = 8000) -> pd.DataFrame:
    variant = rng.choice(["control", "new_button"], n)
    pre = rng.gamma(2.0, 15.0, n).round(2)
    p = np.where(variant == "new_button", 0.115, 0.10)
    converted = rng.binomial(1, p)
    revenue = np.where(converted == 1, rng.gamma(4.0, 12.0, n) + 0.3 * pre, 0.0).round(2)
    sessions = rng.poisson(2.5, n) + 1
    return pd.DataFrame({
        "user_id": np.arange(1, n + 1), "exposure_time": _exposure(rng, n), "variant": variant,
        "converted": converted, "revenue": revenue, "pre_revenue": pre, "sessions": sessions,
        "country": rng.choice(["US", "DE", "FR"], n, p=[0.5, 0.3, 0.2]),
        "device": rng.choice(["mobile", "desktop"], n, p=[0.6, 0.4]),
    })


def feed_events(rng: np.random.Generator, n: int = 6000) -> pd.DataFrame:
    variant = rng.choice(["old_creative", "new_creative"], n)
    first = pd.to_datetime(_exposure(rng, n)).to_numpy()
    rows = [pd.DataFrame({"user_id": np.arange(n), "variant": variant, "timestamp": first, "event": "exposure", "value": 0.0})]
    clicks = rng.poisson(np.where(variant == "new_creative", 0.56, 0.50))
    uid = np.repeat(np.arange(n), clicks)
    ts = first[uid] + pd.to_timedelta(rng.uniform(0, 5 * 86400, uid.size), unit="s").to_numpy()
    rows.append(pd.DataFrame({"user_id": uid, "variant": variant[uid], "timestamp": ts, "event": "click", "value": 0.0}))
    buyers = rng.binomial(1, 0.05, n).astype(bool)
    bid = np.flatnonzero(buyers)
    rows.append(pd.DataFrame({"user_id": bid, "variant": variant[bid],
                              "timestamp": first[bid] + pd.to_timedelta(rng.uniform(0, 3 * 86400, bid.size), unit="s").to_numpy(),
                              "event": "purchase", "value": rng.gamma(3.0, 20.0, bid.size).round(2)}))
    out = pd.concat(rows, ignore_index=True)
    out["timestamp"] = out["timestamp"].dt.floor("s").astype("datetime64[us]")
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def banner(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    variant = rng.choice(["control", "banner"], n, p=[0.55, 0.45])
    return pd.DataFrame({
        "user_id": np.arange(1, n + 1), "exposure_time": _exposure(rng, n), "variant": variant,
        "converted": rng.binomial(1, np.where(variant == "banner", 0.13, 0.10)),
    })


def main() -> None:
    rng = np.random.default_rng(2026)
    checkout(rng).to_csv(HERE / "experiments_checkout_users.csv", index=False)
    feed_events(rng).to_parquet(HERE / "experiments_feed_events.parquet", index=False)
    banner(rng).to_csv(HERE / "experiments_banner_users.csv", index=False)


if __name__ == "__main__":
    main()
