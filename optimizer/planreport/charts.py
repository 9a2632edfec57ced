"""Charts of a plan for slides and report.html, each as PNG and SVG bytes (matplotlib, no display).

``plan_figures(plan)`` returns ``{stem: {"png": bytes, "svg": bytes}}`` for what the plan holds:

* ``flighting``: spend per channel per period, stacked, with each period's budget marked;
* ``spend_vs_response``: each channel's share of spend next to its share of response;
* ``response_curves``: each channel's response against its total spend (split over its cells as in
  the recommended plan), the recommended and current points and the marginal ROI there;
* ``roi``: ROI and marginal ROI per channel (response per currency unit);
* ``current_vs_recommended``: spend per channel, current next to recommended;
* ``frontier``: the budget frontier with the plan's budget marked (when the scenario asks for it);
* ``section_<name>``: one bar chart per other section (bandit mix, retention schedule, experiments).

Figures are built on ``matplotlib.figure.Figure`` (no pyplot global state); SVGs carry no date so
the same plan gives the same bytes.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

#: charts show the largest channels by spend; the rest is in the tables and CSVs (a chart of 1,000 bars says nothing)
MAX_BARS, MAX_CURVES, MAX_STACKED = 20, 8, 8

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def _new(figsize=(7.5, 4.2)):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _render(fig) -> dict[str, bytes]:
    out = {}
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=100, metadata={"Date": None} if fmt == "svg" else {"Software": None})
        out[fmt] = buf.getvalue()
    return out


def _money_axis(ax, currency: str, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    from optimizer.budget.money import money

    fmt = FuncFormatter(lambda v, _: money(v, currency, compact=True))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def flighting_figure(mp, period_budgets: dict[str, float] | None = None) -> dict[str, bytes]:
    """Stacked spend per channel per period (whole units) with period budgets as black ticks."""
    fig = _new((max(6.5, 0.6 * len(mp.periods) + 3), 4.2))
    ax = fig.add_subplot()
    x = np.arange(len(mp.periods))
    bottom = np.zeros(len(mp.periods))
    rows = mp.channel_rows()
    if len(rows) > MAX_STACKED:  # the largest channels, then one "other" layer
        order = sorted(rows, key=lambda c: -rows[c].sum())
        keep = {c: rows[c] for c in order[: MAX_STACKED - 1]}
        keep[f"other ({len(order) - MAX_STACKED + 1} channels)"] = sum(rows[c] for c in order[MAX_STACKED - 1:])
        rows = keep
    for i, (ch, row) in enumerate(rows.items()):
        ax.bar(x, row, bottom=bottom, label=ch, color=PALETTE[i % len(PALETTE)], width=0.7)
        bottom += row
    marked = False
    for j, p in enumerate(mp.periods):
        cap = (period_budgets or {}).get(p)
        if cap is not None:
            ax.hlines(cap, j - 0.42, j + 0.42, colors="black", linewidth=2,
                      label=None if marked else "period budget")
            marked = True
    ax.set_xticks(x, mp.periods, rotation=45 if len(mp.periods) > 6 else 0, ha="right" if len(mp.periods) > 6 else "center")
    ax.set_ylabel(f"spend ({mp.currency})")
    _money_axis(ax, mp.currency)
    ax.set_title("Flighting: spend per channel per period")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _render(fig)


def _top(totals, n: int):
    """The ``n`` channels with the most spend (all when there are fewer), in plan order."""
    if len(totals) <= n:
        return totals
    keep = set(totals.sort_values("spend", ascending=False)["channel"].iloc[:n])
    return totals[totals["channel"].isin(keep)]


def share_figure(totals, currency: str) -> dict[str, bytes]:
    """Share of spend and share of response per channel (horizontal bars, 0-100 %; the top channels)."""
    spend = np.asarray(totals["spend"], float)
    resp = np.asarray(totals["response"], float)
    all_spend, all_resp = spend.sum(), resp.sum()
    totals = _top(totals, MAX_BARS)
    ch = list(totals["channel"])
    spend = np.asarray(totals["spend"], float)
    resp = np.asarray(totals["response"], float)
    s_share = spend / all_spend if all_spend > 0 else spend
    r_share = resp / all_resp if all_resp > 0 else resp
    fig = _new((7.0, 0.5 * len(ch) + 1.8))
    ax = fig.add_subplot()
    y = np.arange(len(ch))
    ax.barh(y - 0.2, s_share * 100, height=0.4, label="share of spend", color="#9ecae1")
    ax.barh(y + 0.2, r_share * 100, height=0.4, label="share of response", color="#3182bd")
    ax.set_yticks(y, ch)
    ax.invert_yaxis()
    ax.set_xlabel("% of the plan's total")
    ax.set_title("Spend share vs response share")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _render(fig)


def roi_figure(totals, currency: str, response_unit: str) -> dict[str, bytes]:
    """ROI and marginal ROI per channel (response per currency unit), with the break-even line at 1."""
    totals = _top(totals, MAX_BARS)
    ch = list(totals["channel"])
    roi = np.asarray(totals["roi"], float)
    mroi = np.asarray(totals["marginal_roi"], float) if "marginal_roi" in totals else np.full(len(ch), np.nan)
    fig = _new((7.0, 0.5 * len(ch) + 1.8))
    ax = fig.add_subplot()
    y = np.arange(len(ch))
    ax.barh(y - 0.2, np.nan_to_num(roi), height=0.4, label="ROI", color="#74c476")
    ax.barh(y + 0.2, np.nan_to_num(mroi), height=0.4, label="marginal ROI", color="#006d2c")
    if response_unit == "currency":
        ax.axvline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_yticks(y, ch)
    ax.invert_yaxis()
    unit = f"{currency} of revenue" if response_unit == "currency" else "conversions"
    ax.set_xlabel(f"{unit} per {currency} spent")
    ax.set_title("ROI and marginal ROI per channel")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _render(fig)


def current_figure(table, currency: str, label: str = "current") -> dict[str, bytes]:
    """Spend per channel: current next to recommended (the channels with the most of either)."""
    rows = table[table["channel"] != "total"]
    if len(rows) > MAX_BARS:
        rows = rows.loc[rows[["current_spend", "recommended_spend"]].max(axis=1).nlargest(MAX_BARS).index]
    ch = list(rows["channel"])
    fig = _new((7.0, 0.5 * len(ch) + 1.8))
    ax = fig.add_subplot()
    y = np.arange(len(ch))
    ax.barh(y - 0.2, rows["current_spend"], height=0.4, label=label, color="#bdbdbd")
    ax.barh(y + 0.2, rows["recommended_spend"], height=0.4, label="recommended", color="#3182bd")
    ax.set_yticks(y, ch)
    ax.invert_yaxis()
    _money_axis(ax, currency, "x")
    ax.set_xlabel(f"spend ({currency})")
    ax.set_title(f"Spend per channel: {label} vs recommended")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _render(fig)


def curves_figure(model, x_rec: np.ndarray, x_cur: np.ndarray | None, currency: str, response_unit: str,
                  label: str = "current") -> dict[str, bytes]:
    """Small multiples: each channel's response vs its total spend, split over cells like the plan."""
    from optimizer.planreport.current import _cell_values

    all_names = [c.name for c in model.config.channels]
    spend_c = np.bincount(model.cells.channel, weights=x_rec, minlength=len(all_names))
    shown = sorted(np.argsort(-spend_c, kind="stable")[:MAX_CURVES])  # the largest channels, in plan order
    names = [all_names[i] for i in shown]
    n = len(names)
    cols = 2 if n > 1 else 1
    rows_n = int(np.ceil(n / cols))
    fig = _new((7.5, 2.6 * rows_n + 0.6))
    axes = fig.subplots(rows_n, cols, squeeze=False)
    for k, (ci, name) in enumerate(zip(shown, names)):
        ax = axes[k // cols][k % cols]
        m = model.cells.channel == ci
        s_rec = float(x_rec[m].sum())
        s_cur = float(x_cur[m].sum()) if x_cur is not None else 0.0
        w = x_rec[m] / s_rec if s_rec > 0 else np.full(int(m.sum()), 1.0 / max(int(m.sum()), 1))
        top = max(s_rec, s_cur, 1.0) * 1.8
        eps = max(s_rec, 1.0) * 1e-4
        levels = np.concatenate([np.linspace(0.0, top, 61), [s_rec, s_rec + eps]])
        sub = _channel_model(model, m, len(levels))  # the channel's cells, once per spend level: one call
        resp = _cell_values(sub, sub.curves, np.outer(levels, w).ravel()).reshape(len(levels), -1).sum(axis=1)
        ax.plot(levels[:61], resp[:61], color=PALETTE[ci % len(PALETTE)])
        r_rec = float(resp[61])
        mroi = (float(resp[62]) - r_rec) / eps
        ax.plot([s_rec], [r_rec], "o", color="black", label="recommended")
        ax.annotate(f"mROI {mroi:.2f}", (s_rec, r_rec), textcoords="offset points", xytext=(6, -12), fontsize=8)
        if x_cur is not None:
            xc = np.zeros(model.cells.n)
            xc[m] = x_cur[m]
            ax.plot([s_cur], [float(_cell_values(model, model.curves, xc)[m].sum())], "s", mfc="white",
                    color="black", label=label)
        ax.set_title(name, fontsize=9)
        _money_axis(ax, currency, "x")
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7, frameon=False, loc="lower right")
    for k in range(n, rows_n * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(f"Response curves ({'revenue, ' + currency if response_unit == 'currency' else 'conversions'}) "
                 "vs channel spend", fontsize=10)
    return _render(fig)


def _channel_model(model, mask: np.ndarray, repeat: int):
    """The budget model cut to the cells in ``mask``, tiled ``repeat`` times (row-major: level, cell).

    Every per-cell array of ``model.cells`` is cut and tiled; when cells pick their curve by index
    (``cells.curve``), only the curves used are kept, so evaluating one channel costs its own cells.
    """
    import dataclasses

    cells = model.cells
    n = cells.n
    idx = np.tile(np.nonzero(mask)[0], repeat)
    changes = {f.name: getattr(cells, f.name)[idx] for f in dataclasses.fields(cells)
               if isinstance(getattr(cells, f.name), np.ndarray) and getattr(cells, f.name).shape[:1] == (n,)}
    curves = model.curves
    if "curve" in changes:
        used, inverse = np.unique(changes["curve"], return_inverse=True)
        changes["curve"] = inverse.astype(changes["curve"].dtype)
        curves = tuple(model.curves[int(k)] for k in used)
        extra = {}
        for name in ("curve_channel", "curve_share"):
            arr = getattr(model, name, None)
            if isinstance(arr, np.ndarray) and arr.shape[:1] == (len(model.curves),):
                extra[name] = arr[used]
        return dataclasses.replace(model, cells=dataclasses.replace(cells, **changes), curves=curves, **extra)
    return dataclasses.replace(model, cells=dataclasses.replace(cells, **changes))


def section_figure(name: str, df) -> dict[str, bytes] | None:
    """A bar chart of a section's main table: first numeric column per first text column (None if none)."""
    import pandas as pd

    if df is None or len(df) == 0:
        return None
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    text = [c for c in df.columns if df[c].dtype == object]
    nums = [c for c in df.columns if df[c].dtype.kind in "if" and np.isfinite(np.asarray(df[c], float)).any()]
    if not text or not nums:
        return None
    df = df.head(20)
    fig = _new((7.0, 0.35 * len(df) + 1.8))
    ax = fig.add_subplot()
    y = np.arange(len(df))
    ax.barh(y, np.nan_to_num(np.asarray(df[nums[0]], float)), color="#6baed6")
    keys = text[:2] if len(text) > 1 and not df[text[0]].is_unique else text[:1]
    labels = [" / ".join(str(v) for v in row)[:32] for row in df[keys].itertuples(index=False)]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(str(nums[0]))
    ax.set_title(f"{name}: {nums[0]} by {' / '.join(keys)}")
    return _render(fig)


def plan_figures(plan: Any) -> dict[str, dict[str, bytes]]:
    """Every chart the plan has data for: ``{stem: {"png": ..., "svg": ...}}``."""
    from optimizer.planreport import budget_result, media_plan

    out: dict[str, dict[str, bytes]] = {}
    res = budget_result(plan)
    cur_entry = plan.sections.get("current")
    cur = cur_entry[1] if cur_entry is not None and not cur_entry[1].table.empty else None
    if res is not None:
        currency = res.currency or plan.currency
        mp = media_plan(plan)
        budget_cfg = getattr(plan.scenario, "budget", None)
        if mp is not None and len(mp.periods) > 1:
            caps = {p.name: p.max_spend for p in (budget_cfg.periods or []) if p.max_spend is not None} if budget_cfg else {}
            out["flighting"] = flighting_figure(mp, caps)
        totals = res.channel_totals
        if {"spend", "response"} <= set(totals.columns):
            out["spend_vs_response"] = share_figure(totals, currency)
        if {"roi"} <= set(totals.columns):
            out["roi"] = roi_figure(totals, currency, res.response_unit)
        if budget_cfg is not None:
            fig = _curves_for_plan(plan, res, budget_cfg, cur, currency)
            if fig is not None:
                out["response_curves"] = fig
        frontier = getattr(res, "frontier", None)
        if frontier is not None:
            from optimizer.budget.advanced.plots import frontier_figure

            amount = budget_cfg.total_budget.amount if budget_cfg is not None and budget_cfg.total_budget else None
            out["frontier"] = frontier_figure(frontier, currency, amount)
    if cur is not None:
        out["current_vs_recommended"] = current_figure(cur.table, cur.currency, cur.label)
    for name, (_, sres) in plan.sections.items():
        if name in ("budget", "current"):
            continue
        try:
            fig = section_figure(name, sres.summary())
        except Exception:  # noqa: BLE001 - a chart must never lose the plan; the table is in plan.md
            fig = None
        if fig is not None:
            out[f"section_{name}"] = fig
    return out


def _curves_for_plan(plan, res, budget_cfg, cur, currency):
    from optimizer.budget.upstream import apply_upstream
    from optimizer.planreport.current import budget_model_for, recommended_cells

    try:
        upstream = {k: r for k, (_, r) in plan.sections.items() if k not in ("budget", "current")}
        cfg, _ = apply_upstream(budget_cfg, upstream, currency)
        model, _ = budget_model_for(cfg)
    except (TypeError, ValueError):  # e.g. an S-curve the core model has no curve for
        return None
    x_rec = recommended_cells(res.allocations, model)
    x_cur = None
    if cur is not None and len(cur.cells) == model.cells.n:
        x_cur = np.asarray(cur.cells["current_spend"], float)
    return curves_figure(model, x_rec, x_cur, currency, res.response_unit, cur.label if cur is not None else "current")
