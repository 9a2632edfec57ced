"""Orchestration only: a validated scenario in, a :class:`~optimizer.plan.Plan` out.

Each section gets its own random stream spawned from the run's seed, so adding a section never
changes the random numbers another section sees.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from optimizer.plan import Plan, Provenance
from optimizer.scenario import LoadedScenario
from optimizer.seeding import resolve_seed
from optimizer.sections import RunContext, SectionResult, SectionSpec


def run(
    scenario: LoadedScenario,
    seed: int | None = None,
    solver: str | None = None,
    progress: Callable[[str], None] | None = None,
    options: dict[str, Any] | None = None,
) -> Plan:
    """Run every section of ``scenario`` in registry order and assemble the plan.

    Parameters
    ----------
    scenario:
        From :func:`optimizer.scenario.load_scenario`.
    seed:
        Overrides the scenario's ``seed``; when both are None a seed is drawn and recorded.
    solver:
        Budget solver name (``highs``, ``cbc``, ``glop``, ``pdlp``...); None: the section default.
    progress:
        Called with the section name before it runs (the CLI shows a spinner).
    """
    header = scenario.model
    used_seed = resolve_seed(seed if seed is not None else header.seed)
    sections = scenario.sections
    # One child stream per registered section, keyed by position in the registry, so adding a
    # section to a scenario leaves the other sections' random numbers unchanged.
    children = np.random.SeedSequence(used_seed).spawn(len(sections))
    results: dict[str, SectionResult] = {}
    done: dict[str, tuple[SectionSpec, SectionResult]] = {}
    for (spec, config), child in zip(sections, children):
        if progress is not None:
            progress(spec.name)
        ctx = RunContext(
            seed=used_seed,
            rng=np.random.default_rng(child),
            base_dir=scenario.base_dir,
            solver=solver,
            results=dict(results),
            source=str(scenario.path),
            options=dict(options or {}) | {"currency": header.currency, "scenario": header},
        )
        result = spec.run(config, ctx)
        results[spec.name] = result
        done[spec.name] = (spec, result)
    solver_info = None
    budget = results.get("budget")
    if budget is not None:
        solver_info = getattr(budget, "solver_info", None)
    return Plan(
        scenario_name=header.name,
        scenario_description=header.description,
        scenario_path=str(scenario.path),
        content_hash=scenario.content_hash,
        currency=header.currency,
        provenance=Provenance.now(used_seed, solver_info),
        sections=done,
        scenario=header,
    )
