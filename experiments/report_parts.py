"""Pieces of the weekly report a decision maker reads first: the verdict in words, the facts of the
run, per-variant raw numbers, the lift of every metric on one shared axis, traffic per day, the
sample-ratio check with its severity, the breakdown by dimension, the expected money impact, and
the flat export (CSV/JSON) with its schema.

Everything here is computed from an :class:`~experiments.pipeline.ExperimentAnalysis`; nothing is
re-estimated. Lifts are fractions of the control (shown in percent), intervals are the sequential
ones the decision uses, money is in the currency of ``value_per_unit`` per week. Charts are inline
SVG with a ``viewBox`` and ``width: 100%``, so they scale to the page (900 px or 1,400 px) and
never overflow it.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import TYPE_CHECKING, Any

from experiments.decide import REASON_CODES

if TYPE_CHECKING:
    from experiments.pipeline import ExperimentAnalysis, ExperimentsAnalysis

__all__ = ["decision_words", "run_facts", "plain_summary", "variant_rows", "metric_rows", "forest_svg",
           "traffic_svg", "srm_rows", "dimension_rows", "impact_rows", "export_rows", "EXPORT_COLUMNS",
           "reason_sentences"]

_NO_DATA = ("ZERO_USERS", "NO_DATA", "SINGLE_VARIANT")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _pct(x: Any, signed: bool = True) -> str:
    if not _finite(x):
        return "n/a"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def _num(x: Any, digits: int = 4) -> str:
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    if not _finite(x):
        return "n/a"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 10 ** digits:
        return f"{x:,.2f}"
    return f"{x:.{digits}g}"


def _money(x: Any) -> str:
    return f"{x:+,.0f}" if _finite(x) else "n/a"


def report_sunday(e: "ExperimentAnalysis") -> dt.date | None:
    """Last day of the report week (None when the week label is not an ISO week)."""
    try:
        year, week = e.week.split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 7)
    except (ValueError, AttributeError):
        return None


# ----------------------------------------------------------------------------- the verdict
def decision_words(e: "ExperimentAnalysis") -> tuple[str, str]:
    """``(css class, headline)``: ship now, roll back now, ready for review, about N days left,
    unhealthy, no data."""
    d = e.decision
    codes = set(d.reason_codes)
    if d.action == "error":
        if codes & set(_NO_DATA) or e.error_code in _NO_DATA:
            return "nodata", "No data"
        return "unhealthy", "Unhealthy: the analysis could not run"
    if codes & {"SRM_FAIL", "DATA_QUALITY_FAIL"}:
        return "unhealthy", "Unhealthy: fix the data before reading the results"
    if d.action == "ship":
        return "ship", f"Ship now: {d.variant}" if d.variant else "Ship now"
    if codes & {"GUARDRAIL_HARM", "SUCCESS_SIG_NEGATIVE"}:
        return "rollback", "Roll back now"
    if d.action == "stop":
        return "review", "Ready for review: no significant effect"
    sunday = report_sunday(e)
    if d.projected_end_date and sunday is not None:
        days = (dt.date.fromisoformat(d.projected_end_date) - sunday).days
        return "continue", f"About {max(days, 1)} day(s) left (until {d.projected_end_date})"
    return "continue", "Keep collecting data"


def reason_sentences(e: "ExperimentAnalysis") -> list[str]:
    """The reason codes as sentences (codes without a sentence are shown as they are)."""
    out = []
    for c in e.decision.reason_codes:
        text = REASON_CODES.get(c)
        out.append(text[0].upper() + text[1:] + "." if text else c)
    if e.status == "error" and e.error_message:
        out.append(e.error_message)
    return out


def run_facts(e: "ExperimentAnalysis") -> dict[str, str]:
    """Start date, days running, minimum runtime (planned looks) and the target effect."""
    cfg = e.config
    facts: dict[str, str] = {}
    sunday = report_sunday(e)
    if cfg is not None:
        facts["Start date"] = cfg.start_date.isoformat()
        if sunday is not None:
            facts["Days running"] = str(max((sunday - cfg.start_date).days + 1, 0))
        planned_days = 7 * cfg.sequential.planned_looks
        facts["Minimum runtime"] = (f"{planned_days} days ({cfg.sequential.planned_looks} weekly looks, until "
                                    f"{(cfg.start_date + dt.timedelta(days=planned_days - 1)).isoformat()})")
    target = next((p.get("mde_relative_planned", p.get("mde_relative_now")) for p in e.power), None)
    if _finite(target):
        metric = e.power[0]["metric"]
        facts["Target effect"] = (f"{_pct(target, signed=False)} on {metric} (the smallest lift the planned sample "
                                  f"detects with power {cfg.power:.0%})" if cfg is not None else _pct(target))
    users = sum(e.variant_users.values()) if e.variant_users else 0
    facts["Users"] = f"{users:,}"
    return facts


def _primary(e: "ExperimentAnalysis") -> dict | None:
    # the same row the pipeline's summary shows: one rule for "the headline comparison"
    from experiments.pipeline import _primary_row

    return _primary_row(e)


def plain_summary(e: "ExperimentAnalysis") -> str:
    """One or two sentences a non-statistician can act on."""
    _, headline = decision_words(e)
    facts = run_facts(e)
    if e.status == "error":
        return f"{e.name}: {headline}. {e.error_message}"
    row = _primary(e)
    text = f"{e.name}: {headline}."
    if row is not None and row["status"] == "ok":
        text += (f" {row['metric']} moved {_pct(row['lift_relative'])} for {row['variant']} (plausible range "
                 f"{_pct(row['seq_low'])} to {_pct(row['seq_high'])}) after {facts.get('Days running', '?')} days and "
                 f"{facts['Users']} users.")
    codes = set(e.decision.reason_codes)
    if "SRM_FAIL" in codes:
        text += " The split of users is off the plan, so the numbers cannot be trusted yet."
    elif "SRM_TINY" in codes:
        text += " The split is very slightly off the plan (too little to matter; worth a check)."
    if "GUARDRAIL_HARM" in codes:
        text += " A guardrail metric got worse than allowed."
    return text


# ----------------------------------------------------------------------------- tables
def variant_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    """Raw numerator, denominator and mean per metric and variant."""
    if e.variant_stats is None:
        return []
    rows = []
    for r in e.variant_stats.itertuples(index=False):
        rows.append({"Metric": r.metric, "Variant": r.variant, "Numerator": _num(r.numerator),
                     "Denominator": _num(r.denominator), "Mean": _num(r.mean)})
    return rows


def _good_sign(e: "ExperimentAnalysis", metric: str) -> float:
    cfg = e.config
    m = next((m for m in cfg.metrics if m.name == metric), None) if cfg is not None else None
    return 1.0 if m is None or m.higher_is_better else -1.0


def _margin(e: "ExperimentAnalysis", metric: str) -> float:
    cfg = e.config
    m = next((m for m in cfg.metrics if m.name == metric), None) if cfg is not None else None
    return float(m.non_inferiority_margin or 0.0) if m is not None else 0.0


def _verdict(e: "ExperimentAnalysis", r, role: str) -> str:
    if r["status"] != "ok":
        return f"not analysed ({r['error_code']})"
    sign = _good_sign(e, r["metric"])
    lo, hi = sorted((sign * r["seq_low"], sign * r["seq_high"]))
    if role == "guardrail":
        m = _margin(e, r["metric"])
        if hi < -m:
            return f"worse than the {m:.0%} margin"
        if lo > -m:
            return f"within the {m:.0%} margin"
        return f"could still be worse than the {m:.0%} margin"
    if lo > 0:
        return "significantly better"
    if hi < 0:
        return "significantly worse"
    return "not significant yet"


def metric_rows(e: "ExperimentAnalysis", role: str) -> list[dict[str, str]]:
    """Success metrics (``role="success"``) or guardrails: lift, interval, p-value or chance to win, verdict."""
    if e.comparisons is None:
        return []
    rows = []
    bayes = "chance_to_beat_control" in e.comparisons.columns
    for _, r in e.comparisons[e.comparisons["role"] == role].iterrows():
        ok = r["status"] == "ok"
        row = {"Metric": r["metric"], "Variant": r["variant"],
               "Control": _num(r["mean_control"]), "Treatment": _num(r["mean_treatment"]),
               "Lift": _pct(r["lift_relative"]) if ok else "n/a",
               "Interval": f"{_pct(r['seq_low'])} to {_pct(r['seq_high'])}" if ok else "n/a"}
        if bayes:
            row["Chance to win"] = _pct(r.get("chance_to_beat_control"), signed=False) if ok else "n/a"
            row["Risk"] = _pct(r.get("expected_loss"), signed=False) if ok else "n/a"
        else:
            p = r["p_value"]
            row["p-value"] = ("< 0.0001" if p < 1e-4 else f"{p:.4f}") if ok and _finite(p) else "n/a"
        row["Verdict"] = _verdict(e, r, role)
        rows.append(row)
    return rows


def srm_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    """SRM checks with the severity in words: none, tiny (detectable but harmless), harmful."""
    tol = e.config.srm_tolerance_relative if e.config is not None else 0.01
    words = {"none": "ok", "tiny": "tiny imbalance (not blocking)", "harmful": "harmful imbalance", "n/a": "n/a"}
    rows = []
    for r in e.srm:
        total = sum(r.variant_to_users.values())
        shares = ", ".join(f"{k}: {v / total:.1%} (plan {r.variant_to_expected_share[k]:.0%})"
                           for k, v in r.variant_to_users.items()) if total else "no users"
        p = r.p_value_adjusted if r.dimension else r.p_value
        rows.append({"Slice": r.dimension or "overall", "Users": f"{total:,}", "Split": shares,
                     "p": ("< 0.0001" if p < 1e-4 else f"{p:.4f}") if _finite(p) else "n/a",
                     "Status": words[r.severity(tol)]})
    return rows


def dimension_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    """Lift of every metric inside each dimension slice (Holm-adjusted p across the slices), or,
    without slice moments, the users per variant in each slice."""
    bd = e.by_dimension
    if bd is not None and not bd.empty:
        rows = []
        for r in bd.itertuples(index=False):
            ok = r.status == "ok"
            p = r.p_value_adjusted
            rows.append({"Slice": r.dimension, "Metric": r.metric, "Variant": r.variant,
                         "Users": f"{int(r.n_control) + int(r.n_treatment):,}",
                         "Lift": _pct(r.lift_relative) if ok else "n/a",
                         "Interval": f"{_pct(r.lift_relative_ci_low)} to {_pct(r.lift_relative_ci_high)}" if ok else "n/a",
                         "p (Holm)": ("< 0.0001" if p < 1e-4 else f"{p:.4f}") if ok and _finite(p) else "n/a"})
        return rows
    rows = []
    for r in e.srm[1:]:
        total = sum(r.variant_to_users.values())
        row = {"Slice": r.dimension, "Users": f"{total:,}"}
        for v, n in r.variant_to_users.items():
            row[v] = f"{n:,} ({n / total:.0%})" if total else "0"
        rows.append(row)
    return rows


def weekly_users(e: "ExperimentAnalysis") -> float:
    """Users entering the experiment per week: the configured expectation, else the last full week observed."""
    if e.config is not None and e.config.expected_weekly_users:
        return float(e.config.expected_weekly_users)
    if e.traffic is None or e.traffic.empty:
        return math.nan
    last = e.traffic[e.traffic["k"] == e.traffic["k"].max()]
    return float(last["users_per_day"].sum() * 7)


def impact_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    """Expected money impact per week of shipping each treatment, for metrics with ``value_per_unit``.

    impact = absolute lift per user x value per unit x users per week (all variants' traffic going
    to the treatment), with the interval from the absolute lift's (sequential) interval.
    """
    if e.config is None or e.comparisons is None:
        return []
    values = {m.name: m.value_per_unit for m in e.config.metrics if m.value_per_unit is not None}
    users = weekly_users(e)
    rows = []
    for _, r in e.comparisons.iterrows():
        if r["metric"] not in values or r["status"] != "ok" or not _finite(users):
            continue
        # |control| the relative lift was taken over (the unadjusted mean for relative CUPED)
        base = (r["lift_absolute"] / r["lift_relative"] if _finite(r["lift_relative"]) and r["lift_relative"] != 0
                else abs(r["mean_control"]))
        per_user = r["lift_absolute"]
        lo, hi = r["seq_low"] * base, r["seq_high"] * base
        k = values[r["metric"]] * users
        rows.append({"Metric": r["metric"], "Variant": r["variant"], "Users per week": f"{users:,.0f}",
                     "Expected impact per week": _money(per_user * k),
                     "Interval": f"{_money(lo * k)} to {_money(hi * k)}"})
    return rows


# ----------------------------------------------------------------------------- charts (inline SVG)
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def forest_svg(e: "ExperimentAnalysis") -> str:
    """Relative lift and its (sequential) interval of every metric and treatment on one shared axis."""
    if e.comparisons is None or e.comparisons.empty:
        return ""
    rows = [r for _, r in e.comparisons.iterrows() if r["status"] == "ok" and _finite(r["seq_low"])
            and _finite(r["seq_high"])]
    if not rows:
        return ""
    span = max(max(abs(r["seq_low"]), abs(r["seq_high"]), _margin(e, r["metric"])) for r in rows)
    span = min(max(span * 1.1, 0.01), 2.0)
    width, left, right, row_h, top = 640, 230, 620, 26, 24
    height = top + row_h * len(rows) + 24

    def x(v: float) -> float:
        return left + (max(-span, min(span, v)) + span) / (2 * span) * (right - left)

    esc = html.escape
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Relative lift of every metric with its interval, shared axis">']
    for frac in (-span, -span / 2, 0.0, span / 2, span):
        parts.append(f'<line x1="{x(frac):.1f}" x2="{x(frac):.1f}" y1="{top - 6}" y2="{height - 20}" '
                     f'stroke="{"#444" if frac == 0 else "#ddd"}" stroke-width="1"/>')
        parts.append(f'<text x="{x(frac):.1f}" y="{height - 6}" font-size="11" text-anchor="middle">{_pct(frac)}</text>')
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        sign = _good_sign(e, r["metric"])
        lo, hi = sorted((sign * r["seq_low"], sign * r["seq_high"]))
        colour = "#11602a" if lo > 0 else ("#8a1c1c" if hi < 0 else "#666666")
        label = f"{r['metric']} ({r['variant']})"
        parts.append(f'<text x="4" y="{y + 4:.1f}" font-size="12">{esc(label[:34])}</text>')
        parts.append(f'<line x1="{x(r["seq_low"]):.1f}" x2="{x(r["seq_high"]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<circle cx="{x(r["lift_relative"]):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>')
        m = _margin(e, r["metric"])
        if r.get("role") == "guardrail" and m:
            xm = x(-sign * m)
            parts.append(f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{y - 8:.1f}" y2="{y + 8:.1f}" stroke="#aa0000" '
                         'stroke-dasharray="3,2" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def traffic_svg(e: "ExperimentAnalysis") -> str:
    """New users per day (weekly average) per variant, one group of bars per week."""
    if e.traffic is None or e.traffic.empty:
        return ""
    weeks = list(dict.fromkeys(e.traffic["week"]))
    variants = list(dict.fromkeys(e.traffic["variant"]))
    peak = float(e.traffic["users_per_day"].max()) or 1.0
    width, height, left, bottom, top = 640, 200, 50, 170, 20
    group = (width - left - 10) / len(weeks)
    bar = group * 0.8 / len(variants)
    esc = html.escape
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="Users per day by week and variant">',
             f'<line x1="{left}" x2="{width - 10}" y1="{bottom}" y2="{bottom}" stroke="#444"/>',
             f'<text x="4" y="{top + 4}" font-size="11">{peak:,.0f}/day</text>']
    for i, w in enumerate(weeks):
        gx = left + group * i + group * 0.1
        parts.append(f'<text x="{gx + group * 0.4:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">{esc(w)}</text>')
        for j, v in enumerate(variants):
            sel = e.traffic[(e.traffic["week"] == w) & (e.traffic["variant"] == v)]
            if sel.empty:
                continue
            val = float(sel["users_per_day"].iloc[0])
            h = (bottom - top) * val / peak if _finite(val) else 0.0
            parts.append(f'<rect x="{gx + bar * j:.1f}" y="{bottom - h:.1f}" width="{bar * 0.95:.1f}" height="{h:.1f}" '
                         f'fill="{_COLOURS[j % len(_COLOURS)]}"><title>{esc(v)} {esc(w)}: {val:,.0f} users/day</title></rect>')
    for j, v in enumerate(variants):
        lx = left + 10 + 130 * j
        parts.append(f'<rect x="{lx}" y="4" width="10" height="10" fill="{_COLOURS[j % len(_COLOURS)]}"/>'
                     f'<text x="{lx + 14}" y="13" font-size="11">{esc(v[:16])}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ----------------------------------------------------------------------------- export
#: Columns of ``results.csv`` (one row per experiment x metric x treatment) and their meaning.
EXPORT_COLUMNS: dict[str, str] = {
    "experiment": "experiment name",
    "week": "report week (ISO, last look)",
    "decision": "ship / stop / continue / error",
    "decision_words": "the verdict in words (ship now, roll back now, ready for review, about N days left, unhealthy, no data)",
    "metric": "metric name",
    "role": "success or guardrail",
    "variant": "treatment compared with the control",
    "effect_scale": "relative or absolute: the effect the p-value and intervals test",
    "n_control": "users in the control",
    "n_treatment": "users in the treatment",
    "mean_control": "control value (rate, mean per user or ratio; CUPED-adjusted when the method says so)",
    "mean_treatment": "treatment value, same unit",
    "lift_relative": "(treatment - control) / |control| (fraction)",
    "lift_relative_low": "lower end of the sequential interval of the relative lift (fraction; the decision's interval)",
    "lift_relative_high": "upper end of that interval",
    "lift_absolute": "treatment - control (metric units)",
    "p_value": "p-value of the fixed-horizon test on effect_scale (empty for Bayesian results)",
    "method": "test and conventions, e.g. welch_relative",
    "status": "ok or error",
    "error_code": "why a comparison could not be computed (empty when ok)",
    "verdict": "the metric's verdict in words",
}


def export_rows(analysis: "ExperimentsAnalysis") -> list[dict[str, Any]]:
    """The report's numbers as flat rows (:data:`EXPORT_COLUMNS`), for CSV and JSON."""
    out = []
    for e in analysis.experiments:
        _, words = decision_words(e)
        if e.comparisons is None or e.comparisons.empty:
            out.append({k: None for k in EXPORT_COLUMNS} | {"experiment": e.name, "week": e.week,
                                                              "decision": e.decision.action, "decision_words": words,
                                                              "status": e.status, "error_code": e.error_code})
            continue
        for _, r in e.comparisons.iterrows():
            ok = r["status"] == "ok"

            def val(x):
                return float(x) if ok and _finite(float(x)) else None

            out.append({
                "experiment": e.name, "week": e.week, "decision": e.decision.action, "decision_words": words,
                "metric": r["metric"], "role": r["role"], "variant": r["variant"],
                "effect_scale": r.get("effect_scale"), "n_control": int(r["n_control"]),
                "n_treatment": int(r["n_treatment"]),
                "mean_control": float(r["mean_control"]) if _finite(float(r["mean_control"])) else None,
                "mean_treatment": float(r["mean_treatment"]) if _finite(float(r["mean_treatment"])) else None,
                "lift_relative": val(r["lift_relative"]), "lift_relative_low": val(r["seq_low"]),
                "lift_relative_high": val(r["seq_high"]), "lift_absolute": val(r["lift_absolute"]),
                "p_value": val(r["p_value"]), "method": r["method"], "status": r["status"],
                "error_code": r["error_code"] if isinstance(r["error_code"], str) else None,
                "verdict": _verdict(e, r, r["role"]),
            })
    return out
