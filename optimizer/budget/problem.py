"""Solver-neutral arrays of the budget LP, built with vectorised index arithmetic.

The decision is spend per *cell* (channel x segment x period). A concave cell curve is cut into
*pieces*; the LP variable of a piece is the spend placed in it (0 <= y <= piece width, currency)
and it earns the chord slope of that piece (response per currency, cell multiplier included).
Because chord slopes fall along a concave curve, an optimal LP fills the pieces of a cell in
order, so no integer variables are needed. Rows are linear in spend (budget, per channel /
segment / period limits) or in response (minimum response per channel, a response target).

Nothing here creates one Python object per variable: cells, pieces and rows are numpy arrays and
the matrix is one ``scipy.sparse.csr_matrix``. :class:`LPProblem` is what every backend takes.
Money is in the scenario currency over the whole horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.budget.config import BudgetConfig, MaxProfit, MaxResponse, MinSpend
from optimizer.budget.curves import Curve, cell_curves
from optimizer.budget.mincaps import implicit_cap_warning, min_spend_caps  # noqa: F401 - re-exported


@dataclass(frozen=True)
class LPProblem:
    """``max c @ y`` s.t. ``row_lo <= A @ y <= row_hi``, ``col_lo <= y <= col_hi``.

    Attributes
    ----------
    c:
        Objective coefficients (maximised; a minimisation is stored negated).
    A:
        Constraint matrix, CSR, shape (n_rows, n_cols).
    row_lo, row_hi, col_lo, col_hi:
        Bounds; ``-inf`` / ``inf`` for none.
    integrality:
        int32 per column, 0 = continuous, 1 = integer (all 0 for the LP; a seam for MILP rules).
    row_names:
        One readable name per row, e.g. ``channel_spend[feed_ads]``.
    start:
        Optional guess of the optimum per column; a backend may use it as a warm start (HiGHS
        turns it into a starting basis) and must not trust it.
    """

    c: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integrality: np.ndarray
    row_names: tuple[str, ...] = ()
    start: np.ndarray | None = None

    @property
    def n_cols(self) -> int:
        """Number of variables."""
        return int(self.c.shape[0])

    @property
    def n_rows(self) -> int:
        """Number of constraint rows."""
        return int(self.A.shape[0])


@dataclass(frozen=True)
class Cells:
    """The decision cells (channel x segment x period), as parallel arrays.

    Attributes
    ----------
    channel, segment, period:
        Integer indices into the config's channels, segment names and period names.
    multiplier:
        Channel x segment x period response multiplier of the cell (dimensionless).
    upper:
        Largest spend (currency) the cell can take, implied by the limits; may be ``inf``.
    outer:
        The same without the channel's own cap (>= ``upper``). Pieces reach up to here so that a
        channel cap is held by its row alone and its shadow price lands on that row, not on
        piece bounds (a cap held twice makes the dual degenerate).
    curve:
        Index into :attr:`BudgetModel.curves` of the cell's curve: the channel's curve scaled to
        the cell's segment (equal to ``channel`` when the budget has no segments, or segments of
        equal share). Always pick a cell's curve with this, never with ``channel``.
    implicit_cap:
        True where ``upper`` is not a limit of the scenario but a cap the model chose for a
        min_spend plan without a total budget (see :func:`min_spend_caps`); a plan that reaches
        one is not proven optimal (:func:`implicit_cap_warning`).
    """

    channel: np.ndarray
    segment: np.ndarray
    period: np.ndarray
    multiplier: np.ndarray
    upper: np.ndarray
    outer: np.ndarray
    curve: np.ndarray
    implicit_cap: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of cells."""
        return int(self.channel.shape[0])


@dataclass(frozen=True)
class Pieces:
    """Linear pieces of every cell curve, sorted by cell then spend.

    Attributes
    ----------
    cell:
        Cell index of each piece.
    lo, hi:
        Spend range of the piece in the cell (currency).
    slope:
        Chord slope incl. the cell multiplier (response_unit per currency).
    """

    cell: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    slope: np.ndarray

    @property
    def n(self) -> int:
        """Number of pieces (= LP variables)."""
        return int(self.cell.shape[0])


@dataclass(frozen=True)
class RowGroup:
    """A family of rows, each cell belonging to at most one row of the family.

    Attributes
    ----------
    name:
        "total_budget", "channel_spend", "channel_response", "segment_spend", "period_spend",
        "target_response".
    kind:
        "spend" (row sums spend) or "response" (row sums response).
    cell_row:
        Row (within the group) of each cell, -1 when the cell is not in any row of the group.
    entities:
        Name of the entity of each row ("feed_ads", "2026-W01", "total").
    lo, hi:
        Row bounds (currency for spend rows, response_unit for response rows).
    """

    name: str
    kind: str
    cell_row: np.ndarray
    entities: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray


@dataclass(frozen=True)
class BudgetModel:
    """Everything the allocator needs: cells, curves, row groups and objective weights.

    ``resp_weight`` and ``spend_weight`` are the objective's (maximised) weights on a cell's
    response and spend: max_response (1, 0), max_profit (1, -1), min_spend (0, -1).

    ``curves`` holds the curve of each channel in each segment (:func:`optimizer.budget.curves.cell_curves`);
    ``cells.curve`` picks a cell's; ``curve_channel[k]`` is curve ``k``'s channel and ``curve_share[k]``
    the audience share it was scaled to (1 for a segment's own curve).

    Loop over curves as ``for k, curve in enumerate(model.curves): m = model.cells.curve == k``.
    """

    config: BudgetConfig
    curves: tuple[Curve, ...]
    cells: Cells
    groups: tuple[RowGroup, ...]
    resp_weight: float
    spend_weight: float
    segment_names: tuple[str, ...] = field(default=())
    period_names: tuple[str, ...] = field(default=())
    curve_channel: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    curve_share: np.ndarray = field(default_factory=lambda: np.ones(0))

    @property
    def is_budget_only(self) -> bool:
        """True when the only rows are the total budget (greedy water-filling is then exact)."""
        return all(g.name == "total_budget" for g in self.groups)


def build_model(config: BudgetConfig) -> BudgetModel:
    """Cells, curves and row groups of a budget config (no pieces yet)."""
    channels = config.channels
    seg_names = config.segment_names
    per_names = config.period_names
    n_c, n_s, n_p = len(channels), len(seg_names), len(per_names)
    amount = config.total_budget.amount if config.total_budget is not None else None

    # availability mask (channel, segment, period), then flatten to cells
    avail = np.ones((n_c, n_s, n_p), dtype=bool)
    seg_index = {n: i for i, n in enumerate(seg_names)}
    per_index = {n: i for i, n in enumerate(per_names)}
    for ci, ch in enumerate(channels):
        if ch.segments is not None:
            m = np.zeros(n_s, dtype=bool)
            m[[seg_index[s] for s in ch.segments]] = True
            avail[ci] &= m[:, None]
        if ch.periods is not None:
            m = np.zeros(n_p, dtype=bool)
            m[[per_index[p] for p in ch.periods]] = True
            avail[ci] &= m[None, :]
    c_idx, s_idx, p_idx = np.nonzero(avail)

    seg_mult = np.array([s.response_multiplier for s in config.segments]) if config.segments else np.ones(1)
    per_mult = np.array([p.response_multiplier for p in config.periods]) if config.periods else np.ones(1)
    ch_bounds = np.array([ch.spend_bounds(amount) for ch in channels], dtype=float).reshape(n_c, 2)
    seg_hi = np.array([s.max_spend if s.max_spend is not None else math.inf for s in config.segments]) if config.segments else np.full(1, math.inf)
    per_hi = np.array([p.max_spend if p.max_spend is not None else math.inf for p in config.periods]) if config.periods else np.full(1, math.inf)
    outer = np.minimum(seg_hi[s_idx], per_hi[p_idx])
    if amount is not None:
        outer = np.minimum(outer, amount)
    upper = np.minimum(ch_bounds[c_idx, 1], outer)
    ch_mult = np.array([ch.response_multiplier for ch in channels], dtype=float)
    curves, curve_channel, curve_share, curve_of = cell_curves(config)
    curve_idx = curve_of[c_idx, s_idx]
    mult = ch_mult[c_idx] * seg_mult[s_idx] * per_mult[p_idx]
    implicit = None
    if isinstance(config.objective, MinSpend) and amount is None:
        # "how much do I need": no budget caps the cells, so cap them where no optimal plan goes
        cap, implicit = min_spend_caps(config, curves, curve_idx, mult, ch_bounds[:, 0])
        open_cell = ~np.isfinite(upper)
        implicit = implicit & open_cell
        upper = np.where(open_cell, cap, upper)
        outer = np.where(np.isfinite(outer), outer, np.maximum(cap, upper))
    cells = Cells(c_idx, s_idx, p_idx, mult, upper, outer, curve_idx, implicit)

    groups: list[RowGroup] = []
    if config.total_budget is not None:
        lo = amount if config.total_budget.mode == "equal" else -math.inf
        groups.append(RowGroup("total_budget", "spend", np.zeros(cells.n, dtype=np.int64), ("total",),
                               np.array([lo]), np.array([amount])))
    # channel spend rows: only for channels with a binding-capable limit
    lo_c, hi_c = ch_bounds[:, 0], ch_bounds[:, 1]
    need = (lo_c > 0) | (np.isfinite(hi_c) & ((amount is None) | (hi_c < (amount or math.inf))))
    groups.extend(_group_by("channel_spend", "spend", need, cells.channel, [c.name for c in channels], lo_c,
                            np.where(np.isfinite(hi_c), hi_c, math.inf)))
    mr = np.array([c.min_response if c.min_response is not None else 0.0 for c in channels])
    groups.extend(_group_by("channel_response", "response", mr > 0, cells.channel, [c.name for c in channels],
                            mr, np.full(n_c, math.inf)))
    for name, items, idx in (("segment_spend", config.segments, cells.segment),
                             ("period_spend", config.periods, cells.period)):
        if not items:
            continue
        lo = np.array([x.min_spend or 0.0 for x in items])
        hi = np.array([x.max_spend if x.max_spend is not None else math.inf for x in items])
        groups.extend(_group_by(name, "spend", (lo > 0) | np.isfinite(hi), idx, [x.name for x in items], lo, hi))
    obj = config.objective
    if isinstance(obj, MinSpend):
        groups.append(RowGroup("target_response", "response", np.zeros(cells.n, dtype=np.int64), ("total",),
                               np.array([obj.target_response]), np.array([math.inf])))
    weights = {MaxResponse: (1.0, 0.0), MaxProfit: (1.0, -1.0), MinSpend: (0.0, -1.0)}[type(obj)]
    return BudgetModel(config, curves, cells, tuple(groups), weights[0], weights[1], tuple(seg_names),
                       tuple(per_names), curve_channel, curve_share)


def _group_by(name: str, kind: str, need: np.ndarray, entity_of_cell: np.ndarray, entity_names: list[str],
              lo: np.ndarray, hi: np.ndarray) -> list[RowGroup]:
    """A RowGroup with one row per entity flagged in ``need`` (none when nothing is flagged)."""
    if not need.any():
        return []
    row_of_entity = np.full(len(need), -1, dtype=np.int64)
    row_of_entity[need] = np.arange(int(need.sum()))
    names = tuple(n for n, k in zip(entity_names, need) if k)
    if kind == "spend":
        lo = np.where(lo > 0, lo, -math.inf)  # spend is >= 0 anyway: a 0 minimum is no row bound
    return [RowGroup(name, kind, row_of_entity[entity_of_cell], names, lo[need].astype(float), hi[need].astype(float))]


def initial_pieces(model: BudgetModel, n_pieces: int, hint: np.ndarray | None = None) -> Pieces:
    """Chord pieces of every cell: exact knots for linear/table curves, ``n_pieces`` otherwise.

    ``hint`` (estimated optimal spend per cell, see :mod:`optimizer.budget.estimate`) centres
    the breakpoints of a nonlinear cell geometrically on it (from hint/8 to hint*8), where the
    chord error matters; cells without a hint get quadratic spacing on [0, upper].
    """
    cells = model.cells
    parts = []
    for ci, curve in enumerate(model.curves):
        idx = np.nonzero(cells.curve == ci)[0]
        if idx.size == 0:
            continue
        up = cells.upper[idx]
        if curve.kind == "linear":
            lo = np.zeros((idx.size, 1))
            hi = up[:, None]
        elif curve.kind == "table":
            kx = curve.knots_x
            edges = np.concatenate([kx, [np.inf]])
            lo = np.broadcast_to(edges[:-1], (idx.size, kx.size)).copy()
            hi = np.broadcast_to(edges[1:], (idx.size, kx.size)).copy()
            hi = np.minimum(hi, up[:, None])
        else:
            if not np.all(np.isfinite(up)):
                bad = model.config.channels[model.curve_channel[ci]].name
                from optimizer.errors import ScenarioError

                raise ScenarioError(
                    f"channel {bad!r} has a {curve.kind} curve but no spend cap; add max_spend to it, "
                    "a total_budget, or a max_spend on its segments or periods."
                )
            q = (np.arange(n_pieces + 1) / n_pieces) ** 2
            pts = up[:, None] * q[None, :]
            if hint is not None and n_pieces >= 3:
                h = hint[idx]
                ok = np.isfinite(h) & (h > 0)
                geo = np.geomspace(1 / 8, 8, n_pieces - 1)
                around = np.concatenate([np.zeros((idx.size, 1)), h[:, None] * geo[None, :], up[:, None]], axis=1)
                pts = np.where(ok[:, None], np.minimum(around, up[:, None]), pts)
            lo, hi = pts[:, :-1], pts[:, 1:]
        keep = hi > lo
        cell = np.broadcast_to(idx[:, None], lo.shape)[keep]
        parts.append((cell, lo[keep], hi[keep]))
        # one more piece from the channel cap to the outer limit (see Cells.outer)
        out = cells.outer[idx]
        extra = np.isfinite(out) & (out > up) & np.isfinite(up)
        if curve.kind == "table":
            extra &= up < kx[-1]  # beyond the table the slope is 0 anyway
        if extra.any():
            parts.append((idx[extra], up[extra], out[extra]))
    if not parts:
        empty = np.zeros(0)
        return Pieces(np.zeros(0, dtype=np.int64), empty, empty, empty)
    cell = np.concatenate([p[0] for p in parts])
    lo = np.concatenate([p[1] for p in parts])
    hi = np.concatenate([p[2] for p in parts])
    return make_pieces(model, cell, lo, hi)


def make_pieces(model: BudgetModel, cell: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Pieces:
    """Sort pieces by (cell, lo) and compute chord slopes (multiplier included)."""
    same = cell[1:] == cell[:-1]
    if not (np.all(cell[1:] >= cell[:-1]) and np.all(~same | (lo[1:] > lo[:-1]))):  # refine keeps order
        order = np.lexsort((lo, cell))
        cell, lo, hi = cell[order], lo[order], hi[order]
    slope = np.empty_like(lo)
    ch = model.cells.curve[cell]
    # one pass per curve over a curve-sorted view (a boolean mask per curve costs n each)
    by_channel = np.argsort(ch, kind="stable")
    bounds = np.searchsorted(ch[by_channel], np.arange(len(model.curves) + 1))
    for ci, curve in enumerate(model.curves):
        m = by_channel[bounds[ci]:bounds[ci + 1]]
        if m.size == 0:
            continue
        a, b = lo[m], hi[m]
        if curve.kind == "linear":
            s = np.full(a.shape, curve.params[0])
        else:
            fin = np.isfinite(b)
            bb = np.where(fin, b, a + 1.0)
            s = (curve.value(bb) - curve.value(a)) / (bb - a)
            s = np.where(fin, s, 0.0)  # a table's flat tail
        slope[m] = s
    slope *= model.cells.multiplier[cell]
    return Pieces(cell.astype(np.int64), lo, hi, slope)


def refine_pieces(model: BudgetModel, pieces: Pieces, x_cell: np.ndarray, split: int = 8) -> Pieces:
    """Split, into ``split`` equal parts, each nonlinear piece that holds or touches its cell's spend.

    The chord error that matters is the one at the optimum; refining only there keeps the LP
    small while the certified gap shrinks about ``split**2``-fold per round. Runs of nonlinear
    pieces away from the spend (not marked, not next to a marked piece) are merged into one chord:
    the chord value at the spend depends only on the breakpoints around it, so merging far pieces
    keeps the LP's value at the current plan while the piece count per cell stays about constant.
    """
    x = x_cell[pieces.cell]
    tol = 1e-9 * np.maximum(pieces.hi, 1.0)
    nonlinear = np.array([not c.is_piecewise_linear for c in model.curves])[model.cells.curve[pieces.cell]]
    mark = nonlinear & (pieces.lo <= x + tol) & (x <= pieces.hi + tol)
    pieces, mark = _merge_far(pieces, mark, nonlinear)
    reps = np.where(mark, split, 1)
    cell = np.repeat(pieces.cell, reps)
    lo0 = np.repeat(pieces.lo, reps)
    w = np.repeat((pieces.hi - pieces.lo) / reps, reps)
    start = np.cumsum(reps) - reps
    k = np.arange(cell.size) - np.repeat(start, reps)
    lo = lo0 + k * w
    hi = np.where(k == np.repeat(reps, reps) - 1, np.repeat(pieces.hi, reps), lo0 + (k + 1) * w)
    return make_pieces(model, cell, lo, hi)  # slopes recomputed for merged and split pieces


def _merge_far(pieces: Pieces, mark: np.ndarray, nonlinear: np.ndarray) -> tuple[Pieces, np.ndarray]:
    """Merge consecutive nonlinear pieces of a cell that are neither marked nor next to a marked one."""
    n = pieces.n
    if n == 0:
        return pieces, mark
    same_prev = np.concatenate([[False], pieces.cell[1:] == pieces.cell[:-1]])
    same_next = np.concatenate([pieces.cell[:-1] == pieces.cell[1:], [False]])
    near = mark | (np.concatenate([[False], mark[:-1]]) & same_prev) | (np.concatenate([mark[1:], [False]]) & same_next)
    keep = near | ~nonlinear
    # a new merged piece starts at every kept piece, after a kept piece, and at every new cell
    starts = keep | ~same_prev | np.concatenate([[True], keep[:-1]])
    if starts.all():
        return pieces, mark
    first = np.flatnonzero(starts)
    last = np.concatenate([first[1:] - 1, [n - 1]])
    merged = Pieces(pieces.cell[first], pieces.lo[first], pieces.hi[last], pieces.slope[first])
    return merged, mark[first] & (first == last)


def build_lp(model: BudgetModel, pieces: Pieces, x_guess: np.ndarray | None = None
             ) -> tuple[LPProblem, list[tuple[RowGroup, int]]]:
    """The LP on chords; also the (group, first row) offsets of each row group.

    ``x_guess`` (spend per cell) becomes the LP's ``start``: each piece filled up to the guess.
    """
    rows, cols, vals, lo, hi, names = [], [], [], [], [], []
    offsets = []
    r0 = 0
    for g in model.groups:
        rid = g.cell_row[pieces.cell]
        m = rid >= 0
        cols.append(np.nonzero(m)[0])
        rows.append(rid[m] + r0)
        vals.append(np.ones(int(m.sum())) if g.kind == "spend" else pieces.slope[m])
        lo.append(g.lo)
        hi.append(g.hi)
        names.extend(f"{g.name}[{e}]" for e in g.entities)
        offsets.append((g, r0))
        r0 += len(g.entities)
    n = pieces.n
    if r0:
        A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n))
        row_lo, row_hi = np.concatenate(lo), np.concatenate(hi)
    else:
        A = sp.csr_matrix((0, n))
        row_lo = row_hi = np.zeros(0)
    c = model.resp_weight * pieces.slope + model.spend_weight
    problem = LPProblem(c=c, A=A, row_lo=row_lo, row_hi=row_hi, col_lo=np.zeros(n), col_hi=pieces.hi - pieces.lo,
                        integrality=np.zeros(n, dtype=np.int32), row_names=tuple(names),
                        start=None if x_guess is None else np.clip(x_guess[pieces.cell] - pieces.lo, 0.0, pieces.hi - pieces.lo))
    return problem, offsets
