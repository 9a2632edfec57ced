"""The `dmpopt` command as a user runs it: exit codes, stdout/stderr hygiene, atomic --out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer import __version__
from optimizer.cli import app
from optimizer.plan_schema import validate_plan_document

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "scenarios" / "article.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "cli"
runner = CliRunner()


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout.strip() == f"dmpopt {__version__}"


def test_validate_ok():
    res = runner.invoke(app, ["validate", str(ARTICLE)])
    assert res.exit_code == 0, res.output
    assert "is a valid scenario" in res.stdout and "budget" in res.stdout


def test_plan_table_shows_channels_and_status():
    res = runner.invoke(app, ["plan", str(ARTICLE), "--quiet"])
    assert res.exit_code == 0, res.output
    for word in ("feed_ads", "search_ads", "short_video", "optimal"):
        assert word in res.stdout


def test_plan_json_is_the_documented_schema_and_records_provenance():
    res = runner.invoke(app, ["plan", str(ARTICLE), "--format", "json", "--seed", "11", "--quiet"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    validate_plan_document(doc)
    assert doc["provenance"]["seed"] == 11
    assert doc["provenance"]["solver"]["name"] == "highs"
    assert doc["provenance"]["solver"]["version"] == "1.12.0"
    assert doc["scenario"]["content_hash"].startswith("sha256:")
    # The article's plan, reading A (docs/article-example.md): 10000 / 6000 / 5000 units.
    units = {r["channel"]: r["units"] for r in doc["budget"]["allocations"]}
    assert units == pytest.approx({"feed_ads": 10000, "search_ads": 6000, "short_video": 5000}, rel=1e-9)


def test_plan_out_writes_three_files_atomically(tmp_path):
    out = tmp_path / "plan"
    res = runner.invoke(app, ["plan", str(ARTICLE), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    names = sorted(os.listdir(out))
    assert {"plan.json", "plan.md", "allocations.csv"} <= set(names)
    assert not [n for n in names if n.endswith(".tmp")]
    header = (out / "allocations.csv").read_text().splitlines()[0].split(",")
    assert header == ["channel", "segment", "period", "spend", "effective_spend", "units", "used", "response", "roi",
                      "marginal_roi", "currency", "response_unit"]  # one column set for every budget plan
    assert "# Plan: article-example" in (out / "plan.md").read_text()


def test_out_pointing_at_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    res = runner.invoke(app, ["plan", str(ARTICLE), "--out", str(f)])
    assert res.exit_code == 1
    assert "exists and is not a folder" in res.stderr
    assert "Traceback" not in res.output


def test_bad_scenario_lists_every_defect_and_exits_1():
    bad = FIXTURES / "two_defects.yaml"
    res = runner.invoke(app, ["plan", str(bad)])
    assert res.exit_code == 1
    assert f"{bad}:8: budget.channels[0].cost_per_unit is -5" in res.stderr
    assert f"{bad}:12: unknown key budget.channels[1].max_unit; did you mean 'max_units'?" in res.stderr
    assert "Traceback" not in res.output
    assert res.stdout == ""


def test_missing_file_exits_1_without_traceback(tmp_path):
    res = runner.invoke(app, ["plan", str(tmp_path / "none.yaml")])
    assert res.exit_code == 1
    assert "file not found" in res.stderr and "Traceback" not in res.output


def test_unknown_solver_is_a_clear_error():
    res = runner.invoke(app, ["plan", str(ARTICLE), "--solver", "gurobi"])
    assert res.exit_code == 2  # a usage error, like a bad --format (issue 15)
    assert "gurobi" in res.stderr and "highs" in res.stderr


def test_usage_error_exits_2():
    res = runner.invoke(app, ["plan"])
    assert res.exit_code == 2


def test_infeasible_exits_3_and_explains_in_money(tmp_path):
    res = runner.invoke(app, ["plan", str(FIXTURES / "infeasible_minimums.yaml"), "--out", str(tmp_path), "--format", "json", "--quiet"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "infeasible"
    text = " ".join(doc["budget"]["explanation"])
    # the minimums' cost, the budget and the shortfall, in money
    assert "minimums need ¥310k, the budget is ¥300k: raise the budget by ¥10k" in text
    assert (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("solver", ["highs", "cbc", "glop", "pdlp"])
def test_no_solver_banner_reaches_stdout(solver):
    """A real subprocess, so C-level writes to fd 1 (ortools' "Running HiGHS") would show."""
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer.cli", "plan", str(ARTICLE), "--format", "json", "--solver", solver, "--quiet"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # fails on any stray line
    assert doc["budget"]["solver"]["name"] == solver


def test_schema_commands_print_json():
    for what in ("scenario", "plan"):
        res = runner.invoke(app, ["schema", what])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["title"].startswith("dmpopt")
    res = runner.invoke(app, ["schema", "nope"])
    assert res.exit_code == 1 and "expected one of" in res.stderr


def test_validate_checks_every_file_and_fails_if_any_is_bad():
    bad = FIXTURES / "two_defects.yaml"
    res = runner.invoke(app, ["validate", str(bad), str(ARTICLE)])
    assert res.exit_code == 1
    assert f"ok: {ARTICLE} is a valid scenario" in res.stdout  # the good file after the bad one was checked
    assert "cost_per_unit is -5" in res.stderr
