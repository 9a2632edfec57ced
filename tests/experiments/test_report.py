"""Weekly report: content of the HTML and Markdown, self-containment, broken experiments still render."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from experiments.config import load_experiments_config
from experiments.pipeline import analyze_experiments
from experiments.plots import lift_over_time_png
from experiments.report import build_report, render_html, write_files

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "experiments" / "weekly.yaml"


@pytest.fixture(scope="module")
def analysis():
    return analyze_experiments(load_experiments_config(SCENARIO), SCENARIO.parent, "2026-W47")


@pytest.fixture(scope="module")
def report(analysis):
    return build_report(analysis)


class _Resources(HTMLParser):
    """Collects every URL the page would load (src/href) and every <script>."""

    def __init__(self):
        super().__init__()
        self.urls, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.urls.append(value)


def test_scenario_decisions(analysis):
    """The example data is built to give one decision of each kind (see experiments_make_data.py)."""
    actions = {e.name: (e.decision.action, e.decision.variant) for e in analysis.experiments}
    assert actions == {"checkout_button": ("ship", "new_button"), "feed_creative": ("ship", "new_creative"),
                       "email_subject": ("continue", None), "promo_banner": ("stop", None)}
    assert "SRM_FAIL" in analysis.decisions["promo_banner"].reason_codes
    assert analysis.decisions["email_subject"].projected_end_date is not None
    assert analysis.status == "ok"


def test_summary_stats_match_r_prop_test(analysis):
    """R 4.x: prop.test(c(2300, 2210), c(10000, 10000), correct = FALSE)
    X-squared = 2.3189, df = 1, p-value = 0.1278
    95 percent confidence interval: -0.002583022  0.020583022
    """
    email = next(e for e in analysis.experiments if e.name == "email_subject")
    row = email.comparisons.iloc[0]
    assert row["p_value"] == pytest.approx(0.1278, abs=5e-5)
    assert row["lift_absolute"] == pytest.approx(0.009, rel=1e-12)
    assert row["lift_absolute_ci_low"] == pytest.approx(-0.002583022, abs=1e-8)
    assert row["lift_absolute_ci_high"] == pytest.approx(0.020583022, abs=1e-8)
    # The sequential interval (decisions use it) contains the fixed one at an early look.
    assert row["seq_low"] <= row["fixed_low"] and row["seq_high"] >= row["fixed_high"]


def test_html_content(report, analysis):
    page = report.html
    assert page.startswith("<!DOCTYPE html>")
    assert "Experiments report, week 2026-W47" in page
    summary = page[page.index("<h2>Summary</h2>"):page.index('<section class="experiment"')]
    for e in analysis.experiments:
        assert f">{e.name}<" in summary
        assert f'<span class="badge {e.decision.action}">{e.decision.action}</span>' in summary
    assert page.count('<img class="plot"') == 4
    assert "Why the sequential interval is wider" in page
    assert "Sample ratio (SRM)" in page and "country=FR" in page
    assert re.search(r"MDE at planned end", page)


def test_html_is_self_contained(report):
    parser = _Resources()
    parser.feed(report.html)
    external = [u for u in parser.urls if not (u.startswith("data:image/png;base64,") or u.startswith("#"))]
    assert external == []
    assert parser.scripts == 0
    assert "<style>" in report.html and "@import" not in report.html and "url(" not in report.html


def test_markdown_content(report, analysis):
    md = report.markdown
    assert md.startswith("# Experiments report, week 2026-W47")
    assert "| Experiment | Decision |" in md
    for e in analysis.experiments:
        assert f"## {e.name}: {e.decision.action}" in md
        assert f"](plots/{e.name}.png)" in md
    assert set(report.images) == {f"plots/{e.name}.png" for e in analysis.experiments}
    for png in report.images.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_write_report_files(tmp_path, report):
    paths = write_files(report, tmp_path / "out")
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths)
    assert names == sorted(["report.html", "report.md", "experiments.json", "plots/checkout_button.png",
                            "plots/feed_creative.png", "plots/email_subject.png", "plots/promo_banner.png"])
    assert all(p.stat().st_size > 0 for p in paths)


def test_report_is_deterministic(analysis, report):
    """Same analysis, same bytes (no timestamps in the PNG metadata or the page)."""
    e = analysis.experiments[2]
    assert lift_over_time_png(e.over_time, e.config) == report.images[f"plots/{e.name}.png"]
    assert render_html(analysis, report.images) == report.html


def test_broken_experiments_render_with_error_codes(tmp_path):
    """A missing column and a variant without users each become an error row; the others still render."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("experiments_checkout_users.csv", "experiments_banner_users.csv"):
        shutil.copy(ROOT / "scenarios" / "experiments" / "data" / name, data / name)
    (tmp_path / "users_missing.csv").write_text("user_id,variant,convertd\n1,control,0\n2,treatment,1\n")
    (tmp_path / "users_one_arm.csv").write_text("user_id,variant,converted\n1,control,0\n2,control,1\n3,control,0\n")
    text = SCENARIO.read_text()
    text += """
  - name: broken_column
    start_date: 2026-11-02
    data: {kind: users, path: users_missing.csv}
    control: control
    variants: [control, treatment]
    metrics: [{name: conversion, kind: proportion, column: converted}]
  - name: one_arm
    start_date: 2026-11-02
    data: {kind: users, path: users_one_arm.csv}
    control: control
    variants: [control, treatment]
    metrics: [{name: conversion, kind: proportion, column: converted}]
"""
    # keep only the users-data experiments of the example plus the two broken ones
    cfg_path = tmp_path / "experiments.yaml"
    cfg_path.write_text(text.replace("data/experiments_feed_events.parquet", str(ROOT / "scenarios/experiments/data/experiments_feed_events.parquet")))
    analysis = analyze_experiments(load_experiments_config(cfg_path), tmp_path, "2026-W47")
    by_name = {e.name: e for e in analysis.experiments}
    assert analysis.status == "partial"
    assert by_name["broken_column"].status == "error" and by_name["broken_column"].error_code == "MISSING_COLUMN"
    assert "did you mean 'convertd'?" in by_name["broken_column"].error_message
    assert by_name["one_arm"].error_code == "SINGLE_VARIANT"
    assert by_name["checkout_button"].status == "ok"
    report = build_report(analysis)
    assert "Analysis error MISSING_COLUMN" in report.html and "Analysis error SINGLE_VARIANT" in report.html
    assert "**Analysis error MISSING_COLUMN**" in report.markdown
    assert report.html.count('<img class="plot"') == 4  # the four healthy experiments keep their plots
    assert any("broken_column: MISSING_COLUMN" in w for w in analysis.warnings)


def test_sequential_interval_contains_fixed_interval_at_every_look(analysis):
    """Invariant: c_k >= z_(1-alpha/2), so the sequential interval is never narrower (every look, metric)."""
    for e in analysis.experiments:
        ok = e.over_time[e.over_time["status"] == "ok"]
        assert (ok["seq_low"] <= ok["fixed_low"] + 1e-12).all(), e.name
        assert (ok["seq_high"] >= ok["fixed_high"] - 1e-12).all(), e.name
        assert (ok["seq_low"] <= ok["lift_relative"]).all() and (ok["lift_relative"] <= ok["seq_high"]).all()


def test_msprt_and_fixed_methods(tmp_path):
    """mSPRT gives a wider always-valid interval than the fixed one; 'fixed' leaves the intervals alone."""
    from experiments.config import ExperimentsConfig

    base = {"start_date": "2026-11-02", "control": "a", "variants": ["a", "b"],
            "metrics": [{"name": "conv", "kind": "proportion"}],
            "data": {"kind": "summary", "rows": [
                {"variant": "a", "metric": "conv", "week": "2026-W45", "n": 4000, "sum": 400},
                {"variant": "b", "metric": "conv", "week": "2026-W45", "n": 4000, "sum": 470},
                {"variant": "a", "metric": "conv", "week": "2026-W46", "n": 8000, "sum": 800},
                {"variant": "b", "metric": "conv", "week": "2026-W46", "n": 8000, "sum": 930}]}}
    cfg = ExperimentsConfig(experiments=[
        {**base, "name": "m", "sequential": {"method": "msprt"}},
        {**base, "name": "f", "sequential": {"method": "fixed"}}])
    res = analyze_experiments(cfg, tmp_path, "2026-W46")
    m, f = res.experiments
    last_m, last_f = m.comparisons.iloc[0], f.comparisons.iloc[0]
    assert m.sequential["conv/b"].method == "msprt"
    assert last_m["seq_low"] < last_m["fixed_low"] and last_m["seq_high"] > last_m["fixed_high"]
    assert f.sequential == {} and last_f["seq_low"] == last_f["fixed_low"]
    assert f.decision.action == "ship"  # 11.6 % vs 10 % on 8000 users a side: z = 3.3 on a fixed test
