"""The weekly experiments report: one self-contained HTML file and a Markdown twin.

Content, per the weekly review: a summary table of every experiment with its decision; then per
experiment the decision and its reasons, users per variant and the sample-ratio-mismatch checks
(overall and per dimension slice), the metrics at the report week with fixed-horizon and
sequential intervals, why the sequential interval is wider, the lift over time (plot), power
(minimum detectable effect now and at the planned end) and data issues. An experiment whose
analysis could not run shows its error code and message; the rest of the report still renders.

The HTML has inline CSS and plots embedded as base64 PNG: no network resource, so it opens from
a mail attachment or a shared drive. The Markdown references the same PNGs under ``plots/``.
Lifts are shown in percent of the control (relative); means in the metric's unit.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from experiments.pipeline import ExperimentAnalysis, ExperimentsAnalysis

from experiments.report_parts import EXPORT_COLUMNS

_TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Report:
    """A rendered report.

    Attributes
    ----------
    html : str
        The self-contained HTML page.
    markdown : str
        The Markdown version (plots as ``plots/<experiment>.png`` links).
    images : dict
        ``"plots/<experiment>.png"`` -> PNG bytes.
    json : dict
        The analysis as JSON-safe data (``experiments.json``).
    export : tuple of dict
        The report's numbers as flat rows, one per experiment x metric x treatment, written as
        ``results.csv`` and ``results.json``; columns and meanings in
        :data:`experiments.report_parts.EXPORT_COLUMNS` (documented in docs/experiments-report.md).
    """

    html: str
    markdown: str
    images: dict[str, bytes]
    json: dict[str, Any]
    export: tuple[dict[str, Any], ...] = ()

    def files(self) -> dict[str, bytes]:
        """``{relative path: bytes}`` of every output file."""
        import json

        out = {"report.html": self.html.encode("utf-8"), "report.md": self.markdown.encode("utf-8"),
               "experiments.json": (json.dumps(self.json, indent=2, allow_nan=False) + "\n").encode("utf-8"),
               "results.csv": self.export_csv().encode("utf-8"),
               "results.json": (json.dumps({"columns": EXPORT_COLUMNS, "rows": list(self.export)}, indent=2,
                                           allow_nan=False) + "\n").encode("utf-8")}
        out.update(self.images)
        return out

    def export_csv(self) -> str:
        """``results.csv``: the header is :data:`~experiments.report_parts.EXPORT_COLUMNS`, empty cells for None."""
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in self.export:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in EXPORT_COLUMNS})
        return buf.getvalue()


# ----------------------------------------------------------------------------- formatting
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_pct(x: Any, signed: bool = True) -> str:
    """``0.1566`` -> ``+15.7%``; NaN/None -> ``n/a``."""
    if not _finite(x):
        return "n/a"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def fmt_ci(lo: Any, hi: Any) -> str:
    """Interval in percent, ``[+0.5%, +30.8%]``."""
    return f"[{fmt_pct(lo)}, {fmt_pct(hi)}]" if _finite(lo) and _finite(hi) else "n/a"


def fmt_num(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (``n/a`` when missing)."""
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return f"{x:,}"
    return f"{x:.{digits}g}" if _finite(x) else "n/a"


def fmt_p(p: Any) -> str:
    """p-value: ``< 0.0001`` for tiny values."""
    if not _finite(p):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _comparison_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    rows = []
    for r in e.comparisons.itertuples(index=False):
        ok = r.status == "ok"
        rows.append({
            "Metric": r.metric, "Role": r.role, "Variant": r.variant,
            "Control": fmt_num(r.mean_control), "Treatment": fmt_num(r.mean_treatment),
            "Lift": fmt_pct(r.lift_relative) if ok else "n/a",
            "Sequential interval": fmt_ci(r.seq_low, r.seq_high) if ok else "n/a",
            "Fixed-horizon interval": fmt_ci(r.fixed_low, r.fixed_high) if ok else "n/a",
            "p (fixed)": fmt_p(r.p_value) if ok else "n/a",
            "Method": r.method,
            "Status": "ok" if ok else f"error: {r.error_code}",
        })
    return rows


def _power_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    rows = []
    for p in e.power:
        planned = p.get("n_per_variant_planned")
        rows.append({
            "Metric": p["metric"], "Baseline": fmt_num(p.get("baseline")),
            "Users per variant (now)": fmt_num(p.get("n_per_variant_now")),
            "MDE now": fmt_pct(p.get("mde_relative_now"), signed=False),
            "Users per variant (planned)": fmt_num(int(planned)) if _finite(planned) else "n/a",
            "MDE at planned end": fmt_pct(p.get("mde_relative_planned"), signed=False),
            "Observed |lift|": fmt_pct(p.get("observed_lift_relative"), signed=False),
            "Status": _power_status(e, p),
        })
    return rows


def _power_status(e: "ExperimentAnalysis", p: dict) -> str:
    """The power status as a sentence; "underpowered" is always explained, and is not a failure next to ship."""
    status = p.get("status", "n/a")
    if p.get("note"):
        return f"{status} ({p['note']})"
    if status != "underpowered":
        return status
    mde = fmt_pct(p.get("mde_relative_planned", p.get("mde_relative_now")), signed=False)
    seen = fmt_pct(p.get("observed_lift_relative"), signed=False)
    if e.decision.action == "ship":
        return (f"note: the planned sample detects lifts of {mde} or more, and the observed {seen} is smaller; "
                "it is significant anyway, so the ship decision stands (its size is uncertain)")
    return (f"underpowered: the planned sample detects lifts of {mde} or more, the observed lift is {seen}; "
            "\"not significant\" says little")


def _summary_rows(a: "ExperimentsAnalysis") -> list[dict[str, str]]:
    from experiments.report_parts import decision_words

    words = {e.name: decision_words(e)[1] for e in a.experiments}
    rows = []
    for r in a.summary().to_dict(orient="records"):
        rows.append({
            "Experiment": r["experiment"], "Decision": r["decision"], "In words": words[r["experiment"]],
            "Primary metric": r["primary_metric"] or "",
            "Lift": fmt_pct(r["lift_relative"]), "Interval": fmt_ci(r["ci_low"], r["ci_high"]),
            "SRM": r["srm"], "Users": fmt_num(int(r["users"])),
            "Power": r["power"],
        })
    return rows


def _sequential_notes(e: "ExperimentAnalysis") -> list[str]:
    """One note per distinct explanation (metrics sharing the looks share the boundaries)."""
    by_text: dict[str, list[str]] = {}
    for key, res in e.sequential.items():
        by_text.setdefault(res.explanation, []).append(key)
    return [f"{', '.join(keys)}: {text}" for text, keys in by_text.items()]


# ----------------------------------------------------------------------------- HTML
def _html_table(rows: list[dict[str, str]], badge_col: str | None = None, status_col: str | None = None) -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for row in rows:
        cells = []
        for c in cols:
            text = html.escape(str(row[c]))
            if c == badge_col:
                cells.append(f'<td><span class="badge {html.escape(str(row[c]))}">{text}</span></td>')
            elif c == status_col:
                low = str(row[c]).lower()
                bad = ("fail", "error", "underpowered", "harmful", "worse", "significantly worse", "could still",
                       "not analysed")
                cls = "fail" if low.startswith(bad) else ("warn" if low.startswith(("note", "tiny", "not sig")) else "ok")
                cells.append(f'<td class="{cls}">{text}</td>')
            elif text[:1] in "+-[" or text[:1].isdigit() or text.startswith("< "):
                cells.append(f'<td class="num{" nw" if len(text) <= 10 else ""}">{text}</td>')
            else:
                cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _anchor(name: str) -> str:
    return "exp-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def _html_experiment(e: "ExperimentAnalysis", images: dict[str, bytes]) -> str:
    from experiments import report_parts as rp

    esc = html.escape
    cls, headline = rp.decision_words(e)
    parts = [f'<section class="experiment" id="{_anchor(e.name)}">',
             f'<h2>{esc(e.name)} <span class="badge {esc(e.decision.action)}">{esc(e.decision.action)}</span></h2>']
    if e.description:
        parts.append(f"<p>{esc(e.description)}</p>")
    reasons = "".join(f"<li>{esc(t)}</li>" for t in rp.reason_sentences(e))
    parts.append(f'<div class="verdict {cls}"><p class="headline">{esc(headline)}</p>'
                 f'<p>{esc(rp.plain_summary(e))}</p><ul class="reasons">{reasons}</ul>'
                 f'<p class="codes">Reason codes: <code>{esc(", ".join(e.decision.reason_codes))}</code></p></div>')
    facts = rp.run_facts(e)
    parts.append('<dl class="facts">' + "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>"
                                                for k, v in facts.items()) + "</dl>")
    if e.status == "error":
        parts.append(f'<div class="box error"><strong>Analysis error {esc(str(e.error_code))}</strong>: '
                     f"{esc(e.error_message)}</div>")
        if e.srm:
            parts.append("<h3>Sample ratio (SRM)</h3>" + _html_table(rp.srm_rows(e), status_col="Status"))
        parts.append("</section>")
        return "\n".join(parts)
    for issue in e.issues:
        parts.append(f'<div class="box {"error" if issue.blocking else "warn"}"><strong>{esc(issue.code)}</strong>: '
                     f"{esc(issue.message)}</div>")
    forest = rp.forest_svg(e)
    if forest:
        parts.append("<h3>Lift of every metric (shared axis)</h3>"
                     "<p class=\"note\">Dot: relative lift; bar: the interval the decision uses; green better, red "
                     "worse, grey not significant; dashed red tick: a guardrail's margin.</p>" + forest)
    parts.append("<h3>Success metrics</h3>" + _html_table(rp.metric_rows(e, "success"), status_col="Verdict"))
    guard = rp.metric_rows(e, "guardrail")
    if guard:
        parts.append("<h3>Guardrails</h3>" + _html_table(guard, status_col="Verdict"))
    parts.append("<h3>Per variant: raw numbers</h3>" + _html_table(rp.variant_rows(e)))
    impact = rp.impact_rows(e)
    if impact:
        parts.append("<h3>Expected money impact of shipping</h3><p class=\"note\">Absolute lift per user x value per "
                     "unit x users per week, with the decision's interval.</p>" + _html_table(impact))
    parts.append("<h3>Sample ratio (SRM)</h3>" + _html_table(rp.srm_rows(e), status_col="Status"))
    traffic = rp.traffic_svg(e)
    if traffic:
        parts.append("<h3>Traffic per day</h3><p class=\"note\">New users per day in each ISO week (weekly "
                     "average), per variant.</p>" + traffic)
    dims = rp.dimension_rows(e)
    if dims:
        parts.append("<h3>Breakdown by dimension</h3><p class=\"note\">Each metric compared inside each slice "
                     "(fixed-horizon interval, p-values Holm-adjusted across the slices, no CUPED). Exploratory: the "
                     "decision reads the whole population.</p>" + _html_table(dims))
    parts.append(f"<p>Looks: {esc(', '.join(e.looks))} (week-to-date data at the end of each ISO week).</p>")
    notes = _sequential_notes(e)
    if notes:
        parts.append("<h3>Why the sequential interval is wider</h3><ul>"
                     + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    key = f"plots/{e.name}.png"
    if key in images:
        b64 = base64.b64encode(images[key]).decode("ascii")
        parts.append(f"<h3>Lift over time</h3><img class=\"plot\" alt=\"Relative lift over time of {esc(e.name)}\" "
                     f"src=\"data:image/png;base64,{b64}\">")
    parts.append("<h3>Power</h3>" + _html_table(_power_rows(e), status_col="Status"))
    parts.append("<details><summary>All comparisons (fixed-horizon and sequential)</summary>"
                 + _html_table(_comparison_rows(e), status_col="Status") + "</details>")
    if e.warnings:
        parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{esc(w)}</li>" for w in e.warnings) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(analysis: "ExperimentsAnalysis", images: dict[str, bytes]) -> str:
    """The self-contained HTML page (see the module docstring)."""
    esc = html.escape
    from experiments.report_parts import plain_summary

    body = ['<div class="box info"><strong>In short</strong><ul>'
            + "".join(f"<li>{esc(plain_summary(e))}</li>" for e in analysis.experiments) + "</ul></div>",
            "<h2>Summary</h2>", _html_table(_summary_rows(analysis), badge_col="Decision")]
    links = " · ".join(f'<a href="#{_anchor(e.name)}">{esc(e.name)}</a>' for e in analysis.experiments)
    body.append(f"<p>{links}</p>")
    if analysis.warnings:
        body.append('<div class="box warn"><strong>Needs attention</strong><ul>'
                    + "".join(f"<li>{esc(w)}</li>" for w in analysis.warnings) + "</ul></div>")
    body += [_html_experiment(e, images) for e in analysis.experiments]
    levels = sorted({f"{1 - e.config.alpha:.0%}" for e in analysis.experiments if e.config is not None})
    page = Template((_TEMPLATES / "report.html").read_text(encoding="utf-8"))
    return page.substitute(
        title=esc(f"Experiments report, week {analysis.week}"),
        subtitle=esc(f"{len(analysis.experiments)} experiment(s); data up to the end of ISO week {analysis.week}."),
        css=(_TEMPLATES / "report.css").read_text(encoding="utf-8"), body="\n".join(body),
        ci_level=esc(" / ".join(levels) or "95%"),
    )


# ----------------------------------------------------------------------------- Markdown
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(none)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_md_cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def render_markdown(analysis: "ExperimentsAnalysis", images: dict[str, bytes]) -> str:
    """The Markdown report (plots linked as ``plots/<experiment>.png``)."""
    from experiments import report_parts as rp

    out = [f"# Experiments report, week {analysis.week}\n",
           f"{len(analysis.experiments)} experiment(s); data up to the end of ISO week {analysis.week}.\n",
           "**In short**\n\n" + "".join(f"- {rp.plain_summary(e)}\n" for e in analysis.experiments),
           "## Summary\n", _md_table(_summary_rows(analysis))]
    if analysis.warnings:
        out.append("**Needs attention**\n\n" + "".join(f"- {w}\n" for w in analysis.warnings))
    for e in analysis.experiments:
        out.append(f"## {e.name}: {e.decision.action}\n")
        if e.description:
            out.append(e.description + "\n")
        out.append(f"**{rp.decision_words(e)[1]}**\n\n" + "".join(f"- {t}\n" for t in rp.reason_sentences(e)))
        out.append("".join(f"- {k}: {v}\n" for k, v in rp.run_facts(e).items()))
        if e.status == "error":
            out.append(f"> **Analysis error {e.error_code}**: {e.error_message}\n")
            continue
        d = e.decision
        verdict = f"**{d.action.upper()}**" + (f" {d.variant}" if d.variant else "")
        out.append(f"{verdict}: {d.explanation}" + (f" Projected end: {d.projected_end_date}." if d.projected_end_date else "")
                   + f" Reason codes: `{', '.join(d.reason_codes)}`.\n")
        for issue in e.issues:
            out.append(f"> **{issue.code}**: {issue.message}\n")
        out.append(f"Looks: {', '.join(e.looks)}.\n")
        out.append("### Success metrics\n\n" + _md_table(rp.metric_rows(e, "success")))
        guard = rp.metric_rows(e, "guardrail")
        if guard:
            out.append("### Guardrails\n\n" + _md_table(guard))
        out.append("### Per variant: raw numbers\n\n" + _md_table(rp.variant_rows(e)))
        impact = rp.impact_rows(e)
        if impact:
            out.append("### Expected money impact of shipping (per week)\n\n" + _md_table(impact))
        out.append("### Sample ratio (SRM)\n\n" + _md_table(rp.srm_rows(e)))
        dims = rp.dimension_rows(e)
        if dims:
            out.append("### Breakdown by dimension\n\n" + _md_table(dims))
        out.append(f"### Metrics as of {e.week}\n\n" + _md_table(_comparison_rows(e)))
        notes = _sequential_notes(e)
        if notes:
            out.append("### Why the sequential interval is wider\n\n" + "".join(f"- {n}\n" for n in notes))
        key = f"plots/{e.name}.png"
        if key in images:
            out.append(f"### Lift over time\n\n![Relative lift over time of {e.name}]({key})\n")
        out.append("### Power\n\n" + _md_table(_power_rows(e)))
        if e.warnings:
            out.append("### Warnings\n\n" + "".join(f"- {w}\n" for w in e.warnings))
    return "\n".join(out)


# ----------------------------------------------------------------------------- entry points
def build_report(analysis: "ExperimentsAnalysis") -> Report:
    """Render the plots, HTML, Markdown and JSON of an analysis (nothing is written)."""
    from experiments.plots import lift_over_time_png

    images = {}
    for e in analysis.experiments:
        if e.status == "ok" and e.over_time is not None and not e.over_time.empty and e.config is not None:
            images[f"plots/{e.name}.png"] = lift_over_time_png(e.over_time, e.config)
    from experiments.report_parts import export_rows

    return Report(render_html(analysis, images), render_markdown(analysis, images), images, analysis.to_dict(),
                  tuple(export_rows(analysis)))


def write_report(analysis: "ExperimentsAnalysis", out_dir: str | Path) -> list[Path]:
    """Write ``report.html``, ``report.md``, ``experiments.json`` and ``plots/*.png`` atomically."""
    return write_files(build_report(analysis), out_dir)


def write_files(report: Report, out_dir: str | Path) -> list[Path]:
    """Write a built :class:`Report` into ``out_dir`` (each file atomically); return the paths."""
    from optimizer.io import atomic_write_bytes

    out = Path(out_dir)
    return [atomic_write_bytes(out / name, data) for name, data in report.files().items()]
