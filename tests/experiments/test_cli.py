"""``dmpopt experiments`` sub-app through typer's CliRunner: exit codes, stdout/stderr discipline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experiments.cli import app

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "experiments"


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.fixture()
def small_config(tmp_path):
    """One summary-statistics experiment (fast) and one whose data file lacks a column."""
    shutil.copy(FIXTURES / "users_missing_column.csv", tmp_path / "users.csv")
    path = tmp_path / "experiments.yaml"
    path.write_text("""experiments:
  - name: email_subject
    start_date: 2026-11-09
    data:
      kind: summary
      rows:
        - {variant: control, metric: open_rate, n: 10000, sum: 2210}
        - {variant: short, metric: open_rate, n: 10000, sum: 2300}
    control: control
    variants: [control, short]
    metrics: [{name: open_rate, kind: proportion}]
    sequential: {method: fixed}
  - name: broken
    start_date: 2026-11-09
    data: {kind: users, path: users.csv}
    control: control
    variants: [control, treatment]
    metrics: [{name: conversion, kind: proportion, column: converted}]
""")
    return path


def test_analyze_table(runner, small_config):
    res = runner.invoke(app, ["analyze", str(small_config), "--week", "2026-W47"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "Experiments as of 2026-W47"
    assert lines[1].split()[:4] == ["experiment", "decision", "variant", "primary_metric"]
    email = next(line for line in lines if line.startswith("email_subject"))
    assert "+4.1%" in email  # 0.23 / 0.221 - 1
    broken = next(line for line in lines if line.startswith("broken"))
    assert broken.split()[1] == "error" and "MISSING_COLUMN" in broken
    assert "warning: broken: MISSING_COLUMN" in res.stderr
    assert "warning" not in res.stdout


def test_analyze_json_is_pure_json(runner, small_config):
    res = runner.invoke(app, ["analyze", str(small_config), "--format", "json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["decisions"]["broken"]["action"] == "error"
    assert data["experiments"][0]["comparisons"][0]["metric"] == "open_rate"


def test_strict_exits_1_when_an_experiment_failed(runner, small_config):
    res = runner.invoke(app, ["analyze", str(small_config), "--strict"])
    assert res.exit_code == 1


def test_report_writes_files(runner, small_config, tmp_path):
    out = tmp_path / "report"
    res = runner.invoke(app, ["report", str(small_config), "--week", "2026-W47", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == str(out / "report.html")
    html = (out / "report.html").read_text()
    assert "Analysis error MISSING_COLUMN" in html and "email_subject" in html
    assert (out / "plots" / "email_subject.png").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["analyze", "{cfg}", "--week", "2026-47"], 1, "expected an ISO week such as '2026-W47'"),
        (["analyze", "{missing}"], 1, "file not found"),
        (["analyze", "{invalid}"], 1, "did you mean 'control'?"),
        (["report", "{cfg}", "--week", "2026-W47"], 2, "Missing option '--out'"),
        (["analyze", "{cfg}", "--format", "xml"], 2, "Invalid value for '--format'"),
        (["report", "{cfg}", "--week", "2026-W47", "--out", "{out}", "--format", "xml"], 2,
         "Invalid value for '--format'"),
        (["analyze", "{cfg}", "--engine", "oracle"], 2, "Invalid value for '--engine'"),
    ],
)
def test_user_errors(runner, small_config, tmp_path, args, code, message):
    subst = {"cfg": str(small_config), "missing": str(tmp_path / "nope.yaml"), "out": str(tmp_path / "o"),
             "invalid": str(FIXTURES / "invalid" / "unknown_key.yaml")}
    res = runner.invoke(app, [a.format(**subst) for a in args])
    assert res.exit_code == code
    assert message in res.stderr
    assert res.stdout == ""
    assert "Traceback" not in res.output


def test_analyze_and_report_take_the_same_options(runner, small_config, tmp_path):
    """--out/-o and --format/-f on both: analyze writes the data files, report prints the analysis."""
    from typer.main import get_command

    cmd = get_command(app)
    names = {c: {o for p in cmd.commands[c].params for o in p.opts} for c in ("analyze", "report")}
    assert names["analyze"] == names["report"]
    res = runner.invoke(app, ["analyze", str(small_config), "-o", str(tmp_path / "a"), "-f", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["experiments"][0]["name"] == "email_subject"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["experiments.json", "results.csv", "results.json"]
    assert json.loads((tmp_path / "a" / "experiments.json").read_text()) == json.loads(res.stdout)
    res = runner.invoke(app, ["report", str(small_config), "--week", "2026-W47", "-o", str(tmp_path / "r"),
                              "-f", "markdown"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("# Experiments report") and "wrote" in res.stderr
    assert (tmp_path / "r" / "report.html").exists()


def test_report_unwritable_out(runner, small_config, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(app, ["report", str(small_config), "--week", "2026-W47", "--out", str(blocker / "sub")])
    assert res.exit_code == 1
    assert "cannot write the report" in res.stderr and "Traceback" not in res.output


def test_help_lists_commands(runner):
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    assert "report" in res.stdout and "analyze" in res.stdout


def test_without_week_every_experiment_uses_all_its_data(runner, tmp_path):
    """No --week: each experiment is analysed up to the ISO week of its latest row, the same as giving that week
    (known answer), and the analysis is labelled with the latest such week. The shipped weekly scenario:
    checkout_button's data ends in 2026-W47, feed_creative's in 2026-W48. Before the fix the default analysed
    the start week only (checkout_button: 1,996 of 8,000 users, 'continue' instead of 'ship')."""
    cfg = ROOT / "scenarios" / "experiments" / "weekly.yaml"
    auto = runner.invoke(app, ["analyze", str(cfg), "--format", "json"])
    w47 = runner.invoke(app, ["analyze", str(cfg), "--week", "2026-W47", "--format", "json"])
    assert auto.exit_code == 0 and w47.exit_code == 0, auto.output + w47.output
    a, b = json.loads(auto.stdout), json.loads(w47.stdout)
    assert a["week"] == "2026-W48"
    ea = {e["name"]: e for e in a["experiments"]}
    eb = {e["name"]: e for e in b["experiments"]}
    assert ea["checkout_button"]["week"] == "2026-W47" and ea["feed_creative"]["week"] == "2026-W48"
    assert ea["checkout_button"] == eb["checkout_button"]
    out = tmp_path / "r"
    res = runner.invoke(app, ["report", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "2026-W48" in (out / "report.md").read_text(encoding="utf-8").splitlines()[0]
