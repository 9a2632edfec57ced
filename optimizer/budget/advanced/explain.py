"""Why an advanced plan has no solution, in money: :func:`explain_infeasible` (the core's diagnosis of
the limits, then the target, then the integer rules) and :func:`explain_integer_rules` (issue #10, defect 6).

A channel is *forced* into the plan when something requires spend on it: ``frozen_spend``,
``min_spend``, ``min_units`` or ``min_response``. A forced channel pays, at the least, its required
spend (the largest of frozen spend, minimum spend, minimum units x cost, and ``min_spend_if_used`` /
``min_cell_spend_if_used`` of its rules), plus its ``setup_cost`` and one flight's
``setup_cost_per_flight``. The sentences compare those amounts with the budget, and the number of
forced channels with ``max_active_channels``:

    "frozen spend on tv 100,000 plus set-up 50,000 need ¥150,000; the budget is ¥120,000: raise the
    budget by ¥30,000 or drop a rule"
"""

from __future__ import annotations

import math

from optimizer.budget.money import money


def _need(ch, rule) -> tuple[float, list[str], bool]:
    """(least money the channel takes if used, the parts in words, whether it is forced into the plan)."""
    cpu = ch.cost_per_unit
    spend_parts = {
        "frozen spend": ch.frozen_spend or 0.0,
        "minimum spend": ch.min_spend or 0.0,
        "minimum units": (ch.min_units or 0.0) * (cpu or 0.0),
        "minimum spend if used": (rule.min_spend_if_used or 0.0) if rule is not None else 0.0,
        "minimum flight spend if used": (rule.min_cell_spend_if_used or 0.0) if rule is not None else 0.0,
    }
    forced = bool(ch.frozen_spend or ch.min_spend or ch.min_units or ch.min_response)
    label, spend = max(spend_parts.items(), key=lambda kv: kv[1])
    setup = (rule.setup_cost + rule.setup_cost_per_flight) if rule is not None else 0.0
    return spend + setup, ([f"{label} {spend:,.0f}"] if spend > 0 else []) + (
        [f"set-up {setup:,.0f}"] if setup > 0 else []), forced


def explain_integer_rules(cfg, currency: str | None) -> list[str]:
    """Sentences naming the rule and the amounts that make the integer rules impossible (may be empty)."""
    rules = {r.channel: r for r in cfg.advanced.rules}
    out: list[str] = []
    forced: list[tuple[str, float, list[str]]] = []
    for ch in cfg.channels:
        need, parts, is_forced = _need(ch, rules.get(ch.name))
        if is_forced:
            forced.append((ch.name, need, parts))
    budget = cfg.total_budget.amount if cfg.total_budget is not None else math.inf
    total = sum(n for _, n, _ in forced)
    if forced and total > budget * (1 + 1e-9):
        parts = "; ".join(f"{name}: {' plus '.join(p)}" for name, _, p in forced if p)
        out.append(f"the channels that must be used need {money(total, currency)} ({parts}); the budget is "
                   f"{money(budget, currency)}: raise the budget by {money(total - budget, currency)} or relax "
                   "a minimum, a frozen spend or a set-up cost")
    n_max = cfg.advanced.max_active_channels
    if n_max is not None and len(forced) > n_max:
        out.append(f"advanced.max_active_channels is {n_max}, but {len(forced)} channels must be used "
                   f"({', '.join(name for name, _, _ in forced)}: each has a minimum, a frozen spend or a response "
                   "floor): raise max_active_channels or drop a minimum")
    # a channel's own cap below what its rules need when used
    for ch in cfg.channels:
        rule = rules.get(ch.name)
        if rule is None:
            continue
        need_if_used = max(rule.min_spend_if_used or 0.0, rule.min_cell_spend_if_used or 0.0)
        cap = ch.max_spend if ch.max_spend is not None else math.inf
        if ch.max_units is not None and ch.cost_per_unit is not None:
            cap = min(cap, ch.max_units * ch.cost_per_unit)
        forced_ch = any(name == ch.name for name, _, _ in forced)
        if forced_ch and need_if_used > cap * (1 + 1e-9):
            out.append(f"channel {ch.name} must be used but its rules need at least {money(need_if_used, currency)} "
                       f"when used, above its cap {money(cap, currency)}: lower min_spend_if_used or raise the cap")
        if forced_ch and math.isfinite(budget) and need_if_used + rule.setup_cost > budget * (1 + 1e-9):
            out.append(f"channel {ch.name}: minimum spend if used {money(need_if_used, currency)} plus set-up "
                       f"{money(rule.setup_cost, currency)} need {money(need_if_used + rule.setup_cost, currency)}; "
                       f"the budget is {money(budget, currency)}")
    return out


def explain_infeasible(cfg, currency: str | None) -> list[str]:
    """Why the problem has no plan: the core's money diagnosis, then the target, then the integer rules."""
    from optimizer.budget.advanced.formulation import build, core_config
    from optimizer.budget.advanced.solve import solve
    from optimizer.budget.allocation import allocate

    out: list[str] = []
    t = cfg.advanced.target
    plain = cfg.model_copy(update={"advanced": cfg.advanced.model_copy(update={"target": None})})
    base = build(plain)
    base_sol = solve(base.problem, "highs", 1e-6, cfg.advanced.time_limit_seconds)
    if not base_sol.has_point:
        core = core_config(cfg)
        res = allocate(core, solver="highs", currency=currency)
        if res.status == "infeasible" and res.explanation:
            out.extend(res.explanation)
            return out
        out.extend(explain_integer_rules(cfg, currency))
        if not out:
            budget = money(cfg.total_budget.amount, currency) if cfg.total_budget is not None else "no budget"
            out.append(f"the integer rules (minimum spend if used, set-up costs, at most N channels, whole units) "
                       f"cannot all hold together with the limits and the budget ({budget}), although the limits "
                       "alone have a plan; relax advanced.rules or advanced.max_active_channels")
        return out
    if t is not None:
        from optimizer.budget.advanced.targets import best_ratio

        best = best_ratio(cfg)
        if t.kind == "roas":
            out.append(f"advanced.target.min_roas is {t.min_roas:g}; the best achievable ROAS under these caps is "
                       f"{best:.3g}, below the target {t.min_roas:g}: lower the target or relax the minimum spends")
        else:
            cpa = 1.0 / best if best > 0 else math.inf
            out.append(f"advanced.target.max_cpa is {money(t.max_cpa, currency)}; the best achievable CPA under these caps "
                       f"is {money(cpa, currency)}, above the target: raise max_cpa or relax the minimum spends")
    else:
        out.append("no plan satisfies every limit; relax a minimum or raise the budget")
    return out
