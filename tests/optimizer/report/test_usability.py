"""Issue 15's first-try fixes: progress on long sub-commands, the default currency stated, usage codes."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from optimizer.cli import NO_SPINNER, app
from optimizer.render import command_progress

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_command_progress_draws_on_a_terminal_and_is_silent_in_a_pipe(capsys):
    buf = io.StringIO()
    with command_progress("dmpopt churn fit", console=Console(file=buf, force_terminal=True, width=80)):
        pass
    assert "dmpopt churn fit..." in buf.getvalue()
    with command_progress("dmpopt churn fit"):  # pytest's stderr is not a terminal
        pass
    assert capsys.readouterr().err == ""


def test_every_long_subcommand_is_wrapped_but_not_the_server():
    groups = {g.name: g.typer_instance for g in app.registered_groups}
    wrapped = {f"{name} {c.name or c.callback.__name__}": hasattr(c.callback, "__wrapped__")
               for name, sub in groups.items() for c in sub.registered_commands}
    for cmd in ("churn fit", "experiments report", "bandit simulate"):
        assert wrapped.get(cmd), (cmd, wrapped)
    assert not wrapped.get("bandit serve") and "serve" in NO_SPINNER


def test_default_currency_is_stated_in_every_output(tmp_path):
    scen = tmp_path / "s.yaml"
    scen.write_text("name: no-currency\nbudget:\n  total_budget: {amount: 1000}\n  channels:\n"
                    "    - {name: a, response: {kind: log, scale: 100, saturation_spend: 10}}\n")
    res = runner.invoke(app, ["plan", str(scen), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    note = "CNY (the default: the scenario states no currency)"
    assert note in res.stdout
    assert note in (tmp_path / "out" / "plan.md").read_text()
    assert note in (tmp_path / "out" / "report.html").read_text()
    stated = runner.invoke(app, ["plan", str(ROOT / "scenarios" / "media_plan.yaml"), "--format", "markdown", "-q"])
    assert "- Currency: USD\n" in stated.stdout and "the default" not in stated.stdout


def test_bad_solver_and_bad_format_share_the_usage_code():
    scen = str(ROOT / "scenarios" / "article.yaml")
    bad_solver = runner.invoke(app, ["plan", scen, "--solver", "gurobi"])
    bad_format = runner.invoke(app, ["plan", scen, "--format", "xml"])
    assert bad_solver.exit_code == bad_format.exit_code == 2
    assert "gurobi" in bad_solver.stderr and "highs" in bad_solver.stderr
