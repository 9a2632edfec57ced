"""Every terminal table of `dmpopt plan` and `dmpopt experiments analyze` fits an 80-column terminal (issue 15).

Checks the rendered text (CliRunner with COLUMNS=80, and rich Console(width=80) for fit_tables): no
line longer than 80 characters, and the key figures (spend, response, lift) still printed whole.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.termtable import drop_uninformative, fit_tables

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "scenarios"
runner = CliRunner()


def _render(df: pd.DataFrame, width: int, **kw) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    for part in fit_tables(df, "t", console, **kw):
        console.print(part)
    return buf.getvalue()


def _too_long(text: str, width: int = 80) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


@pytest.fixture(scope="module")
def media_plan_80():
    res = runner.invoke(app, ["plan", str(SCENARIOS / "media_plan.yaml"), "--quiet"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    return res.stdout


def test_media_plan_fits_80_columns_and_keeps_the_figures(media_plan_80):
    out = media_plan_80
    assert _too_long(out) == []
    # the budget table: spend per channel and the totals of the current-vs-recommended table, unbroken
    for figure in ("320,000", "800,000"):
        assert figure in out
    assert "mROI" in out and "mROI = marginal ROI" in out  # short header with its legend
    flat = " ".join(out.split())  # notes wrap at 80 columns
    assert "(not shown: units (none set), active (all 1: no integer rules), setup_cost (all 0))" in flat
    assert "cur = current" in flat and "rec = recommended" in flat
    # no column of the current-vs-recommended table is lost by the split: each part repeats the channel
    assert "current (1/2)" in out and "current (2/2)" in out
    part2 = out[out.index("current (2/2)"):]
    assert "display" in part2 and "change" in part2


def test_media_plan_has_no_equal_share_warning(media_plan_80):
    """scenarios/media_plan.yaml sizes its segments (audience_share), so no equal-shares warning."""
    assert "audience_share" not in media_plan_80 and "taken as 1/3" not in media_plan_80


def test_a_pipe_without_columns_gets_the_whole_tables():
    res = runner.invoke(app, ["plan", str(SCENARIOS / "media_plan.yaml"), "--quiet"], env={"COLUMNS": ""})
    assert res.exit_code == 0, res.output
    assert "marginal_roi" in res.stdout and "current (1/2)" not in res.stdout


@pytest.mark.parametrize("scenario", ["bandit_mix.yaml", "experiments_w47.yaml"])
def test_other_sections_fit_80_columns(scenario):
    res = runner.invoke(app, ["plan", str(SCENARIOS / scenario), "--quiet"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert _too_long(res.stdout) == []
    if scenario == "bandit_mix.yaml":  # expected conversions and their interval, unbroken
        assert "exp = expected" in res.stdout and "3,255-4,769" in res.stdout and "69.1%" in res.stdout
    else:
        assert "checkout_button" in res.stdout and "15.7%" in res.stdout and "0.5%-30.8%" in res.stdout


SUMMARY_EXPERIMENTS = """experiments:
  - name: email_subject_line_test
    start_date: 2026-11-09
    data:
      kind: summary
      rows:
        - {variant: control, metric: open_rate, n: 10000, sum: 2210}
        - {variant: short_subject_line, metric: open_rate, n: 10000, sum: 2300}
    control: control
    variants: [control, short_subject_line]
    metrics: [{name: open_rate, kind: proportion}]
    sequential: {method: fixed}
"""


def test_experiments_analyze_fits_80_columns(tmp_path):
    """Summary statistics (fast); the row is ~150 characters wide unsplit."""
    cfg = tmp_path / "experiments.yaml"
    cfg.write_text(SUMMARY_EXPERIMENTS)
    res = runner.invoke(app, ["experiments", "analyze", str(cfg), "--week", "2026-W47"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert _too_long(res.stdout) == []
    for text in ("email_subject_line_test", "+4.1%", "SUCCESS_NOT_SIGNIFICANT, CONTINUE_COLLECTING"):
        assert text in res.stdout  # 0.23 / 0.221 - 1 = +4.07 %
    wide = runner.invoke(app, ["experiments", "analyze", str(cfg), "--week", "2026-W47"], env={"COLUMNS": "200"})
    assert max(len(line) for line in wide.stdout.splitlines()) > 80  # so the 80-column run had to fold or split


def test_drop_uninformative_keeps_active_with_integer_rules():
    df = pd.DataFrame({"channel": ["a", "b"], "units": [None, None], "active": [1, 1], "setup_cost": [0.0, 0.0],
                       "spend": [1.0, 2.0]})
    kept, dropped = drop_uninformative(df, n_integer=0)
    assert list(kept.columns) == ["channel", "spend"] and len(dropped) == 3
    kept, _ = drop_uninformative(df, n_integer=4)  # with integer rules, "active" is a decision
    assert "active" in kept.columns
    kept, _ = drop_uninformative(df.assign(setup_cost=[0.0, 5.0]))
    assert "setup_cost" in kept.columns


@settings(max_examples=25, deadline=None)
@given(n_cols=st.integers(2, 14), n_rows=st.integers(1, 5), width=st.integers(60, 120),
       seed=st.integers(0, 2**16))
def test_fit_tables_never_exceeds_the_width_and_shows_every_value(n_cols, n_rows, width, seed):
    """Invariant: whatever the frame, every line fits and every number is printed whole (none folded)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    data = {"name": [f"row{i}" for i in range(n_rows)]}
    for j in range(n_cols):
        data[f"expected_value_number_{j}"] = rng.uniform(-1e7, 1e7, n_rows).round(2)
    df = pd.DataFrame(data)
    text = _render(df, width)
    assert _too_long(text, width) == []
    from optimizer.termtable import cell

    for v in df.iloc[:, 1:].to_numpy().ravel():
        assert cell(float(v)) in text
