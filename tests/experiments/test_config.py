"""experiments.yaml: the example validates, each broken fixture (one defect) gives its message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from experiments.config import ExperimentsConfig, iso_week_label, load_experiments_config, parse_iso_week
from optimizer.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
INVALID = ROOT / "tests" / "fixtures" / "experiments" / "invalid"


def test_example_scenario_validates():
    cfg = load_experiments_config(ROOT / "scenarios" / "experiments" / "weekly.yaml")
    assert [e.name for e in cfg.experiments] == ["checkout_button", "feed_creative", "email_subject", "promo_banner"]
    checkout = cfg.experiments[0]
    assert checkout.split == {"control": 0.5, "new_button": 0.5}
    assert checkout.metric("revenue_per_user").covariate_column == "pre_revenue"
    assert cfg.experiments[1].applies_to.channel == "feed_ads"


def test_valid_fixture_loads():
    assert isinstance(load_experiments_config(INVALID / "valid.yaml"), ExperimentsConfig)


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("single_variant.yaml", [":6:", "experiments[0].variants", "needs the control and at least one treatment"]),
        ("bad_metric_kind.yaml", [":8:", "metrics[0].kind is 'proportions'", "'proportion', 'mean', 'ratio' or 'count'"]),
        ("unknown_key.yaml", [":5:", "unknown key experiments[0].contrl; did you mean 'control'?"]),
        ("control_not_in_variants.yaml", [":5:", "control is 'baseline'", "one of variants ['control', 'treatment']"]),
        ("bad_date.yaml", ["month must be in 1..12", "ISO dates"]),
        ("bad_source_kind.yaml", [":4:", "'warehouse'", "'users', 'events', 'summary'"]),
        ("ratio_without_denominator.yaml", [":8:", "give denominator_column or denominator_event"]),
        ("alpha_nan.yaml", [":7:", "alpha is nan", "finite"]),
        ("split_not_one.yaml", [":7:", "traffic_split", "sum to 1.1"]),
        ("no_success_metric.yaml", [":7:", "no metric has role 'success'"]),
    ],
)
def test_invalid_fixture_message(name, fragments):
    with pytest.raises(ScenarioError) as info:
        load_experiments_config(INVALID / name)
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, text


def test_missing_file():
    with pytest.raises(ScenarioError, match="file not found"):
        load_experiments_config(INVALID / "nope.yaml")


@pytest.mark.parametrize(("week", "monday"), [("2026-W47", dt.date(2026, 11, 16)), ("2026-W53", dt.date(2026, 12, 28)),
                                              ("2027-W01", dt.date(2027, 1, 4))])
def test_iso_weeks(week, monday):
    """ISO 8601 weeks: 2026 has 53 weeks (it starts on a Thursday), 2027-W01 starts 2027-01-04."""
    start, end = parse_iso_week(week)
    assert start == monday and end == monday + dt.timedelta(days=6)
    assert iso_week_label(end) == week


@pytest.mark.parametrize("week", ["2026-47", "2025-W53", "W47"])
def test_bad_weeks(week):
    with pytest.raises(ScenarioError, match="week is"):
        parse_iso_week(week)


def test_reference_doc_mentions_every_field():
    """docs/experiments-report.md documents every key of experiments.yaml (fails when a field is added)."""
    from experiments import config as c

    doc = (ROOT / "docs" / "experiments-report.md").read_text()
    models = [c.ExperimentConfig, c.MetricConfig, c.SequentialConfig, c.AppliesTo, c.UsersSource, c.EventsSource,
              c.SummaryRow, c.SummarySource]
    missing = [f"{m.__name__}.{name}" for m in models for name in m.model_fields if name not in doc]
    assert missing == []
