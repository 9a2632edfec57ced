"""Render a Plan for people: rich tables in the terminal, or JSON / CSV / Markdown on stdout."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable, Iterator

from optimizer.plan import Plan
from optimizer.termtable import cell, fit_tables

_STATUS_STYLE = {"optimal": "green", "ok": "green", "feasible": "yellow", "infeasible": "red", "error": "red"}


#: the progress display of the command running now (``progress`` / ``command_progress``), if any:
#: counted steps (:func:`count_progress`) join it instead of starting a second live display
_LIVE: list[Any] = []


def _noop(done: int, total: int) -> None:
    return None


def _bar(console: Any, counts: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    cols = [SpinnerColumn(), TextColumn("{task.description}")]
    if counts:
        cols += [BarColumn(bar_width=20), MofNCompleteColumn()]
    return Progress(*cols, TimeElapsedColumn(), console=console, transient=True)


@contextlib.contextmanager
def progress(enabled: bool = True, console: Any = None) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the section being planned; yields ``step(name)``.

    Counted steps inside a section (frontier levels...) show their counts on the same display.
    """
    if not enabled or (console is None and not sys.stderr.isatty()):
        yield lambda name: None
        return
    from rich.console import Console

    with _bar(console or Console(stderr=True), counts=False) as bar:
        task = bar.add_task("planning...", total=None)
        _LIVE.append(bar)
        try:
            yield lambda name: bar.update(task, description=f"planning: {name}...")
        finally:
            _LIVE.remove(bar)


@contextlib.contextmanager
def command_progress(label: str, console: Any = None) -> Iterator[None]:
    """A spinner with elapsed seconds on stderr while a long command runs (only on a terminal).

    Used around the sub-commands (``churn fit``, ``experiments report``, ``bandit simulate``...) so
    every command longer than a moment shows it is working; pipes and files get nothing. Counted
    steps (:func:`count_progress`) show "3/10" on it.
    """
    if console is None:
        if not sys.stderr.isatty():
            yield
            return
        from rich.console import Console

        console = Console(stderr=True)
    with _bar(console, counts=False) as bar:
        bar.add_task(f"{label}...", total=None)
        _LIVE.append(bar)
        try:
            yield
        finally:
            _LIVE.remove(bar)


@contextlib.contextmanager
def count_progress(label: str, enabled: bool = True, console: Any = None) -> Iterator[Callable[[int, int], None]]:
    """Counted progress on stderr ("frontier levels  7/25"); yields ``update(done, total)``.

    Pass the callback as the ``progress`` argument of a function with steps (``frontier``,
    ``run_simulation``, ``analyze_experiments``). It joins the command's running display when there
    is one, else draws its own bar; nothing at all when stderr is not a terminal.
    """
    if not enabled:
        yield _noop
        return
    if _LIVE and console is None:
        bar = _LIVE[-1]
        tasks: list[Any] = []  # added at the first count: a function that has no steps this time shows nothing

        def update(done: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task(label, total=None))
            bar.update(tasks[0], description=f"{label} {done}/{total}", refresh=True)

        try:
            yield update
        finally:
            for t in tasks:
                bar.remove_task(t)
        return
    if console is None:
        if not sys.stderr.isatty():
            yield _noop
            return
        from rich.console import Console

        console = Console(stderr=True)
    with _bar(console, counts=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total, refresh=True)


def _rich_table(df: Any, title: str):
    """``df`` as one rich table (wide consoles; see :func:`optimizer.termtable.fit_tables` for narrow ones)."""
    from rich.console import Console

    return fit_tables(df, title, Console(width=10_000))[0]


def _cell(v: Any) -> str:
    return cell(v)


def console_width(out: Any) -> int:
    """A terminal's own width (or $COLUMNS); a pipe or file gets room for wide tables (200 columns)."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    if out.isatty():
        from rich.console import Console

        return Console(file=out).width
    return 200


def _print_parts(console: Any, parts: list[Any]) -> None:
    """Tables as rich renders them; legend and note lines as plain text (no markup)."""
    for part in parts:
        if isinstance(part, str):
            console.print(part, markup=False, highlight=False)
        else:
            console.print(part)


def print_table(plan: Plan, file: Any = None) -> None:
    """The default terminal view: a header, one table per section, warnings."""
    from rich.console import Console

    out = file or sys.stdout
    console = Console(file=out, width=console_width(out))
    style = _STATUS_STYLE.get(plan.status, "white")
    console.print(f"[bold]{plan.scenario_name}[/bold]  status: [{style}]{plan.status}[/{style}]  "
                  f"currency: {plan.currency_text}  seed: {plan.provenance.seed}")
    for name, (_, res) in plan.sections.items():
        headline = getattr(res, "headline", None)
        if callable(headline):  # the headline carries the status: print it once
            console.print(headline())
        summary = res.summary()
        n_integer = getattr(res, "n_integer", None)
        if len(summary):  # a section without a plan prints its explanation (notes), not an empty table
            _print_parts(console, fit_tables(summary, name if callable(headline) else f"{name}: {res.status}",
                                             console, n_integer=n_integer, money=plan.currency_text))
        for extra_title, extra_df in getattr(res, "extra_tables", lambda: {})().items():
            _print_parts(console, fit_tables(extra_df, extra_title, console, n_integer=n_integer,
                                             money=plan.currency_text))
        notes = getattr(res, "notes", None)
        if callable(notes):
            for line in notes():
                console.print(f"  {line}")
    from optimizer.planreport import terminal_lines  # the media plan in 80 columns

    # the media plan: a terminal's (or $COLUMNS') width; a pipe gets the 80-column block and where the rest is
    sized = out.isatty() or os.environ.get("COLUMNS", "").isdigit()
    for line in terminal_lines(plan, width=max(60, min(console.width, 200)) if sized else 80):
        console.print(line, markup=False, highlight=False)
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
        files = plan.files(planner=False)  # the CSVs only: no charts or report rendered to print a table
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
