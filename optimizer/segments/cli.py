"""``dmpopt segments fit``: segments from a transactions file.

Exit codes: 0 ok; 1 bad input or I/O (one-line message on stderr, no traceback); 2 usage.
The profiles table goes to stdout; the files (see :mod:`optimizer.segments.profiles`) to ``--out``.
Raw customer ids are only ever written to ``segments_customers.csv`` (pseudonyms with
``pseudonymize: true``); nothing printed carries an id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Customer segments from transactions: RFM, K-means, P(alive), CLV.", no_args_is_help=True)


@app.callback()
def _segments() -> None:
    """Customer segments from transactions."""


def _user_errors(func):
    from optimizer.cli import user_errors

    return user_errors(func)


@app.command()
def fit(
    transactions: Path = typer.Argument(..., help="Transactions CSV or Parquet (one row per transaction)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="segments.yaml (the segments: settings)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the output files."),
    previous: Optional[Path] = typer.Option(None, "--previous", help="A previous run's folder or segments_model.json."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default: drawn and printed)."),
    k: Optional[int] = typer.Option(None, "--k", help="Number of segments (default: chosen by the config's rule)."),
) -> None:
    """Fit segments on TRANSACTIONS and write profiles, groups, report and per-customer files to --out."""
    _run_fit(transactions, config, out, previous, seed, k)


@_user_errors
def _run_fit(transactions, config, out, previous, seed, k) -> None:
    import yaml
    from pydantic import ValidationError

    from optimizer.errors import ScenarioError
    from optimizer.io import atomic_write_bytes
    from optimizer.seeding import resolve_seed
    from optimizer.segments.config import SegmentsConfig
    from optimizer.segments.profiles import run_segments

    raw: dict = {}
    base = Path.cwd()
    if config is not None:
        try:
            raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{config}: cannot be read as YAML ({str(exc).splitlines()[0]}).") from None
        if isinstance(raw, dict) and set(raw) == {"segments"}:
            raw = raw["segments"]
        if not isinstance(raw, dict):
            raise ScenarioError(f"{config}: expected a mapping of segments settings, got {type(raw).__name__}.")
        base = config.resolve().parent
    if previous is not None:
        raw = {**raw, "previous": str(previous.resolve())}
    if k is not None:
        raw = {**raw, "k": k}
    try:
        cfg = SegmentsConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()]
        raise ScenarioError(f"{config or 'segments settings'}: invalid segments settings.", problems) from None
    seed = resolve_seed(seed)
    result = run_segments(cfg, base, seed=seed, data=transactions.resolve())
    typer.echo(str(result))
    if out is not None:
        for name, data in result.files().items():
            atomic_write_bytes(out / name, data)
        typer.echo(f"wrote {len(result.files())} files to {out}", err=True)
