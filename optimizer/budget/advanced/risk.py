"""Planning under curve uncertainty: maximise expected response or CVaR over parameter draws (an LP).

Each channel with draws has S curves (e.g. MMM posterior samples): concave Hill draws, or ``table``
draws (straight lines from (0, 0) through measured points, flat after the last one, as a Meridian
posterior draw imported by ``dmpopt curves import``); channels without draws keep their curve in every
draw. A draw is the whole audience's curve; in a segment of audience share ``s`` it is ``s f(x / s)``.
For draw s the plan's response ``R_s(x) = sum_i f_{s,i}(x_i)`` is put on chord pieces ``y_{s,i,k}``
with ``sum_k y_{s,i,k} = x_i``. Rockafellar-Uryasev:

    CVaR_alpha = max_eta  eta - 1/(alpha S) sum_s max(eta - R_s, 0)

(the mean of the worst ``alpha`` share of draws), so maximising CVaR over plans is the LP
``max eta - 1/(alpha S) sum_s u_s`` with ``u_s >= eta - R_s``, ``u_s >= 0``. ``alpha = 1`` (or
objective "expected") maximises the mean ``1/S sum_s R_s``. Curves must be concave (chords then
under-estimate every R_s, and the LP fills pieces in order). The reported figures are on the TRUE
curves: the plan's response under each draw, its mean, CVaR and quantiles.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from optimizer.budget.advanced.formulation import core_config
from optimizer.budget.report import marginal_roi_sentences
from optimizer.budget.results import BudgetResult, RiskResult, certified_status, gap_warning, plan_tables
from optimizer.budget.advanced.schema import AdvancedBudget
from optimizer.budget.advanced.scurve import breakpoints, chord_error
from optimizer.budget.advanced.solve import solve
from optimizer.budget.allocation import budget_amount, relative_gap
from optimizer.budget.backends.base import SolveStatus
from optimizer.budget.curves import Curve, curve_of_response
from optimizer.budget.problem import LPProblem, build_model


def cvar_of(values: np.ndarray, level: float) -> float:
    """Mean of the worst ``level`` share of ``values`` (fractional weight on the boundary draw)."""
    v = np.sort(np.asarray(values, dtype=float))
    k = level * v.size
    full = int(math.floor(k + 1e-12))
    total = v[:full].sum() + (k - full) * (v[full] if full < v.size else 0.0)
    return float(total / k)


def draw_curves(cfg: AdvancedBudget, model) -> list[list[Curve]]:
    """``curves[s][k]``: curve k of the model (one per channel x segment, ``cells.curve``) in draw s."""
    unc = cfg.advanced.uncertainty
    by = {cd.channel: cd.draws for cd in unc.channels}
    n_s = len(unc.channels[0].draws)
    out = []
    for s in range(n_s):
        row = []
        for ci, core in enumerate(model.curves):
            ch = cfg.channels[int(model.curve_channel[ci])]
            if ch.name in by:
                d = by[ch.name][s]  # a draw of the whole audience's curve, scaled to the segment
                draw = (curve_of_response(d) if d.kind == "table"
                        else Curve("hill", (d.max_response, d.half_saturation_spend, d.shape)))
                row.append(draw.scaled(float(model.curve_share[ci])))
            else:
                row.append(core)
        out.append(row)
    return out


#: Most re-solves with finer pieces when the chord error keeps the certified gap above the target.
MAX_TOLERANCE_ROUNDS = 2


def allocate_risk(cfg: AdvancedBudget, currency: str | None = None, solver: str = "highs") -> BudgetResult:
    """Plan for the expected response or CVaR over the draws in ``cfg.advanced.uncertainty``.

    The certified gap is the LP's chord error (worst draw); while it is above the target
    (``gap_tolerance_relative``), the pieces are cut finer and the LP solved again (at most
    :data:`MAX_TOLERANCE_ROUNDS` times), so a plan is ``optimal`` only when the target is met.
    """
    t0 = time.perf_counter()
    tol = cfg.advanced.curve_tolerance_relative
    target = cfg.gap_tolerance_relative
    for _ in range(MAX_TOLERANCE_ROUNDS + 1):
        result = _allocate_risk_once(cfg, currency, solver, tol, t0)
        gap = result.optimality_gap
        if not result.has_plan or gap <= target or not math.isfinite(gap):
            break
        tol *= max(0.05, min(0.5, 0.5 * target / gap))
    return result


def _allocate_risk_once(cfg: AdvancedBudget, currency: str | None, solver: str, tol: float, t0: float) -> BudgetResult:
    """One LP over the draws with pieces cut to chord tolerance ``tol``."""
    unc = cfg.advanced.uncertainty
    model = build_model(core_config(cfg))
    cells = model.cells
    n = cells.n
    curves = draw_curves(cfg, model)
    S = len(curves)
    alpha = 1.0 if unc.objective == "expected" else unc.cvar_level
    # pieces per draw
    pc, plo, phi, pslope, pdraw, err_cell_draw = [], [], [], [], [], np.zeros((S, n))
    for s in range(S):
        for ci, curve in enumerate(curves[s]):
            cidx = np.nonzero(cells.curve == ci)[0]
            if cidx.size == 0:
                continue
            dom = cells.upper[cidx]
            b = breakpoints(curve, float(dom.max()), tol)
            lo = np.broadcast_to(b[:-1], (cidx.size, b.size - 1))
            hi = np.minimum(b[1:][None, :], dom[:, None])
            keep = hi > lo
            cc = np.broadcast_to(cidx[:, None], lo.shape)[keep]
            a, bb = lo[keep], hi[keep]
            fin = np.isfinite(bb)
            bbf = np.where(fin, bb, a + 1.0)
            sl = curve.params[0] * np.ones(a.size) if curve.kind == "linear" else (curve.value(bbf) - curve.value(a)) / (bbf - a)
            e = np.where(fin, chord_error(curve, a, np.where(fin, bb, a)), 0.0) * cells.multiplier[cc]
            np.maximum.at(err_cell_draw[s], cc, e)
            pc.append(cc); plo.append(a); phi.append(bb); pslope.append(sl * cells.multiplier[cc]); pdraw.append(np.full(cc.size, s))
    piece_cell = np.concatenate(pc)
    width = np.concatenate(phi) - np.concatenate(plo)
    slope = np.concatenate(pslope)
    draw = np.concatenate(pdraw)
    P = piece_cell.size
    # columns: x (n) | y (P) | eta (1) | u (S)
    y0, eta, u0 = n, n + P, n + P + 1
    ncol = u0 + S
    r, c, v, lo, hi, names = [], [], [], [], [], []
    nr = 0
    # links: sum_k y_{s,i,k} - x_i = 0, one row per (s, i)
    link = draw * n + piece_cell
    r += [link, np.repeat(np.arange(S), n) * n + np.tile(np.arange(n), S)]
    c += [y0 + np.arange(P), np.tile(np.arange(n), S)]
    v += [np.ones(P), -np.ones(S * n)]
    lo.append(np.zeros(S * n)); hi.append(np.zeros(S * n)); nr += S * n
    # u_s - eta + R_s >= 0
    r += [nr + draw, nr + np.arange(S), nr + np.arange(S)]
    c += [y0 + np.arange(P), np.full(S, eta), u0 + np.arange(S)]
    v += [slope, -np.ones(S), np.ones(S)]
    lo.append(np.zeros(S)); hi.append(np.full(S, math.inf)); nr += S
    budget_row = -1
    for g in model.groups:
        m = g.cell_row >= 0
        if g.kind == "spend":
            r.append(nr + g.cell_row[m]); c.append(np.nonzero(m)[0]); v.append(np.ones(int(m.sum())))
        else:  # response rows: must hold in expectation (mean over draws)
            rid = g.cell_row[piece_cell]
            mm = rid >= 0
            r.append(nr + rid[mm]); c.append(y0 + np.nonzero(mm)[0]); v.append(slope[mm] / S)
        if g.name == "total_budget":
            budget_row = nr
        lo.append(g.lo); hi.append(g.hi); nr += len(g.entities)
    A = sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(nr, ncol))
    cost = np.zeros(ncol)
    cost[eta] = 1.0
    cost[u0:] = -1.0 / (alpha * S)
    cost[:n] = model.spend_weight  # max_profit subtracts spend
    col_lo = np.r_[np.zeros(n + P), -math.inf, np.zeros(S)]
    col_hi = np.r_[np.maximum(cells.upper, 0.0), width, math.inf, np.full(S, math.inf)]
    problem = LPProblem(cost, A, np.concatenate(lo), np.concatenate(hi), col_lo, col_hi,
                        np.zeros(ncol, dtype=np.int32), tuple(f"r{i}" for i in range(nr)))
    sol = solve(problem, solver, 1e-9, cfg.advanced.time_limit_seconds)
    if not sol.has_point:
        from optimizer.budget.advanced.allocate import _no_plan
        from optimizer.budget.advanced.formulation import build

        plain = cfg.model_copy(update={"advanced": cfg.advanced.model_copy(update={"uncertainty": None})})
        return _no_plan(plain, build(plain), sol, currency, time.perf_counter() - t0)
    x = np.maximum(sol.x[:n], 0.0)
    resp_draw = np.zeros((S, n))
    for s in range(S):
        for ci, curve in enumerate(curves[s]):
            m = cells.curve == ci
            resp_draw[s, m] = curve.value(x[m]) * cells.multiplier[m]
    R = resp_draw.sum(axis=1)
    value = cvar_of(R, alpha) + model.spend_weight * float(x.sum())
    # bound: LP optimum on chords + worst-case chord error (for each draw R_s <= chord R_s + E_s)
    upper = sol.bound + float(err_cell_draw.sum(axis=1).max())
    gap = relative_gap(value, upper)
    mean = float(R.mean())
    risk = RiskResult(unc.objective, alpha if unc.objective == "cvar" else unc.cvar_level, mean,
                      cvar_of(R, unc.cvar_level), {f"q{int(q * 100):02d}": float(np.quantile(R, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
                      tuple(float(v_) for v_ in R))
    ch_names = np.array([ch.name for ch in cfg.channels], dtype=object)
    mean_cell = resp_draw.mean(axis=0)
    slope_draw = np.zeros((S, n))
    for s in range(S):
        for ci, curve in enumerate(curves[s]):
            m = cells.curve == ci
            slope_draw[s, m] = np.nan_to_num(curve.slope(x[m]), posinf=np.inf) * cells.multiplier[m]
    cpu = np.array([ch.cost_per_unit if ch.cost_per_unit is not None else np.nan for ch in cfg.channels])
    alloc, totals = plan_tables(
        channel_names=list(ch_names), segment_names=model.segment_names, period_names=model.period_names,
        cell_channel=cells.channel, cell_segment=cells.segment, cell_period=cells.period, spend=x,
        response=mean_cell, marginal=slope_draw.mean(axis=0), cost_per_unit=cpu, budget=budget_amount(cfg))
    target = cfg.gap_tolerance_relative
    status = certified_status(gap, target, sol.status == SolveStatus.OPTIMAL)
    warnings = () if gap <= target else (gap_warning(gap, target),)
    return BudgetResult(
        status=status, objective_name=cfg.objective.kind, objective_value=value, bound=upper,
        optimality_gap=gap, mip_gap=0.0, total_spend=float(x.sum()), setup_cost=0.0, total_response=mean,
        allocations=alloc, channel_totals=totals, warnings=warnings, solver=sol.solver,
        solver_version=sol.solver_version, method="risk", n_variables=ncol, n_integer=0, n_rows=nr,
        time_seconds=time.perf_counter() - t0, currency=currency, response_unit=cfg.response_unit, risk=risk,
        marginal_roi_text=marginal_roi_sentences(totals, cfg.response_unit, currency), gap_target=target,
        details={"n_draws": S, "budget_row": budget_row},
    )
