"""Files written with an advanced plan: allocations, channel totals, frontier table + plots, risk plot.

Returns ``{file name: bytes}``; the caller writes each with ``optimizer.io.atomic_write_bytes``
(:func:`write_outputs` does it for a folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimizer.budget.advanced.result import AdvancedResult


def advanced_files(result: AdvancedResult, current_budget: float | None = None) -> dict[str, bytes]:
    """allocations.csv, channel_totals.csv, and frontier.csv/png/svg, risk.png/svg when present."""
    from optimizer.budget.advanced.plots import frontier_figure, risk_figure

    out: dict[str, bytes] = {}
    if not result.allocations.empty:
        out["allocations.csv"] = result.allocations.to_csv(index=False).encode("utf-8")
        out["channel_totals.csv"] = result.channel_totals.to_csv(index=False).encode("utf-8")
    if result.frontier is not None:
        out["frontier.csv"] = result.frontier.table.to_csv(index=False).encode("utf-8")
        figs = frontier_figure(result.frontier, result.currency, current_budget)
        out["frontier.png"], out["frontier.svg"] = figs["png"], figs["svg"]
    if result.risk is not None:
        figs = risk_figure(np.array(result.risk.draw_response), result.risk.cvar_response, result.risk.cvar_level,
                           result.currency)
        out["risk.png"], out["risk.svg"] = figs["png"], figs["svg"]
    return out


def write_outputs(result: AdvancedResult, folder: str | Path, current_budget: float | None = None) -> list[Path]:
    """Write :func:`advanced_files` and ``plan.json`` atomically into ``folder``; return the paths."""
    from optimizer.io import atomic_write_bytes, atomic_write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [atomic_write_bytes(folder / name, data) for name, data in advanced_files(result, current_budget).items()]
    paths.append(atomic_write_json(folder / "plan.json", {"budget": result.to_dict()}))
    return paths
