"""Every shipped scenario validates and plans, and its plan.json matches the documented schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.plan_schema import validate_plan_document
from optimizer.schema_docs import generated_files

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
runner = CliRunner()


def test_there_are_shipped_scenarios():
    assert len(SCENARIOS) >= 2


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_shipped_scenario_validates_and_plans(path, tmp_path):
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plan", str(path), "--out", str(tmp_path), "--format", "json", "--quiet"])
    assert res.exit_code == 0, res.output  # shipped scenarios are all feasible
    doc = json.loads(res.stdout)
    validate_plan_document(doc)
    assert doc["status"] in ("optimal", "ok", "feasible")
    assert json.loads((tmp_path / "plan.json").read_text())["scenario"] == doc["scenario"]


@pytest.mark.parametrize("path", sorted(generated_files()), ids=lambda p: p.name)
def test_generated_docs_are_up_to_date(path):
    """Regenerate with: python -m optimizer.schema_docs"""
    assert path.exists(), f"{path} is missing: run python -m optimizer.schema_docs"
    assert path.read_text() == generated_files()[path], f"{path} is stale: run python -m optimizer.schema_docs"
