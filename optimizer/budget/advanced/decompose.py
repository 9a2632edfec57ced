"""Adstock plans on the exact curves by price decomposition: one small Newton problem per channel.

Why: an adstock plan is an LP only after every cell's curve is cut into chord pieces; at 52 weeks x
1,000 channels that LP has ~1.4e6 columns and HiGHS needed 130-150 s (interior point 357 s) here.
The structure is much simpler than the LP: carry-over couples only the weeks of ONE channel
(x segment), and the only rows shared between channels are the spend rows (total budget, period,
segment and channel limits), a few dozen. Price those rows and the plan falls apart into
independent chains::

    max  sum_i w_i f_i(e_i) + s * sum_i x_i     s.t.  lo <= S x <= hi,  0 <= x <= U,  e = D x + carry
    g(mu) = sum_r const_r(mu_r) + sum_chains max_{0 <= x <= U} [ sum_t w f(e_t) - (S^T mu - s) . x ]

``g`` is convex in the row prices ``mu`` (>= 0 on a cap, <= 0 on a floor) and, because every curve
here is strictly concave and ``D`` is triangular with a unit diagonal, each chain's maximiser is
unique, so ``g`` is differentiable with gradient ``hi - S x(mu)`` (``lo - S x`` on the floor side).

* Inner: projected Newton on every chain at once (numpy batches of T x T systems, T = periods);
  Hessian ``D^T diag(w f'') D``, bounds handled by the active set (Bertsekas 1982).
* Outer: projected Newton on the few row prices, Hessian ``S M S^T`` with ``M = -H_free^{-1}`` from
  the chains (the derivative of the chains' spend in their prices), Armijo backtracking.
* Certificate: a plan made feasible (scaled under any cap it overshoots) is evaluated on the true
  curves (lower bound); :func:`optimizer.budget.advanced.lagrange.dual_bound` with the link prices
  ``pi = w f'(e)`` and the row prices gives an upper bound that does not trust the Newton solves.
  The gap is reported; if it does not reach the target the caller falls back to the LP, started
  around this plan.

Applies to LP adstock plans (no integer rules, no S-curves, no response rows or targets) whose curves
are all strictly concave (hill with shape <= 1, log, power < 1). Maths: docs/budget-advanced.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.budget.advanced.formulation import Formulation

#: Chain-problem Newton iterations per price vector (warm-started; 2-4 are typical).
MAX_INNER_ITERATIONS = 60

#: Price (outer Newton) iterations before giving up and handing over to the LP.
MAX_OUTER_ITERATIONS = 80

#: Spend rows priced at most: the outer Hessian is dense in them.
MAX_PRICED_ROWS = 400

#: Price iterations without a 10 % narrower bound interval before giving up (rounding, or a hard start).
STALL_ITERATIONS = 3


@dataclass(frozen=True)
class CellCurves:
    """Value, first and second derivative of every cell's weighted curve ``w f(e)``, vectorised.

    Holds per-cell parameter arrays by curve kind, so no Python loop over channels runs per call.
    """

    kind: np.ndarray  # 0 hill, 1 log, 2 power
    p1: np.ndarray
    p2: np.ndarray
    p3: np.ndarray
    weight: np.ndarray
    floor: np.ndarray  # smallest effective spend evaluated (keeps f' finite at 0 for hill/power)

    @classmethod
    def of(cls, form: Formulation) -> CellCurves | None:
        """The cell curves of ``form``, or None when a curve is not strictly concave and smooth."""
        cells = form.model.cells
        n = cells.n
        kind = np.zeros(n, dtype=np.int8)
        p1, p2, p3 = np.zeros(n), np.zeros(n), np.zeros(n)
        for ci, curve in enumerate(form.curves):
            m = cells.curve == ci
            if not m.any():
                continue
            k = getattr(curve, "kind", None)
            if k == "hill" and 0 < curve.params[2] <= 1:
                kind[m], p1[m], p2[m], p3[m] = 0, *curve.params
            elif k == "log":
                kind[m], p1[m], p2[m] = 1, *curve.params
            elif k == "power" and 0 < curve.params[1] < 1:
                kind[m], p1[m], p2[m] = 2, *curve.params
            else:
                return None
        weight = form.model.resp_weight * cells.multiplier
        if np.any(weight <= 0):
            return None
        upper = np.where(np.isfinite(form.effective_upper), form.effective_upper, 1.0)
        # 1e-30 of the curve's scale: far below any spend that matters (a hill with shape 0.99 has its
        # optimum near 1e-8 of h at some prices), far above where f'' overflows
        floor = 1e-30 * np.maximum(np.where(kind == 0, p2, upper), 1e-300)
        return cls(kind, p1, p2, p3, weight, floor)

    def inverse_slope(self, t: np.ndarray) -> np.ndarray:
        """Effective spend where the weighted slope ``w f'(e)`` equals ``t`` (0 where even ``f'(0)`` is
        below ``t``, ``inf`` where ``t <= 0``); elementwise, shape of the parameter arrays."""
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, np.inf)
        pos = t > 0
        ts = np.where(pos, t / self.weight, 1.0)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            for k in (0, 1, 2):
                m = pos & (self.kind == k)
                if not m.any():
                    continue
                a, b, c, tk = self.p1[m], self.p2[m], self.p3[m], ts[m]
                if k == 1:  # a / (b + e) = t
                    e = a / tk - b
                elif k == 2:  # a b e^(b-1) = t
                    e = np.power(tk / (a * b), 1.0 / (b - 1.0))
                else:  # hill: the slope falls from f'(0) (inf for shape < 1): bisection on log e
                    lo_, hi_ = np.log(b) - 40.0, np.log(b) + 40.0
                    lo_ = np.full(tk.shape, lo_) if np.ndim(lo_) == 0 else lo_
                    hi_ = np.full(tk.shape, hi_) if np.ndim(hi_) == 0 else hi_
                    for _ in range(64):
                        mid = 0.5 * (lo_ + hi_)
                        em = np.exp(mid)
                        r = np.power(em / b, c)
                        slope = a * c * r / (em * (1.0 + r) ** 2)
                        right = slope > tk
                        lo_ = np.where(right, mid, lo_)
                        hi_ = np.where(right, hi_, mid)
                    e = np.exp(0.5 * (lo_ + hi_))
                    # shape 1: f'(0) = a / b is finite; below t the best spend is 0
                    e = np.where((c >= 1.0) & (a / b <= tk), 0.0, e)
                out[m] = np.maximum(np.nan_to_num(e, nan=0.0, posinf=np.inf), 0.0)
        return out

    def take(self, idx: np.ndarray) -> CellCurves:
        """The curves of cells ``idx`` (any shape)."""
        return CellCurves(self.kind[idx], self.p1[idx], self.p2[idx], self.p3[idx], self.weight[idx], self.floor[idx])

    def eval(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(w f(e), w f'(e), w f''(e))`` elementwise; ``e`` has the shape of the parameter arrays."""
        e = np.maximum(e, self.floor)
        v = np.empty_like(e)
        d1 = np.empty_like(e)
        d2 = np.empty_like(e)
        for k in (0, 1, 2):
            m = self.kind == k
            if not m.any():
                continue
            ek, a, b, c = e[m], self.p1[m], self.p2[m], self.p3[m]
            if k == 0:  # hill: a / (1 + (b/e)^c);  f'' = f' (c - 1 - 2 c r / (1 + r)) / e
                r = np.power(ek / b, c)
                v[m] = a * r / (1.0 + r)
                d1[m] = a * c * r / (ek * (1.0 + r) ** 2)
                d2[m] = d1[m] * (c - 1.0 - 2.0 * c * r / (1.0 + r)) / ek
            elif k == 1:  # log: a log(1 + e/b)
                v[m] = a * np.log1p(ek / b)
                d1[m] = a / (b + ek)
                d2[m] = -a / (b + ek) ** 2
            else:  # power: a e^b
                v[m] = a * np.power(ek, b)
                d1[m] = a * b * np.power(ek, b - 1.0)
                d2[m] = a * b * (b - 1.0) * np.power(ek, b - 2.0)
        w = self.weight
        return w * v, w * d1, w * d2


@dataclass
class _Group:
    """Chains of the same length T, batched: cell index, carry-over operator, bounds, curves."""

    idx: np.ndarray  # (K, T) cell index
    D: np.ndarray  # (K, T, T) effective spend e = D x + carry
    carry: np.ndarray  # (K, T)
    lo: np.ndarray  # (K, T)
    hi: np.ndarray  # (K, T)
    curves: CellCurves
    x: np.ndarray  # (K, T) current point
    H: np.ndarray | None = None  # (K, T, T) last Hessian
    free: np.ndarray | None = None  # (K, T) bool, not at an active bound
    newton_iterations: int = 0


def chains(form: Formulation, curves: CellCurves) -> list[_Group]:
    """Split the cells into chains coupled by carry-over (connected blocks of D), batched by length."""
    from scipy.sparse.csgraph import connected_components

    cells = form.model.cells
    n = cells.n
    D = form.adstock_matrix if form.adstock_matrix is not None else sp.identity(n, format="csr")
    _, label = connected_components(D, directed=True, connection="weak")
    # order each chain's cells by period (D is lower triangular in that order)
    order = np.lexsort((cells.period, label))
    lab = label[order]
    starts = np.r_[0, np.nonzero(np.diff(lab))[0] + 1]
    sizes = np.diff(np.r_[starts, n])
    pos_in_chain = np.arange(n) - np.repeat(starts, sizes)
    chain_of_sorted = np.repeat(np.arange(starts.size), sizes)
    chain = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    chain[order] = chain_of_sorted
    pos[order] = pos_in_chain
    size_of_chain = sizes
    Dc = D.tocoo()
    lo = form.problem.col_lo[form.x_col:form.x_col + n]
    hi = form.problem.col_hi[form.x_col:form.x_col + n]
    groups = []
    for T in np.unique(size_of_chain):
        ch = np.nonzero(size_of_chain == T)[0]
        K = ch.size
        slot = np.full(starts.size, -1, dtype=np.int64)
        slot[ch] = np.arange(K)
        idx = np.empty((K, T), dtype=np.int64)
        in_g = slot[chain] >= 0
        idx[slot[chain[in_g]], pos[in_g]] = np.nonzero(in_g)[0]
        Dk = np.zeros((K, T, T))
        e_in = slot[chain[Dc.row]] >= 0
        r, c, v = Dc.row[e_in], Dc.col[e_in], Dc.data[e_in]
        Dk[slot[chain[r]], pos[r], pos[c]] = v
        # start inside the box, away from 0 where a hill / power slope is infinite
        x0 = np.clip(0.5 * (np.maximum(lo[idx], 0.0) + hi[idx]), lo[idx], hi[idx])
        groups.append(_Group(idx, Dk, form.adstock_carry[idx], lo[idx], hi[idx], curves.take(idx), x0))
    return groups


def _solve_chains(g: _Group, q: np.ndarray, tol: float = 1e-13) -> None:
    """Maximise ``sum w f(D x + carry) - q . x`` over ``lo <= x <= hi`` for every chain of ``g`` (in place).

    Leaves ``g.H`` (Hessian) and ``g.free`` (coordinates off their active bounds) at the final point:
    the price step needs them.
    """
    x = g.x
    Dt = np.transpose(g.D, (0, 2, 1))
    K, T = x.shape
    ii = np.arange(T)
    bound_tol = 1e-12 * np.maximum(np.abs(g.hi[np.isfinite(g.hi)]).max(initial=1.0), 1.0)

    def state(rows: np.ndarray, xx: np.ndarray):
        e = np.einsum("ktj,kj->kt", g.D[rows], xx) + g.carry[rows]
        v, d1, d2 = _eval_rows(g, rows, e)
        phi = v.sum(axis=1) - (q[rows] * xx).sum(axis=1)
        grad = np.einsum("kjt,kt->kj", Dt[rows], d1) - q[rows]
        free = ~(((xx <= g.lo[rows] + bound_tol) & (grad <= 0)) | ((xx >= g.hi[rows] - bound_tol) & (grad >= 0)))
        return phi, grad, d2, free

    # a second start, per chain keep the better: the spend at which each week's own slope would pay
    # its price spread over the weeks it reaches (a good scale even where the last point is far off,
    # e.g. at 0 next to a curve with an infinite slope, where Newton crawls)
    reach = g.D.sum(axis=1)  # (K, T): how much of x_t ends up as effective spend over the chain
    e_star = g.curves.inverse_slope(np.where(q > 0, q / reach, 0.0))
    e_star = np.where(np.isfinite(e_star), e_star, g.hi)
    x_alt = np.clip(np.linalg.solve(g.D, (e_star - g.carry)[:, :, None])[:, :, 0], g.lo, g.hi)
    all_rows = np.arange(K)
    # that point scaled down (the weeks' slopes were spread evenly, which can over-spend a lot), and a
    # mix: the current point with each negligible spend raised to that scale
    starts = [x] + [np.clip(f * x_alt, g.lo, g.hi) for f in (1.0, 0.3, 0.1, 0.03, 0.01)]
    starts.append(np.where(x < 1e-6 * x_alt, x_alt, x))
    phis = np.stack([state(all_rows, c)[0] for c in starts])
    pick = np.argmax(phis, axis=0)
    for i in range(1, len(starts)):
        x[pick == i] = starts[i][pick == i]
    sub = np.arange(K)
    for _ in range(MAX_INNER_ITERATIONS):
        if sub.size == 0:
            break
        xs = x[sub]
        phi, grad, d2, fs = state(sub, xs)
        H = np.matmul(Dt[sub], d2[:, :, None] * g.D[sub])
        both = fs[:, :, None] & fs[:, None, :]
        Hm = np.where(both, H, 0.0)
        # active coordinates: -1 on the diagonal keeps the system negative definite and their step 0
        Hm[:, ii, ii] = np.where(fs, Hm[:, ii, ii], -1.0)
        gm = np.where(fs, grad, 0.0)
        d = _newton_direction(Hm, gm)
        dec = (gm * d).sum(axis=1)  # Newton decrement^2 (>= 0 for an ascent direction)
        # the decrement cancels badly when curvatures span many decades (a spend at 0 next to an
        # infinite slope): also ask first-order stationarity, |gradient| x how far the point can move
        kkt = (np.abs(gm) * np.maximum(np.abs(xs), np.abs(d))).sum(axis=1)
        g.newton_iterations += 1
        act = (dec > tol * (np.abs(phi) + 1.0)) | (kkt > 1e3 * tol * (np.abs(phi) + 1.0))
        if not act.any():
            break
        sub, d, grad, xs, phi = sub[act], d[act], grad[act], xs[act], phi[act]
        # Armijo backtracking along the projected path, every chain with its own step; where the Newton
        # direction fails (its projection onto the bounds is no ascent, e.g. at 0 next to a curve with an
        # infinite slope), the diagonally scaled gradient, which projects to an ascent direction
        accepted = _line_search(g, q, x, sub, xs, phi, grad, d)
        if not accepted.all():
            diag = np.abs(np.diagonal(H[act], axis1=1, axis2=2))[~accepted]
            ds = np.where(fs[act][~accepted], grad[~accepted] / np.maximum(diag, 1e-300), 0.0)
            again = _line_search(g, q, x, sub[~accepted], xs[~accepted], phi[~accepted], grad[~accepted], ds)
            accepted[np.nonzero(~accepted)[0][again]] = True
        # a chain whose line searches both fail is at its numerical optimum
        sub = sub[accepted]
    _, grad, d2, free = state(np.arange(K), x)
    g.H = np.matmul(Dt, d2[:, :, None] * g.D)
    g.free = free
    g.x = x


def _line_search(g: _Group, q: np.ndarray, x: np.ndarray, sub: np.ndarray, xs: np.ndarray, phi: np.ndarray,
                 grad: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Armijo backtracking of chains ``sub`` along ``d`` projected on the bounds; updates ``x`` in place
    and returns which chains found a step."""
    alpha = np.ones(sub.size)
    accepted = np.zeros(sub.size, dtype=bool)
    for _ in range(50):
        ip = np.nonzero(~accepted)[0]
        if ip.size == 0:
            break
        rows = sub[ip]
        xn = np.clip(xs[ip] + alpha[ip, None] * d[ip], g.lo[rows], g.hi[rows])
        e = np.einsum("ktj,kj->kt", g.D[rows], xn) + g.carry[rows]
        v = _eval_rows(g, rows, e)[0]
        phin = v.sum(axis=1) - (q[rows] * xn).sum(axis=1)
        gain = (grad[ip] * (xn - xs[ip])).sum(axis=1)
        ok = (phin >= phi[ip] + 1e-4 * gain - 1e-15 * np.abs(phi[ip])) & (np.any(xn != xs[ip], axis=1) | (gain <= 0))
        x[rows[ok]] = xn[ok]
        accepted[ip[ok]] = True
        alpha[ip[~ok]] *= 0.5
    # next to a curve with an infinite slope at 0, Newton grows a small spend by a constant factor
    # per step (x^b: 1 + 1/(1 - b)); where a full step more than doubled a spend, keep doubling it
    # while the objective improves
    grow = accepted & (alpha == 1.0) & np.any(d > np.maximum(xs, 1e-300), axis=1)
    if grow.any():
        ig = np.nonzero(grow)[0]
        rows = sub[ig]
        best_phi = phi[ig] * 0 + _phi(g, q, rows, x[rows])
        step = 2.0
        for _ in range(60):
            xn = np.clip(xs[ig] + step * d[ig], g.lo[rows], g.hi[rows])
            phin = _phi(g, q, rows, xn)
            better = phin > best_phi
            if not better.any():
                break
            x[rows[better]] = xn[better]
            best_phi = np.where(better, phin, best_phi)
            ig, rows, best_phi = ig[better], rows[better], best_phi[better]
            step *= 2.0
    return accepted


def _phi(g: _Group, q: np.ndarray, rows: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Chain objectives ``sum w f(D x + carry) - q . x`` of chains ``rows`` at ``xx``."""
    e = np.einsum("ktj,kj->kt", g.D[rows], xx) + g.carry[rows]
    return _eval_rows(g, rows, e)[0].sum(axis=1) - (q[rows] * xx).sum(axis=1)


def _newton_direction_matrix(Hm: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``Hm^{-1} B`` per chain; a numerically singular chain gets the inverse of its diagonal."""
    try:
        return np.linalg.solve(Hm, B)
    except np.linalg.LinAlgError:
        out = np.empty_like(B)
        for k in range(Hm.shape[0]):
            try:
                out[k] = np.linalg.solve(Hm[k], B[k])
            except np.linalg.LinAlgError:
                out[k] = B[k] / np.minimum(np.diagonal(Hm[k]), -1e-300)[:, None]
        return out


def _newton_direction(Hm: np.ndarray, gm: np.ndarray) -> np.ndarray:
    """``-Hm^{-1} gm`` per chain; where a system is numerically singular (curvatures spanning 1e20, e.g.
    a hill curve evaluated next to 0), the diagonally scaled gradient instead (still an ascent direction)."""
    try:
        return -np.linalg.solve(Hm, gm[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        out = np.empty_like(gm)
        diag = np.abs(np.diagonal(Hm, axis1=1, axis2=2))
        for k in range(gm.shape[0]):
            try:
                out[k] = -np.linalg.solve(Hm[k], gm[k])
            except np.linalg.LinAlgError:
                out[k] = gm[k] / np.maximum(diag[k], 1e-300)
        return out


def _eval_rows(g: _Group, rows: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Curve values and derivatives of chains ``rows`` of ``g`` at effective spends ``e``."""
    return g.curves.take(rows).eval(e)


@dataclass
class DecompositionResult:
    """What :func:`solve_decomposed` found.

    Attributes
    ----------
    x:
        Feasible spend per cell (currency), or None when no feasible plan was recovered.
    lower, upper:
        True objective of ``x`` and the certified upper bound (maximised form, problem units).
    row_dual:
        Row prices in the layout of ``form.problem`` (link rows: ``w f'(e)``; spend rows: ``mu``).
    outer_iterations, newton_iterations:
        Price updates and batched chain Newton steps.
    seconds:
        Wall-clock time.
    message:
        Why it stopped.
    """

    x: np.ndarray | None
    lower: float
    upper: float
    row_dual: np.ndarray
    outer_iterations: int
    newton_iterations: int
    seconds: float
    message: str
    history: list[tuple[int, float, float]] = field(default_factory=list)
    scale: float = 0.0

    @property
    def gap(self) -> float:
        """Relative gap of the certificate; 0 when the bounds differ by rounding only (1e-12 of the
        objective's scale: the response of every cell at its cap plus the spend caps), e.g. when no
        spend pays and both bounds are ~0."""
        from optimizer.budget.allocation import relative_gap

        if self.x is None:
            return math.inf
        if self.upper - self.lower <= 1e-12 * self.scale:
            return 0.0
        return relative_gap(self.lower, self.upper)


def applies(form: Formulation) -> bool:
    """True when :func:`solve_decomposed` can handle ``form`` (see the module docstring)."""
    from optimizer.budget.advanced import lagrange

    if form.adstock_matrix is None or not lagrange.applies(form):
        return False
    if CellCurves.of(form) is None:
        return False
    spend = _spend_rows(form)
    if spend is None or spend[0].size > MAX_PRICED_ROWS:
        return False
    return bool(np.all(np.isfinite(form.problem.col_hi[form.x_col:form.x_col + form.n_cells])))


def rows_feasible(form: Formulation) -> bool:
    """True when some spend plan within the cell bounds meets every spend row (a small LP, HiGHS).

    The price iteration diverges on a plan with no feasible point (its dual is unbounded), so this is
    checked first; the LP path then explains the conflict in money.
    """
    from optimizer.budget.advanced.solve import solve
    from optimizer.budget.backends.base import SolveStatus
    from optimizer.budget.problem import LPProblem

    _, S, lo, hi = _spend_rows(form)
    n = form.n_cells
    p = form.problem
    prob = LPProblem(c=np.zeros(n), A=S, row_lo=lo, row_hi=hi, col_lo=p.col_lo[form.x_col:form.x_col + n],
                     col_hi=p.col_hi[form.x_col:form.x_col + n], integrality=np.zeros(n, dtype=np.int32))
    return solve(prob, "highs", 1e-9, 60.0).status == SolveStatus.OPTIMAL


def _spend_rows(form: Formulation) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray] | None:
    """(row ids, S on the x columns, lo, hi) of the rows other than the piece links; None if they touch pieces."""
    p = form.problem
    n = form.n_cells
    rows = np.r_[np.arange(0, form.link_row), np.arange(form.link_row + n, p.n_rows)]
    A = p.A[rows]
    S = A[:, form.x_col:form.x_col + n].tocsr()
    if A.nnz != S.nnz:
        return None
    lo, hi = p.row_lo[rows].copy(), p.row_hi[rows].copy()
    # a floor no plan can miss (e.g. 0 under non-negative spend) is no constraint: drop it
    xlo = p.col_lo[form.x_col:form.x_col + n]
    xhi = p.col_hi[form.x_col:form.x_col + n]
    Sp, Sn = S.maximum(0), S.minimum(0)
    row_min = Sp @ xlo + Sn @ xhi
    lo = np.where(lo <= row_min + 1e-12 * np.abs(row_min), -np.inf, lo)
    return rows, S, lo, hi


def solve_decomposed(form: Formulation, gap_target: float, time_limit: float = math.inf) -> DecompositionResult:
    """Solve the adstock plan of ``form`` on its exact curves; see the module docstring."""
    from optimizer.budget.advanced import lagrange
    from optimizer.budget.advanced.allocate import evaluate
    from optimizer.budget.advanced.solve import MipSolution
    from optimizer.budget.allocation import relative_gap
    from optimizer.budget.backends.base import SolveStatus

    t0 = time.perf_counter()
    curves = CellCurves.of(form)
    assert curves is not None
    groups = chains(form, curves)
    rows, S, lo, hi = _spend_rows(form)
    n, R = form.n_cells, rows.size
    sw = form.model.spend_weight
    St = S.T.tocsr()
    # per group: S^T restricted to the group's cells, dense (K, T, R): the outer Hessian needs it
    St_g = [St[g.idx.ravel()].toarray().reshape(*g.idx.shape, R) for g in groups]
    can_up = np.isfinite(hi)
    can_down = np.isfinite(lo)
    xhi = form.problem.col_hi[form.x_col:form.x_col + n]
    scale = float(np.abs(curves.eval(form.effective_upper)[0]).sum() + abs(sw) * xhi.sum())

    def inner(mu: np.ndarray) -> tuple[float, np.ndarray]:
        q = St @ mu - sw
        for g in groups:
            _solve_chains(g, q[g.idx])
        x = np.zeros(n)
        for g in groups:
            x[g.idx] = g.x
        return dual_value(mu, x), x

    def dual_value(mu: np.ndarray, x: np.ndarray) -> float:
        total = float(np.sum(np.where(mu > 0, mu * np.where(can_up, hi, 0.0), 0.0))
                      + np.sum(np.where(mu < 0, mu * np.where(can_down, lo, 0.0), 0.0)))
        q = St @ mu - sw
        for g in groups:
            e = np.einsum("ktj,kj->kt", g.D, g.x) + g.carry
            total += float(g.curves.eval(e)[0].sum())
        return total - float(q @ x)

    def gradient(mu: np.ndarray, Sx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient per row on the side mu sits on, and the row's free/fixed status."""
        up = hi - Sx  # derivative moving mu up (from >= 0)
        down = lo - Sx  # derivative moving mu down (from <= 0)
        grad = np.where(mu > 0, up, np.where(mu < 0, down, 0.0))
        free = mu != 0
        # at 0: move up if the cap is violated, down if the floor is
        go_up = (mu == 0) & can_up & (up < 0)
        go_down = (mu == 0) & can_down & (down > 0)
        grad = np.where(go_up, up, np.where(go_down, down, grad))
        free = free | go_up | go_down
        side = np.where(mu > 0, 1, np.where(mu < 0, -1, np.where(go_up, 1, np.where(go_down, -1, 0))))
        return np.where(free, grad, 0.0), side

    def hessian() -> np.ndarray:
        Kmat = np.zeros((R, R))
        for g, Sg in zip(groups, St_g):
            fs = g.free
            both = fs[:, :, None] & fs[:, None, :]
            Hm = np.where(both, g.H, 0.0)
            ii = np.arange(Hm.shape[1])
            Hm[:, ii, ii] = np.where(fs, Hm[:, ii, ii], -1.0)
            eye = np.broadcast_to(np.eye(Hm.shape[1]), Hm.shape)
            M = np.where(both, -_newton_direction_matrix(Hm, eye), 0.0)
            W = np.matmul(M, Sg)
            Kmat += np.einsum("ktr,kts->rs", Sg, W)
        return Kmat

    def certify(mu: np.ndarray, x: np.ndarray) -> tuple[np.ndarray | None, float, float, np.ndarray]:
        d = np.zeros(form.problem.n_rows)
        d[rows] = mu
        # link prices = slopes at the plan (evaluated where eval evaluates them: at least the floor)
        eff = np.maximum(form.adstock_matrix @ x + form.adstock_carry, curves.floor)
        d1 = curves.eval(eff)[1]
        pi, e_stat = _certificate_prices(groups, curves, d1, eff, St @ mu - sw, x)
        d[form.link_row:form.link_row + n] = pi
        gross = form.adstock_matrix.T @ d1
        # cost of moving a cell's spend: its net marginal return, floored (at an interior optimum of a
        # profit objective the net marginal is 0, and a free move would let the repair empty cells)
        xf = _repair(x, S, lo, hi, form, np.abs(gross + sw) + 1e-6 * float(np.abs(gross).max(initial=0.0)))
        sol = MipSolution(SolveStatus.OPTIMAL, np.zeros(0), math.nan, math.nan, 0.0, d, "decomposition", "", 0.0)
        upper = lagrange.dual_bound(form, sol, stationary_effective=e_stat)
        if xf is None:
            return None, -math.inf, upper, d
        ev = evaluate(form, xf)
        lower = form.model.resp_weight * float(ev["response"].sum()) + sw * float(xf.sum())
        return xf, lower, upper, d

    # ---- start. At zero prices every chain spends its caps (the curves only rise) and the price step has
    # no curvature to work with, so start from a price on the most overshot cap: the average marginal
    # return of spend when that cap is split evenly over its cells (then Newton takes over).
    mu = np.zeros(R)
    gval, x = inner(mu)
    if R:
        Sx = S @ x
        excess = np.where(can_up, (Sx - hi) / np.maximum(np.abs(np.where(can_up, hi, 0.0)), 1.0), -np.inf)
        r0 = int(np.argmax(excess))
        if excess[r0] > 0:
            mu[r0] = _price_guess(form, curves, S, r0, hi[r0])
            gval, x = inner(mu)
            # caps still overshot at that price (e.g. channel caps under a budget) get the extra price
            # their own even split asks for: Newton's model of the dual is poor when many caps are off
            Sx = S @ x
            q = St @ mu - sw
            over = np.nonzero(can_up & (Sx > hi * (1 + 1e-6) + 1e-9))[0]
            extra = np.zeros(R)
            for r in over:
                row = S[r]
                if row.data.min(initial=0.0) < 0:
                    continue
                want = _price_guess(form, curves, S, r, hi[r])
                extra[r] = max(want - float(np.median(q[row.indices] / row.data)), 0.0)
            if extra.any():
                mu = mu + extra
                gval, x = inner(mu)
    history: list[tuple[int, float, float]] = []
    best: tuple[np.ndarray | None, float, float, np.ndarray] = (None, -math.inf, math.inf, np.zeros(0))
    # Newton converges quadratically near the optimum: steps past the target cost little and win
    # digits (a planner compares plans to the unit), so aim at 1e-13; stop when the gap stalls (rounding)
    aim = min(1e-3 * gap_target, 1e-13)
    best_gap, stalled = math.inf, 0
    damping = 0.0
    message = "iteration limit"
    it = 0
    for it in range(1, MAX_OUTER_ITERATIONS + 1):
        Sx = S @ x
        grad, side = gradient(mu, Sx)
        xf, lower, upper, d = certify(mu, x)
        history.append((it, lower, upper))
        if xf is not None and lower > best[1]:
            best = (xf, lower, best[2], best[3])
        if upper < best[2]:
            best = (best[0], best[1], upper, d)
        gap = relative_gap(best[1], best[2]) if best[0] is not None else math.inf
        if best[0] is not None and best[2] - best[1] <= 1e-12 * scale:
            gap = 0.0
        if gap <= aim:
            message = "converged"
            break
        # progress in absolute terms: a relative gap jumps around when the objective is near 0
        width = best[2] - best[1] if best[0] is not None else math.inf
        stalled = stalled + 1 if width >= 0.9 * best_gap else 0
        best_gap = min(best_gap, width)
        if stalled >= STALL_ITERATIONS:
            message = "gap stalled (rounding)"
            break
        if time.perf_counter() - t0 > time_limit:
            message = "time limit"
            break
        F = side != 0
        if not F.any():
            message = "no priced row can improve the bound"
            break
        Kmat = hessian()[np.ix_(F, F)]
        diag = np.diag(Kmat).copy()
        # a row whose cells all sit at their bounds has no curvature: the price must move until one
        # leaves its bound. Double it (or start it from the even-split guess) along the violation.
        flat = diag <= 1e-14 * max(float(diag.max(initial=0.0)), 1e-300)
        step = np.zeros(int(F.sum()))
        fi = np.nonzero(F)[0]
        for k in np.nonzero(flat)[0]:
            r = fi[k]
            if grad[r] * side[r] < 0:  # the row is broken: move its price away from 0, at least to the
                # price at which an even split of the row's bound pays (doubling it if already there)
                guess = _price_guess(form, curves, S, r, hi[r] if side[r] > 0 else lo[r])
                step[k] = side[r] * max(abs(mu[r]), guess - abs(mu[r]))
            else:  # slack under a price: back to 0 (the line search halves it if that overshoots)
                step[k] = -mu[r]
        keep = ~flat
        Kk = Kmat[np.ix_(keep, keep)]
        gk = grad[F][keep]
        # Levenberg-Marquardt damping: far from the optimum the chains' active sets change along the
        # step and Newton's quadratic model of g is poor (many caps overshot at once); a damped step
        # leans towards the scaled gradient. Damping grows on a rejected step, shrinks on a full one.
        accepted = False
        for attempt in range(14):
            if keep.any():
                step[keep] = _price_step(Kk, gk, mu[fi[keep]], side[fi[keep]], damping)
            if not np.all(np.isfinite(step)):
                break
            dmu = np.zeros(R)
            dmu[F] = step
            # a price does not cross zero in one step (it keeps its side)
            cand = mu + dmu
            cand = np.where(side > 0, np.maximum(cand, 0.0), np.where(side < 0, np.minimum(cand, 0.0), mu))
            with np.errstate(invalid="ignore", over="ignore"):
                gnew, xnew = inner(cand)
            if math.isfinite(gnew) and gnew <= gval + 1e-4 * float(grad @ (cand - mu)) + 1e-14 * abs(gval):
                mu, gval, x = cand, gnew, xnew
                accepted = True
                damping = damping * 0.1 if attempt == 0 else damping
                damping = 0.0 if damping < 1e-6 else damping
                break
            damping = max(1e-4, damping * 10.0)
            step[flat] *= 0.5
        if not accepted:
            message = "line search failed"
            break
    xf, lower, upper, d = best
    return DecompositionResult(xf, lower, upper, d, it, sum(g.newton_iterations for g in groups),
                               time.perf_counter() - t0, message, history, scale)


def _certificate_prices(groups: list[_Group], curves: CellCurves, slope: np.ndarray, eff: np.ndarray,
                        q: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Link prices for the certificate, and the effective spend at which each is the curve's slope.

    The slopes at the plan are the natural prices, but where a spend sits at (numerically) 0 next to
    a curve with an infinite slope, the reduced cost ``(D^T pi)_j - q_j`` of that spend can stay
    positive (the true optimum is a spend of 1e-13, invisible in the objective) and the bound would
    charge it up to the spend's cap. Lower those prices, last week first, until the reduced cost is 0
    (D is triangular with a unit diagonal); a lower price moves the curve term's maximiser to a larger
    effective spend, found exactly by :meth:`CellCurves.inverse_slope`. Any prices give a valid bound.
    """
    pi = slope.copy()
    changed = np.zeros(pi.size, dtype=bool)
    for g in groups:
        P = pi[g.idx]
        Q = q[g.idx]
        X = x[g.idx]
        T = P.shape[1]
        for j in range(T - 1, -1, -1):
            c = np.einsum("kt,kt->k", g.D[:, :, j], P) - Q[:, j]
            fix = (c > 0) & (X[:, j] < g.hi[:, j])
            if fix.any():
                P[fix, j] = np.maximum(P[fix, j] - c[fix], 1e-300)
        ch = P != pi[g.idx]
        pi[g.idx] = P
        changed[g.idx] |= ch
    e_stat = eff.copy()
    if changed.any():
        idx = np.nonzero(changed)[0]
        sub = curves.take(idx)
        e_new = sub.inverse_slope(pi[idx])
        e_new = np.where(np.isfinite(e_new), e_new, np.inf)
        e_stat[idx] = e_new
        # make each price exactly the slope where it is attained inside the range
        inside = np.isfinite(e_new)
        pi[idx[inside]] = sub.take(np.nonzero(inside)[0]).eval(e_new[inside])[1]
    return pi, e_stat


def _price_step(K: np.ndarray, grad: np.ndarray, mu: np.ndarray, side: np.ndarray, damping: float = 0.0) -> np.ndarray:
    """Newton step on the free prices, with the null space of ``K`` handled.

    Rows can be collinear (a total budget equal to the sum of the period rows it covers): ``K`` is
    then singular and the dual is *linear* along its null space. Newton on the range of ``K``; along
    the null space, go down the gradient until the first price reaches zero (the ratio test), where
    that row drops out of the free set.
    """
    lam, Q = np.linalg.eigh(K)
    top = max(float(lam.max(initial=0.0)), 1e-300)
    if damping > 0:  # (K + damping * mean curvature * I) s = -grad: no null space left
        shift = damping * max(float(np.mean(np.maximum(lam, 0.0))), 1e-300)
        return -Q @ ((Q.T @ grad) / (np.maximum(lam, 0.0) + shift))
    rng = lam > 1e-10 * top
    Qr, Qn = Q[:, rng], Q[:, ~rng]
    step = -Qr @ ((Qr.T @ grad) / lam[rng])
    if Qn.shape[1] == 0:
        return step
    gn = Qn @ (Qn.T @ grad)
    if np.linalg.norm(gn) <= 1e-12 * max(np.linalg.norm(grad), 1e-300):
        return step
    down = -gn
    toward_zero = (side * down < 0) & (mu != 0)
    if toward_zero.any():
        t = float(np.min(np.abs(mu[toward_zero]) / np.abs(down[toward_zero])))
    else:  # nothing stops it: scale the move like the prices (the line search decides)
        t = max(float(np.abs(mu).max(initial=0.0)), 1.0) / float(np.abs(down).max())
    return step + t * down


def _price_guess(form: Formulation, curves: CellCurves, S: sp.csr_matrix, r0: int, cap: float) -> float:
    """Price of row ``r0`` at which spending ``cap`` evenly over the row's cells is stationary on average."""
    n = form.n_cells
    row = S[r0]
    cells = row.indices
    xhi = form.problem.col_hi[form.x_col:form.x_col + n]
    x = xhi.copy()
    x[cells] = np.minimum(max(cap, 0.0) / max(float(row.data.sum()), 1e-300), xhi[cells])
    e = form.adstock_matrix @ x + form.adstock_carry
    marginal = form.adstock_matrix.T @ curves.eval(e)[1] + form.model.spend_weight
    price = float(np.median(marginal[cells] / row.data))
    return price if math.isfinite(price) and price > 0 else 1.0


def _repair(x: np.ndarray, S: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, form: Formulation,
            weight: np.ndarray) -> np.ndarray | None:
    """``x`` made feasible, or None.

    The plan from prices meets the spend rows only up to the price step's accuracy. First try the
    cheap fix: scale each cell down by the worst ratio of the caps it overshoots (caps with
    non-negative coefficients; floors are left alone). If a row is still broken (a floor, a share
    row with negative coefficients), move the plan into the rows at the least cost ``weight``
    (positive, per currency moved): ``min sum w_j |d_j|`` s.t. ``lo <= S (x + d) <= hi``, bounds
    (a small LP, HiGHS).
    """
    n = x.size
    xlo = form.problem.col_lo[form.x_col:form.x_col + n]
    xhi = form.problem.col_hi[form.x_col:form.x_col + n]
    x = np.clip(x, xlo, xhi)
    Sx = S @ x
    over = np.isfinite(hi) & (Sx > hi)
    if over.any():
        So = S[over].tocsc()
        if So.data.min(initial=0.0) >= 0:
            ratio = np.maximum(hi[over], 0.0) / Sx[over]
            factor = np.ones(n)
            cols = np.repeat(np.arange(n), np.diff(So.indptr))
            np.minimum.at(factor, cols, ratio[So.indices])
            x = np.maximum(x * factor, xlo)
            Sx = S @ x
    if _feasible(Sx, lo, hi):
        return x
    return _repair_lp(x, Sx, S, lo, hi, xlo, xhi, weight)


def _feasible(Sx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Rows within their bounds up to 1e-9 relative plus 1e-7 absolute (HiGHS' primal feasibility
    tolerance: the LP path's plans meet rows to the same accuracy)."""
    def tol(b):
        return 1e-7 + 1e-9 * np.abs(np.where(np.isfinite(b), b, 0.0))
    return bool(np.all(Sx <= hi + tol(hi)) and np.all(Sx >= lo - tol(lo)))


def _repair_lp(x, Sx, S, lo, hi, xlo, xhi, w) -> np.ndarray | None:
    from optimizer.budget.advanced.solve import solve
    from optimizer.budget.problem import LPProblem

    n = x.size
    w = np.maximum(w, 1e-300)
    A = sp.hstack([S, -S]).tocsr()
    prob = LPProblem(c=-np.r_[w, w], A=A, row_lo=lo - Sx, row_hi=hi - Sx, col_lo=np.zeros(2 * n),
                     col_hi=np.r_[np.maximum(xhi - x, 0.0), np.maximum(x - xlo, 0.0)],
                     integrality=np.zeros(2 * n, dtype=np.int32))
    sol = solve(prob, "highs", 1e-9, 60.0, lp_algorithm="simplex")
    if not sol.has_point:
        return None
    xr = np.clip(x + sol.x[:n] - sol.x[n:], xlo, xhi)
    return xr if _feasible(S @ xr, lo, hi) else None
