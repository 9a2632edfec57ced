"""``dmpopt bandit simulate CONFIG.yaml [--out DIR] [--seed N]``: compare policies by regret.

Prints a table of regret per policy to stdout and writes ``DIR/regret.png`` (cumulative regret
curves) and ``DIR/simulation.json`` (the full result). Exit codes: 0 ok, 1 bad input or I/O, 2 usage.
Heavy imports (numpy, matplotlib, the policies) happen inside the command so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Bandit policy simulator.", no_args_is_help=True, add_completion=False)


@app.callback()
def _group() -> None:
    """Bandit policy simulator."""


@app.command()
def simulate(
    config: Path = typer.Argument(..., help="Simulation YAML (arms with true rates and costs, policies, horizon)."),
    out: Path = typer.Option(Path("."), "--out", help="Folder for regret.png and simulation.json."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed (overrides the file's; default: drawn, echoed)."),
) -> None:
    """Run every policy on the same simulated rewards; print regret per policy and plot it."""
    import sys

    from optimizer.errors import DmpoptError

    try:
        from rich.console import Console
        from rich.table import Table

        from optimizer.bandit.simulate import SimulationConfig, run_simulation
        from optimizer.io import atomic_write_bytes, atomic_write_json
        from optimizer.validation import load_model

        cfg = load_model(SimulationConfig, config)
        from optimizer.render import count_progress

        with count_progress("policy runs") as progress:
            result = run_simulation(cfg, seed=seed, progress=progress)
        try:
            out.mkdir(parents=True, exist_ok=True)
            png = atomic_write_bytes(out / "regret.png", result.plot_png())
            atomic_write_json(out / "simulation.json", result.to_dict())
        except OSError as exc:
            raise DmpoptError(f"{out}: cannot write the outputs ({exc.strerror}); choose another --out folder.") from None
    except DmpoptError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=getattr(exc, "exit_code", 1)) from None

    table = Table(title=f"{result.name}: {result.n_runs} run(s) x {result.horizon} decisions (seed {result.seed})")
    for col in ("policy", "regret", "95% CI", "reward", "spend", "reward/cost", "decisions", "s/run"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    best = min(o.regret for o in result.outcomes)
    for o in result.outcomes:
        rpc = "-" if o.spend == 0 else f"{o.reward_per_cost:.4g}"
        table.add_row(o.label, f"{o.regret:.1f}" + (" *" if o.regret == best else ""),
                      f"[{o.regret_ci[0]:.1f}, {o.regret_ci[1]:.1f}]", f"{o.reward:.1f}", f"{o.spend:.2f}", rpc,
                      f"{o.n_decisions:.0f}", f"{o.seconds:.2f}")
    Console(file=sys.stdout, width=120).print(table)
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"plot: {png}", err=True)
