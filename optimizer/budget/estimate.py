"""A quick estimate of each cell's optimal spend, used to place the first breakpoints.

Solves the problem with only its budget (or response target) kept, on the true curves, by one
price: each cell spends where its marginal response equals the price (``x(t) = f'^-1(t)``, read
off a log-spaced slope table per channel), and the price is bisected until the budget (or the
target) is met. The answer only places breakpoints; the certified gap decides quality, so an
estimate that is off merely costs a refinement round.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.budget.config import MinSpend
from optimizer.budget.problem import BudgetModel

_GRID = 600


def _inverse_tables(model: BudgetModel) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """curve -> (slopes ascending, spend) so that ``np.interp(t, slopes, spend)`` ~ f'^-1(t)."""
    out = {}
    # largest finite cell cap per curve, in one pass (a mask per curve costs n_curves x n_cells)
    cells = model.cells
    fin = np.isfinite(cells.upper)
    tops = np.zeros(len(model.curves))
    np.maximum.at(tops, cells.curve[fin], cells.upper[fin])
    for ci, curve in enumerate(model.curves):
        if curve.is_piecewise_linear:
            continue
        top = float(tops[ci])
        if top <= 0:
            continue
        xs = np.geomspace(top * 1e-9, top, _GRID)
        sl = curve.slope(xs)
        out[ci] = (sl[::-1], xs[::-1])
    return out


def estimate_spend(model: BudgetModel) -> np.ndarray:
    """Estimated optimal spend per cell (currency); nan for linear/table cells."""
    cells = model.cells
    tables = _inverse_tables(model)
    est = np.full(cells.n, np.nan)
    if not tables:
        return est
    sel = np.isin(cells.curve, list(tables))
    idx = np.nonzero(sel)[0]
    mult = cells.multiplier[idx]
    up = cells.upper[idx]
    ch = cells.curve[idx]
    # positions of each curve's cells, found once (both functions run ~60 times in the bisections)
    order = np.argsort(ch, kind="stable")
    keys = np.array(sorted(tables))
    starts = np.searchsorted(ch[order], keys, side="left")
    ends = np.searchsorted(ch[order], keys, side="right")
    where = {int(k): order[a:b] for k, a, b in zip(keys, starts, ends)}

    def spend_at(t_cell: np.ndarray) -> np.ndarray:
        x = np.empty_like(t_cell)
        for ci, (sl, xs) in tables.items():
            m = where[ci]
            x[m] = np.interp(t_cell[m], sl, xs, left=xs[0], right=0.0)
        return np.minimum(x, up)

    def response_at(x: np.ndarray) -> float:
        total = 0.0
        for ci in tables:
            m = where[ci]
            total += float((model.curves[ci].value(x[m]) * mult[m]).sum())
        return total

    cfg = model.config
    if isinstance(cfg.objective, MinSpend):
        # price mu on response: cell spends where mu * m * f'(x) = 1; more mu -> more response
        target = cfg.objective.target_response
        lo, hi = -30.0, 30.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if response_at(spend_at(1.0 / (math.exp(mid) * mult))) < target:
                lo = mid
            else:
                hi = mid
        est[idx] = spend_at(1.0 / (math.exp(hi) * mult))
        return est
    amount = cfg.total_budget.amount if cfg.total_budget is not None else math.inf
    base = -model.spend_weight  # profit: a cell needs m f' >= 1 before any budget price
    x0 = spend_at((base + 1e-12) / mult)
    if x0.sum() <= amount:
        est[idx] = x0
        return est
    lo, hi = -30.0, 30.0  # log of the budget price
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if spend_at((base + math.exp(mid)) / mult).sum() > amount:
            lo = mid
        else:
            hi = mid
    est[idx] = spend_at((base + math.exp(hi)) / mult)
    return est


# ---- model size, estimated before anything big is built (issue #10, defect 11) ----------------------

#: Largest model (estimated bytes, build + solver copies) a plan may build; above it the plan is refused
#: with the estimate and what to change (docs/budget-maths.md, "Model size").
MAX_MODEL_BYTES = 4 * 2**30

#: Bytes per LP column (objective, bounds, piece arrays, the solver's copies and work vectors) and per
#: nonzero (row index + value, held about three times: our matrix, the solver's, its factor), measured
#: order of magnitude on HiGHS 1.12 (docs/performance-budget-advanced.md).
BYTES_PER_COLUMN = 200
BYTES_PER_NONZERO = 48

#: Pieces a refinement round adds around the plan in each cell (8-way split of up to 2 pieces).
REFINEMENT_PIECES_PER_CELL = 16


class ModelSize:
    """Estimated size of an LP/MILP: variables, rows, nonzeros and bytes."""

    def __init__(self, n_variables: int, n_rows: int, n_nonzeros: int) -> None:
        self.n_variables = int(n_variables)
        self.n_rows = int(n_rows)
        self.n_nonzeros = int(n_nonzeros)

    @property
    def bytes(self) -> int:
        """Estimated memory (bytes) to build and solve the model."""
        return BYTES_PER_COLUMN * (self.n_variables + self.n_rows) + BYTES_PER_NONZERO * self.n_nonzeros

    def text(self) -> str:
        """"52,000,000 variables, 52,100 rows, 104,000,000 nonzeros, about 15.3 GiB"."""
        return (f"{self.n_variables:,} variables, {self.n_rows:,} rows, {self.n_nonzeros:,} nonzeros, "
                f"about {self.bytes / 2**30:.1f} GiB")


def check_size(size: ModelSize, what: str, fix: str) -> None:
    """Raise :class:`~optimizer.errors.ScenarioError` (exit 1) when ``size`` exceeds :data:`MAX_MODEL_BYTES`."""
    if size.bytes <= MAX_MODEL_BYTES:
        return
    from optimizer.errors import ScenarioError

    raise ScenarioError(
        f"{what} would need {size.text()}; the limit is {MAX_MODEL_BYTES / 2**30:.0f} GiB "
        f"(optimizer.budget.estimate.MAX_MODEL_BYTES). Suggestion: {fix}")


def lp_size(model: BudgetModel, pieces_per_curve: int) -> ModelSize:
    """Estimated size of the refined chord LP of the core allocator (before any piece is built)."""
    cells = model.cells
    per_curve = np.array([1 if c.kind == "linear" else (c.knots_x.size if c.kind == "table"
                          else pieces_per_curve + REFINEMENT_PIECES_PER_CELL) for c in model.curves])
    cols = int(per_curve[cells.curve].sum()) if cells.n else 0
    n_rows = sum(len(g.entities) for g in model.groups)
    groups_per_cell = np.zeros(cells.n)
    for g in model.groups:
        groups_per_cell += g.cell_row >= 0
    nnz = int((per_curve[cells.curve] * groups_per_cell).sum()) if cells.n else 0
    return ModelSize(cols, n_rows, nnz)
