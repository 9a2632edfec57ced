"""Budget schema: every defect in a broken scenario file gives one clear line (file:line, path, value, fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.errors import ScenarioError
from optimizer.scenario import load_scenario

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "invalid"

CASES = [
    # defect 12: cross-field errors point at the offending entry's own line, never dump the parent
    ("budget_min_above_max.yaml", ":8:", "budget.channels[0].min_spend is 50000; it is greater than max_spend 20000; lower min_spend or raise max_spend"),
    ("budget_duplicate_channel.yaml", ":7:", "budget.channels[1].name is 'search'; channels[0] has the same name"),
    ("budget_unknown_segment.yaml", ":7:", "budget.channels[0].segments[1] is 'sooth'; an unknown name; did you mean 'south'?"),
    ("budget_unknown_key.yaml", ":6:", "unknown key budget.channels[0].max_spnd; did you mean 'max_spend'?"),
    ("budget_linear_roi_and_value.yaml", ":6:", "budget.channels[0].response.value_per_unit is 4.5; give exactly one of roi (response per currency spent) or value_per_unit"),
    ("budget_table_not_concave.yaml", ":9:", "budget.channels[0].response.points[1] is [20000.0, 20000.0]; the curve must be concave (slopes not increasing), but the slope rises from 0.5 to 1.5 at spend 10000; for an S-shaped response use kind: s_hill"),
    ("budget_hill_shape_above_one.yaml", ":6:", "budget.channels[0].response.shape is 2.5; kind: hill needs 0 < shape <= 1 (a concave curve); a Hill curve with shape > 1 is S-shaped: write kind: s_hill"),
    ("budget_units_without_cost.yaml", ":6:", "budget.channels[0].min_units is 100; min_units needs cost_per_unit (currency per unit); add cost_per_unit"),
    ("budget_share_without_budget.yaml", ":6:", "budget.channels[0].max_share is 0.5; max_share_of_budget is a share of total_budget; it needs total_budget"),
    ("budget_negative_cost.yaml", ":6:", "budget.channels[0].cost_per_unit is -5; input should be greater than 0"),
    ("budget_unknown_curve_kind.yaml", ":6:", "budget.channels[0].response.kind is 'sigmoid'; expected one of: 'linear', 'hill', 'log', 'power', 'table', 's_hill'"),
    ("budget_profit_in_conversions.yaml", ":5:", "budget.response_unit is 'conversions'; objective.kind is 'max_profit' but response_unit is 'conversions'; profit needs response in currency"),
    ("budget_missing_budget.yaml", ":3:", "total_budget is missing; objective max_response needs a budget"),
    ("budget_period_min_above_max.yaml", ":8:", "budget.periods[1].min_spend is 70000; it is greater than max_spend 50000"),
    # defect 10: a YAML boolean is not a number
    ("budget_boolean_number.yaml", ":9:", "budget.channels[0].max_spend is True; a YAML boolean (yes/no, true/false, on/off) where a number is expected; write the number itself."),
    # defect 12: thousands separators
    ("budget_thousands_separator.yaml", ":6:", "budget.total_budget.amount is '500,000'; numbers take no thousands separator; write 500000 (or 500_000)."),
    # segments: sizes and per-segment curves
    ("budget_segment_curve_unknown_channel.yaml", ":11:", "budget.segments[1].responses.serch is 'serch'; an unknown channel; did you mean 'search'?"),
    ("budget_segment_shares_sum.yaml", ":6:", "budget.segments: the audience_share values sum to 0.9; they must sum to 1"),
    ("budget_segment_size_styles.yaml", ":8:", "budget.segments[1].audience_size is 250000; segments mix audience_share and audience_size; use one style for all segments."),
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
    assert "{'" not in message  # no parent object dumped (defect 12)
    assert "not supported yet" not in message


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
