"""What a planner takes away from ``dmpopt plan``: media plan, current vs recommended, charts, report.html.

Everything here reads a finished :class:`~optimizer.plan.Plan` (the budget section's result: its
``allocations`` and ``channel_totals``) and renders it; nothing re-solves. Entry points, each
called from one place:

* :func:`planner_files` (from ``Plan.files``): ``media_plan.csv``, ``media_plan.xlsx``,
  ``flighting.png``/``.svg``, ``spend_vs_response.png``/``.svg``, ``response_curves.png``/``.svg``,
  ``roi.png``/``.svg`` and ``report.html``;
* :func:`planner_markdown` (from ``Plan.to_markdown``): the media plan table;
* :func:`terminal_lines` (from ``render.print_table``): the media plan in 80 columns.

The ``current:`` scenario key is its own section (:mod:`optimizer.planreport.current`), run after
the budget.
"""

from __future__ import annotations

from typing import Any

from optimizer.planreport.media_plan import MediaPlan, media_plan_from_allocations

_CACHE: dict[int, tuple[Any, MediaPlan]] = {}


def budget_result(plan: Any) -> Any | None:
    """The plan's budget result when it holds a plan (optimal or feasible with allocations), else None."""
    entry = plan.sections.get("budget") if hasattr(plan, "sections") else None
    if entry is None:
        return None
    res = entry[1]
    alloc = getattr(res, "allocations", None)
    if res.status not in ("optimal", "feasible") or alloc is None or len(alloc) == 0:
        return None
    return res


def media_plan(plan: Any) -> MediaPlan | None:
    """The plan's :class:`MediaPlan` (None without a budget plan); computed once per result."""
    res = budget_result(plan)
    if res is None:
        return None
    key = id(res.allocations)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is res.allocations:
        return hit[1]
    order = list(res.channel_totals["channel"]) if "channel" in res.channel_totals else None
    mp = media_plan_from_allocations(res.allocations, res.currency or plan.currency, order)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[key] = (res.allocations, mp)
    return mp


def planner_markdown(plan: Any) -> str:
    """The "Media plan" part of plan.md ("" without a budget plan)."""
    mp = media_plan(plan)
    if mp is None:
        return ""
    head = ["## Media plan", "",
            f"Spend in {mp.currency}, whole units (largest-remainder rounding: every row, channel total and "
            "period total is the exact sum of the cells shown; each cell is within 1 of the optimiser's value). "
            "Also in media_plan.csv and media_plan.xlsx.", ""]
    return "\n".join(head) + mp.markdown() + "\n"


def terminal_lines(plan: Any, width: int = 80) -> list[str]:
    """The media plan as lines of at most ``width`` characters ([] without a budget plan)."""
    mp = media_plan(plan)
    if mp is None or (len(mp.periods) == 1 and not mp.has_segments):
        return []  # one period, no segments: the channel table above already is the plan
    return mp.terminal_lines(width)


def planner_files(plan: Any) -> dict[str, bytes]:
    """media_plan.csv/.xlsx, the charts (PNG + SVG) and report.html; {} without a budget plan."""
    from optimizer.planreport import charts
    from optimizer.planreport.html import report_html

    out: dict[str, bytes] = {}
    mp = media_plan(plan)
    if mp is not None:
        extra = {}
        cur = plan.sections.get("current")
        if cur is not None and not cur[1].table.empty:
            extra["current vs recommended"] = cur[1].table
        out["media_plan.csv"] = mp.to_csv()
        out["media_plan.xlsx"] = mp.to_xlsx(extra)
    figures = charts.plan_figures(plan)
    for stem, fig in figures.items():
        if stem == "frontier":  # the budget section writes frontier.png/.svg itself; only the page embeds it
            continue
        out[f"{stem}.png"], out[f"{stem}.svg"] = fig["png"], fig["svg"]
    out["report.html"] = report_html(plan, figures).encode("utf-8")
    return out
