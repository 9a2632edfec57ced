"""`dmpopt plan scenarios/media_plan.yaml --out DIR` end to end, `dmpopt compare`, and reused --out folders."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "scenarios" / "media_plan.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    res = runner.invoke(app, ["plan", str(SCENARIO), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res


def test_media_plan_files_add_up_to_the_budget(plan_dir):
    out, _ = plan_dir
    plan = json.loads((out / "plan.json").read_text())
    csv = pd.read_csv(out / "media_plan.csv")
    weeks = [c for c in csv.columns if c.startswith("2026-W")]
    assert len(weeks) == 8 and set(csv.segment) == {"prospects", "lapsed", "loyal", "total"}
    total = csv[csv.channel == "total"].iloc[0]
    assert total["total"] == round(plan["budget"]["total_spend"]) == 800_000
    body = csv[(csv.channel != "total") & (csv.segment != "total")]
    assert (body[weeks].sum().to_numpy() == total[weeks].to_numpy()).all()
    # weeks never exceed their budgets after rounding (80,000 in W02 ... 90,000 in W09)
    caps = [80_000, 100_000, 110_000, 110_000, 110_000, 100_000, 100_000, 90_000]
    assert (total[weeks].to_numpy() <= caps).all()
    ws = load_workbook(io.BytesIO((out / "media_plan.xlsx").read_bytes()))["media plan"]
    assert ws.cell(ws.max_row, ws.max_column).value == 800_000
    md = (out / "plan.md").read_text()
    assert "## Media plan" in md and "**800,000**" in md and "## Current vs recommended" in md


def test_current_vs_recommended_is_reported(plan_dir):
    out, res = plan_dir
    cur = pd.read_csv(out / "current_vs_recommended.csv").set_index("channel")
    assert cur.loc["total", "current_spend"] == pytest.approx(800_000)
    assert cur.loc["display", "current_spend"] == pytest.approx(250_000)
    assert cur.loc["total", "incremental_response"] > 0
    assert "against the current plan" in res.stdout and "moving $" in res.stdout
    doc = json.loads((out / "plan.json").read_text())
    assert doc["current"]["sentence"].startswith("moving $")


def test_terminal_media_plan_fits_80_columns(plan_dir):
    _, res = plan_dir
    lines = res.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Media plan (USD"))
    block = lines[start:]
    end = next(i for i, line in enumerate(block) if line.startswith("  media_plan.csv"))
    assert all(len(line) <= 80 for line in block[: end + 1])
    assert "more period(s) not shown here" in block[end - 1]


def test_report_and_charts_are_written(plan_dir):
    out, _ = plan_dir
    for stem in ("flighting", "spend_vs_response", "response_curves", "roi", "current_vs_recommended"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:2000]
    html = (out / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # no network
    assert 'id="media-plan"' in html and html.count('<img class="chart"') >= 5
    manifest = json.loads((out / "manifest.json").read_text())
    assert "report.html" in manifest["files"] and "media_plan.xlsx" in manifest["files"]


def test_reusing_out_removes_the_previous_runs_files(tmp_path):
    out = tmp_path / "plan"
    first = runner.invoke(app, ["plan", str(ROOT / "scenarios" / "budget_frontier.yaml"), "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    assert (out / "frontier.csv").exists()
    assert 'alt="frontier"' in (out / "report.html").read_text()  # the frontier chart is on the page
    (out / "my_notes.txt").write_text("keep me")
    second = runner.invoke(app, ["plan", str(SCENARIO), "--out", str(out)])
    assert second.exit_code == 0, second.output
    assert not (out / "frontier.csv").exists() and not (out / "frontier.png").exists()
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert "removed the previous run's" in second.stderr and "frontier.csv" in second.stderr
    assert "my_notes.txt" in second.stderr


def test_compare_two_plans_explains_the_inputs(plan_dir, tmp_path):
    out, _ = plan_dir
    b = tmp_path / "b.yaml"
    b.write_text(SCENARIO.read_text().replace("amount: 800000", "amount: 700000"))
    res = runner.invoke(app, ["compare", str(out / "plan.json"), str(b), "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    assert "budget.total_budget.amount: 800,000 -> 700,000" in res.stdout
    ch = pd.read_csv(tmp_path / "cmp" / "compare_channels.csv").set_index("channel")
    assert ch.loc["total", "spend_change"] == pytest.approx(-100_000, abs=1e-3)
    cells = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert cells.spend_change.sum() == pytest.approx(-100_000, abs=1e-3)
    assert all(len(line) <= 80 for line in res.stdout.splitlines())
    js = runner.invoke(app, ["compare", str(out / "plan.json"), str(out / "plan.json"), "--format", "json"])
    doc = json.loads(js.stdout)
    assert doc["input_changes"] == [] and all(abs(r["spend_change"]) < 1e-9 for r in doc["channels"])


def test_compare_missing_file_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["compare", str(tmp_path / "nope.json"), str(SCENARIO)])
    assert res.exit_code == 1 and "nope.json: file not found" in res.stderr and "Traceback" not in res.output
