"""The Plan: the frozen result of ``dmpopt plan``, and its renderers.

``plan.json`` follows a versioned schema (``PLAN_SCHEMA_VERSION``; docs/plan-schema.md and
docs/plan.schema.json). Its top level: ``schema_version``, ``status``, ``scenario``, ``provenance``,
``warnings`` and one key per section that ran (``budget``, ``churn``, ...).

Status of the plan: the worst status of its sections, in the order
``error`` > ``infeasible`` > ``unbounded`` > ``feasible`` > ``optimal``/``ok``.
"""

from __future__ import annotations

import io
import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from optimizer.sections import SectionResult, SectionSpec

PLAN_SCHEMA_VERSION = "2.0"  # 2.0: one budget result (channel_totals.share -> share_of_spend)

#: Packages whose versions a plan records: the solvers and statistics libraries that decide results.
PROVENANCE_PACKAGES = ("highspy", "ortools", "pulp", "numpy", "scipy", "pandas", "lifelines", "statsmodels", "duckdb")

_STATUS_RANK = {"error": 5, "infeasible": 4, "unbounded": 3, "feasible": 2, "optimal": 1, "ok": 1}


def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`PROVENANCE_PACKAGES` (None when not installed)."""
    out: dict[str, str | None] = {}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def worst_status(statuses: list[str]) -> str:
    """The plan's overall status: the worst of its sections' statuses."""
    if not statuses:
        return "ok"
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 5))


@dataclass(frozen=True)
class Provenance:
    """How a plan was made, so it can be reproduced.

    Attributes
    ----------
    dmpopt_version: version of dmpopt that made the plan.
    seed: the seed used for every random step (drawn and recorded when the scenario gave none).
    created_at: UTC timestamp, ISO 8601.
    solver: the budget solver's name and version (``{"name": "highs", "version": "1.12.0"}``), or None.
    packages: versions of the solver and statistics packages installed.
    python: Python version.
    """

    dmpopt_version: str
    seed: int
    created_at: str
    solver: dict[str, Any] | None
    packages: dict[str, str | None]
    python: str = field(default_factory=platform.python_version)

    @classmethod
    def now(cls, seed: int, solver: dict[str, Any] | None) -> "Provenance":
        from optimizer import __version__

        return cls(
            dmpopt_version=__version__,
            seed=seed,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            solver=solver,
            packages=package_versions(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dmpopt_version": self.dmpopt_version,
            "seed": self.seed,
            "created_at": self.created_at,
            "solver": self.solver,
            "packages": self.packages,
            "python": self.python,
        }


@dataclass(frozen=True)
class Plan:
    """A recommended campaign plan.

    Attributes
    ----------
    scenario_name, scenario_description: from the scenario header.
    scenario_path: the file the scenario was read from.
    content_hash: ``sha256:<hex>`` of the scenario file.
    currency: currency code of every money amount in the plan.
    provenance: how the plan was made.
    sections: section name -> (spec, result), in run order.
    """

    scenario_name: str
    scenario_description: str
    scenario_path: str
    content_hash: str
    currency: str
    provenance: Provenance
    sections: dict[str, tuple[SectionSpec, SectionResult]]
    #: the validated scenario (period budgets for the flighting chart, curves for report.html); not in plan.json
    scenario: Any = field(default=None, repr=False, compare=False)

    @property
    def currency_text(self) -> str:
        """The currency code, saying so when it is the default because the scenario gives none."""
        given = getattr(self.scenario, "model_fields_set", None)
        if given is None or "currency" in given:
            return self.currency
        return f"{self.currency} (the default: the scenario states no currency)"

    @property
    def status(self) -> str:
        return worst_status([res.status for _, res in self.sections.values()])

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"{name}: {w}" for name, (_, res) in self.sections.items() for w in res.warnings)

    def result(self, name: str) -> SectionResult:
        """The result of section ``name`` (KeyError when the scenario had no such section)."""
        return self.sections[name][1]

    def to_dict(self) -> dict[str, Any]:
        """The plan.json document (JSON-safe)."""
        doc: dict[str, Any] = {
            "schema_version": PLAN_SCHEMA_VERSION,
            "status": self.status,
            "scenario": {
                "name": self.scenario_name,
                "description": self.scenario_description,
                "path": self.scenario_path,
                "content_hash": self.content_hash,
                "currency": self.currency,
            },
            "provenance": self.provenance.to_dict(),
            "warnings": list(self.warnings),
        }
        for name, (_, res) in self.sections.items():
            doc[name] = res.to_dict()
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        """plan.md: a readable report of every section."""
        out = [f"# Plan: {self.scenario_name}", ""]
        if self.scenario_description:
            out += [self.scenario_description.strip(), ""]
        prov = self.provenance
        solver = f"{prov.solver['name']} {prov.solver.get('version', '')}".strip() if prov.solver else "none"
        out += [
            f"- Status: **{self.status}**",
            f"- Currency: {self.currency_text}",
            f"- Scenario: `{self.scenario_path}` ({self.content_hash})",
            f"- Made by dmpopt {prov.dmpopt_version} on {prov.created_at}, seed {prov.seed}, solver {solver}",
            "",
        ]
        for name, (spec, res) in self.sections.items():
            if spec.markdown is not None:
                out += [spec.markdown(res).rstrip(), ""]
            else:
                out += [f"## {name.capitalize()}", "", f"Status: {res.status}", "", _df_markdown(res.summary()), ""]
        from optimizer.planreport import planner_markdown  # media plan after the sections it pivots

        media = planner_markdown(self)
        out += [media] if media else []
        if self.warnings:
            out += ["## Warnings", ""] + [f"- {w}" for w in self.warnings] + [""]
        return "\n".join(out)

    def files(self, planner: bool = True) -> dict[str, bytes]:
        """Every file ``--out DIR`` writes: plan.json, plan.md, each section's own files and (``planner``)
        the media plan, charts and report.html of :mod:`optimizer.planreport`."""
        out = {"plan.json": self.to_json().encode(), "plan.md": self.to_markdown().encode()}
        for _, (spec, res) in self.sections.items():
            if spec.files is not None:
                for fname, data in spec.files(res).items():
                    if fname in out:
                        raise RuntimeError(f"two sections write {fname}")
                    out[fname] = data
        from optimizer.planreport import planner_files  # media plan, charts, report.html

        for fname, data in (planner_files(self) if planner else {}).items():
            if fname in out:
                raise RuntimeError(f"a section and the planner outputs both write {fname}")
            out[fname] = data
        return out


def _df_markdown(df: Any) -> str:
    """A DataFrame as a Markdown table without the optional `tabulate` dependency."""
    if df is None or len(df) == 0:
        return "(empty)"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def df_markdown(df: Any) -> str:
    """Public alias used by section renderers."""
    return _df_markdown(df)


def warnings_markdown(warnings: Any) -> list[str]:
    """Markdown lines for a section's warnings, the same block in every section of plan.md ([] when none)."""
    warnings = [str(w) for w in (warnings or [])]
    return ["", "Warnings:", ""] + [f"- {w}" for w in warnings] if warnings else []


def df_csv(df: Any) -> bytes:
    """A DataFrame as CSV bytes (no index)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode()
