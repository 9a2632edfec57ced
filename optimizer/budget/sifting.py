"""Solve the large piece LP exactly through small ones: coarse-to-fine blocks of alike pieces.

Pieces whose cells lie in exactly the same rows form a *group*. Within a group the reduced cost
of a piece rises with its chord slope (spend rows weigh every piece 1; response rows weigh it by
its slope, with a dual whose sign keeps the order), so an optimal solution fills a group's pieces
in falling slope order: a full prefix, at most one partial piece, an empty suffix.

So each group's pieces, sorted by slope, are cut into contiguous *blocks* (single pieces next to
the stop guessed from the warm start, then blocks of 4, 16, 64... pieces further out), and each
block is one LP column (spend spread over its pieces in proportion to their widths; its coefficients are the
width-weighted averages). Blocks are exact knapsack aggregates for spend rows, so the small LP is
an inner approximation of the full one. After each solve, every block that is partly filled, or
holds a piece whose reduced cost (under the small LP's duals) disagrees with the block's fill, is
split into ``SPLIT`` parts; when no block needs a split, all partly filled blocks are single
pieces and every piece satisfies the LP optimality conditions: the answer is optimal for the full
LP and the small LP's row duals are its duals.

A 1e6-piece LP with ~200 groups is solved through LPs of a few thousand columns
(docs/performance-budget.md). Small LPs are passed to the solver whole.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import scipy.sparse as sp

from optimizer.budget.backends.base import SolveStatus, Solution
from optimizer.budget.problem import LPProblem

#: Columns below which the LP is passed to the solver whole.
SIFT_ABOVE_COLUMNS = 4000
#: Parts a flagged block is split into; initial blocks per group without a guess; single pieces
#: kept on each side of a group's guessed stop; flagged blocks this small become single pieces.
#: Small first LPs and several cheap rounds were faster than large first LPs
#: (docs/performance-budget.md).
SPLIT = 8
INITIAL_BLOCKS = 4
NEAR_STOP = 2
SINGLES_BELOW = 8
MAX_ROUNDS = 60


def solve_sifted(problem: LPProblem, group_of_col: np.ndarray, slope_of_col: np.ndarray,
                 solve: Callable[..., Solution], time_limit_seconds: float) -> Solution:
    """Solve ``problem`` (column lower bounds 0, finite upper bounds) through blocks."""
    t0 = time.perf_counter()
    n = problem.n_cols
    if (n <= SIFT_ABOVE_COLUMNS or problem.integrality.any() or np.any(problem.col_lo != 0)
            or not np.all(np.isfinite(problem.col_hi))):
        return solve(problem, time_limit_seconds)
    width = problem.col_hi
    order = np.lexsort((-slope_of_col, group_of_col))
    grp = group_of_col[order]
    w_sorted = width[order]
    n_groups = int(grp.max()) + 1
    g_start = np.searchsorted(grp, np.arange(n_groups), side="left")
    g_end = np.searchsorted(grp, np.arange(n_groups), side="right")
    pos = np.arange(n)
    offset = pos - g_start[grp]
    size = (g_end - g_start)[grp]
    # initial blocks without a guess: INITIAL_BLOCKS equal parts per group
    step = np.maximum(1, -(-size // INITIAL_BLOCKS))
    start = (offset % step) == 0
    if problem.start is not None:
        cum = np.cumsum(w_sorted)
        base = np.where(g_start > 0, cum[np.maximum(g_start - 1, 0)], 0.0)
        fill = np.bincount(grp, weights=problem.start[order], minlength=n_groups)
        stop = np.clip(np.searchsorted(cum, base + fill, side="left"), g_start, np.maximum(g_end - 1, g_start))
        # blocks grow geometrically away from the guessed stop (1, 1, 4, 16, 64... pieces), so
        # the first LP is already fine where the answer probably is
        d = np.abs(pos - stop[grp])
        start = (d <= NEAR_STOP) | ((d & (d - 1)) == 0) & ((np.log2(np.maximum(d, 1)).astype(np.int64) % 2) == 0)
        start |= np.concatenate([[False], d[:-1] <= NEAR_STOP])
    start[g_start[g_start < n]] = True
    A_csc = problem.A.tocsc()
    A_sorted = A_csc[:, order]  # columns in group/slope order: a block is a contiguous column range
    c_scale = max(1.0, float(np.max(np.abs(problem.c), initial=0.0)))
    tol = 1e-9 * c_scale
    sol = None
    # warm start of each round: the guess first, then the previous round's answer
    x_prev = problem.start[order] if problem.start is not None else None
    for _ in range(MAX_ROUNDS):
        block = np.cumsum(start) - 1
        nb = int(block[-1]) + 1
        total = np.bincount(block, weights=w_sorted, minlength=nb)
        share = w_sorted / np.where(total[block] > 0, total[block], 1.0)
        # block b sums sorted columns b_first..b_last weighted by share: S is CSC with sorted
        # indices by construction (no COO conversion, no index sort)
        indptr = np.concatenate([np.flatnonzero(start), [n]])
        S = sp.csc_matrix((share, pos, indptr), shape=(n, nb))
        sub_A = (A_sorted @ S).tocsr()
        sub = LPProblem(
            c=np.add.reduceat(problem.c[order] * share, indptr[:-1]), A=sub_A, row_lo=problem.row_lo, row_hi=problem.row_hi,
            col_lo=np.zeros(nb), col_hi=total, integrality=np.zeros(nb, dtype=np.int32),
            row_names=problem.row_names,
            start=None if x_prev is None else np.bincount(block, weights=x_prev, minlength=nb),
        )
        remaining = max(1.0, time_limit_seconds - (time.perf_counter() - t0))
        sol = solve(sub, remaining)
        if sol.status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            # blocks lose feasibility only through response rows (averaged slopes): decide on the whole LP
            return solve(problem, remaining)
        frac = sol.x / np.where(total > 0, total, 1.0)
        x_sorted = w_sorted * frac[block]
        x_prev = x_sorted
        rc = problem.c - (A_csc.T @ sol.row_dual if problem.n_rows else 0.0)
        rc_sorted = rc[order]
        f = frac[block]
        # a partly filled block is fine when its pieces' reduced costs are all 0 (then any split
        # of its spend is optimal); otherwise the block straddles the group's stop
        partial = (f > 1e-9) & (f < 1 - 1e-9) & (np.abs(rc_sorted) > tol)
        wrong = ((f >= 1 - 1e-9) & (rc_sorted < -tol)) | ((f <= 1e-9) & (rc_sorted > tol))
        need = np.bincount(block, weights=(partial | wrong).astype(float), minlength=nb) > 0
        counts = np.bincount(block, minlength=nb)
        need &= counts > 1
        if not need.any():
            x = np.empty(n)
            x[order] = x_sorted
            return Solution(sol.status, x, sol.row_dual, rc, float(problem.c @ x), sol.solver, sol.solver_version,
                            time.perf_counter() - t0, f"{sol.message} (sifted through {nb} of {n} columns)")
        # split each flagged block into SPLIT contiguous parts
        b_first = np.searchsorted(block, np.arange(nb), side="left")
        sel = need[block]
        off = pos - b_first[block]
        # small flagged blocks go straight to single pieces: one more round instead of log_8(size)
        bstep = np.where(counts <= SINGLES_BELOW, 1, np.maximum(1, -(-counts // SPLIT)))
        start |= sel & ((off % bstep[block]) == 0)
    return solve(problem, max(1.0, time_limit_seconds - (time.perf_counter() - t0)))
