"""The plug-in contract between the scenario runner and each planning section.

A section (budget, bandit, churn, experiments) is a :class:`SectionSpec`: the YAML key it owns, the
pydantic model of that key, and a ``run`` function. Adding a section is one new module that
defines ``SECTION = SectionSpec(...)`` plus one line in :data:`SECTION_PATHS`.

Sections run in the order of :data:`SECTION_PATHS`; a later section sees the results of earlier
ones in ``RunContext.results`` (experiments and churn run before budget, so that an experiment's
winning creative or a churn retention line can feed the budget).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel


@runtime_checkable
class SectionResult(Protocol):
    """What every section returns. Frozen dataclasses in practice."""

    status: str  # e.g. "optimal", "feasible", "infeasible", "ok", "error"
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, snake_case; this is the section's part of plan.json."""

    def summary(self) -> Any:
        """A pandas DataFrame, the section's main table for humans."""


@dataclass(frozen=True)
class RunContext:
    """What the runner hands each section.

    Attributes
    ----------
    seed:
        The run's seed (already resolved: never None here).
    rng:
        Generator derived from ``seed`` for this section; never use the global numpy state.
    base_dir:
        Folder of the scenario file: relative data paths in the scenario resolve against it.
    solver:
        Solver name from ``--solver`` (None: the section's default).
    results:
        Results of the sections that ran before this one, by section name.
    source:
        Scenario file name, for error messages.
    """

    seed: int
    rng: np.random.Generator
    base_dir: Path
    solver: str | None = None
    results: dict[str, SectionResult] = field(default_factory=dict)
    source: str = "<scenario>"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SectionSpec:
    """A planning section.

    Attributes
    ----------
    name:
        The scenario YAML key and the plan.json key.
    config_model:
        Pydantic model of the YAML value (``extra="forbid"``, ``frozen=True``).
    run:
        ``run(config, context) -> SectionResult``.
    files:
        Optional ``files(result) -> {filename: bytes}``: extra outputs written with ``--out``
        (e.g. ``allocations.csv``, plots). Written atomically by the runner.
    markdown:
        Optional ``markdown(result) -> str``: the section's part of plan.md.
    description:
        One line for docs and ``dmpopt validate``.
    """

    name: str
    config_model: type[BaseModel]
    run: Callable[[Any, RunContext], SectionResult]
    files: Callable[[Any], dict[str, bytes]] | None = None
    markdown: Callable[[Any], str] | None = None
    description: str = ""


#: section name -> "module:attribute" of its SectionSpec, in run order.
SECTION_PATHS: dict[str, str] = {
    "experiments": "experiments.section:SECTION",
    "segments": "optimizer.segments.section:SECTION",  # before churn and budget: they read its sizes
    "churn": "optimizer.churn.section:SECTION",
    "bandit": "optimizer.bandit.section:SECTION",
    "budget": "optimizer.budget.section:SECTION",
    "current": "optimizer.planreport.current:SECTION",  # after budget: compares what runs now with its plan
}


@lru_cache(maxsize=None)
def load_sections() -> tuple[SectionSpec, ...]:
    """Import every registered section (lazily: heavy solver imports wait until needed)."""
    specs = []
    for name, path in SECTION_PATHS.items():
        module_name, attr = path.split(":")
        spec = getattr(importlib.import_module(module_name), attr)
        if spec.name != name:
            raise RuntimeError(f"section registered as {name!r} calls itself {spec.name!r}")
        specs.append(spec)
    return tuple(specs)
