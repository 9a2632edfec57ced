"""Counted progress (issue 15): frontier levels, bandit simulation runs, experiments analysed.

Each owning function takes ``progress: Callable[[int, int], None] | None``; the CLI drives it with
:func:`optimizer.render.count_progress`, which draws "done/total" on stderr (a terminal only) and joins
the command's running display instead of starting a second one.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from optimizer.render import command_progress, count_progress, progress

ROOT = Path(__file__).resolve().parents[3]


def _terminal() -> tuple[io.StringIO, Console]:
    buf = io.StringIO()
    return buf, Console(file=buf, force_terminal=True, width=80)


def test_counts_join_the_command_display():
    buf, console = _terminal()
    with command_progress("dmpopt bandit simulate", console=console):
        with count_progress("policy runs") as update:
            update(3, 10)
    assert "policy runs 3/10" in buf.getvalue()


def test_counts_join_the_plan_spinner():
    buf, console = _terminal()
    with progress(console=console) as step:
        step("budget")
        with count_progress("budget frontier levels") as update:
            update(7, 25)
    assert "budget frontier levels 7/25" in buf.getvalue()


def test_counts_on_their_own_bar_and_silent_in_a_pipe(capsys):
    buf, console = _terminal()
    with count_progress("experiments analysed", console=console) as update:
        update(2, 4)
    assert "2/4" in buf.getvalue() and "experiments analysed" in buf.getvalue()
    with count_progress("experiments analysed") as update:  # pytest's stderr is not a terminal
        update(1, 4)
    assert capsys.readouterr().err == ""


def test_frontier_counts_every_level_once():
    from optimizer.budget import allocate
    from optimizer.scenario import load_scenario

    loaded = load_scenario(ROOT / "scenarios" / "budget_frontier.yaml")
    cfg = dict((spec.name, c) for spec, c in loaded.sections)["budget"]
    calls: list[tuple[int, int]] = []
    result = allocate(cfg, progress=lambda d, t: calls.append((d, t)))
    n = len(result.frontier.table)
    assert n == 60 and calls[-1] == (n, n)
    assert [d for d, _ in calls] == list(range(n + 1)) and {t for _, t in calls} == {n}


def test_simulation_counts_runs_times_policies():
    from optimizer.bandit.simulate import SimulationConfig, run_simulation

    cfg = SimulationConfig.model_validate(dict(
        arms=[{"name": "a", "rate": 0.1}, {"name": "b", "rate": 0.3}], horizon=200, seed=3, n_runs=3,
        policies=[{"label": "ts", "policy": {"kind": "thompson"}},
                  {"label": "eg", "policy": {"kind": "epsilon_greedy", "epsilon": 0.1}}]))
    calls: list[tuple[int, int]] = []
    run_simulation(cfg, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(k, 6) for k in range(1, 7)]


def test_experiments_count_each_experiment(tmp_path):
    from experiments.config import load_experiments_config
    from experiments.pipeline import analyze_experiments

    one = """  - name: {name}
    start_date: 2026-11-09
    data:
      kind: summary
      rows:
        - {{variant: control, metric: open_rate, n: 10000, sum: 2210}}
        - {{variant: short, metric: open_rate, n: 10000, sum: 2300}}
    control: control
    variants: [control, short]
    metrics: [{{name: open_rate, kind: proportion}}]
    sequential: {{method: fixed}}
"""
    path = tmp_path / "experiments.yaml"
    path.write_text("experiments:\n" + "".join(one.format(name=f"e{i}") for i in range(3)))
    calls: list[tuple[int, int]] = []
    res = analyze_experiments(load_experiments_config(path), tmp_path, "2026-W47",
                              progress=lambda d, t: calls.append((d, t)))
    assert len(res.experiments) == 3 and calls == [(1, 3), (2, 3), (3, 3)]
