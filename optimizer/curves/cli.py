"""``dmpopt curves``: ``fit`` (history -> curves file + report) and ``import`` (other MMM tools).

Exit codes: 0 ok; 1 bad input or I/O (one-line message on stderr, no traceback); 2 usage.
Heavy libraries load inside the commands so ``dmpopt --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Response curves: fit them from spend history, import them from MMM tools.",
                  no_args_is_help=True)


@app.callback()
def _curves() -> None:
    """Response curves: fit them from spend history, import them from MMM tools."""


@app.command("fit")
def fit_command(
    history: Path = typer.Argument(..., help="History CSV or Parquet: one row per period.", show_default=False),
    config: Path = typer.Option(..., "--config", "-c", help="curves.yaml naming the columns and settings."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for curves.yaml, fit.json, PNGs and report.html."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed (overrides the config's fit.seed)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary on stderr."),
) -> None:
    """Fit response curves from a spend history and write a curves file a scenario can reference."""
    from optimizer.cli import user_errors

    user_errors(_fit)(history, config, out, seed, quiet)


def _fit(history: Path, config: Path, out: Path, seed: int | None, quiet: bool) -> None:
    import json

    from optimizer.curves.config import load_config
    from optimizer.curves.data import check_history, read_table
    from optimizer.curves.lift import read_lift_tests
    from optimizer.curves.model import CurveModel
    from optimizer.curves.output import write
    from optimizer.curves.report import html_report, plots
    from optimizer.errors import DmpoptError
    from optimizer.io import atomic_write_bytes, atomic_write_text

    cfg = load_config(config)
    if out.exists() and not out.is_dir():
        raise DmpoptError(f"--out {out} exists and is not a folder; give a folder path.")
    df, digest = read_table(history)
    h = check_history(df, date_col=cfg.date, kpi_col=cfg.kpi.column,
                      spend_cols={c: v.spend for c, v in cfg.channels.items()}, control_cols=cfg.controls,
                      holiday_cols=cfg.holidays, source=str(history), sha256=digest)
    lift = []
    if cfg.lift_tests:
        lift = read_lift_tests(Path(config).parent / cfg.lift_tests)
    f = cfg.fit
    model = CurveModel({c: v.saturation for c, v in cfg.channels.items()}, max_lag=cfg.model.max_lag,
                       max_decay=cfg.model.max_decay, n_fourier=cfg.model.n_fourier,
                       periods_per_year=cfg.periods_per_year, trend=cfg.model.trend, prior=cfg.model.prior,
                       ridge=cfg.model.ridge, n_starts=f.n_starts, n_bootstrap=f.n_bootstrap,
                       block_length=f.block_length, holdout_periods=f.holdout_periods,
                       current_periods=f.current_periods, interval=f.interval,
                       uncertainty=f.uncertainty, mcmc_iterations=f.mcmc_iterations, point=f.point,
                       seed=seed if seed is not None else f.seed)
    if quiet:
        model.fit(h, lift_tests=lift)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("fitting", total=None)

            def step(stage: str, done: int, total: int) -> None:
                bar.update(task, description=f"fitting: {stage}", completed=done, total=total)

            model.fit(h, lift_tests=lift, progress=step)
    res = model.result
    kpi_name = cfg.kpi.name or cfg.kpi.column
    try:
        write(res, out / "curves.yaml", currency=cfg.currency, kpi_name=kpi_name, kpi_unit=cfg.kpi.unit,
              period=cfg.period, data_file=history.name)
        atomic_write_text(out / "fit.json", json.dumps(res.to_dict(), indent=2, allow_nan=False) + "\n")
        atomic_write_text(out / "decomposition.csv", res.decomposition.to_csv(index=False))
        images = plots(res)
        for name, data in images.items():
            atomic_write_bytes(out / name, data)
        atomic_write_text(out / "report.html", html_report(res, images, f"Curve fit: {kpi_name} ({history.name})"))
    except OSError as exc:
        raise DmpoptError(f"cannot write to {out}: {exc.strerror or exc}") from None
    typer.echo(str(res))
    if not quiet:
        typer.echo(f"wrote curves.yaml, fit.json, decomposition.csv, {', '.join(images)}, report.html to {out}/",
                   err=True)


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="The tool's saved model (Robyn JSON, PyMC-Marketing NetCDF, Meridian proto).",
                                show_default=False),
    tool: str = typer.Option(..., "--from", help="The tool that wrote FILE: meridian, pymc-marketing or robyn."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for curves.yaml (and curves.draws.npz)."),
    currency: Optional[str] = typer.Option(
        None, "--currency", help="Currency code of spend (e.g. USD) when the tool does not record it."),
    no_draws: bool = typer.Option(
        False, "--no-draws", help="Write the curves without their posterior draws (smaller file; a scenario then "
        "cannot use draws: true). Default: draws are carried (Meridian: rebuilt from the proto's posterior)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No warnings on stderr."),
) -> None:
    """Import response curves from a Meridian, PyMC-Marketing or Robyn model (docs/curves-import.md)."""
    from optimizer.cli import user_errors

    user_errors(_import)(file, tool, out, currency, quiet, no_draws)


def _import(file: Path, tool: str, out: Path, currency: str | None, quiet: bool, no_draws: bool = False) -> None:
    from optimizer.curves.curvefile import write_curves
    from optimizer.curves.importers import importer
    from optimizer.errors import DmpoptError

    if currency is not None and (len(currency) != 3 or not currency.isalpha() or not currency.isupper()):
        raise DmpoptError(f"--currency is {currency!r}; give a 3-letter upper-case code such as USD.")
    # Meridian rebuilds its draws (skip the work); the other importers read them, so drop them afterwards
    cf = importer(tool)(file, currency=currency, **({"draws": False} if no_draws and tool == "meridian" else {}))
    if no_draws:
        cf = cf.model_copy(update={"channels": {n: c.model_copy(update={"draws": None})
                                                for n, c in cf.channels.items()}})
    if out.exists() and not out.is_dir():
        raise DmpoptError(f"--out {out} exists and is not a folder; give a folder path.")
    target = out / "curves.yaml"
    if target.exists():
        head = target.read_text(encoding="utf-8", errors="replace")[:4000]
        if "dmpopt_curves:" not in head:  # e.g. the `dmpopt curves fit` config of the same name
            raise DmpoptError(f"--out {out}: {target} exists and is not a curves file; refusing to overwrite it. "
                              "Choose another folder.")
    try:
        path = write_curves(cf, target)
    except OSError as exc:
        raise DmpoptError(f"cannot write to {out}: {exc.strerror or exc}") from None
    lines = [f"{tool} -> {path}: {len(cf.channels)} channel(s), KPI {cf.kpi.name} ({cf.kpi.unit}) per {cf.period}"]
    for name, ch in cf.channels.items():
        r = ch.response
        draws = f", {ch.draws.n_draws} draws" if ch.draws is not None else ""
        params = r.model_dump()
        shown = "".join(f" {k}={v:.6g}" for k, v in params.items() if isinstance(v, float))
        if "points" in params:
            shown = f" {len(params['points'])} points"
        lines.append(f"  {name}: {r.kind}{shown}{draws}")
    typer.echo("\n".join(lines))
    if not quiet:
        for w in cf.warnings:
            typer.echo(f"warning: {w}", err=True)
