"""``dmpopt experiments ...``: the weekly report and a quick analysis table.

Commands
--------
``report CONFIG --week 2026-W47 --out DIR``
    Writes ``DIR/report.html`` (self-contained), ``DIR/report.md``, ``DIR/plots/*.png`` and
    ``DIR/experiments.json``; prints the written paths to stdout.
``analyze CONFIG [--week 2026-W47] [--format table|json]``
    Prints one row per experiment (decision, primary lift and interval, SRM, power) to stdout.

Exit codes: 0 ok (also when some experiment's analysis failed: it is reported as an error row;
use ``--strict`` to exit 1 then), 1 bad input or I/O, 2 usage. User errors print one message to
stderr without a traceback. Heavy libraries are imported inside the commands so ``--help`` is fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from optimizer.errors import DmpoptError

app = typer.Typer(
    name="experiments",
    help="A/B experiments: weekly report (HTML + Markdown) and analysis table.",
    no_args_is_help=True,
    add_completion=False,
)


class OutputFormat(str, Enum):
    """Output formats of ``analyze``."""

    table = "table"
    json = "json"


class EngineName(str, Enum):
    """SQL engines of the aggregation."""

    duckdb = "duckdb"
    spark = "spark"


def _fail(exc: BaseException) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(getattr(exc, "exit_code", 1))


def _analyze(config: Path, week: str | None, engine: EngineName):
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
            return analyze_experiments(cfg, config.parent, week, engine=SparkEngine(spark))
        finally:
            spark.stop()
    return analyze_experiments(cfg, config.parent, week)


@app.command()
def report(
    config: Path = typer.Argument(..., help="experiments.yaml (data paths are relative to its folder)."),
    week: str = typer.Option(..., "--week", help="Report week, ISO format YYYY-Www (e.g. 2026-W47)."),
    out: Path = typer.Option(..., "--out", help="Output folder (created if missing)."),
    engine: EngineName = typer.Option(EngineName.duckdb, "--engine", help="SQL engine for the aggregation."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any experiment's analysis failed."),
) -> None:
    """Write the weekly report: summary of all experiments, lift over time, SRM and power."""
    try:
        from experiments.report import write_report

        analysis = _analyze(config, week, engine)
        paths = write_report(analysis, out)
    except DmpoptError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(DmpoptError(f"{out}: cannot write the report: {exc.strerror or exc}."))
    for p in paths:
        typer.echo(str(p))
    for w in analysis.warnings:
        typer.echo(f"warning: {w}", err=True)
    if strict and analysis.status != "ok":
        raise typer.Exit(1)


@app.command()
def analyze(
    config: Path = typer.Argument(..., help="experiments.yaml (data paths are relative to its folder)."),
    week: str | None = typer.Option(None, "--week", help="Analyse data up to this ISO week (default: all data)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table (human) or json (machine)."),
    engine: EngineName = typer.Option(EngineName.duckdb, "--engine", help="SQL engine for the aggregation."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any experiment's analysis failed."),
) -> None:
    """Print each experiment's decision, primary lift, SRM and power status."""
    try:
        analysis = _analyze(config, week, engine)
    except DmpoptError as exc:
        _fail(exc)
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps(analysis.to_dict(), indent=2, allow_nan=False))
    else:
        typer.echo(_table(analysis))
    for w in analysis.warnings:
        typer.echo(f"warning: {w}", err=True)
    if strict and analysis.status != "ok":
        raise typer.Exit(1)


def _table(analysis) -> str:
    from experiments.report import fmt_ci, fmt_pct

    frame = analysis.summary()
    cols = ["experiment", "decision", "variant", "primary_metric", "lift", "interval", "srm", "power", "users", "reasons"]
    rows = [[str(r["experiment"]), str(r["decision"]), str(r["variant"] or "-"), str(r["primary_metric"] or "-"),
             fmt_pct(r["lift_relative"]), fmt_ci(r["ci_low"], r["ci_high"]), str(r["srm"]), str(r["power"]),
             str(int(r["users"])), str(r["reasons"])] for r in frame.to_dict(orient="records")]
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)]
    lines = [f"Experiments as of {analysis.week}",
             "  ".join(c.ljust(w) for c, w in zip(cols, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - convenience for `python -m experiments.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
