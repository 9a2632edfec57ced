"""Explain an infeasible budget in money: which limits conflict and by how much.

Two stages. First the obvious conflicts, from the config alone (sum of channel minimums vs the
budget, an exact budget vs what the channels can absorb, period and segment limits, response
minimums a channel cannot reach). Then, for anything else, an *elastic* LP that lets every row
stretch at a cost of one per currency (or response) unit: its optimum is the smallest total
change of limits that makes the plan feasible, and the rows it stretches are the conflict. A
deletion filter over the rows then names a minimal conflicting set (each row of it is needed for
the conflict). Money is in the scenario currency.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from optimizer.budget.backends import get_backend
from optimizer.budget.backends.base import SolveStatus
from optimizer.budget.config import MaxResponse, MinSpend
from optimizer.budget.money import money, response_text
from optimizer.budget.problem import BudgetModel, LPProblem, build_lp, initial_pieces

#: Deletion filter runs only up to this many rows (one LP solve per row).
MAX_ROWS_FOR_DELETION_FILTER = 300


def explain_infeasible(model: BudgetModel, currency: str | None, solver: str | None = None,
                       pieces=None) -> tuple[str, ...]:
    """Sentences that explain why no plan meets every limit, each with the money to fix it."""
    found = obvious_conflicts(model, currency)
    if found:
        return tuple(found)
    return tuple(elastic_explanation(model, currency, solver, pieces))


def explain_unbounded(model: BudgetModel, currency: str | None) -> tuple[str, ...]:
    """Why the objective can grow without limit."""
    uncapped = [c.name for c in model.config.channels if not math.isfinite(c.spend_bounds(None)[1])]
    return (
        "the objective can grow without limit: spend can increase forever and keep paying"
        + (f" (channels without a cap: {', '.join(uncapped)})" if uncapped else "")
        + ". Add a total_budget or a max_spend on those channels.",
    )


def obvious_conflicts(model: BudgetModel, currency: str | None) -> list[str]:
    """Conflicts visible in the config's numbers, as planner sentences (empty when none)."""
    cfg = model.config
    m = lambda v: money(v, currency, compact=True)  # noqa: E731 - local shorthand
    amount = cfg.total_budget.amount if cfg.total_budget is not None else math.inf
    equal = cfg.total_budget is not None and cfg.total_budget.mode == "equal"
    bounds = np.array([c.spend_bounds(cfg.total_budget.amount if cfg.total_budget else None) for c in cfg.channels])
    lo_c, hi_c = bounds[:, 0], bounds[:, 1]
    cells = model.cells
    reach_c = np.bincount(cells.channel, weights=np.where(np.isfinite(cells.upper), cells.upper, 1e300),
                          minlength=len(cfg.channels))
    # what the segment / period caps alone let a channel spend (its own caps are checked separately)
    seg_hi = np.array([x.max_spend if x.max_spend is not None else math.inf for x in cfg.segments]
                      if cfg.segments else [math.inf])
    per_hi = np.array([x.max_spend if x.max_spend is not None else math.inf for x in cfg.periods]
                      if cfg.periods else [math.inf])
    room = np.minimum(seg_hi[cells.segment], per_hi[cells.period])
    room_c = np.bincount(cells.channel, weights=np.where(np.isfinite(room), room, 1e300), minlength=len(cfg.channels))
    cap_c = np.minimum(hi_c, reach_c)
    out: list[str] = []
    budget_amount = cfg.total_budget.amount if cfg.total_budget is not None else None
    for ch in cfg.channels:
        out.extend(_own_limit_conflicts(ch, budget_amount, m))
    if lo_c.sum() > amount * (1 + 1e-12):
        frozen = sum(c.frozen_spend for c in cfg.channels if c.frozen_spend is not None)
        extra = f" (frozen channels alone take {m(frozen)})" if frozen else ""
        out.append(
            f"channel minimums need {m(lo_c.sum())}{extra}, the budget is {m(amount)}: raise the budget by "
            f"{m(lo_c.sum() - amount)} or lower the minimums ({_top(cfg.channels, lo_c, currency)})."
        )
    if equal and cap_c.sum() < amount * (1 - 1e-12):
        out.append(
            f"the budget must be spent exactly ({m(amount)}) but the channels can absorb at most "
            f"{m(cap_c.sum())}: raise channel caps by {m(amount - cap_c.sum())}, lower the budget, or set "
            "total_budget.mode to at_most."
        )
    for ci, ch in enumerate(cfg.channels):
        if lo_c[ci] > room_c[ci] * (1 + 1e-12):
            frozen = ch.frozen_spend is not None and ch.frozen_spend >= lo_c[ci]
            what = f"frozen_spend {m(ch.frozen_spend)}" if frozen else f"at least {m(lo_c[ci])}"
            out.append(
                f"channel {ch.name} needs {what} but {_reach_text(ch, cfg)} allow at most {m(room_c[ci])}: lower "
                f"{'frozen_spend' if frozen else 'its minimum'} by {m(lo_c[ci] - room_c[ci])} or raise those caps."
            )
    for key, items, idx in (("period", cfg.periods, cells.period), ("segment", cfg.segments, cells.segment)):
        if not items:
            continue
        lo = np.array([x.min_spend or 0.0 for x in items])
        hi = np.array([x.max_spend if x.max_spend is not None else math.inf for x in items])
        if lo.sum() > amount * (1 + 1e-12):
            out.append(f"{key} minimums need {m(lo.sum())}, the budget is {m(amount)}: raise the budget by "
                       f"{m(lo.sum() - amount)} or lower the {key} minimums.")
        if equal and hi.sum() < amount * (1 - 1e-12):
            out.append(f"the budget must be spent exactly ({m(amount)}) but the {key} budgets total "
                       f"{m(hi.sum())}: raise them by {m(amount - hi.sum())} or set total_budget.mode to at_most.")
        if np.isfinite(hi).all() and lo_c.sum() > hi.sum() * (1 + 1e-12):
            out.append(f"channel minimums need {m(lo_c.sum())} but the {key} budgets total {m(hi.sum())}: "
                       f"raise the {key} budgets by {m(lo_c.sum() - hi.sum())} or lower the channel minimums.")
        reach = np.bincount(idx, weights=np.where(np.isfinite(cells.upper), cells.upper, 1e300), minlength=len(items))
        for k, item in enumerate(items):
            if lo[k] > reach[k] * (1 + 1e-12):
                out.append(f"{key} {item.name} needs at least {m(lo[k])} but its channels can take at most "
                           f"{m(reach[k])} there: lower its minimum by {m(lo[k] - reach[k])} or raise channel caps.")
    for ci, ch in enumerate(cfg.channels):
        if not ch.min_response:
            continue
        sel = np.nonzero(cells.channel == ci)[0]
        up = cells.upper[sel]
        # an upper bound on what the channel can deliver: every cell at its own cap ...
        best = 0.0
        for k in np.unique(cells.curve[sel]):
            m = sel[cells.curve[sel] == k]
            best += float((model.curves[k].value(np.where(np.isfinite(cells.upper[m]), cells.upper[m], 0.0))
                           * cells.multiplier[m]).sum())
        if not np.isfinite(up).all():
            best = math.inf
        # ... and, for a straight line, the channel cap spent in its best cell
        if model.config.channels[ci].response.kind == "linear" and math.isfinite(cap_c[ci]) and sel.size:
            if all(model.curves[k].kind == "linear" for k in np.unique(cells.curve[sel])):
                slopes = np.array([model.curves[k].params[0] for k in cells.curve[sel]]) * cells.multiplier[sel]
                best = min(best, cap_c[ci] * float(slopes.max(initial=0.0)))
        if best < ch.min_response * (1 - 1e-12):
            ru = cfg.response_unit
            out.append(f"channel {ch.name} must deliver {response_text(ch.min_response, ru, currency, True)} but "
                       f"can deliver at most {response_text(best, ru, currency, True)} within its caps: lower "
                       f"min_response by at least {response_text(ch.min_response - best, ru, currency, True)} or raise "
                       "its caps.")
            # "at least": ``best`` puts every cell at its own cap, an upper bound when a total cap on the
            # channel binds across periods or segments (exact for one cell and for a straight line)
    if isinstance(cfg.objective, MinSpend) and not out:
        out.extend(_target_unreachable(model, currency))
    return out


def _target_unreachable(model: BudgetModel, currency: str | None) -> list[str]:
    """For min_spend: compare the target with the most response any plan within the limits reaches."""
    from optimizer.budget.allocation import allocate

    cfg = model.config
    probe = cfg.model_copy(update={"objective": MaxResponse(kind="max_response")})
    try:
        res = allocate(probe, solver="highs")
    except Exception:  # noqa: BLE001 - the probe is advisory; fall back to the elastic LP
        return []
    if res.status not in ("optimal", "feasible"):
        return []
    target = cfg.objective.target_response
    best = max(res.objective_value, res.bound if math.isfinite(res.bound) else res.objective_value)
    if best >= target:
        return []
    ru = cfg.response_unit
    return [f"the target response {response_text(target, ru, currency, True)} cannot be reached: the most any plan "
            f"within the limits delivers is {response_text(res.objective_value, ru, currency, True)} (spending "
            f"{money(res.total_spend, currency, True)}). Lower the target by "
            f"{response_text(target - res.objective_value, ru, currency, True)} or raise the budget and caps."]


def _own_limit_conflicts(ch, budget_amount: float | None, m) -> list[str]:
    """A channel's own limits that cannot all hold (a frozen_spend above max_units x cost...), in money.

    ``frozen_spend`` is a limit like the others: it never silently overrides one (issue #10, defect 1).
    """
    limits = ch.spend_limits(budget_amount)
    mins = [(d, v) for side, d, v in limits if side == "min"]
    maxs = [(d, v) for side, d, v in limits if side == "max"]
    out = []
    for dlo, lo in mins:
        for dhi, hi in maxs:
            if dlo == dhi or lo <= hi * (1 + 1e-12):
                continue
            lo_name, hi_name = dlo.split(" ")[0], dhi.split(" ")[0]
            lo_text = f"{lo_name} {m(lo)}" if lo_name in ("frozen_spend", "min_spend") else f"{dlo} = {m(lo)}"
            out.append(f"channel {ch.name}: {lo_text} is above the most {dhi} allows ({m(hi)}), by {m(lo - hi)}: "
                       f"lower {lo_name} or raise {hi_name}.")
    return out


def _reach_text(ch, cfg) -> str:
    """What limits where a channel can spend: its segment / period subsets and their caps."""
    parts = []
    if ch.segments is not None:
        parts.append(f"its segments ({', '.join(ch.segments)})")
    elif cfg.segments and any(s.max_spend is not None for s in cfg.segments):
        parts.append("the segment caps")
    if ch.periods is not None:
        parts.append(f"its periods ({', '.join(ch.periods)})")
    elif cfg.periods and any(p.max_spend is not None for p in cfg.periods):
        parts.append("the period budgets")
    return " and ".join(parts) if parts else "its segments and periods"


def _top(channels, lo: np.ndarray, currency: str | None, k: int = 3) -> str:
    order = np.argsort(-lo)[:k]
    return ", ".join(f"{channels[i].name} {money(lo[i], currency, compact=True)}" for i in order if lo[i] > 0)


def elastic_explanation(model: BudgetModel, currency: str | None, solver: str | None = None,
                        pieces=None) -> list[str]:
    """The cheapest change of limits that makes the plan feasible, and a minimal conflicting set.

    ``pieces``: the breakpoints the allocator had refined to when it gave up (default: the initial ones).
    Chords lie below concave curves, so on coarse pieces a response floor's shortfall is overstated
    (a floor 10 ppm above what a channel can deliver was quoted as $8k short); refined pieces measure it
    where the plan was."""
    if pieces is None:
        pieces = initial_pieces(model, model.config.pieces_per_curve)
    problem, _ = build_lp(model, pieces)
    solve = get_backend(solver if solver in ("highs", "cbc", "glop") else "highs")
    elastic, slack_rows, slack_sign = _elastic_lp(problem)
    sol = solve(elastic, model.config.time_limit_seconds)
    if sol.status != SolveStatus.OPTIMAL:
        return ["no plan meets every limit, and the conflict could not be measured "
                f"(elastic LP: {sol.message}). Check the channel, segment and period limits against the budget."]
    s = sol.x[problem.n_cols:]
    lines = []
    total = 0.0
    fixes = []
    for k in np.nonzero(s > 1e-7 * max(1.0, float(s.max())))[0]:
        r = slack_rows[k]
        name = problem.row_names[r]
        amount = float(s[k])
        total += amount
        equal = problem.row_lo[r] == problem.row_hi[r]
        if slack_sign[k] > 0:
            verb, what = "raise", ("" if equal else "the cap of ")
        else:
            verb, what = "lower", ("" if equal else "the minimum of ")
        bound = problem.row_hi[r] if slack_sign[k] > 0 else problem.row_lo[r]
        is_resp = name.startswith(("channel_response", "target_response"))
        fmt = (lambda v: response_text(v, model.config.response_unit, currency, True)) if is_resp else (
            lambda v: money(v, currency, True))
        fixes.append(f"{verb} {what}{_label(name)} (now {fmt(bound)}) by {fmt(amount)}")
    if fixes:
        lines.append("no plan meets every limit. The smallest change that makes one possible: " + "; ".join(fixes) + ".")
    conflict = _deletion_filter(problem, solve, model.config.time_limit_seconds)
    if conflict:
        parts = []
        for r in conflict:
            name = problem.row_names[r]
            is_resp = name.startswith(("channel_response", "target_response"))
            fmt = (lambda v: response_text(v, model.config.response_unit, currency, True)) if is_resp else (
                lambda v: money(v, currency, True))
            lo, hi = problem.row_lo[r], problem.row_hi[r]
            rng = (f"= {fmt(hi)}" if lo == hi else f">= {fmt(lo)}" if math.isfinite(lo) and not math.isfinite(hi)
                   else f"<= {fmt(hi)}" if not math.isfinite(lo) else f"between {fmt(lo)} and {fmt(hi)}")
            parts.append(f"{_label(name)} {rng}")
        lines.append("These limits conflict (drop or relax any one of them): " + "; ".join(parts) + ".")
    return lines or ["no plan meets every limit; the elastic LP found no single limit to relax."]


def _label(row_name: str) -> str:
    group, _, entity = row_name.partition("[")
    entity = entity.rstrip("]")
    return {"total_budget": "the total budget", "channel_spend": f"spend on channel {entity}",
            "segment_spend": f"spend on segment {entity}", "period_spend": f"spend in period {entity}",
            "channel_response": f"response required from channel {entity}",
            "target_response": "the target response"}.get(group, row_name)


def _elastic_lp(problem: LPProblem) -> tuple[LPProblem, np.ndarray, np.ndarray]:
    """Add a stretch column per finite row bound; maximise minus the total stretch."""
    up = np.nonzero(np.isfinite(problem.row_hi))[0]
    dn = np.nonzero(np.isfinite(problem.row_lo))[0]
    n_r = problem.n_rows
    S_up = sp.csr_matrix((-np.ones(up.size), (up, np.arange(up.size))), shape=(n_r, up.size))
    S_dn = sp.csr_matrix((np.ones(dn.size), (dn, np.arange(dn.size))), shape=(n_r, dn.size))
    A = sp.hstack([problem.A, S_up, S_dn], format="csr")
    k = up.size + dn.size
    c = np.concatenate([np.zeros(problem.n_cols), -np.ones(k)])
    el = LPProblem(c=c, A=A, row_lo=problem.row_lo, row_hi=problem.row_hi,
                   col_lo=np.zeros(problem.n_cols + k), col_hi=np.concatenate([problem.col_hi, np.full(k, np.inf)]),
                   integrality=np.zeros(problem.n_cols + k, dtype=np.int32), row_names=problem.row_names)
    return el, np.concatenate([up, dn]), np.concatenate([np.ones(up.size), -np.ones(dn.size)])


def _deletion_filter(problem: LPProblem, solve, time_limit: float) -> list[int]:
    """Rows of a minimal infeasible subsystem (with all column bounds kept), or [] if too large."""
    if problem.n_rows > MAX_ROWS_FOR_DELETION_FILTER:
        return []
    keep = np.ones(problem.n_rows, dtype=bool)
    for r in range(problem.n_rows):
        keep[r] = False
        sub = _subproblem(problem, keep)
        st = solve(sub, time_limit).status
        if st != SolveStatus.INFEASIBLE:
            keep[r] = True  # needed for the conflict
    return list(np.nonzero(keep)[0])


def _subproblem(problem: LPProblem, keep: np.ndarray) -> LPProblem:
    idx = np.nonzero(keep)[0]
    return LPProblem(c=np.zeros(problem.n_cols), A=problem.A[idx], row_lo=problem.row_lo[idx],
                     row_hi=problem.row_hi[idx], col_lo=problem.col_lo, col_hi=problem.col_hi,
                     integrality=problem.integrality, row_names=tuple(problem.row_names[i] for i in idx))
