"""``dmpopt compare A B``: what changed between two plans, and which inputs explain it.

A and B are each a ``plan.json`` (written by ``dmpopt plan --out``) or a scenario YAML (planned here
first). The comparison reports, in the currency of the plans:

* spend per channel and period in A and B and the change (B - A), and per channel in total with
  the change in response;
* what changed in the inputs: every budget field whose value differs between the two scenarios
  (``budget.total_budget.amount: 800,000 -> 900,000``), read from the scenario files (for a
  plan.json, from the scenario it names when that file still has the recorded content hash), and
  the limits that bind in one plan and not in the other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import DmpoptError, ScenarioError


@dataclass(frozen=True)
class PlanInput:
    """One side of a comparison: its plan.json document and, when known, its scenario as plain data."""

    label: str
    doc: dict[str, Any]
    scenario_data: dict[str, Any] | None
    note: str = ""


@dataclass(frozen=True)
class PlanComparison:
    """The difference between plan A and plan B.

    Attributes
    ----------
    a_label, b_label: what A and B are (file names).
    currency: currency of both plans.
    channels: per channel: spend_a, spend_b, spend_change (currency), response_a, response_b,
        response_change (response_unit).
    cells: per channel x period: spend_a, spend_b, spend_change (currency), summed over segments.
    input_changes: ``path: A -> B`` lines for every scenario value that differs.
    binding_changes: limits binding in one plan only.
    notes: how the inputs were found.
    """

    a_label: str
    b_label: str
    currency: str
    channels: pd.DataFrame
    cells: pd.DataFrame
    input_changes: tuple[str, ...]
    binding_changes: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        return self.channels.copy()

    def to_dict(self) -> dict[str, Any]:
        from optimizer.jsonsafe import records as _records

        return {"a": self.a_label, "b": self.b_label, "currency": self.currency,
                "channels": _records(self.channels), "cells": _records(self.cells),
                "input_changes": list(self.input_changes), "binding_changes": list(self.binding_changes),
                "notes": list(self.notes)}

    def headline(self) -> str:
        from optimizer.budget.money import money

        tot = self.channels[self.channels["channel"] == "total"].iloc[0]
        return (f"B ({self.b_label}) vs A ({self.a_label}): spend {money(tot.spend_change, self.currency)} "
                f"({money(tot.spend_a, self.currency)} -> {money(tot.spend_b, self.currency)}), response "
                f"{tot.response_change:+,.0f}")

    def to_markdown(self) -> str:
        from optimizer.plan import df_markdown

        out = [f"# Compare: {self.b_label} vs {self.a_label}", "", self.headline(), "",
               "## Per channel (B - A)", "", df_markdown(self.channels), "",
               "## Per channel and period (spend, B - A)", "", df_markdown(self.pivot()), "",
               "## What changed in the inputs", ""]
        out += [f"- `{c}`" for c in self.input_changes] or ["- no input difference found"]
        if self.binding_changes:
            out += ["", "## Limits binding in one plan only", ""] + [f"- {b}" for b in self.binding_changes]
        out += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"

    def pivot(self) -> pd.DataFrame:
        """Spend change (B - A) per channel (rows) and period (columns), with totals."""
        if self.cells.empty:
            return pd.DataFrame()
        p = self.cells.pivot_table(index="channel", columns="period", values="spend_change", aggfunc="sum",
                                   sort=False, fill_value=0.0)
        p["total"] = p.sum(axis=1)
        return p.reset_index()

    def lines(self, width: int = 80) -> list[str]:
        """Terminal text: headline, channel table, input changes (each line <= width)."""
        from optimizer.budget.money import money

        import textwrap

        cur = self.currency
        out = [*textwrap.wrap(self.headline(), width), ""]
        head = f"{'channel':<16}{'A':>14}{'B':>14}{'B - A':>14}{'resp. B - A':>16}"
        out.append(head)
        for r in self.channels.itertuples(index=False):
            out.append(f"{str(r.channel)[:15]:<16}{money(r.spend_a, cur):>14}{money(r.spend_b, cur):>14}"
                       f"{money(r.spend_change, cur):>14}{r.response_change:>+16,.0f}")
        out += ["", "What changed in the inputs:"]
        def wrap(text: str) -> list[str]:
            return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ")

        out += [ln for c in self.input_changes for ln in wrap(c)] or ["  no input difference found"]
        if self.binding_changes:
            out += ["Limits binding in one plan only:"] + [ln for b in self.binding_changes for ln in wrap(b)]
        out += [ln for n in self.notes for ln in wrap(f"note: {n}")]
        out.append("Per channel and period: compare.csv / compare.md (with --out).")
        return out


# --------------------------------------------------------------------------- reading
def load_side(path: Path, seed: int | None = None) -> PlanInput:
    """A plan.json as it is, or a scenario YAML planned now."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{path}: file not found; give a plan.json or a scenario YAML.")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DmpoptError(f"{path}: cannot read as a plan.json ({exc}).") from None
        if not isinstance(doc, dict) or "budget" not in doc:
            raise DmpoptError(f"{path}: not a plan.json with a budget section (expected `dmpopt plan --out` output).")
        scen = (doc.get("scenario") or {})
        spath = Path(scen.get("path", ""))
        if not spath.is_absolute():
            spath = (Path.cwd() / spath)
        data, note = None, ""
        if spath.is_file():
            digest = "sha256:" + hashlib.sha256(spath.read_bytes()).hexdigest()
            if digest == scen.get("content_hash"):
                data = _yaml(spath)
            else:
                note = f"{path}: its scenario {spath} changed since the plan was made; inputs not compared"
        else:
            note = f"{path}: its scenario {scen.get('path')} is not found; inputs not compared"
        return PlanInput(str(path), doc, data, note)
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    loaded = load_scenario(path)
    plan = run(loaded, seed=seed)
    return PlanInput(str(path), plan.to_dict(), _yaml(path))


def _yaml(path: Path) -> dict[str, Any] | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists as ``path -> value``; list items of named things are keyed by their name."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) and "name" in x for x in obj):
        for x in obj:
            out.update(_flatten({k: v for k, v in x.items() if k != "name"}, f"{prefix}[{x['name']}]"))
            out.setdefault(f"{prefix}[{x['name']}]", "present")
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) and "channel" in x for x in obj):
        for x in obj:
            out.update(_flatten({k: v for k, v in x.items() if k != "channel"}, f"{prefix}[{x['channel']}]"))
    else:
        out[prefix] = obj
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "(absent)"
    if isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)):
        return f"{v:,.10g}"
    return json.dumps(v) if not isinstance(v, str) else v


def input_changes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """``path: A -> B`` for every scenario value that differs (name/description/seed ignored)."""
    if a is None or b is None:
        return []
    skip = {"name", "description", "seed"}
    fa = {k: v for k, v in _flatten(a).items() if k.split(".")[0] not in skip}
    fb = {k: v for k, v in _flatten(b).items() if k.split(".")[0] not in skip}
    return [f"{k}: {_fmt(fa.get(k))} -> {_fmt(fb.get(k))}" for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def _alloc(doc: dict[str, Any]) -> pd.DataFrame:
    rows = (doc.get("budget") or {}).get("allocations") or []
    df = pd.DataFrame(rows, columns=None)
    if df.empty:
        return pd.DataFrame(columns=["channel", "segment", "period", "spend", "response"])
    for c in ("spend", "response"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0.0)
    return df


def compare(a: PlanInput, b: PlanInput) -> PlanComparison:
    """Compare two plans (see module docstring)."""
    cur_a = (a.doc.get("scenario") or {}).get("currency") or (a.doc.get("budget") or {}).get("currency") or ""
    cur_b = (b.doc.get("scenario") or {}).get("currency") or (b.doc.get("budget") or {}).get("currency") or ""
    notes = [n for n in (a.note, b.note) if n]
    for side, name in ((a, "A"), (b, "B")):
        status = side.doc.get("status")
        if status not in ("optimal", "feasible", "ok"):
            expl = " ".join((side.doc.get("budget") or {}).get("explanation") or [])
            notes.append(f"{name} ({side.label}) has no plan: status {status}. {expl}".strip())
    if cur_a != cur_b:
        notes.append(f"A is in {cur_a} and B in {cur_b}: amounts are compared as numbers, not converted")
    xa, xb = _alloc(a.doc), _alloc(b.doc)
    ga = xa.groupby("channel", sort=False)[["spend", "response"]].sum()
    gb = xb.groupby("channel", sort=False)[["spend", "response"]].sum()
    names = list(dict.fromkeys([*ga.index, *gb.index]))
    ga, gb = ga.reindex(names, fill_value=0.0), gb.reindex(names, fill_value=0.0)
    ch = pd.DataFrame({"channel": names, "spend_a": ga["spend"].to_numpy(dtype=float),
                       "spend_b": gb["spend"].to_numpy(dtype=float), "response_a": ga["response"].to_numpy(dtype=float),
                       "response_b": gb["response"].to_numpy(dtype=float)})
    ch = pd.concat([ch, pd.DataFrame([{"channel": "total", **{c: ch[c].sum() for c in ch.columns[1:]}}])],
                   ignore_index=True)
    ch["spend_change"] = ch["spend_b"] - ch["spend_a"]
    ch["response_change"] = ch["response_b"] - ch["response_a"]
    ch = ch[["channel", "spend_a", "spend_b", "spend_change", "response_a", "response_b", "response_change"]]
    pa = xa.groupby(["channel", "period"], sort=False)["spend"].sum()
    pb = xb.groupby(["channel", "period"], sort=False)["spend"].sum()
    idx = list(dict.fromkeys([*pa.index, *pb.index]))
    cells = pd.DataFrame({"channel": [i[0] for i in idx], "period": [i[1] for i in idx],
                          "spend_a": pa.reindex(idx, fill_value=0.0).to_numpy(dtype=float),
                          "spend_b": pb.reindex(idx, fill_value=0.0).to_numpy(dtype=float)})
    cells["spend_change"] = cells["spend_b"] - cells["spend_a"]

    def binding(doc):
        return {x.get("name"): x for x in (doc.get("budget") or {}).get("binding_constraints") or []}

    ba, bb = binding(a.doc), binding(b.doc)
    bchanges = [f"{n} binds in A only" for n in ba if n not in bb] + [f"{n} binds in B only" for n in bb if n not in ba]
    for n in ba.keys() & bb.keys():
        va, vb = ba[n].get("bound"), bb[n].get("bound")
        if va is not None and vb is not None and not np.isclose(va, vb):
            bchanges.append(f"{n}: limit {va:,.10g} -> {vb:,.10g}")
    return PlanComparison(a.label, b.label, cur_b or cur_a, ch, cells,
                          tuple(input_changes(a.scenario_data, b.scenario_data)), tuple(sorted(bchanges)), tuple(notes))


def compare_files(c: PlanComparison) -> dict[str, bytes]:
    """compare.csv (per channel x period), compare_channels.csv, compare.md and compare.json."""
    return {
        "compare.csv": c.cells.assign(currency=c.currency).to_csv(index=False).encode("utf-8"),
        "compare_channels.csv": c.channels.assign(currency=c.currency).to_csv(index=False).encode("utf-8"),
        "compare.md": c.to_markdown().encode("utf-8"),
        "compare.json": (json.dumps(c.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8"),
    }
