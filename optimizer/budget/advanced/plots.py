"""Plots of the advanced allocator: the budget frontier and the distribution of the plan's return.

matplotlib with the Agg backend (no display); each figure is returned as PNG and SVG bytes so the
caller writes them atomically (``optimizer.io.atomic_write_bytes``).
"""

from __future__ import annotations

import io

import numpy as np


def _render(fig) -> dict[str, bytes]:
    out = {}
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
        out[fmt] = buf.getvalue()
    return out


def frontier_figure(result, currency: str | None = None, current_budget: float | None = None) -> dict[str, bytes]:
    """Response and marginal ROI vs budget (two panels); ``{"png": ..., "svg": ...}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.table
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    try:
        a1.plot(t["budget"], t["response"], marker=".", color="#1f77b4")
        a1.set_ylabel("response")
        a1.set_title("Budget frontier: response of the best plan at each budget")
        a2.step(t["budget"], t["marginal_roi"], where="post", color="#d62728")
        a2.axhline(1.0, color="grey", lw=0.8, ls="--")
        a2.set_ylabel("marginal ROI (per extra currency unit)")
        a2.set_xlabel(f"total budget ({currency or 'currency'})")
        if current_budget is not None:
            for ax in (a1, a2):
                ax.axvline(current_budget, color="black", lw=0.8, ls=":")
        return _render(fig)
    finally:
        plt.close(fig)


def risk_figure(draw_response: np.ndarray, cvar: float, level: float, currency: str | None = None) -> dict[str, bytes]:
    """Histogram of the plan's response over draws with its mean and CVaR; ``{"png": ..., "svg": ...}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = np.asarray(draw_response, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        ax.hist(v, bins=min(40, max(5, v.size // 5)), color="#9ecae1", edgecolor="#3182bd")
        ax.axvline(v.mean(), color="black", label=f"expected {v.mean():,.0f}")
        ax.axvline(cvar, color="#d62728", ls="--", label=f"CVaR {level:g}: {cvar:,.0f}")
        ax.set_xlabel("response of the plan under each draw")
        ax.set_ylabel("draws")
        ax.legend()
        return _render(fig)
    finally:
        plt.close(fig)
