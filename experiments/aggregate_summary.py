"""Centred moments from inline per-variant sums (``data.kind: summary`` in experiments.yaml)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from experiments.aggregate import _MOMENT_FIELDS, Aggregates, AggregationError, weekly_looks

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig


def aggregate_summary(exp: "ExperimentConfig", week: str | None = None) -> Aggregates:
    """Moments from inline per-variant sums (``data.kind: summary``).

    Rows with a ``week`` are week-to-date sums of that look; rows without one belong to the last
    look. Sums are converted to centred moments (``m2 = sum_sq - sum^2 / n``), which is exact for
    0/1 and integer counts and as precise as the given sums otherwise.

    Raises
    ------
    AggregationError
        ``BAD_SUMMARY``: negative ``n``, more conversions than users, negative counts, ``sum_sq``
        missing for a continuous metric, an incomplete covariate/denominator block.
    """
    import numpy as np
    import pandas as pd

    from experiments.config import iso_week_label

    data = exp.data
    weeks = sorted({r.week for r in data.rows if r.week is not None})
    last_week = week or (weeks[-1] if weeks else iso_week_label(exp.start_date))
    looks = weekly_looks(exp.start_date, last_week)
    k_of = {lk.label: lk.k for lk in looks}
    problems, records = [], []
    for i, r in enumerate(data.rows):
        where = f"data.rows[{i}] ({r.variant}/{r.metric})"
        m = exp.metric(r.metric)
        k = looks[-1].k if r.week is None else k_of.get(r.week)
        if k is None:
            continue  # a week after the report week
        if r.n < 0:
            problems.append(f"{where}: n is {r.n}; the number of users must be >= 0")
            continue
        if m.kind == "proportion" and not 0 <= r.sum <= r.n:
            problems.append(f"{where}: sum (conversions) is {r.sum:g} for n = {r.n} users; it must be between 0 and n")
            continue
        if m.kind == "count" and r.sum < 0:
            problems.append(f"{where}: sum is {r.sum:g}; counts must be >= 0")
            continue
        sum_sq = r.sum if (m.kind == "proportion" and r.sum_sq is None) else r.sum_sq
        if sum_sq is None:
            problems.append(f"{where}: sum_sq is missing; it is needed for a {m.kind} metric's variance")
            continue
        rec: dict[str, Any] = {"k": k, "variant": r.variant, "metric": r.metric, "n": r.n}
        n = r.n
        rec["mean"] = r.sum / n if n else 0.0
        rec["m2"] = max(sum_sq - r.sum * r.sum / n, 0.0) if n else 0.0
        for name in _MOMENT_FIELDS[2:]:
            rec[name] = np.nan
        if r.cov_sum is not None or r.cov_sum_sq is not None or r.cross_sum is not None:
            if None in (r.cov_sum, r.cov_sum_sq, r.cross_sum):
                problems.append(f"{where}: give all of cov_sum, cov_sum_sq, cross_sum or none")
                continue
            rec["cov_mean"] = r.cov_sum / n if n else 0.0
            rec["cov_m2"] = max(r.cov_sum_sq - r.cov_sum ** 2 / n, 0.0) if n else 0.0
            rec["cross_m2"] = r.cross_sum - r.cov_sum * r.sum / n if n else 0.0
        if m.kind == "ratio":
            if None in (r.den_sum, r.den_sum_sq, r.num_den_sum):
                problems.append(f"{where}: a ratio metric needs den_sum, den_sum_sq and num_den_sum")
                continue
            rec["den_mean"] = r.den_sum / n if n else 0.0
            rec["den_m2"] = max(r.den_sum_sq - r.den_sum ** 2 / n, 0.0) if n else 0.0
            rec["num_den_m2"] = r.num_den_sum - r.sum * r.den_sum / n if n else 0.0
        records.append(rec)
    if problems:
        raise AggregationError("BAD_SUMMARY", f"experiment {exp.name!r}: " + "; ".join(problems) + ".")
    if not records:
        raise AggregationError("NO_DATA", f"experiment {exp.name!r}: no summary rows up to week {last_week}.")
    moments = pd.DataFrame.from_records(records)
    moments.insert(1, "week", moments["k"].map({lk.k: lk.label for lk in looks}))
    moments = moments.sort_values(["k", "metric", "variant"], kind="stable").reset_index(drop=True)
    last_k = int(moments["k"].max())
    looks = tuple(lk for lk in looks if lk.k <= last_k and lk.k in set(moments["k"])) or looks[-1:]
    at_last = moments[moments["k"] == last_k]
    variant_users = at_last.groupby("variant")["n"].max().astype(int).to_dict()
    dim_rows = [{"dimension": d, "level": lvl, "variant": v, "n": int(n)}
                for d, levels in data.dimension_counts.items() for lvl, per in levels.items() for v, n in per.items()]
    dim_counts = pd.DataFrame(dim_rows, columns=["dimension", "level", "variant", "n"])
    return Aggregates(exp.name, looks, moments, variant_users, 0, dim_counts, "summary")
