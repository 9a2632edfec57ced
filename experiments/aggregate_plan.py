"""SQL planning of the experiment aggregation: column registry, checks, per-user and moment expressions.

Builds the SQL text run by :func:`experiments.aggregate.aggregate` from the templates in
``aggregate_sql/``; the same text runs on DuckDB and Spark (engine differences are confined to
the engine objects: quoting, the epoch function, the mean aggregate, the string type).
Normalised names: ``u`` user, ``v`` variant (a small integer code after :func:`encode_variants`),
``t`` epoch seconds, ``e`` event, ``c<j>`` numeric inputs, ``g<j>`` dimensions; per user ``y<i>``
(metric i), ``d<i>`` (denominator), ``x<i>`` (covariate).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.aggregate import _MOMENT_FIELDS, AggregationError, Engine, Look, _sql_text, sql_template

if TYPE_CHECKING:
    import pandas as pd

    from experiments.config import ExperimentConfig


@dataclass
class Plan:
    """Column registry: source columns -> c<j>/g<j> names, and per-metric expressions."""

    engine: Engine
    columns: dict[str, str] = field(default_factory=dict)  # source column -> c<j>
    dims: dict[str, str] = field(default_factory=dict)  # dimension column -> g<j>
    has_event: bool = False  # the staged view has the event column e
    code_to_variant: dict[int, str] = field(default_factory=dict)
    # c<j> -> shift subtracted before var_pop (users data: the column's overall mean). Welford's
    # update loses ~eps * mean / sd relative precision; centring first makes mean / sd ~ 1.
    shifts: dict[str, float] = field(default_factory=dict)

    def col(self, name: str) -> str:
        if name not in self.columns:
            self.columns[name] = f"c{len(self.columns)}"
        return self.columns[name]


def check_columns(exp: "ExperimentConfig", available: list[str], path: Path) -> None:
    from experiments.config import EventsSource

    data = exp.data
    needed: list[tuple[str, str]] = [("data.user_col", data.user_col), ("data.variant_col", data.variant_col)]
    if data.timestamp_col is not None:
        needed.append(("data.timestamp_col", data.timestamp_col))
    if isinstance(data, EventsSource) and any(m.event or m.denominator_event for m in exp.metrics):
        needed.append(("data.event_col", data.event_col))
    for m in exp.metrics:
        for key in ("column", "denominator_column", "covariate_column"):
            value = getattr(m, key)
            if value is not None:
                needed.append((f"metrics[{m.name}].{key}", value))
    for i, d in enumerate(exp.dimensions):
        needed.append((f"dimensions[{i}]", d))
    missing = []
    for where, column in needed:
        if column not in available:
            hint = difflib.get_close_matches(column, available, n=1)
            missing.append(
                f"{where} names column {column!r}, which is not in the file"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
            )
    if missing:
        raise AggregationError(
            "MISSING_COLUMN",
            f"experiment {exp.name!r}: {path.name} lacks {len(missing)} column(s): " + "; ".join(missing)
            + f". Columns in the file: {', '.join(available)}.",
        )


def source_projection(exp: "ExperimentConfig", plan: Plan) -> str:
    from experiments.config import EventsSource

    eng, data = plan.engine, exp.data
    parts = [f"{eng.quote(data.user_col)} AS u", f"CAST({eng.quote(data.variant_col)} AS {eng.text}) AS v"]
    parts.append(f"{eng.epoch(eng.quote(data.timestamp_col))} AS t" if data.timestamp_col else "CAST(0 AS DOUBLE) AS t")
    if isinstance(data, EventsSource) and any(m.event or m.denominator_event for m in exp.metrics):
        parts.append(f"CAST({eng.quote(data.event_col)} AS {eng.text}) AS e")
        plan.has_event = True
    for m in exp.metrics:
        for key in ("column", "denominator_column", "covariate_column"):
            if getattr(m, key) is not None:
                plan.col(getattr(m, key))
    parts += [f"CAST({eng.quote(src)} AS DOUBLE) AS {alias}" for src, alias in plan.columns.items()]
    for i, d in enumerate(exp.dimensions):
        plan.dims[d] = f"g{i}"
        parts.append(f"CAST({eng.quote(d)} AS {eng.text}) AS g{i}")
    return ", ".join(parts)


def _match(event: str | None) -> str:
    return "TRUE" if event is None else f"e = '{_sql_text(event)}'"


def _checks(exp: "ExperimentConfig", plan: Plan) -> list[tuple[str, str, str]]:
    """(alias, SQL count expression, message stem) for every defect we look for."""
    from experiments.config import EventsSource

    events = isinstance(exp.data, EventsSource)
    out = [
        ("null_u", "sum(CASE WHEN u IS NULL THEN 1 ELSE 0 END)", f"user id column {exp.data.user_col!r} is empty (NULL)"),
        ("null_v", "sum(CASE WHEN v IS NULL THEN 1 ELSE 0 END)", f"variant column {exp.data.variant_col!r} is empty (NULL)"),
    ]
    if exp.data.timestamp_col:
        out.append(("null_t", "sum(CASE WHEN t IS NULL THEN 1 ELSE 0 END)", f"timestamp {exp.data.timestamp_col!r} is empty (NULL)"))
    for i, m in enumerate(exp.metrics):
        specs = [("column", m.column, m.event), ("denominator_column", m.denominator_column, m.denominator_event),
                 ("covariate_column", m.covariate_column, None)]
        for key, column, event in specs:
            if column is None:
                continue
            c = plan.columns[column]
            scope = _match(event) if events else "TRUE"
            where = f" in {event!r} events" if events and event else ""
            out.append((f"nan_{key[:3]}{i}", f"sum(CASE WHEN {scope} AND ({c} IS NULL OR isnan({c})) THEN 1 ELSE 0 END)",
                        f"metric {m.name!r}: column {column!r}{where} is NaN or empty"))
            if key != "covariate_column" and (m.kind in ("count", "proportion") or key == "denominator_column"):
                out.append((f"neg_{key[:3]}{i}", f"sum(CASE WHEN {scope} AND {c} < 0 THEN 1 ELSE 0 END)",
                            f"metric {m.name!r}: column {column!r}{where} is negative (counts must be >= 0)"))
            if key == "column" and m.kind == "proportion" and not events:
                out.append((f"bin_{i}", f"sum(CASE WHEN {c} <> 0 AND {c} <> 1 THEN 1 ELSE 0 END)",
                            f"metric {m.name!r}: column {column!r} is not 0 or 1 (a user converts at most once)"))
    return out


_CHECK_CODES = {"null": "NULL_IDS", "nan": "NAN_VALUES", "neg": "NEGATIVE_VALUES", "bin": "NOT_BINARY"}
_CHECK_HINTS = {
    "NULL_IDS": "drop rows without a user or variant, or fix the export",
    "NAN_VALUES": "fill missing metric values (0 for users without the event) or drop those users",
    "NEGATIVE_VALUES": "counts cannot be negative; check refunds or sign errors in the export",
    "NOT_BINARY": "a conversion metric takes 0 or 1 per user; use kind 'count' for events per user",
}


def run_checks(exp: "ExperimentConfig", plan: Plan) -> dict[str, int]:
    """Run ``checks.sql`` on the staged view; raise on defects; return rows per variant name.

    Also sets ``plan.shifts`` (users data: each column's overall mean, for centring).
    """
    from experiments.config import UsersSource

    checks = _checks(exp, plan)
    shift_exprs = ""
    if isinstance(exp.data, UsersSource):
        shift_exprs = "".join(f", {plan.engine.avg}({c}) AS shift_{c}" for c in plan.columns.values())
    sql = sql_template("checks").format(
        checks="".join(f", {expr} AS {alias}" for alias, expr, _ in checks) + shift_exprs)
    per_variant = plan.engine.fetch(sql)
    n_rows = int(per_variant["n_rows"].sum()) if not per_variant.empty else 0
    if n_rows == 0:
        raise AggregationError("NO_DATA", f"experiment {exp.name!r}: the data file has no rows.")
    problems: dict[str, list[str]] = {}
    for alias, _, stem in checks:
        count = int(per_variant[alias].fillna(0).astype(float).sum())
        if count:
            code = _CHECK_CODES[alias.split("_")[0]]
            problems.setdefault(code, []).append(f"{count} of {n_rows} row(s): {stem}")
    if problems:
        code = next(iter(problems))
        lines = [line for group in problems.values() for line in group]
        raise AggregationError(
            code, f"experiment {exp.name!r}: " + "; ".join(lines) + f". Suggestion: {_CHECK_HINTS[code]}."
        )
    if shift_exprs:
        weights = per_variant["n_rows"].astype(float).to_numpy()
        plan.shifts = {c: float((per_variant[f"shift_{c}"].astype(float).to_numpy() * weights).sum() / weights.sum())
                       for c in plan.columns.values()}
    return {str(v): int(n) for v, n in zip(per_variant["v"], per_variant["n_rows"]) if v is not None}


_SAFE_NAME = re.compile(r"^[^'\"\\\n]{1,200}$")


def encode_variants(exp: "ExperimentConfig", plan: Plan, rows_per_variant: dict[str, int]) -> None:
    """Create the view ``src`` from ``staged`` with the variant as an integer code.

    Codes: configured variants 0..k-1 in config order, other names found in the data k.. (sorted);
    names that cannot be written as a plain SQL literal share code -1. ``plan.code_to_variant``
    maps codes back to names.
    """
    names = list(exp.variants) + sorted(
        n for n in rows_per_variant if n not in exp.variants and _SAFE_NAME.match(n))
    plan.code_to_variant = {i: n for i, n in enumerate(names)}
    plan.code_to_variant[-1] = "(unreadable variant names)"
    cases = " ".join(f"WHEN v = '{_sql_text(n)}' THEN {i}" for i, n in enumerate(names))
    columns = ["u", "t"] + (["e"] if plan.has_event else []) + list(plan.columns.values()) + list(plan.dims.values())
    plan.engine.create_view("src", sql_template("encode_variants").format(columns=", ".join(columns), cases=cases))


# Typed literals: a bare 1.0 is DECIMAL(2,1) in Spark SQL, and sums/averages of decimals are
# rounded to a fixed scale (0.468354 came back as 0.46835); DOUBLE keeps both engines in float64.
_ONE, _ZERO = "CAST(1 AS DOUBLE)", "CAST(0 AS DOUBLE)"


def user_values(exp: "ExperimentConfig", plan: Plan, events: bool, combine: bool) -> str:
    """Per-metric per-user value expressions (``, expr AS y0, ...``).

    ``events``: build from event rows; ``combine``: combine per-bucket partials (sum/max) into
    week-to-date values instead.
    """
    parts = []
    for i, m in enumerate(exp.metrics):
        cov = plan.columns.get(m.covariate_column) if m.covariate_column else None
        if not events:
            parts.append(f"{_shifted(plan, plan.columns[m.column])} AS y{i}")
            if m.kind == "ratio":
                parts.append(f"{_shifted(plan, plan.columns[m.denominator_column])} AS d{i}")
            if cov:
                parts.append(f"{_shifted(plan, cov)} AS x{i}")
            continue
        if combine:
            parts.append(f"{'max' if m.kind == 'proportion' else 'sum'}(w.y{i}) AS y{i}")
            if m.kind == "ratio":
                parts.append(f"sum(w.d{i}) AS d{i}")
            if cov:
                parts.append(f"max(w.x{i}) AS x{i}")
            continue
        value = plan.columns[m.column] if m.column else _ONE
        if m.kind == "proportion":
            cond = _match(m.event) + (f" AND {value} > 0" if m.column else "")
            parts.append(f"max(CASE WHEN {cond} THEN {_ONE} ELSE {_ZERO} END) AS y{i}")
        else:
            parts.append(f"sum(CASE WHEN {_match(m.event)} THEN {value} ELSE {_ZERO} END) AS y{i}")
        if m.kind == "ratio":
            dvalue = plan.columns[m.denominator_column] if m.denominator_column else _ONE
            parts.append(f"sum(CASE WHEN {_match(m.denominator_event)} THEN {dvalue} ELSE {_ZERO} END) AS d{i}")
        if cov:
            # The pre-period covariate is a per-user constant repeated on the user's events.
            parts.append(f"max({cov}) AS x{i}")
    return "".join(", " + p for p in parts)


def _shifted(plan: Plan, column: str) -> str:
    shift = plan.shifts.get(column, 0.0)
    return f"({column} - CAST({shift!r} AS DOUBLE))" if shift else column


def moment_exprs(exp: "ExperimentConfig", plan: Plan) -> str:
    avg = plan.engine.avg
    parts = []
    for i, m in enumerate(exp.metrics):
        parts += [f"{avg}(y{i}) AS mean_{i}", f"var_pop(y{i}) * count(*) AS m2_{i}"]
        if m.covariate_column:
            parts += [f"{avg}(x{i}) AS cov_mean_{i}", f"var_pop(x{i}) * count(*) AS cov_m2_{i}",
                      f"covar_pop(x{i}, y{i}) * count(*) AS cross_m2_{i}"]
        if m.kind == "ratio":
            parts += [f"{avg}(d{i}) AS den_mean_{i}", f"var_pop(d{i}) * count(*) AS den_m2_{i}",
                      f"covar_pop(y{i}, d{i}) * count(*) AS num_den_m2_{i}"]
            if m.covariate_column:
                parts.append(f"covar_pop(x{i}, d{i}) * count(*) AS cov_den_m2_{i}")
    return "".join(", " + p for p in parts)


def long_moments(exp: "ExperimentConfig", wide: "pd.DataFrame", looks: tuple[Look, ...], plan: Plan) -> "pd.DataFrame":
    import numpy as np
    import pandas as pd

    labels = {lk.k: lk.label for lk in looks}
    frames = []
    for i, m in enumerate(exp.metrics):
        part = pd.DataFrame({"k": wide["k"].astype(int), "week": wide["k"].map(labels), "variant": wide["v"],
                             "metric": m.name, "n": wide["n"].astype(np.int64)})
        for name in _MOMENT_FIELDS:
            column = f"{name}_{i}"
            part[name] = wide[column].astype(float) if column in wide else np.nan
        # Undo the centring shifts (moments of order >= 2 do not move with a shift).
        for name, source in (("mean", m.column), ("cov_mean", m.covariate_column), ("den_mean", m.denominator_column)):
            if source is not None:
                part[name] = part[name] + plan.shifts.get(plan.columns.get(source, ""), 0.0)
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["k", "metric", "variant"], kind="stable").reset_index(drop=True)



def dimension_moments(exp: "ExperimentConfig", plan: Plan, looks: tuple[Look, ...]) -> "pd.DataFrame":
    """Long moments (as :func:`long_moments`) per dimension level at the last look, with
    ``dimension`` and ``level`` columns; empty without dimensions."""
    import pandas as pd

    if not plan.dims:
        return pd.DataFrame(columns=["dimension", "level", "k", "week", "variant", "metric", "n"])
    last_k = looks[-1].k
    frames = []
    for name, g in plan.dims.items():
        wide = plan.engine.fetch(sql_template("dimension_moments").format(
            column=g, text=plan.engine.text, last_look=last_k, moments=moment_exprs(exp, plan)))
        wide["v"] = wide["v"].astype(int).map(plan.code_to_variant)
        wide["level"] = wide["level"].fillna("(missing)")
        wide["k"] = last_k
        for level, part in wide.groupby("level", sort=True):
            long = long_moments(exp, part.reset_index(drop=True), looks, plan)
            long.insert(0, "level", str(level))
            long.insert(0, "dimension", name)
            frames.append(long)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def dimension_counts(exp: "ExperimentConfig", plan: Plan, last_k: int) -> "pd.DataFrame":
    import pandas as pd

    if not plan.dims:
        return pd.DataFrame(columns=["dimension", "level", "variant", "n"])
    frames = []
    for name, g in plan.dims.items():
        sql = sql_template("dimension_counts").format(
            dimension=_sql_text(name), column=g, text=plan.engine.text, last_look=last_k)
        frames.append(plan.engine.fetch(sql))
    out = pd.concat(frames, ignore_index=True).rename(columns={"v": "variant"})
    out["variant"] = out["variant"].astype(int).map(plan.code_to_variant)
    out["level"] = out["level"].fillna("(missing)")
    out["n"] = out["n"].astype(int)
    return out.sort_values(["dimension", "level", "variant"]).reset_index(drop=True)


