"""``dmpopt curves fit``: outputs, and one-line errors (file, row, field; exit 1; no traceback) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.cli import app

FIX = Path(__file__).parents[2] / "fixtures" / "curves"
runner = CliRunner()


def _run(history: str, config: str, out: Path, *extra: str):
    return runner.invoke(app, ["curves", "fit", str(FIX / history), "--config", str(FIX / config), "--out", str(out),
                               "--quiet", *extra])


def test_fit_writes_curves_file_report_and_plots(tmp_path):
    from optimizer.curves.curvefile import load_curves

    r = _run("good.csv", "curves.yaml", tmp_path)
    assert r.exit_code == 0, r.output
    for name in ("curves.yaml", "fit.json", "decomposition.csv", "decomposition.png", "response_curves.png",
                 "fit.png", "report.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    cf = load_curves(tmp_path / "curves.yaml")
    assert set(cf.channels) == {"search", "social", "tv"}
    assert cf.source.tool == "dmpopt-fit" and cf.source.seed == 7
    assert len(cf.source.data_sha256) == 64
    assert cf.channels["tv"].response.kind in ("hill", "linear")  # hill_concave: shape <= 1
    assert cf.channels["search"].draws.n_draws == 10
    roi = cf.channels["search"].roi
    assert roi.low <= roi.high
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["seed"] == 7 and fit["metrics"]["holdout"]["n_periods"] == 8


def test_seed_flag_overrides_the_config(tmp_path):
    """(Same seed -> byte-identical curves file: tests/optimizer/curves/test_fit_tutorial.py.)"""
    assert _run("good.csv", "curves.yaml", tmp_path, "--seed", "8").exit_code == 0
    assert json.loads((tmp_path / "fit.json").read_text())["seed"] == 8


@pytest.mark.parametrize("history,config,expected", [
    ("nonnumeric.csv", "curves.yaml", "nonnumeric.csv: row 12, column 'social' (spend of channel 'social') is '12k'; "
                                      "expected a number"),
    ("negative_spend.csv", "curves.yaml", "negative_spend.csv: row 7, column 'tv' (spend of 'tv') is -120; spend must be >= 0"),
    ("kpi_nan.csv", "curves.yaml", "kpi_nan.csv: row 21, column 'revenue' (KPI) is empty"),
    ("date_gap.csv", "curves.yaml", "the dates jump from 2023-07-24 to 2023-08-07 (14 days) but the data are every 7 days"),
    ("duplicate_date.csv", "curves.yaml", "row 16, column 'date': date 2023-04-10 repeats row 15"),
    ("short.csv", "curves.yaml", "20 periods for"),
    ("good.csv", "curves_missing_column.yaml", "column 'serch' (spend of channel 'search') is missing; did you mean 'search'?"),
    ("good.csv", "curves_typo.yaml", "curves_typo.yaml:5: unknown key contrls; did you mean 'controls'?"),
    ("good.csv", "curves_lift_unknown.yaml", "lift tests: row 2, field 'channel' is 'radio', an unknown channel"),
    ("missing.csv", "curves.yaml", "missing.csv: file not found"),
])
def test_bad_input_is_one_clear_line_and_exit_1(tmp_path, history, config, expected):
    r = _run(history, config, tmp_path / "out")
    assert r.exit_code == 1, r.output
    assert expected in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "out" / "curves.yaml").exists()


def test_dead_channel_is_dropped_and_the_rest_is_fitted(tmp_path):
    from optimizer.curves.curvefile import load_curves

    r = _run("dead_channel.csv", "curves_dead.yaml", tmp_path)
    assert r.exit_code == 0, r.output
    cf = load_curves(tmp_path / "curves.yaml")
    assert set(cf.channels) == {"search", "social", "tv"}
    assert any("'radio' never spend" in w for w in cf.warnings)
    assert "'radio' never spend" in r.output


def test_lift_test_file_is_used(tmp_path):
    r = _run("good.csv", "curves_lift.yaml", tmp_path)
    assert r.exit_code == 0, r.output
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["lift_tests"] == [{"channel": "search", "x": 3000.0, "delta_x": 1000.0, "delta_y": 2500.0, "sigma": 400.0}]
