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
    from optimizer.io import atomic_write_bytes
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    loaded = load_scenario(scenario)
    if out is not None and out.exists() and not out.is_dir():
        raise DmpoptError(f"--out {out} exists and is not a folder; give a folder path.")
    with render.progress(enabled=not quiet) as step, stdout_to_stderr():
        result = run(loaded, seed=seed, solver=solver, progress=step)
    if out is not None:
        try:
            for name, data in result.files().items():
                atomic_write_bytes(out / name, data)
        except OSError as exc:
            raise DmpoptError(f"cannot write the plan to {out}: {exc.strerror or exc}") from None
        if not quiet:
            _stderr(f"wrote {', '.join(sorted(result.files()))} to {out}/")
    render.emit(result, fmt.value)
    if result.status == "infeasible":
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.status == "error":
        raise typer.Exit(EXIT_INPUT)


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
        app.add_typer(sub, name=name, help=help_text)


#: (command name, module with a typer `app`, help). Registration is one line per part.
SUBAPPS: list[tuple[str, str, str]] = [
    ("experiments", "experiments.cli", "A/B experiments: weekly report and analysis table."),
    ("churn", "optimizer.churn.cli", "Churn timing: fit survival models and schedule retention contacts."),
    ("bandit", "optimizer.bandit.cli_serve", "Bandit channel allocation: serve decisions over HTTP, simulate policies."),
]

_mount_subapps()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
