"""The ``dmpopt`` command: parse -> load -> run -> render; nothing else.

Exit codes (docs/cli.md): 0 ok; 1 bad input or I/O; 2 usage; 3 solved but infeasible.
Results go to stdout (or ``--out``); progress, messages and errors go to stderr. Solver banners
never reach stdout: the solve runs with file descriptor 1 pointed at stderr.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from optimizer import __version__
from optimizer.errors import DmpoptError

app = typer.Typer(
    name="dmpopt",
    help="Marketing decision optimization: budget plans, bandit channel allocation, churn timing, A/B analysis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INFEASIBLE = 0, 1, 2, 3


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def _stderr(message: str) -> None:
    typer.echo(message, err=True)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a DmpoptError into a one-paragraph message on stderr and its exit code, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DmpoptError as exc:
            _stderr(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _stderr("interrupted")
            raise typer.Exit(130) from None

    return wrapper


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the duration (C-level solver output included)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real fd 1 (e.g. inside some test runners): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dmpopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """dmpopt: turn budgets, channels, churn and experiments into decisions."""


@app.command()
@user_errors
def validate(
    scenarios: list[Path] = typer.Argument(..., help="Scenario YAML file(s) to check.", show_default=False),
) -> None:
    """Check scenario files against the schema without solving anything."""
    from optimizer.scenario import load_scenario

    n_bad = 0
    for path in scenarios:  # check every file, so one run lists every broken one
        try:
            loaded = load_scenario(path)
        except DmpoptError as exc:
            _stderr(f"error: {exc}")
            n_bad += 1
            continue
        names = ", ".join(spec.name for spec, _ in loaded.sections)
        typer.echo(f"ok: {path} is a valid scenario ({loaded.model.name!r}; sections: {names})")
    if n_bad:
        raise typer.Exit(EXIT_INPUT)


def _check_solver(solver: str | None) -> None:
    """A bad --solver is a usage error (exit 2), like a bad --format."""
    if solver is None:
        return
    from optimizer.budget.advanced.solve import MIP_SOLVERS
    from optimizer.budget.backends import BACKENDS

    known = list(dict.fromkeys([*BACKENDS, *MIP_SOLVERS]))
    if solver.lower() not in known:
        raise typer.BadParameter(f"{solver!r} is not a solver; choose one of: {', '.join(known)} "
                                 "(omit it to use highs).", param_hint="'--solver'")


@app.command()
@user_errors
def plan(
    scenario: Path = typer.Argument(..., help="Scenario YAML file.", show_default=False),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Folder to write plan.json, plan.md, allocations.csv (atomically)."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="What to print on stdout."),
    solver: Optional[str] = typer.Option(
        None, "--solver", help="Budget solver: highs (default), cbc, glop, pdlp; highs, cbc or scip for budgets with integer rules, S-curves or adstock."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed for random steps (overrides the scenario)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or file list on stderr."),
) -> None:
    """Read a scenario and write the recommended campaign plan."""
    from optimizer import render
    from optimizer.planreport.outdir import write_output_set
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    _check_solver(solver)
    loaded = load_scenario(scenario)
    if out is not None and out.exists() and not out.is_dir():
        raise DmpoptError(f"--out {out} exists and is not a folder; give a folder path.")
    with render.progress(enabled=not quiet) as step, stdout_to_stderr():
        counts = {"count_progress": render.count_progress} if not quiet else None
        result = run(loaded, seed=seed, solver=solver, progress=step, options=counts)
    if out is not None:
        try:
            written = write_output_set(out, result.files(), scenario=str(scenario))
        except OSError as exc:
            raise DmpoptError(f"cannot write the plan to {out}: {exc.strerror or exc}") from None
        if not quiet:
            _stderr(f"wrote {', '.join(written.written)} to {out}/")
            if written.removed:
                _stderr(f"removed the previous run's {', '.join(written.removed)} (listed in its manifest.json)")
            if written.left_alone:
                _stderr(f"left alone (not written by dmpopt per manifest.json): {', '.join(written.left_alone)}")
    render.emit(result, fmt.value)
    if result.status == "infeasible":
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.status == "error":
        raise typer.Exit(EXIT_INPUT)


@app.command()
@user_errors
def compare(
    a: Path = typer.Argument(..., help="Plan A: a plan.json (from `dmpopt plan --out`) or a scenario YAML.", show_default=False),
    b: Path = typer.Argument(..., help="Plan B: a plan.json or a scenario YAML.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write compare.csv, compare_channels.csv, compare.md, compare.json."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="What to print on stdout."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed for scenarios planned here."),
) -> None:
    """Compare two plans: spend per channel and period (B - A) and the inputs that explain it."""
    from optimizer.planreport.compare import compare as compare_plans
    from optimizer.planreport.compare import compare_files, load_side
    from optimizer.planreport.outdir import write_output_set

    with stdout_to_stderr():
        side_a, side_b = load_side(a, seed), load_side(b, seed)
    result = compare_plans(side_a, side_b)
    files = compare_files(result)
    if out is not None:
        if out.exists() and not out.is_dir():
            raise DmpoptError(f"--out {out} exists and is not a folder; give a folder path.")
        try:
            written = write_output_set(out, files, scenario=f"{a} vs {b}")
        except OSError as exc:
            raise DmpoptError(f"cannot write the comparison to {out}: {exc.strerror or exc}") from None
        _stderr(f"wrote {', '.join(written.written)} to {out}/")
    if fmt is OutputFormat.json:
        sys.stdout.write(files["compare.json"].decode())
    elif fmt is OutputFormat.csv:
        sys.stdout.write(files["compare.csv"].decode())
    elif fmt is OutputFormat.markdown:
        sys.stdout.write(files["compare.md"].decode())
    else:
        typer.echo("\n".join(result.lines()))


@app.command()
@user_errors
def schema(
    what: str = typer.Argument("scenario", help="`scenario` (the YAML input) or `plan` (plan.json output)."),
) -> None:
    """Print the JSON Schema of the scenario file or of plan.json."""
    from optimizer.schema_docs import plan_json_schema, scenario_json_schema

    makers = {"scenario": scenario_json_schema, "plan": plan_json_schema}
    if what not in makers:
        raise DmpoptError(f"schema {what!r} is unknown; expected one of: {', '.join(makers)}.")
    typer.echo(json.dumps(makers[what](), indent=2))


def _mount_subapps() -> None:
    """Sub-commands of the other parts (imported lazily inside their commands)."""
    import importlib

    for name, module, help_text in SUBAPPS:
        sub = importlib.import_module(module).app
        for command in sub.registered_commands:
            cmd_name = command.name or command.callback.__name__.replace("_", "-")
            if command.callback is not None and cmd_name not in NO_SPINNER:
                command.callback = _with_progress(f"dmpopt {name} {cmd_name}", command.callback)
        app.add_typer(sub, name=name, help=help_text)


#: sub-commands that must not get a spinner: a server that runs until stopped
NO_SPINNER = {"serve"}


def _with_progress(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with a spinner and elapsed time on stderr while it runs (terminal only; see render)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from optimizer.render import command_progress

        with command_progress(label):
            return func(*args, **kwargs)

    return wrapper


#: (command name, module with a typer `app`, help). Registration is one line per part.
SUBAPPS: list[tuple[str, str, str]] = [
    ("experiments", "experiments.cli", "A/B experiments: weekly report and analysis table."),
    ("churn", "optimizer.churn.cli", "Churn timing: fit survival models and schedule retention contacts."),
    ("segments", "optimizer.segments.cli", "Customer segments from transactions: RFM, K-means, P(alive), CLV."),
    ("bandit", "optimizer.bandit.cli_serve", "Bandit channel allocation: serve decisions over HTTP, simulate policies."),
    ("curves", "optimizer.curves.cli", "Response curves: fit them from spend history, import them from MMM tools."),
]

_mount_subapps()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
