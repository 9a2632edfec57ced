"""``dmpopt churn``: ``fit`` (model report, survival and hazard PNGs) and ``schedule`` (contact plan).

Exit codes: 0 ok; 1 bad input or I/O (message on stderr, no traceback); 2 usage.
Heavy libraries load inside the commands so ``dmpopt --help`` stays fast.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Churn timing: fit survival models and schedule retention contacts.", no_args_is_help=True)

_MODELS = "auto, kaplan_meier, weibull, weibull_aft, loglogistic_aft, lognormal_aft, cox"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(getattr(exc, "exit_code", 1))


def _load(path: Path, duration_col: str, event_col: str, covariates: Optional[str], segment_col, id_col, strata_col):
    from optimizer.churn.data import prepare, read_table

    cov = [c.strip() for c in covariates.split(",") if c.strip()] if covariates else None
    return prepare(read_table(path), duration_col, event_col, cov, segment_col=segment_col, id_col=id_col,
                   strata_col=strata_col, source=path.name)


def _plots(model, data, horizon_days: float) -> dict[str, bytes]:
    """Survival and hazard curves of the fitted model at the covariate profiles of 5 risk quantiles."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    risk = model.model_.risk_score(data.X)
    order = np.argsort(risk)
    picks = order[np.linspace(0, data.n - 1, 5).astype(int)]
    days = np.linspace(0, max(horizon_days, float(np.quantile(data.duration, 0.95))), 200)
    out = {}
    for name, ylabel in (("survival.png", "P(still a customer)"), ("hazard.png", "churn hazard per day")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for q, i in zip(("lowest", "25th pct", "median", "75th pct", "highest"), picks):
            X = data.X[[i]]
            st = None if data.strata is None else data.strata[[i]]
            s = model.survival(np.maximum(days, 1e-9)[None, :], X, st)[0]
            if name == "survival.png":
                ax.step(days, s, where="post", label=f"{q} risk")
            else:
                H = -np.log(np.clip(s, 1e-300, 1))
                width = 7.0
                grid = np.arange(0, days[-1], width)
                Hg = np.interp(grid, days, H)
                ax.step(grid[:-1], np.diff(Hg) / width, where="post", label=f"{q} risk")
        ax.set_xlabel("tenure (days)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{model.report_.selected}: {ylabel}")
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        out[name] = buf.getvalue()
    return out


def _print_report(console, report) -> None:
    """The model report as rich tables: comparison, calibration, then the PH test in words."""
    import math

    from rich.table import Table

    console.print(
        f"Churn model: [bold]{report.selected}[/bold] (selected by {report.select_by} on a holdout of "
        f"{report.n_holdout}; {report.n_events} churn events in {report.n_train + report.n_holdout} customers)")
    fmt = lambda v, d=4: "" if isinstance(v, float) and math.isnan(v) else (f"{v:.{d}f}" if isinstance(v, float) else str(v))  # noqa: E731
    table = Table(title="Model comparison (loglik, aic: train; c_index, ibs, calibration_error: holdout)")
    for col in report.comparison.columns:
        table.add_column(col, justify="left" if col in ("model", "status") else "right", no_wrap=True)
    for row in report.comparison.itertuples(index=False):
        style = "bold" if row.model == report.selected else None
        table.add_row(*(fmt(v) for v in row), style=style)
    console.print(table)
    cal = Table(title=f"Calibration at {report.horizon_days:g} days (holdout): P(churn by horizon)")
    for col in ("group", "n", "predicted", "observed"):
        cal.add_column(col, justify="right")
    for row in report.calibration.itertuples(index=False):
        cal.add_row(str(row.group), str(row.n), f"{row.predicted:.3f}", f"{row.observed:.3f}")
    console.print(cal)
    console.print("Proportional hazards: " + " ".join(report.ph_test), markup=False)
    for w in report.warnings:
        console.print(f"warning: {w}", markup=False)


@app.command()
def fit(
    data: Path = typer.Argument(..., help="CSV or Parquet of customer history."),
    duration_col: str = typer.Option(..., help="Tenure so far in days (> 0)."),
    event_col: str = typer.Option(..., help="1 = churned, 0 = still active."),
    covariates: Optional[str] = typer.Option(None, help="Comma-separated covariates (default: all other columns)."),
    strata_col: Optional[str] = typer.Option(None, help="Cox strata column."),
    model: str = typer.Option("auto", help=f"One of: {_MODELS}."),
    select_by: str = typer.Option("ibs", help="ibs, concordance or aic."),
    penalizer: float = typer.Option(0.0, help="Cox ridge penalizer (>= 0)."),
    horizon_days: float = typer.Option(90.0, help="Decision horizon (days)."),
    seed: Optional[int] = typer.Option(None, help="Seed of the holdout split."),
    out: Optional[Path] = typer.Option(None, help="Folder for report.json, survival.png, hazard.png."),
) -> None:
    """Fit and compare churn models; print the report (and write plots with --out)."""
    from optimizer.errors import DmpoptError

    try:
        from rich.console import Console

        from optimizer.churn.models import ChurnModel
        from optimizer.io import atomic_write_bytes, atomic_write_json

        d = _load(data, duration_col, event_col, covariates, None, None, strata_col)
        m = ChurnModel(model, horizon_days=horizon_days, select_by=select_by, penalizer=penalizer, seed=seed).fit(d)
        import sys

        # a pipe or file gets the full table (rich would squeeze it to 80 columns)
        console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        _print_report(console, m.report_)
        from optimizer.churn.km import km_at, km_table, rmst

        km = km_at(km_table(d.duration, d.event, conf_type="log-log"), [horizon_days]).iloc[0]
        rm = rmst(d.duration, d.event, horizon_days)
        console.print(
            f"Kaplan-Meier at {horizon_days:g} days: S = {km.surv:.4f} (95 % log-log CI {km.lower:.4f}-{km.upper:.4f}); "
            f"restricted mean tenure within {horizon_days:g} days = {rm.rmst:.2f} days (95 % CI {rm.lower:.2f}-{rm.upper:.2f})")
        console.print(f"seed: {m.seed_} (the holdout split; rerun with --seed {m.seed_} to reproduce)")
        if out is not None:
            km_doc = {"horizon_days": horizon_days, "surv": float(km.surv), "lower": float(km.lower),
                      "upper": float(km.upper), "conf_type": "log-log", "rmst": rm.to_dict()}
            atomic_write_json(out / "report.json", {**m.report_.to_dict(), "seed": m.seed_, "kaplan_meier": km_doc})
            for name, png in _plots(m, d, horizon_days).items():
                atomic_write_bytes(out / name, png)
    except DmpoptError as exc:
        _fail(exc)


@app.command()
def schedule(
    data: Path = typer.Argument(..., help="CSV or Parquet of customer history."),
    duration_col: str = typer.Option(..., help="Tenure so far in days (> 0)."),
    event_col: str = typer.Option(..., help="1 = churned, 0 = still active."),
    uplift: float = typer.Option(..., help="Fraction of churn a contact prevents (0-1)."),
    clv: float = typer.Option(..., help="Value of keeping a customer (currency)."),
    contact_cost: float = typer.Option(..., help="Cost of one contact (currency)."),
    start_date: str = typer.Option(date.today().isoformat(), help="Day 0 of the schedule (YYYY-MM-DD)."),
    covariates: Optional[str] = typer.Option(None, help="Comma-separated covariates."),
    segment_col: Optional[str] = typer.Option(None, help="Segment column."),
    id_col: Optional[str] = typer.Option(None, help="Customer id column."),
    model: str = typer.Option("auto", help=f"One of: {_MODELS}."),
    window_days: int = typer.Option(30, help="Risk window (days)."),
    threshold: float = typer.Option(0.1, help="Window-risk threshold (0-1)."),
    lead_days: int = typer.Option(15, help="Days before the crossing to contact."),
    horizon_days: int = typer.Option(90, help="Days ahead to schedule."),
    penalizer: float = typer.Option(0.0, help="Cox ridge penalizer (>= 0), e.g. 0.1 under (quasi-)separation."),
    seed: Optional[int] = typer.Option(None, help="Seed of the holdout split."),
    out: Optional[Path] = typer.Option(None, help="Folder for schedule.csv and customers.csv."),
) -> None:
    """Weekly contact schedule for active customers (stdout; CSVs with --out)."""
    from optimizer.errors import DmpoptError, ScenarioError

    try:
        from optimizer.churn.section import ChurnConfig, run
        from optimizer.io import atomic_write_bytes
        from optimizer.sections import RunContext
        from optimizer.seeding import make_rng
        from optimizer.validation import parse_model

        try:
            day0 = datetime.strptime(start_date, "%Y-%m-%d").date()
        except ValueError:
            raise ScenarioError(f"--start-date is {start_date!r}; it must be a date like 2026-12-01.") from None
        cfg = {
            "data": str(data.resolve()), "duration_col": duration_col, "event_col": event_col, "uplift": uplift,
            "clv": clv, "contact_cost": contact_cost, "start_date": day0, "model": model, "window_days": window_days,
            "threshold": threshold, "lead_days": lead_days, "horizon_days": horizon_days, "segment_col": segment_col,
            "id_col": id_col, "penalizer": penalizer,
            "covariates": [c.strip() for c in covariates.split(",")] if covariates else None,
        }
        config = parse_model(ChurnConfig, cfg, "command line")
        rng, used = make_rng(seed)
        result = run(config, RunContext(seed=used, rng=rng, base_dir=Path.cwd(), source="command line"))
        typer.echo(result.schedule.to_csv(index=False), nl=False)
        typer.echo(
            f"# {result.totals['n_contacts']} contacts, cost {result.totals['total_cost']:.2f}, "
            f"expected value {result.totals['expected_value']:.2f} ({result.report.selected}, seed {result.seed})", err=True)
        if model != "kaplan_meier" and result.report.selected == "kaplan_meier":
            typer.echo(f"# note: model {model} fell back to Kaplan-Meier (no covariates used); see the warnings.", err=True)
        for w in result.warnings:
            typer.echo(f"# warning: {w}", err=True)
        if out is not None:
            atomic_write_bytes(out / "schedule.csv", result.schedule.to_csv(index=False).encode())
            atomic_write_bytes(out / "customers.csv", result.customers.to_csv(index=False).encode())
    except DmpoptError as exc:
        _fail(exc)
