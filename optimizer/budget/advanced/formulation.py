"""Build the advanced budget problem (MILP or LP) as solver-neutral arrays (an ``LPProblem``).

Columns, in blocks (numpy index arithmetic, no per-variable Python objects):

* ``x[i]``   spend in cell i (channel x segment x period), currency;
* ``y[p]``   spend-equivalent placed in chord piece p of a cell's curve (0 <= y <= width); the cell's
  response is ``sum_p slope_p y_p``; ``sum_p y_p`` equals the cell's spend, or its *effective* spend
  ``e_t = sum_{l<=L} decay^l x_{t-l} + carry-over of history`` when the channel has adstock;
* ``z[q]``   binary fill order on the convex part of S-curves: ``y_k >= w_k z_k``, ``y_{k+1} <= w_{k+1} z_k``;
* ``u[i]``   binary "cell used" (flight rules): ``x_i <= U_i u_i``, ``x_i >= m u_i``;
* ``a[c]``   binary "channel active": per-cell ``x_i <= U_i a_c`` (or ``u_i <= a_c``), ``sum x >= m a_c``,
  ``sum_c a_c <= N``; the per-cell rows keep the LP relaxation tight (SOLVER-NOTES: 1.6 s vs a 29 % gap);
* ``n[i]``   integer units bought (whole units): ``x_i = cost_per_unit * n_i``.

Rows: the core's row groups (total budget incl. set-up costs, channel / segment / period limits,
response minimums), the piece links, the integer rules above and a ROAS / CPA target row
``response - target x (spend + set-up) >= 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optimizer.budget.advanced.config import RoasTarget, SHillResponse
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.advanced.scurve import AnyCurve, SCurve, breakpoints, chord_error
from optimizer.budget.config import BudgetConfig, LinearResponse, MinSpend
from optimizer.budget.problem import BudgetModel, LPProblem, build_model


@dataclass(frozen=True)
class Formulation:
    """The problem and the maps needed to read a solution back.

    Attributes
    ----------
    problem:
        ``max c @ v`` s.t. rows and bounds; integrality marks integer / binary columns.
    model:
        The core :class:`BudgetModel` (cells, row groups, objective weights).
    curves:
        One curve per channel (core curves and :class:`SCurve`).
    piece_cell, piece_lo, piece_hi, piece_slope:
        Chord pieces (cell index, effective-spend range in currency, slope incl. multiplier).
    cell_error:
        Largest amount the cell's true response can exceed its chord approximation (response_unit).
    x_col, y_col, used_col, active_col, units_col:
        First column of each block (``used_col``/``active_col``/``units_col`` are -1 when absent;
        ``used_of_cell``, ``active_of_channel``, ``units_of_cell`` map entities to columns, -1 = none).
    budget_row:
        Index of the total budget row, or -1.
    setup_cost_cell, setup_cost_channel:
        Fixed costs (currency) charged when a cell / channel is used.
    adstock_carry:
        Effective spend per cell carried over from the spend history (currency).
    """

    problem: LPProblem
    model: BudgetModel
    curves: tuple[AnyCurve, ...]
    piece_cell: np.ndarray
    piece_lo: np.ndarray
    piece_hi: np.ndarray
    piece_slope: np.ndarray
    cell_error: np.ndarray
    x_col: int
    y_col: int
    used_of_cell: np.ndarray
    active_of_channel: np.ndarray
    units_of_cell: np.ndarray
    budget_row: int
    target_row: int
    setup_cost_cell: np.ndarray
    setup_cost_channel: np.ndarray
    adstock_carry: np.ndarray
    adstock_matrix: sp.csr_matrix | None
    n_binaries: int
    effective_upper: np.ndarray | None = None
    link_row: int = 0

    @property
    def n_cells(self) -> int:
        """Number of decision cells."""
        return self.model.cells.n


def core_config(cfg: AdvancedBudget) -> BudgetConfig:
    """The core config with S-curves replaced by a zero line (cells and rows do not depend on curves)."""
    channels = []
    for ch in cfg.channels:
        d = ch.model_dump(exclude_none=True)
        if isinstance(ch.response, SHillResponse):
            d["response"] = {"kind": "linear", "roi": 0.0}
        channels.append(d)
    data = cfg.model_dump(exclude_none=True, exclude={"advanced", "channels"})
    data["channels"] = channels
    return BudgetConfig.model_validate(data)


def channel_curves(cfg: AdvancedBudget, model: BudgetModel) -> tuple[AnyCurve, ...]:
    """Curve per channel: the S-curve where one is set, else the core curve."""
    out: list[AnyCurve] = []
    for ci, core_curve in enumerate(model.curves):  # one per channel and segment share, see BudgetModel
        s = cfg.s_curve_of(int(model.curve_channel[ci]))
        a = float(model.curve_share[ci])  # the segment's audience share: a * f(x / a)
        out.append(SCurve(s.max_response * a, s.half_saturation_spend * a, s.shape) if s is not None else core_curve)
    return tuple(out)


def _cell_index(model: BudgetModel) -> np.ndarray:
    """Dense map (channel, segment, period) -> cell index, -1 where the channel cannot spend."""
    c = model.cells
    n_c = len(model.config.channels)
    idx = np.full((n_c, len(model.segment_names), len(model.period_names)), -1, dtype=np.int64)
    idx[c.channel, c.segment, c.period] = np.arange(c.n)
    return idx


def adstock_operator(cfg: AdvancedBudget, model: BudgetModel) -> tuple[sp.csr_matrix | None, np.ndarray]:
    """(D, carry): effective spend ``e = D @ x + carry`` per cell; D is None without adstock.

    Rows of channels without adstock are the identity. ``carry`` is the history's effect, in currency.
    """
    cells = model.cells
    carry = np.zeros(cells.n)
    if not any(r.adstock is not None for r in cfg.advanced.rules):
        return None, carry
    idx = _cell_index(model)
    rows, cols, vals = [np.arange(cells.n)], [np.arange(cells.n)], [np.ones(cells.n)]
    n_p = len(model.period_names)
    for ci, ch in enumerate(cfg.channels):
        r = cfg.advanced.rules_for(ch.name)
        if r is None or r.adstock is None:
            continue
        d, L, hist = r.adstock.decay, r.adstock.max_lag_periods, r.adstock.history_spend
        for lag in range(1, min(L, n_p - 1) + 1):
            src = idx[ci, :, : n_p - lag]
            dst = idx[ci, :, lag:]
            ok = (src >= 0) & (dst >= 0)
            rows.append(dst[ok])
            cols.append(src[ok])
            vals.append(np.full(int(ok.sum()), d ** lag))
        for t in range(n_p):
            # history index -1 is the period just before t = 0: its lag to period t is t + 1
            c_t = sum(d ** (t + j) * hist[-j] for j in range(1, len(hist) + 1) if t + j <= L)
            cell = idx[ci, :, t]
            carry[cell[cell >= 0]] = c_t
    D = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(cells.n, cells.n))
    return D, carry


class _Rows:
    """Accumulates sparse rows as COO triplets."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.names: list[str] = []
        self.n = 0

    def add(self, n_rows: int, r: np.ndarray, c: np.ndarray, v: np.ndarray, lo, hi, names: list[str]) -> int:
        first = self.n
        self.r.append(np.asarray(r, dtype=np.int64) + first)
        self.c.append(np.asarray(c, dtype=np.int64))
        self.v.append(np.asarray(v, dtype=float))
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n_rows,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n_rows,)))
        self.names.extend(names)
        self.n += n_rows
        return first


#: Starting tolerance (fraction of f(cap)) of chords ABOVE a convex piece of an S-curve. Coarse, to keep
#: few binaries; the allocator then adds breakpoints where a plan lands inside a convex piece.
CONVEX_START_TOLERANCE = 1e-2


def build(cfg: AdvancedBudget, total_budget: float | None = None,
          extra_breaks: dict[int, np.ndarray] | None = None,
          pieces: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
          tolerance_relative: float | None = None, convex_tolerance_relative: float | None = None,
          n_start: int = 16, chord_errors: bool = True, one_piece: bool = False) -> Formulation:
    """The advanced problem of ``cfg`` (optionally with another total budget amount, currency).

    ``extra_breaks`` adds breakpoints (currency, effective spend) to a channel's curve, by channel index;
    ``pieces`` = (cell, lo, hi) replaces the breakpoints altogether (local refinement of LPs);
    ``tolerance_relative`` overrides ``curve_tolerance_relative`` (coarse first pieces);
    ``convex_tolerance_relative`` overrides the coarse start on convex pieces (:data:`CONVEX_START_TOLERANCE`);
    ``n_start`` is the number of first pieces of a smooth curve before refinement;
    ``chord_errors=False`` leaves ``cell_error`` at 0 (callers that certify with the dual bound);
    ``one_piece=True`` gives every cell a single chord over its whole range (a skeleton with the rows,
    bounds and adstock operator, for solvers that work on the true curves; cheap at any size).
    """
    core = core_config(cfg)
    if total_budget is not None and core.total_budget is not None:
        core = core.model_copy(update={"total_budget": core.total_budget.model_copy(update={"amount": total_budget})})
    model = build_model(core)
    curves = channel_curves(cfg, model)
    cells = model.cells
    n_cells = cells.n
    adv = cfg.advanced
    D, carry = adstock_operator(cfg, model)
    upper = cells.upper.copy()
    eff_upper = upper if D is None else D @ np.where(np.isfinite(upper), upper, 0.0) + carry
    if D is not None and not np.all(np.isfinite(upper)):
        raise ValueError("adstock needs a finite spend cap on every cell (a total budget or channel caps)")

    # ---- pieces per channel on [0, max effective spend], clipped per cell
    p_cell, p_lo, p_hi = [], [], []
    planned: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    tol = adv.curve_tolerance_relative if tolerance_relative is None else tolerance_relative
    for ci, curve in enumerate(curves if pieces is None and not one_piece else ()):
        cidx = np.nonzero(cells.curve == ci)[0]
        if cidx.size == 0:
            continue
        dom = eff_upper[cidx]
        top = float(dom.max()) if np.all(np.isfinite(dom)) else math.inf
        if not math.isfinite(top) and curve.kind not in ("linear", "table"):
            from optimizer.errors import ScenarioError

            raise ScenarioError(f"channel {cfg.channels[model.curve_channel[ci]].name!r} has a {curve.kind} curve but no spend cap; "
                                "add max_spend to it or a total_budget.")
        ctol = max(CONVEX_START_TOLERANCE, tol) if convex_tolerance_relative is None else convex_tolerance_relative
        b = breakpoints(curve, top, tol, convex_tolerance_relative=ctol,
                        extra=(extra_breaks or {}).get(ci), n_start=n_start)
        if b.size < 2:
            continue
        planned.append((cidx, dom, b))
    # refuse a model that cannot fit before the pieces are broadcast to every cell (defect 11)
    from optimizer.budget.estimate import ModelSize, check_size

    n_pieces = sum(cidx.size * (b.size - 1) for cidx, _, b in planned)
    n_groups = len(model.groups)
    check_size(ModelSize(n_pieces + 3 * n_cells, n_cells + sum(len(g.entities) for g in model.groups),
                         n_pieces * (1 + n_groups) + 4 * n_cells),
               f"the budget model ({n_cells:,} cells, curve_tolerance_relative {tol:g})",
               "raise advanced.curve_tolerance_relative (fewer pieces per curve), or plan fewer channels x "
               "segments x periods at once")
    for cidx, dom, b in planned:
        lo = np.broadcast_to(b[:-1], (cidx.size, b.size - 1))
        hi = np.minimum(b[1:][None, :], dom[:, None])
        keep = hi > lo
        p_cell.append(np.broadcast_to(cidx[:, None], lo.shape)[keep])
        p_lo.append(lo[keep])
        p_hi.append(hi[keep])
    if one_piece:
        finite = np.isfinite(eff_upper) & (eff_upper > 0)
        pieces = (np.nonzero(finite)[0], np.zeros(int(finite.sum())), np.asarray(eff_upper, dtype=float)[finite])
    if pieces is not None:
        p_cell, p_lo, p_hi = [pieces[0].astype(np.int64)], [pieces[1]], [pieces[2]]
    piece_cell = np.concatenate(p_cell) if p_cell else np.zeros(0, dtype=np.int64)
    piece_lo = np.concatenate(p_lo) if p_lo else np.zeros(0)
    piece_hi = np.concatenate(p_hi) if p_hi else np.zeros(0)
    order = np.lexsort((piece_lo, piece_cell))
    piece_cell, piece_lo, piece_hi = piece_cell[order], piece_lo[order], piece_hi[order]
    n_pieces = piece_cell.size
    piece_slope = np.zeros(n_pieces)
    piece_err = np.zeros(n_pieces)
    ch_of_piece = cells.curve[piece_cell]  # curve (channel x segment) of each piece
    for ci, curve in enumerate(curves):
        m = ch_of_piece == ci
        if not m.any():
            continue
        a, b = piece_lo[m], piece_hi[m]
        fin = np.isfinite(b)
        bb = np.where(fin, b, a + 1.0)
        s = curve.params[0] * np.ones(a.size) if curve.kind == "linear" else (curve.value(bb) - curve.value(a)) / (bb - a)
        piece_slope[m] = np.where(fin | (curve.kind == "linear"), s, 0.0)
        if chord_errors:
            piece_err[m] = np.where(fin, chord_error(curve, a, np.where(fin, b, a)), 0.0)
    mult = cells.multiplier[piece_cell]
    piece_slope *= mult
    cell_error = np.zeros(n_cells)
    np.maximum.at(cell_error, piece_cell, piece_err * mult)

    # ---- column layout
    x_col, y_col = 0, n_cells
    ncol = n_cells + n_pieces
    col_lo = [np.zeros(n_cells), np.zeros(n_pieces)]
    col_hi = [np.maximum(upper, 0.0), piece_hi - piece_lo]
    integ = [np.zeros(n_cells, dtype=np.int32), np.zeros(n_pieces, dtype=np.int32)]
    cost = [np.full(n_cells, model.spend_weight), model.resp_weight * piece_slope]
    rows = _Rows()

    # S-curve fill order: binaries on the pieces before each cell's steepest piece
    z_first = np.zeros(n_pieces, dtype=bool)
    s_channels = [ci for ci, c in enumerate(curves) if isinstance(c, SCurve)]
    if s_channels:
        is_s = np.isin(ch_of_piece, s_channels)
        gates: list[tuple[int, int, int]] = []
        starts = np.r_[0, np.nonzero(np.diff(piece_cell))[0] + 1] if n_pieces else np.zeros(0, dtype=np.int64)
        ends = np.r_[starts[1:], n_pieces]
        for st, en in zip(starts, ends):
            if not is_s[st]:
                continue
            kstar = st + int(np.argmax(piece_slope[st:en]))
            z_first[st:kstar] = True
            if kstar > st:
                gates.append((st, en, kstar))
        zq = np.nonzero(z_first)[0]  # piece k with a binary z_k; rows tie k and k+1
        nz = zq.size
        if nz:
            zc = ncol + np.arange(nz)
            col_of_z = np.full(n_pieces, -1, dtype=np.int64)
            col_of_z[zq] = zc
            ncol += nz
            col_lo.append(np.zeros(nz)); col_hi.append(np.ones(nz))
            integ.append(np.ones(nz, dtype=np.int32)); cost.append(np.zeros(nz))
            w = piece_hi - piece_lo
            r = np.arange(nz)
            rows.add(nz, np.r_[r, r], np.r_[y_col + zq, zc], np.r_[np.ones(nz), -w[zq]], 0.0, math.inf,
                     [f"fill_full[{k}]" for k in range(nz)])
            rows.add(nz, np.r_[r, r], np.r_[y_col + zq + 1, zc], np.r_[np.ones(nz), -w[zq + 1]], -math.inf, 0.0,
                     [f"fill_next[{k}]" for k in range(nz)])
            # pieces after the steepest one are gated by the last binary too: otherwise a plan could skip
            # the convex part and buy the concave part's high chord slopes straight away
            g_r, g_c, g_v, n_g = [], [], [], 0
            for st, en, kst in gates:
                zl = col_of_z[kst - 1]
                after = np.arange(kst + 1, en)
                if after.size == 0:
                    continue
                g_r.append(np.full(after.size + 1, n_g))
                g_c.append(np.r_[y_col + after, zl])
                g_v.append(np.r_[np.ones(after.size), -w[after].sum()])
                n_g += 1
            if n_g:
                rows.add(n_g, np.concatenate(g_r), np.concatenate(g_c), np.concatenate(g_v), -math.inf, 0.0,
                         [f"fill_gate[{k}]" for k in range(n_g)])
    n_binaries = int(z_first.sum())

    # piece links: sum_p y_p - (D x)_i = carry_i
    link_row = rows.n
    if D is None:
        rows.add(n_cells, np.r_[piece_cell, np.arange(n_cells)], np.r_[y_col + np.arange(n_pieces), x_col + np.arange(n_cells)],
                 np.r_[np.ones(n_pieces), -np.ones(n_cells)], 0.0, 0.0, [f"link[{i}]" for i in range(n_cells)])
    else:
        Dc = D.tocoo()
        rows.add(n_cells, np.r_[piece_cell, Dc.row], np.r_[y_col + np.arange(n_pieces), x_col + Dc.col],
                 np.r_[np.ones(n_pieces), -Dc.data], carry, carry, [f"adstock[{i}]" for i in range(n_cells)])

    # ---- integer rules
    ch_names = [c.name for c in cfg.channels]
    n_c = len(ch_names)
    rules = [adv.rules_for(n) for n in ch_names]
    setup_cell = np.zeros(n_cells)
    setup_channel = np.zeros(n_c)
    used_of_cell = np.full(n_cells, -1, dtype=np.int64)
    active_of_channel = np.full(n_c, -1, dtype=np.int64)
    units_of_cell = np.full(n_cells, -1, dtype=np.int64)
    cap = np.where(np.isfinite(upper), upper, 0.0)
    big_cap = np.isfinite(upper)
    for ci, r in enumerate(rules):
        cidx = np.nonzero(cells.channel == ci)[0]
        if cidx.size == 0:
            continue
        need_used = r is not None and (r.min_cell_spend_if_used or r.setup_cost_per_flight)
        need_active = adv.max_active_channels is not None or (r is not None and (r.min_spend_if_used or r.setup_cost))
        if (need_used or need_active) and not big_cap[cidx].all():
            from optimizer.errors import ScenarioError

            raise ScenarioError(f"channel {ch_names[ci]!r} has integer rules but no spend cap; add max_spend or a total_budget.")
        k = cidx.size
        if need_used:
            uc = ncol + np.arange(k)
            ncol += k
            used_of_cell[cidx] = uc
            col_lo.append(np.zeros(k)); col_hi.append(np.ones(k)); integ.append(np.ones(k, dtype=np.int32))
            setup_cell[cidx] = r.setup_cost_per_flight
            cost.append(model.spend_weight * setup_cell[cidx])
            rr_ = np.arange(k)
            rows.add(k, np.r_[rr_, rr_], np.r_[x_col + cidx, uc], np.r_[np.ones(k), -cap[cidx]], -math.inf, 0.0,
                     [f"cell_used_cap[{ch_names[ci]}:{i}]" for i in cidx])
            if r.min_cell_spend_if_used:
                rows.add(k, np.r_[rr_, rr_], np.r_[x_col + cidx, uc], np.r_[np.ones(k), -np.full(k, r.min_cell_spend_if_used)],
                         0.0, math.inf, [f"cell_min_if_used[{ch_names[ci]}:{i}]" for i in cidx])
        if need_active:
            ac = ncol
            ncol += 1
            active_of_channel[ci] = ac
            col_lo.append(np.zeros(1)); col_hi.append(np.ones(1)); integ.append(np.ones(1, dtype=np.int32))
            setup_channel[ci] = r.setup_cost if r is not None else 0.0
            cost.append(np.array([model.spend_weight * setup_channel[ci]]))
            rr_ = np.arange(k)
            if need_used:  # u_i <= a_c, per cell
                rows.add(k, np.r_[rr_, rr_], np.r_[used_of_cell[cidx], np.full(k, ac)], np.r_[np.ones(k), -np.ones(k)],
                         -math.inf, 0.0, [f"cell_in_active[{ch_names[ci]}:{i}]" for i in cidx])
            else:  # x_i <= U_i a_c, per cell (tight), not one aggregate row
                rows.add(k, np.r_[rr_, rr_], np.r_[x_col + cidx, np.full(k, ac)], np.r_[np.ones(k), -cap[cidx]],
                         -math.inf, 0.0, [f"active_cap[{ch_names[ci]}:{i}]" for i in cidx])
            if r is not None and r.min_spend_if_used:
                rows.add(1, np.zeros(k + 1), np.r_[x_col + cidx, ac], np.r_[np.ones(k), -r.min_spend_if_used],
                         0.0, math.inf, [f"min_spend_if_used[{ch_names[ci]}]"])
        if r is not None and r.whole_units:
            cpu = cfg.channels[ci].cost_per_unit
            nc_ = ncol + np.arange(k)
            ncol += k
            units_of_cell[cidx] = nc_
            col_lo.append(np.zeros(k)); col_hi.append(np.floor(cap[cidx] / cpu + 1e-9))
            integ.append(np.ones(k, dtype=np.int32)); cost.append(np.zeros(k))
            rr_ = np.arange(k)
            rows.add(k, np.r_[rr_, rr_], np.r_[x_col + cidx, nc_], np.r_[np.ones(k), -np.full(k, cpu)], 0.0, 0.0,
                     [f"whole_units[{ch_names[ci]}:{i}]" for i in cidx])
    if adv.max_active_channels is not None:
        act = active_of_channel[active_of_channel >= 0]
        rows.add(1, np.zeros(act.size), act, np.ones(act.size), -math.inf, float(adv.max_active_channels),
                 ["max_active_channels"])

    # ---- core row groups: spend rows on x (plus set-up costs in the total budget), response rows on pieces
    budget_row = -1
    setup_cols = np.r_[used_of_cell[used_of_cell >= 0], active_of_channel[active_of_channel >= 0]]
    setup_vals = np.r_[setup_cell[used_of_cell >= 0], setup_channel[active_of_channel >= 0]]
    for g in model.groups:
        n_r = len(g.entities)
        if g.kind == "spend":
            m = g.cell_row >= 0
            r_, c_, v_ = g.cell_row[m], x_col + np.nonzero(m)[0], np.ones(int(m.sum()))
            if g.name == "total_budget":
                r_, c_, v_ = np.r_[r_, np.zeros(setup_cols.size)], np.r_[c_, setup_cols], np.r_[v_, setup_vals]
        else:
            rid = g.cell_row[piece_cell]
            m = rid >= 0
            r_, c_, v_ = rid[m], y_col + np.nonzero(m)[0], piece_slope[m]
        first = rows.add(n_r, r_, c_, v_, g.lo, g.hi, [f"{g.name}[{e}]" for e in g.entities])
        if g.name == "total_budget":
            budget_row = first

    target_row = -1
    t = adv.target
    if t is not None:
        ratio = t.min_roas if isinstance(t, RoasTarget) else 1.0 / t.max_cpa
        target_row = rows.add(1, np.zeros(n_pieces + n_cells + setup_cols.size),
                              np.r_[y_col + np.arange(n_pieces), x_col + np.arange(n_cells), setup_cols],
                              np.r_[piece_slope, -ratio * np.ones(n_cells), -ratio * setup_vals], 0.0, math.inf,
                              [f"target_{t.kind}"])

    A = sp.csr_matrix((np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))), shape=(rows.n, ncol))
    A.sum_duplicates()
    problem = LPProblem(
        c=np.concatenate(cost).astype(float), A=A, row_lo=np.concatenate(rows.lo).astype(float),
        row_hi=np.concatenate(rows.hi).astype(float), col_lo=np.concatenate(col_lo).astype(float),
        col_hi=np.concatenate(col_hi).astype(float), integrality=np.concatenate(integ).astype(np.int32),
        row_names=tuple(rows.names),
    )
    return Formulation(problem, model, curves, piece_cell, piece_lo, piece_hi, piece_slope, cell_error, x_col, y_col,
                       used_of_cell, active_of_channel, units_of_cell, budget_row, target_row, setup_cell, setup_channel,
                       carry, D, n_binaries + int((used_of_cell >= 0).sum() + (active_of_channel >= 0).sum()),
                       np.asarray(eff_upper, dtype=float), link_row)


def is_linear_response(cfg: AdvancedBudget, ci: int) -> bool:
    """True when channel ``ci`` has a straight-line response."""
    return isinstance(cfg.channels[ci].response, LinearResponse) and cfg.s_curve_of(ci) is None


def minimises(cfg: AdvancedBudget) -> bool:
    """True for the min_spend objective (values are stored negated)."""
    return isinstance(cfg.objective, MinSpend)
