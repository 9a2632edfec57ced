"""``dmpopt bandit serve`` option errors through typer's CliRunner (serving itself is tested with
real subprocesses in test_concurrency.py)."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from optimizer.bandit.cli_serve import app

runner = CliRunner()


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, ["serve", *args], env={"DMPOPT_API_KEY": "", "DMPOPT_BANDIT_STORE": "",
                                                     "DMPOPT_BANDIT_CRASH_PENDING": "", "DMPOPT_BANDIT_LIMITS": "",
                                                     **(env or {})})


def test_group_has_serve_and_simulate():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "simulate" in result.output


def test_help_lists_options():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--store", "--workers", "--api-key", "--max-body-bytes", "--port", "--crash-pending", "--limits"):
        assert option in result.output


@pytest.mark.parametrize("args, words", [
    (["--store", "memory://"], "--api-key (or env DMPOPT_API_KEY) is missing"),
    (["--store", "memory://", "--api-key", "k", "--workers", "2"], "cannot be shared by 2 workers"),
    (["--store", "bandit.db", "--api-key", "k"], "has no scheme"),
    (["--store", "redis://127.0.0.1:1/0", "--api-key", "k"], "cannot be reached"),
    (["--store", "memory://", "--api-key", "k", "--crash-pending", "drop"], "--crash-pending is 'drop'; use default or expire"),
    (["--store", "memory://", "--api-key", "k", "--limits", "{max_arms: 3}"], "--limits is not valid JSON"),
    (["--store", "memory://", "--api-key", "k", "--limits", '{"max_arms": 1}'], "max_arms is 1; input should be greater than or equal to 2"),
])
def test_bad_options_exit_1_with_one_clear_line(args, words):
    result = run(*args)
    assert result.exit_code == 1
    assert words in result.output
    assert "Traceback" not in result.output


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run("--store", f"sqlite:///{tmp_path}/b.db", "--api-key", "k", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_usage_error_is_exit_2():
    result = run("--store", "memory://", "--api-key", "k", "--workers", "0")
    assert result.exit_code == 2
