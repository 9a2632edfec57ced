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
    assert names == sorted(["report.html", "report.md", "experiments.json", "results.csv", "results.json",
                            "plots/checkout_button.png",
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


def test_report_elements_a_decision_maker_reads(report, analysis):
    """Issue 13: verdict in words, run facts, raw numbers per variant, shared-axis lifts, guardrails apart,
    SRM severity, traffic per day, breakdown by dimension, money impact, plain-language summary on top."""
    page = report.html
    top = page[:page.index("<h2>Summary</h2>")]
    assert "In short" in top and "checkout_button: Ship now: new_button." in top
    for text in ("Ship now: new_button", "About 27 day(s) left (until 2026-12-19)",
                 "Unhealthy: fix the data before reading the results", "Start date", "Days running",
                 "Minimum runtime", "Target effect", "Lift of every metric (shared axis)", "<h3>Guardrails</h3>",
                 "Per variant: raw numbers", "Traffic per day", "Breakdown by dimension",
                 "Expected money impact of shipping", "harmful imbalance", "A success metric improved significantly."):
        assert text in page, text
    checkout = next(e for e in analysis.experiments if e.name == "checkout_button")
    vs = checkout.variant_stats
    conv = vs[(vs.metric == "conversion") & (vs.variant == "control")].iloc[0]
    assert (conv.numerator, conv.denominator) == (398.0, 4041.0)
    assert ">398<" in page and ">4,041<" in page
    # "ship" is never next to an unexplained red "underpowered"
    section = page[page.index('id="exp-checkout_button"'):page.index('id="exp-feed_creative"')]
    assert 'class="fail">underpowered' not in section and "significant anyway" in section


def test_money_impact_is_lift_times_value_times_traffic(analysis):
    """revenue_per_user (value_per_unit 1): impact per week = absolute lift per user x 2,000 users a week."""
    from experiments.report_parts import impact_rows

    e = next(e for e in analysis.experiments if e.name == "checkout_button")
    (row,) = impact_rows(e)
    r = e.comparisons[e.comparisons.metric == "revenue_per_user"].iloc[0]
    assert row["Expected impact per week"] == f"{r.lift_absolute * 2000:+,.0f}"
    lo, hi = (float(x.replace(",", "")) for x in row["Interval"].split(" to "))
    base = r.lift_absolute / r.lift_relative
    assert lo == pytest.approx(r.seq_low * base * 2000, abs=0.5) and hi == pytest.approx(r.seq_high * base * 2000, abs=0.5)
    assert lo < r.lift_absolute * 2000 < hi


def test_export_csv_and_json_follow_the_documented_schema(report):
    import csv
    import io
    import json as js

    from experiments.report_parts import EXPORT_COLUMNS

    files = report.files()
    rows = list(csv.DictReader(io.StringIO(files["results.csv"].decode())))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert len(rows) == 3 + 2 + 1 + 1  # checkout 3 metrics, feed 2, email 1, banner 1
    data = js.loads(files["results.json"])
    assert data["columns"] == EXPORT_COLUMNS and len(data["rows"]) == len(rows)
    first = data["rows"][0]
    assert first["decision_words"] == "Ship now: new_button" and first["verdict"] == "significantly better"
    assert float(rows[0]["lift_relative"]) == pytest.approx(first["lift_relative"])
    doc = (ROOT / "docs" / "experiments-report.md").read_text()
    assert all(f"`{c}`" in doc for c in EXPORT_COLUMNS)  # every column is documented


@pytest.mark.parametrize("action, codes, end, status, words", [
    ("ship", ("SUCCESS_SIG_POSITIVE",), None, "ok", "Ship now: B"),
    ("stop", ("GUARDRAIL_HARM",), None, "ok", "Roll back now"),
    ("stop", ("SUCCESS_SIG_NEGATIVE",), None, "ok", "Roll back now"),
    ("stop", ("SUCCESS_NOT_SIGNIFICANT", "NO_SIGNIFICANT_EFFECT"), None, "ok", "Ready for review: no significant effect"),
    ("continue", ("SUCCESS_NOT_SIGNIFICANT", "CONTINUE_COLLECTING"), "2026-12-06", "ok", "About 14 day(s) left (until 2026-12-06)"),
    ("stop", ("SRM_FAIL", "SUCCESS_SIG_POSITIVE", "SHIP_BLOCKED"), None, "ok", "Unhealthy: fix the data before reading the results"),
    ("error", ("ZERO_USERS",), None, "error", "No data"),
    ("error", ("MISSING_COLUMN",), None, "error", "Unhealthy: the analysis could not run"),
])
def test_decision_in_words(action, codes, end, status, words):
    """Report week 2026-W47 ends Sunday 2026-11-22; a projected end of 2026-12-06 is 14 days later."""
    from experiments.pipeline import Decision, ExperimentAnalysis
    from experiments.report_parts import decision_words, reason_sentences

    e = ExperimentAnalysis(name="x", description="", status=status, week="2026-W47",
                           decision=Decision(action, "B" if action == "ship" else None, codes, end),
                           error_code=codes[0] if status == "error" else None)
    assert decision_words(e)[1] == words
    sentences = reason_sentences(e)
    assert len(sentences) >= len(codes) and all(s[0].isupper() for s in sentences)


def test_breakdown_by_dimension_matches_a_direct_analysis_of_the_slice(analysis):
    """The country=FR slice of checkout_button equals analyze() on the FR users of the CSV, computed
    independently with pandas (exposures up to the end of 2026-W47), effect scale relative."""
    import pandas as pd

    from experiments.analysis import AnalysisSettings, analyze
    from experiments.stats import VariantStats

    e = next(e for e in analysis.experiments if e.name == "checkout_button")
    row = e.by_dimension[(e.by_dimension.dimension == "country=FR") & (e.by_dimension.metric == "conversion")].iloc[0]
    users = pd.read_csv(ROOT / "scenarios" / "experiments" / "data" / "experiments_checkout_users.csv")
    fr = users[users["country"] == "FR"]
    stats = {v: VariantStats.from_values(v, g["converted"].to_numpy(float)) for v, g in fr.groupby("variant")}
    (direct,) = analyze(stats["control"], stats["new_button"], kind="proportion",
                        settings=AnalysisSettings(effect_scale="relative"))
    assert (row.n_control, row.n_treatment) == (direct.n_control, direct.n_treatment)
    assert row.lift_relative == pytest.approx(direct.lift_relative, rel=1e-9)
    assert row.p_value == pytest.approx(direct.p_value, rel=1e-9)
    assert row.p_value_adjusted >= row.p_value
    assert "country=FR" in build_report(analysis).html
