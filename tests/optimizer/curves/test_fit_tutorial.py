"""The tutorial's files (docs/curves.md): the shipped fitted curves are what the shipped command produces."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).parents[3]


def test_shipped_fitted_curves_are_reproduced_by_the_tutorial_command(tmp_path):
    """dmpopt curves fit scenarios/curves/history.csv --config scenarios/curves/curves.yaml --out DIR
    gives byte-identical curves.yaml (seeded; re-run the command after changing the fit)."""
    ex = ROOT / "scenarios" / "curves"
    r = CliRunner().invoke(app, ["curves", "fit", str(ex / "history.csv"), "--config", str(ex / "curves.yaml"),
                                 "--out", str(tmp_path), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "curves.yaml").read_text() == (ex / "fitted" / "curves.yaml").read_text()
    assert "Curve fit: 4 channel(s)" in r.output
