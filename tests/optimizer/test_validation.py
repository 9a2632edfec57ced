"""The error messages users see for broken YAML and bad values (optimizer.validation)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.errors import ScenarioError
from optimizer.validation import format_path, load_model, load_yaml, parse_yaml_text


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str = Field(description="name")
    cost_per_unit: float = Field(gt=0, description="cost")
    min_units: float = Field(0, ge=0, description="min")
    max_units: float | None = Field(None, ge=0, description="max")

    @model_validator(mode="after")
    def _min_le_max(self):
        if self.max_units is not None and self.min_units > self.max_units:
            raise ValueError(f"min_units {self.min_units:g} is above max_units {self.max_units:g}")
        return self


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str = Field(description="name")
    channels: list[Channel] = Field(description="channels")


def _write(tmp_path, text: str):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_format_path_uses_index_brackets():
    assert format_path(("channels", 2, "cost_per_unit")) == "channels[2].cost_per_unit"
    assert format_path(()) == "(top level)"


def test_negative_cost_names_file_line_path_value_and_rule(tmp_path):
    p = _write(tmp_path, "name: x\nchannels:\n  - name: a\n    cost_per_unit: 5\n  - name: b\n    cost_per_unit: -5\n")
    with pytest.raises(ScenarioError) as info:
        load_model(Doc, p)
    msg = str(info.value)
    assert f"{p}:6: channels[1].cost_per_unit is -5; input should be greater than 0." in msg


def test_unknown_key_suggests_the_close_name(tmp_path):
    p = _write(tmp_path, "name: x\nchannels:\n  - name: a\n    cost_per_untt: 5\n")
    with pytest.raises(ScenarioError) as info:
        load_model(Doc, p)
    msg = str(info.value)
    assert f"{p}:4: unknown key channels[0].cost_per_untt; did you mean 'cost_per_unit'?" in msg
    # the missing required field is reported in the same run, not one defect at a time
    assert "channels[0].cost_per_unit is missing; it is required." in msg


def test_model_validator_message_carries_the_values(tmp_path):
    p = _write(tmp_path, "name: x\nchannels:\n  - {name: a, cost_per_unit: 1, min_units: 9, max_units: 3}\n")
    with pytest.raises(ScenarioError, match=r"min_units 9 is above max_units 3"):
        load_model(Doc, p)


@pytest.mark.parametrize("literal", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_refused(tmp_path, literal):
    p = _write(tmp_path, f"name: x\nchannels:\n  - name: a\n    cost_per_unit: {literal}\n")
    with pytest.raises(ScenarioError, match=r"channels\[0\]\.cost_per_unit is -?(nan|inf); .*finite"):
        load_model(Doc, p)


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    p = _write(tmp_path, "name: x\nchannels: [\n  - name: a\n")
    with pytest.raises(ScenarioError, match=rf"{p}:\d+:\d+: YAML syntax error"):
        load_yaml(p)


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    p = _write(tmp_path, "name: x\nname: y\nchannels: []\n")
    with pytest.raises(ScenarioError, match=r"duplicate key 'name' \(first at line 1\)"):
        load_yaml(p)


def test_missing_file_and_directory_and_empty(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_yaml(tmp_path)
    with pytest.raises(ScenarioError, match="the file is empty"):
        parse_yaml_text("", "e.yaml")


def test_non_utf8_file(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="is not UTF-8"):
        load_yaml(p)


def test_line_map_points_into_nested_lists():
    _, lines = parse_yaml_text("a: 1\nb:\n  - c: 2\n  - c: 3\n    d: 4\n")
    assert lines[("b", 1, "d")] == 5
    assert lines[("b", 0, "c")] == 3
