"""Render a Plan for people: rich tables in the terminal, or JSON / CSV / Markdown on stdout."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator

from optimizer.plan import Plan

_STATUS_STYLE = {"optimal": "green", "ok": "green", "feasible": "yellow", "infeasible": "red", "error": "red"}


@contextlib.contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the section being planned; yields ``step(name)``."""
    if not enabled or not sys.stderr.isatty():
        yield lambda name: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("planning...") as status:
        yield lambda name: status.update(f"planning: {name}...")


def _rich_table(df: Any, title: str):
    from rich.table import Table

    import pandas as pd

    if not isinstance(df.index, pd.RangeIndex):  # a named index (arm, channel...) is a column to show
        df = df.reset_index()
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in df.columns:
        numeric = df[col].dtype.kind in "iuf"
        # fold rather than truncate: a planner must never see "0.02…" in place of a number
        table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    return table


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:,.4g}"
    return str(v)


def print_table(plan: Plan, file: Any = None) -> None:
    """The default terminal view: a header, one table per section, warnings."""
    from rich.console import Console

    out = file or sys.stdout
    # A terminal gets its own width; a pipe or file gets room for wide tables instead of 80 columns.
    width = Console(file=out).width if out.isatty() else 200
    console = Console(file=out, width=width)
    style = _STATUS_STYLE.get(plan.status, "white")
    console.print(f"[bold]{plan.scenario_name}[/bold]  status: [{style}]{plan.status}[/{style}]  "
                  f"currency: {plan.currency}  seed: {plan.provenance.seed}")
    for name, (_, res) in plan.sections.items():
        headline = getattr(res, "headline", None)
        if callable(headline):
            console.print(headline())
        console.print(_rich_table(res.summary(), f"{name}: {res.status}"))
        for extra_title, extra_df in getattr(res, "extra_tables", lambda: {})().items():
            console.print(_rich_table(extra_df, extra_title))
        notes = getattr(res, "notes", None)
        if callable(notes):
            for line in notes():
                console.print(f"  {line}")
    for w in plan.warnings:
        console.print(f"[yellow]warning[/yellow]: {w}")


def emit(plan: Plan, fmt: str) -> None:
    """Write ``plan`` to stdout in ``fmt`` (table, json, csv, markdown)."""
    if fmt == "table":
        print_table(plan)
    elif fmt == "json":
        sys.stdout.write(plan.to_json())
    elif fmt == "markdown":
        sys.stdout.write(plan.to_markdown())
    elif fmt == "csv":
        files = plan.files()
        csvs = [name for name in files if name.endswith(".csv")]
        main = "allocations.csv" if "allocations.csv" in files else (csvs[0] if csvs else None)
        if main is None:
            from optimizer.plan import df_csv

            first = next(iter(plan.sections.values()))[1]
            sys.stdout.write(df_csv(first.summary()).decode())
        else:
            sys.stdout.write(files[main].decode())
    else:  # guarded by the CLI's enum
        raise ValueError(f"unknown format {fmt!r}")
    sys.stdout.flush()
