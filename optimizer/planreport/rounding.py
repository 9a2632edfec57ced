"""Whole-unit rounding that keeps every total: largest remainder in 1-D, its network-flow form in 2-D.

A media plan is pasted into booking tools in whole currency units, and the totals a planner shows
must be the sums of the cells shown. Rounding each cell on its own breaks that (three cells of
33.33 round to 99, not 100). Largest-remainder (Hamilton) rounding floors every value and gives the
missing units to the largest remainders, so the rounded values add to the rounded total.

For a table whose rows *and* columns must add up (channel x segment rows, week columns, channel
subtotals) the same idea is a flow problem: every cell, row sum, channel sum and column sum may go
to its floor or its ceiling, and the grand total is fixed to ``round_half_up(total)``. The
unrounded table is a fractional flow inside those bounds, the constraint matrix of a flow network
is totally unimodular, so a vertex of the LP is integral (Bacharach 1966; Cox 1987 "A constructive
procedure for unbiased controlled rounding", JASA 82). The objective prefers rounding up the
largest remainders, so in 1-D the answer is exactly largest-remainder rounding.
"""

from __future__ import annotations

import math

import numpy as np


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)``: 2.5 -> 3 (Python's ``round`` would give 2)."""
    return int(math.floor(x + 0.5))


def _snap(values: np.ndarray) -> np.ndarray:
    # solver noise (79,999.9999997 for a week at its 80,000 cap) must not become a unit above the cap
    v = np.asarray(values, dtype=float)
    return np.clip(np.round(v, 6), 0.0, None)


def largest_remainder(values, total: int | None = None) -> np.ndarray:
    """Round non-negative ``values`` to integers that add up to ``total`` (default: round_half_up(sum)).

    Each value goes to its floor or ceiling; the units missing after flooring go to the largest
    remainders (ties to the earlier value).
    """
    v = _snap(values)
    target = round_half_up(round(float(v.sum()), 4)) if total is None else int(total)
    base = np.floor(v)
    missing = target - int(base.sum())
    if missing < 0 or missing > v.size:
        raise ValueError(f"total {target} is not reachable by rounding {v.size} values that sum to {v.sum():.6g}")
    order = np.argsort(-(v - base), kind="stable")
    out = base.astype(np.int64)
    out[order[:missing]] += 1
    return out


def round_table(values: np.ndarray, row_groups: np.ndarray | None = None) -> np.ndarray:
    """Round a non-negative matrix to integers keeping every row, column, group and grand total whole.

    Parameters
    ----------
    values:
        (n_rows, n_cols) array, e.g. spend per (channel, segment) row and week column (currency).
    row_groups:
        Optional group id per row (the channel of each channel x segment row): each group's sum is
        kept within one unit of its unrounded value too, so channel subtotals add up.

    Returns
    -------
    Integer matrix ``r`` with ``|r - values| < 1`` cell by cell, every row sum, column sum and
    group sum within 1 of the unrounded sum, and ``r.sum() == round_half_up(values.sum())``.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    a = _snap(values)
    if a.ndim != 2:
        raise ValueError(f"round_table needs a 2-D array; got shape {a.shape}")
    n_r, n_c = a.shape
    if a.size == 0:
        return np.zeros_like(a, dtype=np.int64)
    groups = np.arange(n_r) if row_groups is None else np.asarray(row_groups)
    _, g = np.unique(groups, return_inverse=True)
    n_g = int(g.max()) + 1
    base = np.floor(a)
    frac = (a - base).ravel()
    # z in [0, 1] per fractional cell: 1 = round up; exact integers are fixed at 0
    col_hi = (frac > 0).astype(float)
    cells = np.arange(a.size)
    r_of, c_of = np.divmod(cells, n_c)
    rows, cols, data = [], [], []
    lo, hi = [], []

    def family(member: np.ndarray, n: int, sums: np.ndarray) -> None:
        start = len(lo)
        rows.extend((start + member).tolist())
        cols.extend(cells.tolist())
        data.extend([1.0] * a.size)
        flo = np.bincount(member, weights=base.ravel(), minlength=n)
        for k in range(n):  # the rounded sum must be the floor or ceiling of the true sum
            s = round(float(sums[k]), 4)  # 320,000.0000004 (a cap plus solver noise) is 320,000
            lo.append(math.floor(s) - flo[k])
            hi.append(math.ceil(s) - flo[k])

    family(r_of, n_r, a.sum(axis=1))
    family(c_of, n_c, a.sum(axis=0))
    family(g[r_of], n_g, np.bincount(g, weights=a.sum(axis=1), minlength=n_g))
    need = round_half_up(round(float(a.sum()), 4)) - int(base.sum())
    family(np.zeros(a.size, dtype=np.int64), 1, np.array([float(a.sum())]))
    lo[-1] = hi[-1] = need
    A = coo_matrix((data, (rows, cols)), shape=(len(lo), a.size)).tocsr()
    # prefer rounding up the largest remainders (largest-remainder rounding in 1-D)
    res = linprog(-(frac - 0.5), bounds=np.c_[np.zeros(a.size), col_hi], method="highs-ds",
                  **_as_ranges(A, np.array(lo, float), np.array(hi, float)))
    if res.status != 0:
        raise RuntimeError(f"controlled rounding found no solution ({res.message}); this is a bug")
    z = np.rint(res.x).astype(np.int64)
    if np.abs(res.x - z).max() > 1e-6:  # a vertex of a totally unimodular system is integral
        raise RuntimeError("controlled rounding returned a fractional vertex; this is a bug")
    out = base.astype(np.int64) + z.reshape(n_r, n_c)
    return out


def _as_ranges(A, lo: np.ndarray, hi: np.ndarray) -> dict:
    """``lo <= A z <= hi`` as linprog's A_ub / b_ub (two-sided rows as two one-sided rows)."""
    import scipy.sparse as sp

    return {"A_ub": sp.vstack([A, -A]).tocsr(), "b_ub": np.concatenate([hi, -lo])}
