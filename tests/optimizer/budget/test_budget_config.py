"""Budget schema: every defect in a broken scenario file gives one clear line (file:line, path, value, fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.errors import ScenarioError
from optimizer.scenario import load_scenario

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "invalid"

CASES = [
    ("budget_min_above_max.yaml", ":6:", "min_spend 50000 is greater than max_spend 20000; lower min_spend or raise max_spend"),
    ("budget_duplicate_channel.yaml", ":3:", "channels has the name 'search' twice; names must be unique"),
    ("budget_unknown_segment.yaml", ":3:", "channels[0].segments[1] is 'sooth', an unknown name; did you mean 'south'?"),
    ("budget_unknown_key.yaml", ":6:", "unknown key budget.channels[0].max_spnd; did you mean 'max_spend'?"),
    ("budget_linear_roi_and_value.yaml", ":6:", "give exactly one of roi (response per currency spent) or value_per_unit"),
    ("budget_table_not_concave.yaml", ":7:", "the slope rises from 0.5 to 1.5 at spend 10000"),
    ("budget_hill_shape_above_one.yaml", ":6:", "budget.channels[0].response.hill.shape is 2.5; input should be less than or equal to 1"),
    ("budget_units_without_cost.yaml", ":6:", "min_units needs cost_per_unit (currency per unit); add cost_per_unit"),
    ("budget_share_without_budget.yaml", ":3:", "channels[0].max_share is 0.5; it needs total_budget"),
    ("budget_negative_cost.yaml", ":6:", "budget.channels[0].cost_per_unit is -5; input should be greater than 0"),
    ("budget_unknown_curve_kind.yaml", ":6:", "'sigmoid' found using 'kind' does not match any of the expected tags: 'linear', 'hill', 'log', 'power', 'table'"),
    ("budget_profit_in_conversions.yaml", ":3:", "objective.kind is 'max_profit' but response_unit is 'conversions'; profit needs response in currency"),
    ("budget_missing_budget.yaml", ":3:", "total_budget is missing; objective max_response needs a budget"),
]


@pytest.mark.parametrize(("name", "line", "text"), CASES, ids=[c[0] for c in CASES])
def test_broken_scenario_names_file_line_and_fix(name: str, line: str, text: str) -> None:
    path = FIXTURES / name
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert f"{path}{line}" in message
    assert text in message
    assert message.count("\n  - ") == 1  # one defect per fixture, one line per defect


def test_every_budget_fixture_is_tested() -> None:
    mine = {p.name for p in FIXTURES.glob("budget_*.yaml") if not p.name.startswith("budget_adv_")}
    assert mine == {c[0] for c in CASES}


def test_config_is_frozen_and_forbids_extra() -> None:
    from pydantic import ValidationError

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # budgetkit (--import-mode=importlib)
    from budgetkit import article_config

    cfg = article_config()
    with pytest.raises(ValidationError):
        cfg.channels[0].min_units = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        type(cfg).model_validate({**cfg.model_dump(), "surprise": 1})


def test_every_field_has_a_description() -> None:
    from optimizer.budget import config as cfgmod

    models = [getattr(cfgmod, n) for n in dir(cfgmod) if isinstance(getattr(cfgmod, n), type)
              and issubclass(getattr(cfgmod, n), cfgmod._Model) and getattr(cfgmod, n) is not cfgmod._Model]
    missing = [f"{m.__name__}.{k}" for m in models for k, f in m.model_fields.items() if not f.description]
    assert missing == []
