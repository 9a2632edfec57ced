"""``dmpopt plan`` on advanced budgets (the section is wired): files, exit codes, clean stdout."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).resolve().parents[4]
runner = CliRunner()


def test_plan_writes_frontier_files_and_json(tmp_path):
    res = runner.invoke(app, ["plan", str(ROOT / "scenarios" / "budget_frontier.yaml"), "--out", str(tmp_path),
                              "--format", "json", "--quiet"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # nothing but the plan on stdout (no solver banners)
    assert doc["budget"]["status"] == "optimal"
    assert len(doc["budget"]["frontier"]["levels"]) == 60
    for name in ("frontier.csv", "frontier.png", "frontier.svg", "allocations.csv", "plan.md"):
        assert (tmp_path / name).exists(), name


def test_unreachable_target_exits_3_with_the_best_roas(tmp_path):
    res = runner.invoke(app, ["plan", str(ROOT / "tests" / "fixtures" / "invalid" / "budget_adv_target_unreachable.yaml")])
    assert res.exit_code == 3
    assert "the best achievable ROAS under these caps is 2.86, below the target 4" in res.output


def test_solver_flag_selects_cbc_for_a_milp(tmp_path):
    res = runner.invoke(app, ["plan", str(ROOT / "scenarios" / "budget_milp_rules.yaml"), "--solver", "cbc",
                              "--format", "json", "--quiet"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["budget"]["solver"]["name"] == "cbc"
    assert doc["budget"]["mip_gap"] <= 1e-4
