"""Certified bounds from LP duals, and local refinement of pieces (LPs: concave curves, adstock).

For the true problem ``max sum_i f_i(e_i) + w sum_j x_j`` s.t. ``e = D x + carry`` (adstock; D = I
without), spend rows ``lo <= A x <= hi``, ``0 <= x <= U``, ``0 <= e <= E``, and ANY row prices
``pi`` (link rows, free sign) and ``mu`` (spend rows, >= 0 on an upper bound, <= 0 on a lower one):

    max <= sum_r const_r(mu_r) + pi . carry + sum_i max_{0<=e<=E_i} (f_i(e) - pi_i e)
           + sum_j max_{0<=x_j<=U_j} (w + (D^T pi)_j - (A^T mu)_j) x_j

(weak Lagrangian duality; each 1-D term is exact: concave curves have closed-form or monotone
maximisers, linear terms sit at a bound). With the LP's duals as prices the bound is tight up to
the chord error *near the plan*, so pieces need refining only around the plan: coarse pieces
everywhere, split 8-fold where each cell's effective spend lies, until the gap meets the target.
Used when the problem has no integer variables and no response rows (targets, response minimums).
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.budget.advanced.formulation import Formulation
from optimizer.budget.advanced.scurve import SCurve
from optimizer.budget.advanced.solve import MipSolution


def applies(form: Formulation) -> bool:
    """True when the dual bound can certify this problem (LP, concave curves, spend rows only)."""
    if form.problem.integrality.any() or any(isinstance(c, SCurve) for c in form.curves):
        return False
    if form.target_row >= 0 or any(g.kind == "response" for g in form.model.groups):
        return False
    return True


def dual_bound(form: Formulation, sol: MipSolution, stationary_effective: np.ndarray | None = None) -> float:
    """Upper bound on the true optimum (maximised form) from the solution's row duals; see module.

    ``stationary_effective``: effective spend per cell at which the caller set each link price to the
    curve's slope, ``pi_i = a_i f_i'(e_i)``. A concave ``a f(e) - pi e`` is then largest exactly at
    ``e_i`` (clipped to ``[0, E_i]`` it stays the maximiser), so the 1-D maxima are read off without a
    root search (the decomposition path prices every cell this way).
    """
    p = form.problem
    n = form.n_cells
    d = np.asarray(sol.row_dual, dtype=float)
    link = np.zeros(p.n_rows, dtype=bool)
    link[form.link_row:form.link_row + n] = True
    lo, hi = p.row_lo, p.row_hi
    mu = np.where(link, 0.0, d)
    # clip to the signs the finite bounds allow: keeps the bound valid whatever the duals' accuracy
    mu = np.where(np.isfinite(hi), mu, np.minimum(mu, 0.0))
    mu = np.where(np.isfinite(lo), mu, np.maximum(mu, 0.0))
    const = float(np.sum(np.where(mu > 0, mu * np.where(np.isfinite(hi), hi, 0.0), 0.0))
                  + np.sum(np.where(mu < 0, mu * np.where(np.isfinite(lo), lo, 0.0), 0.0)))
    pi = d[form.link_row:form.link_row + n]
    const += float(pi @ form.adstock_carry)
    # x part: reduced objective per x column (the spend rows touch only x columns)
    A = p.A.tocsc()
    Ax = A[:, form.x_col:form.x_col + n]
    coef = p.c[form.x_col:form.x_col + n] - (Ax.T @ mu)
    # link rows are  sum y - D x = carry: their x entries are -D, so the price pi adds D^T pi
    coef = coef - (Ax.T @ np.where(link, d, 0.0))
    U = p.col_hi[form.x_col:form.x_col + n]
    xpart = np.where(coef > 0, np.where(np.isfinite(U), coef * U, math.inf), 0.0)
    total = const + float(xpart.sum())
    cells = form.model.cells
    E = form.effective_upper
    a = form.model.resp_weight * cells.multiplier
    if stationary_effective is not None:
        e = np.clip(stationary_effective, 0.0, E)
        for ci, curve in enumerate(form.curves):
            m = cells.curve == ci
            if m.any():
                total += float(np.sum(a[m] * curve.value(e[m]) - pi[m] * e[m]))
        return total
    for ci, curve in enumerate(form.curves):
        m = cells.curve == ci
        if m.any():
            total += float(curve.lagrangian_max(a[m], pi[m], E[m]).sum())
    return total


def refine_around(form: Formulation, eff: np.ndarray, split: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces (cell, lo, hi) with every nonlinear piece that holds or touches its cell's spend split."""
    cell, lo, hi = form.piece_cell, form.piece_lo, form.piece_hi
    e = eff[cell]
    tol = 1e-9 * np.maximum(hi, 1.0)
    nonlinear = np.array([not c.is_piecewise_linear for c in form.curves])[form.model.cells.curve[cell]]
    mark = nonlinear & (lo <= e + tol) & (e <= hi + tol)
    reps = np.where(mark, split, 1)
    new_cell = np.repeat(cell, reps)
    lo0 = np.repeat(lo, reps)
    w = np.repeat((hi - lo) / reps, reps)
    start = np.cumsum(reps) - reps
    k = np.arange(new_cell.size) - np.repeat(start, reps)
    new_lo = lo0 + k * w
    new_hi = np.where(k == np.repeat(reps, reps) - 1, np.repeat(hi, reps), lo0 + (k + 1) * w)
    return new_cell, new_lo, new_hi


#: Breakpoints around a cell's effective spend e, as multiples of e: fine near e (1 % steps), coarse far.
#: Beyond 4 e the points double up to the cell's cap, so no far piece hides the curve's slope from the LP.
LOCAL_PATTERN = np.r_[[0.25, 0.5, 0.7, 0.85, 0.93, 0.97, 0.99, 1.0, 1.01, 1.03, 1.07, 1.15, 1.3, 1.6, 2.2, 3.0],
                      4.0 * 2.0 ** np.arange(0, 40)]


def localize(form: Formulation, eff: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces (cell, lo, hi): a fixed number per cell, fine around each cell's effective spend.

    Chords over merged far pieces still lie below a concave curve, so the LP stays an inner
    approximation and the dual bound stays valid; the piece count per cell does not grow with the
    rounds (unlike :func:`refine_around`). Cells with no spend keep their pieces.
    """
    cells = form.model.cells
    E = form.effective_upper
    nonlinear = np.array([not c.is_piecewise_linear for c in form.curves])[cells.curve]
    move = nonlinear & (eff > 0) & np.isfinite(E)
    keep_piece = ~move[form.piece_cell]
    idx = np.nonzero(move)[0]
    pts = np.minimum(eff[idx, None] * LOCAL_PATTERN[None, :], E[idx, None])
    with np.errstate(over="ignore"):  # a tiny effective spend (e.g. a subnormal decay) gives inf: all points
        widest = float((E[idx] / eff[idx]).max(initial=1.0))
    pts = pts[:, : int(np.searchsorted(LOCAL_PATTERN, widest)) + 1]
    pts = np.concatenate([np.zeros((idx.size, 1)), pts, E[idx, None]], axis=1)
    pts = np.sort(pts, axis=1)
    lo, hi = pts[:, :-1], pts[:, 1:]
    ok = hi > lo * (1 + 1e-12) + 1e-12
    cell = np.broadcast_to(idx[:, None], lo.shape)[ok]
    # cells without spend: cut their first piece geometrically towards 0, where a concave curve is
    # steepest (a Hill curve with shape < 1 has an infinite slope there)
    zero = nonlinear & (eff <= 0)
    first = keep_piece & zero[form.piece_cell] & (form.piece_lo <= 0)
    rest = keep_piece & ~first
    h1 = form.piece_hi[first]
    g = h1[:, None] * (4.0 ** -np.arange(7, -1, -1))[None, :]  # h1/4^7 ... h1
    g_lo = np.concatenate([np.zeros((h1.size, 1)), g[:, :-1]], axis=1)
    g_cell = np.broadcast_to(form.piece_cell[first][:, None], g.shape)
    return (np.r_[form.piece_cell[rest], g_cell.ravel(), cell], np.r_[form.piece_lo[rest], g_lo.ravel(), lo[ok]],
            np.r_[form.piece_hi[rest], g.ravel(), hi[ok]])
