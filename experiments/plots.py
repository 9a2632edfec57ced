"""Plots of the weekly experiment report: relative lift with its intervals, look by look.

One figure per experiment, one panel per metric: for every treatment the point estimate of the
relative lift (percent of control) at each weekly look, the sequential interval (the one the
decision uses; valid at every look) as a band and the fixed-horizon interval as thin error bars,
a zero line, and the non-inferiority margin of guardrails as a dashed line.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot global state, no
display needed) and returned as PNG bytes, which the report embeds as base64.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from experiments.config import ExperimentConfig

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def lift_over_time_png(over_time: "pd.DataFrame", exp: "ExperimentConfig", dpi: int = 96) -> bytes:
    """PNG of the relative lift per look (percent), one panel per metric.

    Parameters
    ----------
    over_time : pandas.DataFrame
        :attr:`experiments.pipeline.ExperimentAnalysis.over_time`: columns ``k, week, metric,
        variant, status, lift_relative, fixed_low, fixed_high, seq_low, seq_high`` (fractions).
    exp : ExperimentConfig
        For metric order, roles and margins.
    dpi : int
        Resolution (96: about 900 px wide).
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = [m for m in exp.metrics if m.name in set(over_time["metric"])]
    n = max(len(metrics), 1)
    fig = Figure(figsize=(9.0, 2.6 * n), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    weeks = sorted(over_time["week"].unique())
    x_of = {w: i for i, w in enumerate(weeks)}
    treatments = [v for v in exp.variants if v != exp.control]
    for row, m in enumerate(metrics):
        ax = fig.add_subplot(n, 1, row + 1)
        data = over_time[(over_time["metric"] == m.name) & (over_time["status"] == "ok")]
        for j, variant in enumerate(treatments):
            d = data[data["variant"] == variant].sort_values("k")
            if d.empty:
                continue
            colour = _COLOURS[j % len(_COLOURS)]
            x = np.array([x_of[w] for w in d["week"]], dtype=float) + 0.08 * j
            y = 100 * d["lift_relative"].to_numpy(float)
            seq_lo, seq_hi = 100 * d["seq_low"].to_numpy(float), 100 * d["seq_high"].to_numpy(float)
            fix_lo, fix_hi = 100 * d["fixed_low"].to_numpy(float), 100 * d["fixed_high"].to_numpy(float)
            ax.fill_between(x, seq_lo, seq_hi, color=colour, alpha=0.15, linewidth=0,
                            label=f"{variant}: sequential interval")
            ax.errorbar(x, y, yerr=[y - fix_lo, fix_hi - y], fmt="o-", color=colour, capsize=3, linewidth=1.2,
                        markersize=4, label=f"{variant}: lift, fixed-horizon interval")
        ax.axhline(0.0, color="#444444", linewidth=0.8)
        if m.role == "guardrail" and m.non_inferiority_margin:
            sign = -1.0 if m.higher_is_better else 1.0
            ax.axhline(100 * sign * m.non_inferiority_margin, color="#aa0000", linewidth=0.8, linestyle="--",
                       label=f"non-inferiority margin ({m.non_inferiority_margin:.0%})")
        ax.set_title(f"{m.name} ({m.role}, {m.kind})", fontsize=10, loc="left")
        ax.set_ylabel("lift vs control (%)", fontsize=9)
        ax.set_xticks(range(len(weeks)), weeks, fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", linewidth=0.3, alpha=0.6)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right", frameon=False)
    buf = io.BytesIO()
    # No timestamp in the metadata: the same data gives the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
