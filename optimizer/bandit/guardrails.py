"""Guardrails on a policy's choice probabilities: eligibility, exploration floor, min/max shares, sticky users.

Order of application (``apply_guardrails``):

1. Ineligible arms get probability 0; the policy's probabilities are over the eligible arms.
2. Exploration floor f: ``q = (1 - f) * p + f / K_eligible``. Mixed in additively rather than
   clipped, so the policy's ranking among arms is kept and every eligible arm gets >= f / K.
3. Per-arm shares: ``x_i = clip(t * q_i, min_i, max_i)`` with t chosen so the shares sum to 1:
   arms at a bound sit on it and the others keep the ratios of q (pro rata). If the eligible arms' ``max_share`` values sum below 1 (some arms are ineligible for
   this request), they are scaled up to sum to 1: a request must still get an arm.

Shares are fractions in 0-1. Sticky assignment (``sticky_choice``): a user's position
``u = hash(salt, user_id)`` in [0, 1) is fixed; the arm is the one whose slice of the cumulative
weights contains u. Same weights -> same arm, always; and when the weights move a little, only the
users whose u sits near a moved boundary change arm (hashing the weights too, as a first design
did, would reshuffle every user on any change).
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np


def apply_guardrails(p: np.ndarray, guardrails: Any, arms: Sequence[str],
                     mask: Sequence[bool] | None = None) -> np.ndarray:
    """Probabilities after floor and min/max shares (see the module docstring); sums to 1."""
    k = len(arms)
    elig = np.ones(k, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    idx = np.flatnonzero(elig)
    q = np.zeros(k)
    base = np.asarray(p, dtype=float)[idx]
    total = base.sum()
    q[idx] = base / total if total > 0 else 1.0 / len(idx)
    if guardrails is None:
        return q
    f = guardrails.exploration_floor
    if f > 0:
        q[idx] = (1 - f) * q[idx] + f / len(idx)
    if guardrails.min_share or guardrails.max_share:
        lo = np.array([guardrails.min_share.get(arms[i], 0.0) for i in idx])
        hi = np.array([guardrails.max_share.get(arms[i], 1.0) for i in idx])
        if hi.sum() <= 0:  # every eligible arm is capped at 0: the caps cannot apply
            hi = np.ones_like(hi)
        elif hi.sum() < 1.0:
            hi = hi / hi.sum()
        if lo.sum() > 1.0:
            lo = lo / lo.sum()
        q[idx] = project_shares(q[idx], lo, hi)
    return q


def project_shares(q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Pro-rata projection of ``q`` (sums to 1) onto ``lo <= x <= hi``, ``sum(x) = 1``.

    ``x_i = clip(t * q_i, lo_i, hi_i)`` with the scalar t solved exactly (the sum is piecewise
    linear and non-decreasing in t), so the arms strictly inside their bounds keep the ratios
    of ``q``. If even ``t -> inf`` leaves mass over (arms with q_i = 0 held at their minimum), those
    arms are raised together, ``x_i = min(lo_i + s, hi_i)``, until the shares sum to 1.
    Requires ``sum(lo) <= 1 <= sum(hi)`` (the caller rescales otherwise).
    """
    q = np.asarray(q, dtype=float)
    lo = np.asarray(lo, dtype=float)
    hi = np.maximum(np.asarray(hi, dtype=float), lo)
    # Subnormal shares are zero for every purpose here, and dividing a bound by one overflows.
    q = np.where(q > np.finfo(float).tiny, q, 0.0)
    pos = q > 0

    def scaled(t: float) -> np.ndarray:
        return np.clip(t * q, lo, hi)

    if pos.any() and hi[pos].sum() + lo[~pos].sum() >= 1.0:
        # the sum is piecewise linear in t with breakpoints lo_i/q_i, hi_i/q_i: solve exactly
        bps = np.unique(np.concatenate(([0.0], lo[pos] / q[pos], hi[pos] / q[pos])))
        sums = np.array([scaled(b).sum() for b in bps])
        j = int(np.searchsorted(sums, 1.0))
        if j >= len(bps):  # rounding: the sum tops out a hair under 1
            x = scaled(bps[-1])
        elif j == 0:
            x = scaled(0.0)
        else:
            t0, t1, s0, s1 = bps[j - 1], bps[j], sums[j - 1], sums[j]
            x = scaled(t0 + (1.0 - s0) * (t1 - t0) / (s1 - s0))
    else:
        base = np.where(pos, hi, lo)
        a, b = 0.0, 1.0
        for _ in range(200):
            mid = 0.5 * (a + b)
            if np.where(pos, hi, np.minimum(lo + mid, hi)).sum() < 1.0:
                a = mid
            else:
                b = mid
            if b - a <= 1e-15:
                break
        x = np.where(pos, base, np.minimum(lo + b, hi))
    # put the bisection's rounding residue on the arms strictly inside their bounds
    inside = (x > lo + 1e-15) & (x < hi - 1e-15)
    residue = 1.0 - x.sum()
    if inside.any() and abs(residue) > 0:
        x[inside] += residue * x[inside] / x[inside].sum()
    return np.clip(x, 0.0, 1.0)


def user_position(user_id: str, salt: str = "") -> float:
    """Deterministic position of a user in [0, 1) (BLAKE2b of salt and user id; stable across runs)."""
    digest = hashlib.blake2b(f"{salt}\x1f{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def sticky_choice(user_id: str, q: np.ndarray, salt: str = "") -> int:
    """The arm whose slice of the cumulative weights ``q`` holds the user's position."""
    u = user_position(user_id, salt)
    cum = np.cumsum(q)
    i = int(np.searchsorted(cum, u * cum[-1], side="right"))
    i = min(i, len(q) - 1)
    while q[i] <= 0:  # u fell on a zero-width slice boundary: take the previous positive arm
        i -= 1
    return i
