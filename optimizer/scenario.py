"""The scenario: what a planner writes in ``scenario.yaml``.

The top level holds the scenario's identity (``name``, ``description``, ``currency``, ``seed``);
every other key belongs to a planning section registered in :mod:`optimizer.sections`
(``budget``, ``bandit``, ``churn``, ``experiments``). The :class:`Scenario` model is assembled from
that registry, so adding a section adds its key here without touching this module.

Money in a scenario is in ``currency`` (an ISO-4217-like code; ``CNY`` prints as ``¥``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from optimizer.errors import ScenarioError
from optimizer.sections import SectionSpec, load_sections
from optimizer.validation import LineMap, load_yaml, parse_model

#: Currency symbols for messages ("one more ¥ of total budget returns ¥0.056").
CURRENCY_SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "KRW": "₩", "INR": "₹"}


class ScenarioHeader(BaseModel):
    """Fields every scenario has, whatever sections it uses."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=200, description="Short name of the scenario; echoed in the plan.")
    description: str = Field("", description="Free text shown at the top of the plan.")
    currency: str = Field(
        "CNY",
        min_length=3,
        max_length=3,
        pattern=r"^[A-Z]{3}$",
        description="Currency code of every money amount in the scenario (e.g. CNY, USD, EUR).",
    )
    seed: int | None = Field(
        None, ge=0, description="Seed for every random step; omitted: one is drawn and recorded in the plan."
    )

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @property
    def currency_symbol(self) -> str:
        """``¥`` for CNY, ``$`` for USD...; the code itself plus a space when unknown."""
        return CURRENCY_SYMBOLS.get(self.currency, self.currency + " ")


@lru_cache(maxsize=None)
def scenario_model() -> type[ScenarioHeader]:
    """The Scenario model: the header plus one optional key per registered section."""
    fields: dict[str, Any] = {
        spec.name: (spec.config_model | None, Field(None, description=spec.description or f"The {spec.name} section."))
        for spec in load_sections()
    }
    model = create_model("Scenario", __base__=ScenarioHeader, **fields)
    model.__doc__ = "A planning scenario: header fields plus one optional key per section."
    return model


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and where it came from.

    Attributes
    ----------
    model:
        The validated pydantic Scenario.
    path:
        The file it was read from.
    content_hash:
        ``sha256:<hex>`` of the file's bytes: the plan records it so a plan can be traced to the
        exact scenario text.
    line_map:
        Field path -> line number, for messages raised after validation.
    """

    model: ScenarioHeader
    path: Path
    content_hash: str
    line_map: LineMap

    @property
    def sections(self) -> list[tuple[SectionSpec, BaseModel]]:
        """The sections this scenario uses, in run order."""
        return [(spec, getattr(self.model, spec.name)) for spec in load_sections() if getattr(self.model, spec.name) is not None]

    @property
    def base_dir(self) -> Path:
        """Folder of the scenario file; relative data paths resolve against it."""
        return self.path.resolve().parent


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read, parse and validate a scenario file.

    Raises
    ------
    ScenarioError
        With one line per defect: file, line, field path, bad value and what is allowed.
    """
    p = Path(path)
    data, line_map = load_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: the top level is a {type(data).__name__}; expected a mapping with at least `name:`.")
    # currency: a budget response taken from a curves file must be in the scenario's currency
    context = {"base_dir": p.resolve().parent,
               "currency": data.get("currency", ScenarioHeader.model_fields["currency"].default)}
    model = parse_model(scenario_model(), data, str(p), line_map, context=context)
    sections = [spec.name for spec in load_sections() if getattr(model, spec.name) is not None]
    if not sections:
        names = ", ".join(spec.name for spec in load_sections())
        raise ScenarioError(f"{p}: the scenario has no section to plan; add at least one of: {names}.")
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return LoadedScenario(model=model, path=p, content_hash=f"sha256:{digest}", line_map=line_map)
