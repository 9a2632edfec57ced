"""Write a budget plan's files into a folder (the files themselves come from :mod:`optimizer.budget.report`)."""

from __future__ import annotations

from pathlib import Path

from optimizer.budget.results import BudgetResult


def advanced_files(result: BudgetResult, current_budget: float | None = None) -> dict[str, bytes]:
    """allocations.csv, channel_totals.csv, and frontier.csv/png/svg, risk.png/svg when present."""
    from optimizer.budget.report import files

    return files(result, current_budget)


def write_outputs(result: BudgetResult, folder: str | Path, current_budget: float | None = None) -> list[Path]:
    """Write :func:`advanced_files` and ``plan.json`` atomically into ``folder``; return the paths."""
    from optimizer.io import atomic_write_bytes, atomic_write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [atomic_write_bytes(folder / name, data) for name, data in advanced_files(result, current_budget).items()]
    paths.append(atomic_write_json(folder / "plan.json", {"budget": result.to_dict()}))
    return paths
