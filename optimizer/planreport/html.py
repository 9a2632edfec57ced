"""report.html: one self-contained page of a plan (inline CSS, charts as base64 PNG, no script, no network).

Sections, each present only when the plan has it: headline numbers; the current-vs-recommended
sentence and table; recommendations in words ranked by value (which limit to lift, which minimum
costs most, which channel is at the end of its measured data); the media plan; charts (flighting,
spend share vs response share, response curves with current and recommended points and marginal
ROI, ROI bars, frontier); binding limits and what lifting each is worth; the other sections (bandit
mix, retention schedule, experiment decisions) each with its table and chart; warnings.
"""

from __future__ import annotations

import base64
import html
import math
from importlib.resources import files
from string import Template
from typing import Any

import numpy as np

from optimizer.budget.money import money, response_text


def _e(v: Any) -> str:
    return html.escape(str(v))


def _img(fig: dict[str, bytes] | None, alt: str, caption: str) -> str:
    if fig is None:
        return ""
    data = base64.b64encode(fig["png"]).decode("ascii")
    return (f'<figure><img class="chart" alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _card(label: str, value: str) -> str:
    return f'<div class="card"><div class="label">{_e(label)}</div><div class="value">{_e(value)}</div></div>'


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return ""
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}"
    return _e(v)


def _df_table(df, max_rows: int = 60, max_cols: int = 8) -> str:
    import pandas as pd

    if df is None or len(df) == 0:
        return "<p>(empty)</p>"
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    hidden = list(df.columns[max_cols:])
    df = df[df.columns[:max_cols]]  # a page must fit 900 px; every column is in plan.json
    head = "".join(f'<th class="{"l" if df[c].dtype == object else ""}">{_e(c)}</th>' for c in df.columns)
    rows = []
    for row in df.head(max_rows).itertuples(index=False):
        rows.append("<tr>" + "".join(f'<td class="l">{_e(v)}</td>' if isinstance(v, str) else f"<td>{_num(v)}</td>"
                                     for v in row) + "</tr>")
    more = f"<p>{len(df) - max_rows} more row(s) in plan.json.</p>" if len(df) > max_rows else ""
    if hidden:
        more += f"<p>Also in plan.json: {_e(', '.join(map(str, hidden)))}.</p>"
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>{more}'


def _media_table(mp, max_rows: int = 150) -> str:
    df = mp.table()
    n_label = 2 if mp.has_segments else 1
    note = ""
    if len(df) > max_rows and mp.has_segments:  # a page of channel totals; segment rows are in the CSV/XLSX
        df = df[df["segment"] == "total"]
        note = "<p>Channel totals only; the segment rows are in media_plan.csv and media_plan.xlsx.</p>"
    if len(df) > max_rows:
        note = f"<p>The first {max_rows - 1} channels and the total; every row is in media_plan.csv.</p>"
        df = df.iloc[list(range(max_rows - 1)) + [len(df) - 1]]
    head = "".join(f'<th class="{"l" if i < n_label else ""}">{_e(c)}</th>' for i, c in enumerate(df.columns))
    rows = []
    for row in df.itertuples(index=False):
        is_total = row[0] == "total"
        is_channel = mp.has_segments and row[1] == "total" and not is_total
        cls = "total" if is_total or is_channel else ("sub" if mp.has_segments else "")
        labels = [row[0]] if not mp.has_segments else ([row[0], ""] if is_channel or is_total else ["", row[1]])
        cells = "".join(f'<td class="l">{_e(x)}</td>' for x in labels)
        cells += "".join(f"<td>{int(v):,}</td>" for v in row[n_label:])
        rows.append(f'<tr class="{cls}">{cells}</tr>')
    return (f'<div class="scroll"><table id="media-plan"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table></div>{note}")


_CURRENT_COLUMNS = [("channel", "channel"), ("current_spend", "{label} spend"), ("recommended_spend", "recommended spend"),
                    ("current_response", "{label} response"), ("recommended_response", "recommended response"),
                    ("incremental_response", "incremental response"), ("current_roi", "{label} ROI"),
                    ("recommended_roi", "recommended ROI")]


def _current_table(cmp_) -> str:
    cur, ru = cmp_.currency, cmp_.response_unit
    interval = "current_response_q05" in cmp_.table.columns
    head = "".join(f'<th class="{"l" if k == "channel" else ""}">{_e(v.format(label=cmp_.label))}</th>'
                   for k, v in _CURRENT_COLUMNS)
    rows = []
    for r in cmp_.table.to_dict("records"):
        cells = []
        for k, _ in _CURRENT_COLUMNS:
            v = r[k]
            if k == "channel":
                cells.append(f'<td class="l">{_e(v)}</td>')
            elif k.endswith("spend"):
                cells.append(f"<td>{_e(money(v, cur))}</td>")
            elif k.endswith("roi"):
                cells.append(f"<td>{'' if v != v else f'{v:.2f}'}</td>")
            else:
                text = response_text(v, ru, cur)
                if interval and f"{k}_q05" in r:
                    text += f" ({response_text(r[k + '_q05'], ru, cur, True)}-{response_text(r[k + '_q95'], ru, cur, True)})"
                cells.append(f"<td>{_e(text)}</td>")
        cls = ' class="total"' if r["channel"] == "total" else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    note = "<p>Responses in brackets: 5-95 % over the curve draws. ROI: response per currency unit.</p>" if interval else ""
    return f'<div class="scroll"><table id="current-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>{note}'


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def recommendations(plan: Any) -> list[tuple[float, str]]:
    """Recommendations in words, ranked by value (currency or response per unit of the limit moved).

    First what the plan cannot be trusted beyond (channels past their measured data: value ``inf``),
    then every binding limit by the absolute value of its shadow price: the limit whose lifting is
    worth most and the binding minimum that costs most are said to be so.
    """
    from optimizer.budget.curve_sources import extrapolation_warnings, weak_curve_warnings
    from optimizer.planreport import budget_result

    res = budget_result(plan)
    out: list[tuple[float, str]] = []
    if res is None:
        return out
    cur = res.currency or plan.currency
    priced = []
    for b in getattr(res, "binding_constraints", ()) or ():
        price = getattr(b, "shadow_price", float("nan"))
        if price is None or not math.isfinite(price) or abs(price) < 1e-12:
            continue
        priced.append((abs(price), b))
    uppers = sorted((t for t in priced if t[1].side == "upper"), key=lambda t: -t[0])
    lowers = sorted((t for t in priced if t[1].side != "upper"), key=lambda t: -t[0])
    for k, (value, b) in enumerate(uppers):
        tail = (": of the binding limits, lifting this one is worth the most." if k == 0 and len(uppers) > 1
                else ": lifting it is worth that much." if k == 0 else ".")
        out.append((value, _sentence(b.text) + tail))
    for k, (value, b) in enumerate(lowers):
        tail = (": the binding minimum that costs most; lower it if the rule allows." if k == 0 and len(lowers) > 1
                else ": lowering it is worth that much." if k == 0 else ".")
        out.append((value, _sentence(b.text) + tail))
    for w in extrapolation_warnings(getattr(res, "curve_sources", ()), res.allocations, cur):
        out.append((math.inf, _sentence(w) + ", beyond the data it was fitted on: measure higher spend (or cap "
                                             "the channel) before trusting more."))
    for w in weak_curve_warnings(getattr(res, "curve_sources", ())):
        out.append((math.inf, _sentence(w) + "."))
    cfg = getattr(plan.scenario, "budget", None)
    if cfg is not None:
        by_cell = res.allocations.groupby("channel")["spend"].max()
        for ch in cfg.channels:
            pts = getattr(ch.response, "points", None)
            if ch.response.kind == "table" and pts and ch.name in by_cell.index:
                last = float(pts[-1][0])
                if float(by_cell[ch.name]) >= last * (1 - 1e-6):
                    out.append((math.inf, f"{ch.name} is at the end of its measured data (a cell spends "
                                          f"{money(float(by_cell[ch.name]), cur)}, the last measured point is "
                                          f"{money(last, cur)}): the curve beyond it is flat by assumption; "
                                          "measure higher spend before trusting more."))
    out.sort(key=lambda t: -t[0])
    return out


def report_html(plan: Any, figures: dict[str, dict[str, bytes]]) -> str:
    """The whole page as a string."""
    from optimizer.planreport import budget_result, media_plan

    res = budget_result(plan)
    cur_entry = plan.sections.get("current")
    current = cur_entry[1] if cur_entry is not None else None
    body: list[str] = []
    cards = [_card("status", plan.status), _card("currency", plan.currency_text)]
    if res is not None:
        c, ru = res.currency or plan.currency, res.response_unit
        cards += [_card("total spend", money(res.total_spend, c)),
                  _card("expected response", response_text(res.total_response, ru, c)),
                  _card("ROI", "n/a" if not res.total_spend else f"{res.total_response / res.total_spend:.2f} per {c}"),
                  _card("certified gap", f"{res.optimality_gap:.1e}")]
    body.append(f'<section id="headline"><div class="cards">{"".join(cards)}</div>')
    if current is not None and current.status == "ok":
        p = current.p_recommended_beats_current
        extra = f" The recommended plan beats the {current.label} one in {p:.0%} of curve draws." if p is not None else ""
        body.append(f'<p class="sentence" id="sentence">{_e(current.sentence[:1].upper() + current.sentence[1:])}{_e(extra)}</p>')
    body.append("</section>")
    recs = recommendations(plan)
    if recs:
        body.append('<section id="recommendations"><h2>Recommendations, ranked by value</h2><ol class="recs">'
                    + "".join(f"<li>{_e(t)}</li>" for _, t in recs) + "</ol></section>")
    if current is not None and current.status == "ok":
        body.append(f'<section id="current"><h2>{_e(current.label.capitalize())} vs recommended</h2>'
                    + _current_table(current) + _img(figures.get("current_vs_recommended"), "current vs recommended",
                                                      "Spend per channel, current vs recommended.")
                    + "".join(f"<p>{_e(n)}</p>" for n in current.notes()) + "</section>")
    mp = media_plan(plan)
    if mp is not None:
        body.append(f'<section id="media"><h2>Media plan ({_e(mp.currency)}, whole units)</h2>'
                    "<p>Every row, channel total and period total is the exact sum of the cells shown.</p>"
                    + _media_table(mp) + _img(figures.get("flighting"), "flighting chart",
                                              "Spend per channel per period, stacked; black ticks: period budgets.")
                    + "</section>")
    charts = [("spend_vs_response", "Spend share vs response share per channel."),
              ("response_curves", "Each channel's response vs its total spend (split like the plan); dot: recommended "
                                  "with its marginal ROI, square: current."),
              ("roi", "ROI and marginal ROI per channel (response per currency unit)."),
              ("frontier", "Budget frontier; dotted line: this plan's budget.")]
    shown = [_img(figures.get(k), k, cap) for k, cap in charts if k in figures]
    if shown:
        body.append('<section id="charts"><h2>Charts</h2><div class="grid">' + "".join(shown) + "</div></section>")
    if res is not None and getattr(res, "binding_constraints", None):
        items = "".join(f"<li>{_e(b.text)}</li>" for b in res.binding_constraints)
        body.append(f'<section id="limits"><h2>Binding limits and what lifting each is worth</h2><ul>{items}</ul></section>')
    for name, (_, sres) in plan.sections.items():
        if name in ("budget", "current"):
            continue
        body.append(f'<section id="section-{_e(name)}"><h2>{_e(name.capitalize())} '
                    f'<span class="status-{_e(sres.status)}">({_e(sres.status)})</span></h2>'
                    + _df_table(sres.summary()) + _img(figures.get(f"section_{name}"), name, f"{name}: main table as a chart.")
                    + "</section>")
    if res is None and "budget" in plan.sections:
        b = plan.sections["budget"][1]
        body.append('<section id="budget"><h2>Budget: no plan</h2>'
                    + "".join(f"<p>{_e(e)}</p>" for e in getattr(b, "explanation", ())) + "</section>")
    if plan.warnings:
        body.append('<section id="warnings"><h2>Warnings</h2><ul>'
                    + "".join(f'<li class="warn">{_e(w)}</li>' for w in plan.warnings) + "</ul></section>")
    prov = plan.provenance
    template = Template(files("optimizer.planreport").joinpath("templates/report.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=_e(f"Plan: {plan.scenario_name}"),
        subtitle=_e(plan.scenario_description.strip() or f"Scenario {plan.scenario_path}"),
        body="\n".join(body),
        footer=_e(f"Made by dmpopt {prov.dmpopt_version} on {prov.created_at}, seed {prov.seed}; scenario "
                  f"{plan.scenario_path} ({plan.content_hash}). Money in {plan.currency}."),
    )
