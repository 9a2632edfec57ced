"""Seeded transaction logs from a BG/NBD purchase process with Gamma-Gamma spend (tests, demos, benchmarks)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def simulate_transactions(n_customers: int, start: dt.date, days: int, seed: int | None = None, *,
                          r: float = 0.6, alpha: float = 30.0, a: float = 0.8, b: float = 3.0,
                          p: float = 6.0, q: float = 4.0, gamma: float = 15.0) -> pd.DataFrame:
    """Columns ``customer_id`` (``c000001``...), ``date`` (ISO), ``amount`` (report currency, 2 decimals).

    First purchases are spread uniformly over the first half of the window; then BG/NBD purchases
    (rate ~ Gamma(r, alpha) per day, dropout ~ Beta(a, b) after each repeat) until ``start + days``;
    each customer's spend per transaction is Gamma(p, nu) with nu ~ Gamma(q, gamma).
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, max(days // 2, 1), n_customers).astype(float)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    drop = rng.beta(a, b, n_customers)
    nu = rng.gamma(q, 1.0 / gamma, n_customers)
    cust, when = [np.arange(n_customers)], [first]
    t = first.copy()
    active = np.arange(n_customers)
    while active.size:
        t[active] += rng.exponential(1.0, active.size) / lam[active]
        active = active[t[active] < days]
        cust.append(active)
        when.append(t[active].copy())
        active = active[rng.random(active.size) >= drop[active]]
    c = np.concatenate(cust)
    d = np.floor(np.concatenate(when)).astype(int)
    amount = np.round(rng.gamma(p, 1.0, c.size) / nu[c], 2).clip(0.01)
    dates = pd.to_datetime(start) + pd.to_timedelta(d, unit="D")
    width = max(6, len(str(n_customers)))
    ids = np.char.add("c", np.char.zfill(c.astype(str), width))
    out = pd.DataFrame({"customer_id": ids, "date": dates.strftime("%Y-%m-%d"), "amount": amount})
    return out.sort_values(["date", "customer_id"], kind="stable").reset_index(drop=True)
