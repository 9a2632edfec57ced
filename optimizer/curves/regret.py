"""Planning regret of fitted curves against the truth (the quality measure of the benchmark).

Plan: split a per-period budget across the channels with the project's budget allocator
(``allocate_advanced``: exact on S-curves) under per-channel caps (the benchmark and tests use the
mean total spend of the last 13 periods and 1.5x each channel's largest spend). Steady-state curves
make every period of a quarter the same plan, so the quarter's regret equals one period's:

    regret = 1 - true_response(plan on fitted curves) / true_response(plan on true curves)

counting MEDIA response only (the baseline is the same under both plans), so it is the stricter
measure. 0 = the fitted curves lead to the best plan; 0.05 = 5 % of media response lost.

With ``floors`` (and caps) from :func:`optimizer.curves.bounds.historical_bounds` both plans stay within
0.5-2x each channel's mean historical spend (Robyn's allocator default): the regret of a plan that
does not leave the range the history informs.
"""

from __future__ import annotations

import numpy as np

from optimizer.curves.results import response_value


def plan(curves: dict[str, dict], budget: float, caps: dict[str, float],
         floors: dict[str, float] | None = None) -> dict[str, float]:
    """Spend per channel (currency per period) maximising the response of ``curves`` under ``budget``,
    each channel within ``[floors[c], caps[c]]`` (floors default 0)."""
    from optimizer.budget.advanced import AdvancedBudget, allocate_advanced
    from optimizer.cli import stdout_to_stderr

    channels = []
    for name, resp in curves.items():
        r = dict(resp)
        if r["kind"] == "linear" and r.get("roi", 0) <= 0:
            r = {"kind": "linear", "roi": 1e-12}
        entry = {"name": name, "response": r, "max_spend": float(caps[name])}
        if floors and floors.get(name, 0.0) > 0:
            entry["min_spend"] = float(floors[name])
        channels.append(entry)
    cfg = AdvancedBudget.model_validate({"total_budget": {"amount": float(budget), "mode": "at_most"},
                                         "channels": channels, "gap_tolerance_relative": 1e-5})
    with stdout_to_stderr():
        res = allocate_advanced(cfg)
    if res.status not in ("optimal", "feasible"):
        raise RuntimeError(f"the allocator returned {res.status}")
    totals = res.channel_totals.set_index("channel")["spend"]
    return {c: float(totals[c]) for c in curves}


def regret(fitted: dict[str, dict], truth: dict, budget: float, caps: dict[str, float],
           floors: dict[str, float] | None = None, plan_true: dict[str, float] | None = None) -> dict:
    """Regret of planning on ``fitted`` curves when ``truth`` (channel -> object with ``response(x)`` and
    ``budget_response()``, e.g. :class:`~optimizer.curves.simulate.TrueChannel`) holds.

    Both plans get the same ``budget``, ``caps`` and ``floors`` (e.g. from
    :func:`optimizer.curves.bounds.historical_bounds`). ``plan_true``: the plan on the true curves under
    those limits when already known (a previous call's ``"plan_true"``), so that several fits of one set
    are compared with one plan.

    Returns ``{"regret", "true_best", "true_of_fitted_plan", "plan_fitted", "plan_true"}`` (media
    response per period; plans in currency per period).
    """
    plan_fit = plan(fitted, budget, caps, floors)
    if plan_true is None:
        plan_true = plan({c: t.budget_response() for c, t in truth.items()}, budget, caps, floors)

    def true_value(p: dict[str, float]) -> float:
        return float(sum(float(np.asarray(truth[c].response(np.array([p[c]])))[0]) for c in p))

    got, top = true_value(plan_fit), true_value(plan_true)
    return {"regret": 1 - got / top if top > 0 else 0.0, "true_best": top, "true_of_fitted_plan": got,
            "plan_fitted": plan_fit, "plan_true": plan_true}


def fitted_response(curves: dict[str, dict], spend: dict[str, float]) -> float:
    """Total response of ``curves`` at ``spend`` (per period)."""
    return float(sum(response_value(curves[c], np.array([spend[c]]))[0] for c in spend))


def oracle_curves(sim) -> dict[str, dict]:
    """Curves of a simulated set with the TRUE adstock, half-saturation and shape, only the coefficients
    fitted (NNLS): the regret that the data's noise and collinearity cause even when every nonlinear
    parameter is known. A channel whose coefficient comes out 0 gets a flat curve."""
    from optimizer.curves.data import check_history
    from optimizer.curves.fit import solve_inner
    from optimizer.curves.model import CurveModel

    m = CurveModel(seed=0, n_bootstrap=0, holdout_periods=0)
    h = check_history(sim.data, date_col="date", kpi_col="kpi", spend_cols=sim.spend_columns(),
                      control_cols=["price"], holiday_cols=["holiday"])
    design, y_scale, _ = m._design(h, [])
    design = design.rows(np.arange(h.n_periods) >= m.max_lag)
    theta = np.array([[t.decay, np.log(t.half_saturation_spend / design.scale[i]), t.shape]
                      for i, t in enumerate(sim.truth.values())])
    beta = solve_inner(design, theta, with_grad=False).beta * y_scale
    return {c: ({"kind": "linear", "roi": 0.0} if beta[i] <= 0 else
                {**t.budget_response(), "max_response": float(beta[i])})
            for i, (c, t) in enumerate(sim.truth.items())}
