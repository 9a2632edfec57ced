"""The ``experiments:`` plan section: config, run through the SectionSpec, decisions feed the budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.section import SECTION, ExperimentsSectionConfig
from optimizer.errors import ScenarioError
from optimizer.sections import RunContext, SectionResult
from optimizer.validation import parse_model, parse_yaml_text

ROOT = Path(__file__).resolve().parents[2]


def context(base_dir: Path) -> RunContext:
    return RunContext(seed=1, rng=np.random.default_rng(1), base_dir=base_dir, source="scenario.yaml")


@pytest.fixture(scope="module")
def result():
    data, lines = parse_yaml_text("file: experiments/weekly.yaml\nweek: 2026-W47\n", "scenario.yaml")
    config = parse_model(SECTION.config_model, data, "scenario.yaml", lines)
    return SECTION.run(config, context(ROOT / "scenarios"))


def test_result_follows_the_section_contract(result):
    assert SECTION.name == "experiments"
    assert isinstance(result, SectionResult)
    assert result.status == "ok"
    assert list(result.summary()["experiment"]) == ["checkout_button", "feed_creative", "email_subject", "promo_banner"]
    import json

    json.dumps(result.to_dict(), allow_nan=False)


def test_decisions_and_channel_multipliers(result):
    """feed_creative ships and is linked to feed_ads: multiplier = 1 + its clicks_per_user relative lift."""
    assert result.decisions["feed_creative"].action == "ship"
    feed = next(e for e in result.experiments if e.name == "feed_creative")
    row = feed.comparisons[(feed.comparisons.metric == "clicks_per_user")].iloc[0]
    expected = row["mean_treatment"] / row["mean_control"]
    assert result.channel_multipliers() == {"feed_ads": pytest.approx(expected, rel=1e-12)}
    # checkout_button also ships but has no applies_to; promo_banner is blocked by SRM.
    assert result.to_dict()["channel_multipliers"] == {"feed_ads": pytest.approx(expected, rel=1e-12)}


def test_no_multiplier_without_ship(tmp_path):
    """The same link on an experiment that does not ship contributes nothing."""
    text = (ROOT / "scenarios" / "experiments" / "weekly.yaml").read_text()
    text = text.replace("expected_weekly_users: 1000\n", "expected_weekly_users: 1000\n    applies_to: {channel: display}\n")
    (tmp_path / "experiments.yaml").write_text(text.replace("data/", str(ROOT / "scenarios" / "experiments" / "data") + "/"))
    config = ExperimentsSectionConfig(file="experiments.yaml", week="2026-W47")
    res = SECTION.run(config, context(tmp_path))
    assert res.decisions["promo_banner"].action == "stop"
    assert "display" not in res.channel_multipliers()


def test_files_and_markdown(result):
    files = SECTION.files(result)
    assert {"experiments/report.html", "experiments/report.md", "experiments/experiments.json",
            "experiments/plots/feed_creative.png"} <= set(files)
    md = SECTION.markdown(result)
    assert md.startswith("## Experiments (as of 2026-W47)")
    assert "| feed_creative | ship | new_creative |" in md
    assert "feed_ads x1.1236" in md


def test_inline_experiments_resolve_against_scenario_folder(tmp_path):
    (tmp_path / "u.csv").write_text("user_id,variant,converted\n" + "".join(
        f"{i},{'a' if i % 2 else 'b'},{int(i % 7 == 0)}\n" for i in range(200)))
    yaml_text = """week: 2026-W47
experiments:
  - name: inline
    start_date: 2026-11-16
    data: {kind: users, path: u.csv}
    control: a
    variants: [a, b]
    metrics: [{name: conv, kind: proportion, column: converted}]
"""
    data, lines = parse_yaml_text(yaml_text, "scenario.yaml")
    res = SECTION.run(parse_model(SECTION.config_model, data, "scenario.yaml", lines), context(tmp_path))
    assert res.experiments[0].status == "ok"
    assert res.experiments[0].variant_users == {"a": 100, "b": 100}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("week: 2026-W47\n", "give exactly one of `file`"),
        ("file: x.yaml\nexperiments: []\n", "give exactly one of `file`"),
        ("file: x.yaml\nweek: 2026-47\n", "scenario.yaml:2: week is '2026-47'"),
        ("file: x.yaml\nweeks: 2026-W47\n", "did you mean 'week'?"),
    ],
)
def test_section_config_errors(text, fragment):
    data, lines = parse_yaml_text(text, "scenario.yaml")
    with pytest.raises(ScenarioError) as info:
        parse_model(SECTION.config_model, data, "scenario.yaml", lines)
    assert fragment in str(info.value)


def test_missing_experiments_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        SECTION.run(ExperimentsSectionConfig(file="nope.yaml"), context(tmp_path))
