"""Simulator and ``simulate`` CLI: regret accounting by hand, common random numbers, budgets, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.bandit.cli_simulate import app
from optimizer.bandit.simulate import SimulationConfig, reward_table, run_simulation

ROOT = Path(__file__).resolve().parents[3]
INVALID = ROOT / "tests" / "fixtures" / "invalid"


def _cfg(**kw):
    base = dict(arms=[{"name": "a", "rate": 0.1}, {"name": "b", "rate": 0.3}],
                policies=[{"label": "ts", "policy": {"kind": "thompson"}}], horizon=2000, seed=3)
    base.update(kw)
    return SimulationConfig.model_validate(base)


def test_regret_of_a_fixed_arm_is_gap_times_horizon():
    """An epsilon-greedy with epsilon = 1 picks uniformly: expected regret = T * gap / 2
    = 2000 * 0.2 / 2 = 200, within 4 SE (SE = 0.2 * sqrt(T * 0.25) = 4.47)."""
    res = run_simulation(_cfg(policies=[{"label": "uniform", "policy": {"kind": "epsilon_greedy", "epsilon": 1.0}}]))
    o = res.outcome("uniform")
    assert abs(o.regret - 200) < 4 * 4.48
    assert o.curve[0] == 0 and o.curve[-1] == pytest.approx(o.regret)
    assert o.n_decisions == 2000


def test_common_random_numbers_and_seed_echo():
    cfg = _cfg(seed=None)
    res = run_simulation(cfg, seed=11)
    assert res.seed == 11
    again = run_simulation(cfg, seed=11)
    assert res.to_dict()["outcomes"][0]["regret"] == again.to_dict()["outcomes"][0]["regret"]
    t1, _ = reward_table(cfg, np.random.default_rng(5))
    t2, _ = reward_table(cfg, np.random.default_rng(5))
    assert np.array_equal(t1, t2)
    assert run_simulation(_cfg(seed=None)).seed >= 0


def test_drift_schedule_and_budget_stop():
    cfg = _cfg(drift=[{"step": 1000, "rates": {"a": 0.5}}], budget=500.0,
               arms=[{"name": "a", "rate": 0.1, "cost_per_action": 1.0}, {"name": "b", "rate": 0.3, "cost_per_action": 0.5}])
    _, rates = reward_table(cfg, np.random.default_rng(0))
    assert rates[999].tolist() == [0.1, 0.3] and rates[1000].tolist() == [0.5, 0.3]
    res = run_simulation(cfg)
    o = res.outcome("ts")
    assert o.spend <= 500.0 and o.n_decisions < 2000
    assert o.reward_per_cost == pytest.approx(o.reward / o.spend)


def test_thompson_beats_ucb1_at_low_conversion():
    """5 arms at 2-5 %, T = 20,000, 2 runs: Thompson's regret well below UCB1's (UCB1's bonus
    swamps gaps of 0.5-3 points); the full-size comparison is in the benchmark."""
    cfg = SimulationConfig.model_validate(dict(
        arms=[{"name": f"a{i}", "rate": r} for i, r in enumerate([0.02, 0.025, 0.03, 0.035, 0.05])],
        policies=[{"label": "ts", "policy": {"kind": "thompson"}}, {"label": "ucb1", "policy": {"kind": "ucb1"}},
                  {"label": "ts-batch", "policy": {"kind": "thompson"}, "batch_size": 500}],
        horizon=20_000, n_runs=2, seed=1))
    res = run_simulation(cfg)
    assert res.outcome("ts").regret * 4 < res.outcome("ucb1").regret
    assert res.outcome("ts-batch").regret < res.outcome("ucb1").regret


def test_cli_prints_table_and_writes_plot(tmp_path):
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("arms:\n  - {name: a, rate: 0.1}\n  - {name: b, rate: 0.3}\n"
                   "policies:\n  - {label: ts, policy: {kind: thompson}}\n  - {label: ucb, policy: {kind: ucb1}}\n"
                   "horizon: 500\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(cfg), "--out", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "regret" in result.stdout and "ts" in result.stdout and "ucb" in result.stdout
    png = (out / "regret.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    data = json.loads((out / "simulation.json").read_text())
    assert data["seed"] == 4 and [o["label"] for o in data["outcomes"]] == ["ts", "ucb"]


def test_shipped_simulate_example_runs(tmp_path):
    """scenarios/bandit/simulate.yaml validates, and runs at a shorter horizon (3,000 decisions,
    1 run) to keep the unit suite fast; the file's full size runs in a few seconds by hand."""
    from optimizer.validation import load_model

    cfg = load_model(SimulationConfig, ROOT / "scenarios" / "bandit" / "simulate.yaml")
    small = cfg.model_copy(update={"horizon": 3000, "n_runs": 1})
    res = run_simulation(small)
    assert {o.label for o in res.outcomes} == {p.label for p in cfg.policies}
    assert res.plot_png()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "name, message",
    [
        ("bandit_simulate_unknown_drift_arm.yaml", "drift[0].rates names unknown arm 'fax'"),
        ("bandit_simulate_rate_above_one.yaml", "binary rewards need rates in [0, 1]"),
        ("bandit_simulate_bad_policy_kind.yaml", "policies[0].policy"),
    ],
)
def test_cli_bad_config_is_one_clear_message_exit_1(name, message, tmp_path):
    result = CliRunner().invoke(app, ["simulate", str(INVALID / name), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_cli_missing_file_and_usage(tmp_path):
    result = CliRunner().invoke(app, ["simulate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1 and "file not found" in result.stderr
    assert CliRunner().invoke(app, ["simulate", "x.yaml", "--seed", "-1"]).exit_code == 2


def test_simulator_says_what_forgetting_costs_when_nothing_drifts():
    """Issue #14 defect 8: window/discount Thompson cost ~7x plain Thompson's regret on a stationary
    world; the simulator says so for each such contender, with its measured ratio, and names the
    documented choice (change detection). Change detection itself gets no warning."""
    from optimizer.bandit.simulate import run_simulation

    cfg = SimulationConfig.model_validate(dict(
        arms=[{"name": "a", "rate": 0.02}, {"name": "b", "rate": 0.05}], horizon=3000, n_runs=1, seed=4,
        policies=[{"label": "ts", "policy": {"kind": "thompson"}},
                  {"label": "win", "policy": {"kind": "thompson", "drift": {"kind": "window", "size": 200}}},
                  {"label": "disc", "policy": {"kind": "thompson", "drift": {"kind": "discount", "factor": 0.99}}},
                  {"label": "cd", "policy": {"kind": "thompson", "drift": {"kind": "change_detection",
                                                                            "horizon_decisions": 3000}}}]))
    result = run_simulation(cfg)
    by = {o.label: o.regret for o in result.outcomes}
    text = " | ".join(result.warnings)
    assert len(result.warnings) == 2 and "'cd'" not in text
    for label in ("win", "disc"):
        assert f"policy {label!r} uses" in text and f"{by[label] / by['ts']:.1f}x the regret of 'ts'" in text
    assert "does not drift" in text and "change_detection" in text and "~7x" in text
