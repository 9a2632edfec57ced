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
    """

    html: str
    markdown: str
    images: dict[str, bytes]
    json: dict[str, Any]

    def files(self) -> dict[str, bytes]:
        """``{relative path: bytes}`` of every output file."""
        import json

        out = {"report.html": self.html.encode("utf-8"), "report.md": self.markdown.encode("utf-8"),
               "experiments.json": (json.dumps(self.json, indent=2, allow_nan=False) + "\n").encode("utf-8")}
        out.update(self.images)
        return out


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


def _srm_rows(e: "ExperimentAnalysis") -> list[dict[str, str]]:
    rows = []
    for r in e.srm:
        users = ", ".join(f"{k}: {v:,}" for k, v in r.variant_to_users.items())
        rows.append({"Slice": r.dimension or "overall", "Users": users, "chi2": fmt_num(r.chi2),
                     "p": fmt_p(r.p_value), "p (Holm)": fmt_p(r.p_value_adjusted) if r.dimension else "",
                     "Status": r.status + (f" ({r.error_code})" if r.error_code else "")})
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
            "Status": p.get("status", "n/a") + (f" ({p['note']})" if p.get("note") else ""),
        })
    return rows


def _summary_rows(a: "ExperimentsAnalysis") -> list[dict[str, str]]:
    rows = []
    for r in a.summary().to_dict(orient="records"):
        rows.append({
            "Experiment": r["experiment"], "Decision": r["decision"], "Variant": r["variant"] or "",
            "Reasons": r["reasons"], "Primary metric": r["primary_metric"] or "",
            "Lift": fmt_pct(r["lift_relative"]), "Sequential interval": fmt_ci(r["ci_low"], r["ci_high"]),
            "SRM": r["srm"], "Power": r["power"], "Users": fmt_num(int(r["users"])),
            "Projected end": r["projected_end_date"] or "",
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
                cls = "fail" if str(row[c]).startswith(("fail", "error", "underpowered")) else "ok"
                cells.append(f'<td class="{cls}">{text}</td>')
            elif text[:1] in "+-[" or text[:1].isdigit() or text.startswith("< "):
                cells.append(f'<td class="num">{text}</td>')
            else:
                cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _anchor(name: str) -> str:
    return "exp-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def _html_experiment(e: "ExperimentAnalysis", images: dict[str, bytes]) -> str:
    esc = html.escape
    parts = [f'<section class="experiment" id="{_anchor(e.name)}">',
             f'<h2>{esc(e.name)} <span class="badge {esc(e.decision.action)}">{esc(e.decision.action)}</span></h2>']
    if e.description:
        parts.append(f"<p>{esc(e.description)}</p>")
    if e.status == "error":
        parts.append(f'<div class="box error"><strong>Analysis error {esc(str(e.error_code))}</strong>: '
                     f"{esc(e.error_message)}</div>")
        if e.srm:
            parts.append("<h3>Sample ratio</h3>" + _html_table(_srm_rows(e), status_col="Status"))
        parts.append("</section>")
        return "\n".join(parts)
    d = e.decision
    verdict = f"<strong>{esc(d.action.upper())}</strong>" + (f" {esc(d.variant)}" if d.variant else "")
    end = f" Projected end: {esc(d.projected_end_date)}." if d.projected_end_date else ""
    parts.append(f'<div class="box info">{verdict}: {esc(d.explanation)}{end}<br>'
                 f"Reason codes: <code>{esc(', '.join(d.reason_codes))}</code></div>")
    for issue in e.issues:
        parts.append(f'<div class="box {"error" if issue.blocking else "warn"}"><strong>{esc(issue.code)}</strong>: '
                     f"{esc(issue.message)}</div>")
    parts.append(f"<p>Looks: {esc(', '.join(e.looks))} (week-to-date data at the end of each ISO week).</p>")
    parts.append("<h3>Sample ratio (SRM)</h3>" + _html_table(_srm_rows(e), status_col="Status"))
    parts.append(f"<h3>Metrics as of {esc(e.week)}</h3>" + _html_table(_comparison_rows(e), status_col="Status"))
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
    if e.warnings:
        parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{esc(w)}</li>" for w in e.warnings) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(analysis: "ExperimentsAnalysis", images: dict[str, bytes]) -> str:
    """The self-contained HTML page (see the module docstring)."""
    esc = html.escape
    body = ["<h2>Summary</h2>", _html_table(_summary_rows(analysis), badge_col="Decision")]
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
    out = [f"# Experiments report, week {analysis.week}\n",
           f"{len(analysis.experiments)} experiment(s); data up to the end of ISO week {analysis.week}.\n",
           "## Summary\n", _md_table(_summary_rows(analysis))]
    if analysis.warnings:
        out.append("**Needs attention**\n\n" + "".join(f"- {w}\n" for w in analysis.warnings))
    for e in analysis.experiments:
        out.append(f"## {e.name}: {e.decision.action}\n")
        if e.description:
            out.append(e.description + "\n")
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
        out.append("### Sample ratio (SRM)\n\n" + _md_table(_srm_rows(e)))
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
    return Report(render_html(analysis, images), render_markdown(analysis, images), images, analysis.to_dict())


def write_report(analysis: "ExperimentsAnalysis", out_dir: str | Path) -> list[Path]:
    """Write ``report.html``, ``report.md``, ``experiments.json`` and ``plots/*.png`` atomically."""
    return write_files(build_report(analysis), out_dir)


def write_files(report: Report, out_dir: str | Path) -> list[Path]:
    """Write a built :class:`Report` into ``out_dir`` (each file atomically); return the paths."""
    from optimizer.io import atomic_write_bytes

    out = Path(out_dir)
    return [atomic_write_bytes(out / name, data) for name, data in report.files().items()]
