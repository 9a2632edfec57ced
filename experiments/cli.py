"""``dmpopt experiments ...``: the weekly report and a quick analysis table.

Commands
--------
``report CONFIG [--week 2026-W47] --out DIR [--format table|json|markdown]``
    Writes ``DIR/report.html`` (self-contained), ``DIR/report.md``, ``DIR/plots/*.png``,
    ``DIR/experiments.json`` and ``DIR/results.csv|json``; prints the written paths to stdout, or
    with ``--format`` the analysis in that format (the paths then go to stderr).
``analyze CONFIG [--week 2026-W47] [--format table|json|markdown] [--out DIR]``
    Prints one row per experiment (decision, primary lift and interval, SRM, power) to stdout, fitted
    to the terminal's width; ``--out`` also writes the report's data files (no pages, no plots).

Both commands take the same options (``--week``, ``--out/-o``, ``--format/-f``, ``--engine``,
``--strict``); ``report`` needs ``--out``. Without ``--week`` each experiment is analysed on all its
data (up to the ISO week of its latest row) and the report is labelled with the latest such week. A bad ``--format`` or ``--engine`` is a
usage error (exit 2), like a bad ``--solver`` or ``--format`` of ``dmpopt plan``.

Exit codes: 0 ok (also when some experiment's analysis failed: it is reported as an error row;
use ``--strict`` to exit 1 then), 1 bad input or I/O, 2 usage. User errors print one message to
stderr without a traceback. Heavy libraries are imported inside the commands so ``--help`` is fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from optimizer.errors import DmpoptError

app = typer.Typer(
    name="experiments",
    help="A/B experiments: weekly report (HTML + Markdown) and analysis table.",
    no_args_is_help=True,
    add_completion=False,
)


class OutputFormat(str, Enum):
    """What ``analyze`` and ``report`` print on stdout."""

    table = "table"
    json = "json"
    markdown = "markdown"


class EngineName(str, Enum):
    """SQL engines of the aggregation."""

    duckdb = "duckdb"
    spark = "spark"


def _fail(exc: BaseException) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(getattr(exc, "exit_code", 1))


def _analyze(config: Path, week: str | None, engine: EngineName):
    from optimizer.render import count_progress

    with count_progress("experiments analysed") as progress:
        return _analyze_counted(config, week, engine, progress)


def _analyze_counted(config: Path, week: str | None, engine: EngineName, progress):
    from experiments.config import load_experiments_config, parse_iso_week
    from experiments.pipeline import analyze_experiments

    if week is not None:
        parse_iso_week(week)  # a clear message before any data is read
    cfg = load_experiments_config(config)
    if engine is EngineName.spark:
        from experiments.aggregate_spark import SparkEngine, local_session

        try:
            spark = local_session()
        except ImportError:
            raise DmpoptError("--engine spark needs pyspark; install it with `pip install pyspark`.") from None
        try:
            return analyze_experiments(cfg, config.parent, week, engine=SparkEngine(spark), progress=progress)
        finally:
            spark.stop()
    return analyze_experiments(cfg, config.parent, week, progress=progress)


FORMAT_HELP = "What to print on stdout: table (human), json (machine) or markdown."


def _emit(analysis, fmt: OutputFormat) -> None:
    """Print ``analysis`` on stdout in ``fmt``."""
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps(analysis.to_dict(), indent=2, allow_nan=False))
    elif fmt is OutputFormat.markdown:
        from experiments.report import render_markdown

        typer.echo(render_markdown(analysis, {}))
    else:
        typer.echo(_table(analysis))


def _write(out: Path, files: dict[str, bytes]) -> list[Path]:
    from optimizer.io import atomic_write_bytes

    try:
        return [atomic_write_bytes(out / name, data) for name, data in files.items()]
    except OSError as exc:
        raise DmpoptError(f"{out}: cannot write the report: {exc.strerror or exc}.") from None


@app.command()
def report(
    config: Path = typer.Argument(..., help="experiments.yaml (data paths are relative to its folder)."),
    week: Optional[str] = typer.Option(None, "--week", help="Report week, ISO format YYYY-Www (e.g. 2026-W47); "
                                       "default: all data, up to the latest week in it."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    fmt: Optional[OutputFormat] = typer.Option(
        None, "--format", "-f", help=FORMAT_HELP + " Without it, the written paths are printed."),
    engine: EngineName = typer.Option(EngineName.duckdb, "--engine", help="SQL engine for the aggregation."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any experiment's analysis failed."),
) -> None:
    """Write the weekly report: summary of all experiments, lift over time, SRM and power."""
    try:
        from experiments.report import build_report

        analysis = _analyze(config, week, engine)
        paths = _write(out, build_report(analysis).files())
    except DmpoptError as exc:
        _fail(exc)
    if fmt is None:
        for p in paths:
            typer.echo(str(p))
    else:
        _emit(analysis, fmt)
        typer.echo(f"wrote {len(paths)} files to {out}/", err=True)
    for w in analysis.warnings:
        typer.echo(f"warning: {w}", err=True)
    if strict and analysis.status != "ok":
        raise typer.Exit(1)


@app.command()
def analyze(
    config: Path = typer.Argument(..., help="experiments.yaml (data paths are relative to its folder)."),
    week: Optional[str] = typer.Option(None, "--week", help="Analyse data up to this ISO week (default: all data, "
                                       "up to the latest week in it)."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Also write experiments.json, results.csv and results.json to this folder."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help=FORMAT_HELP),
    engine: EngineName = typer.Option(EngineName.duckdb, "--engine", help="SQL engine for the aggregation."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any experiment's analysis failed."),
) -> None:
    """Print each experiment's decision, primary lift, SRM and power status."""
    try:
        analysis = _analyze(config, week, engine)
        if out is not None:  # the data files of the report, without rendering its plots and pages
            from experiments.report import Report
            from experiments.report_parts import export_rows

            files = Report("", "", {}, analysis.to_dict(), tuple(export_rows(analysis))).files()
            written = _write(out, {k: v for k, v in files.items()
                                   if k in ("experiments.json", "results.csv", "results.json")})
            typer.echo(f"wrote {', '.join(p.name for p in written)} to {out}/", err=True)
    except DmpoptError as exc:
        _fail(exc)
    _emit(analysis, fmt)
    for w in analysis.warnings:
        typer.echo(f"warning: {w}", err=True)
    if strict and analysis.status != "ok":
        raise typer.Exit(1)


def _table(analysis, width: int | None = None) -> str:
    """One row per experiment, fitted to ``width`` columns (the terminal's; see optimizer.termtable)."""
    import io

    import pandas as pd
    from rich.console import Console

    from experiments.report import fmt_ci, fmt_pct
    from optimizer.render import console_width
    from optimizer.termtable import fit_tables

    frame = analysis.summary()
    cols = ["experiment", "decision", "variant", "primary_metric", "lift", "interval", "srm", "power", "users", "reasons"]
    rows = [[str(r["experiment"]), str(r["decision"]), str(r["variant"] or "-"), str(r["primary_metric"] or "-"),
             fmt_pct(r["lift_relative"]), fmt_ci(r["ci_low"], r["ci_high"]), str(r["srm"]), str(r["power"]),
             str(int(r["users"])), str(r["reasons"])] for r in frame.to_dict(orient="records")]
    buf = io.StringIO()
    console = Console(file=buf, width=width or console_width(sys.stdout), color_system=None, highlight=False)
    for part in fit_tables(pd.DataFrame(rows, columns=cols), f"Experiments as of {analysis.week}", console,
                           plain=True):
        console.print(part, markup=False) if isinstance(part, str) else console.print(part)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


def main() -> None:  # pragma: no cover - convenience for `python -m experiments.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
