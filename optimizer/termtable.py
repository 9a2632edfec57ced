"""Terminal tables that fit the terminal: every ``dmpopt`` table readable in 80 columns.

:func:`fit_tables` turns a summary DataFrame into one or more rich tables no wider than the
console. In order, until the table fits:

1. columns that carry no information in this plan are dropped, and a line says so (a column with
   no value at all, ``setup_cost`` all 0, ``active`` all 1 in a plan without integer rules);
2. ``X_low`` / ``X_high`` pairs fold into one ``X range`` column, shares show as percentages,
   headers get short names (``cur`` = current, ``mROI`` = marginal ROI...) with a legend line,
   and header words may wrap;
3. the remaining columns are split over several tables, each repeating the first (key) column.

A wide terminal (or a pipe, which gets 200 columns) shows the table as it is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: (prefix or whole name, short form, legend entry); applied to headers in compact mode
ABBREVIATIONS: tuple[tuple[str, str, str], ...] = (
    ("recommended_", "rec ", "rec = recommended"),
    ("current_", "cur ", "cur = current"),
    ("incremental_", "incr ", "incr = incremental"),
    ("expected_", "exp ", "exp = expected"),
    ("marginal_roi", "mROI", "mROI = marginal ROI"),
    ("share_of_", "% ", "% = share of"),
    ("conversions", "conv", "conv = conversions"),
    ("lift_relative", "lift", "lift = relative lift"),
    ("primary_metric", "metric", "metric = primary metric"),
    ("probability", "P", "P = probability"),
    ("prob_", "P ", "P = probability"),
)

#: column -> value that, when every row has it, makes the column carry no information
CONSTANT_DEFAULTS = {"setup_cost": 0.0}


def drop_uninformative(df: pd.DataFrame, n_integer: int | None = None) -> tuple[pd.DataFrame, list[str]]:
    """``df`` without columns that say nothing here, and "name (why)" for each dropped one."""
    dropped: list[str] = []
    keep = []
    for col in df.columns:
        s = df[col]
        if len(df) and s.isna().all():
            dropped.append(f"{col} (none set)")
            continue
        default = CONSTANT_DEFAULTS.get(str(col))
        if default is not None and len(df) and s.dtype.kind in "iuf" and bool((s == default).all()):
            dropped.append(f"{col} (all {default:g})")
            continue
        if str(col) == "active" and not n_integer and len(df) and bool((s == 1).all()):
            dropped.append("active (all 1: no integer rules)")
            continue
        keep.append(col)
    return df[keep], dropped


def cell(v: Any) -> str:
    """A number as a person reads it: thousands separators, 4 significant digits, "-" for none."""
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:,.4g}"
    return str(v)


def _pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{float(v):.1%}"


def _is_share(col: str) -> bool:
    return col == "share" or col.startswith("share_of_") or col.endswith("_relative")


def _compact(df: pd.DataFrame) -> tuple[list[str], list[list[str]], list[bool], list[str]]:
    """(headers, rows of cell strings, right-justify flags, legend entries) of the compact form."""
    cols = [str(c) for c in df.columns]
    relative_ci = "lift_relative" in cols  # ci_low / ci_high are then intervals of the relative lift
    out_cols: list[tuple[str, list[str], bool]] = []
    used = set()
    for col in cols:
        if col in used:
            continue
        used.add(col)
        s = df[col]
        numeric = s.dtype.kind in "iuf"
        stem = col[: -len("_low")] if col.endswith("_low") else None
        if stem is not None and f"{stem}_high" in cols:  # fold a low/high pair into one column
            used.add(f"{stem}_high")
            hi = df[f"{stem}_high"]
            fmt = _pct if _is_share(stem) or (stem == "ci" and relative_ci) else cell
            values = [f"{fmt(a)}-{fmt(b)}" if not (pd.isna(a) and pd.isna(b)) else "-"
                      for a, b in zip(s.tolist(), hi.tolist())]
            out_cols.append((f"{stem} range", values, True))
            continue
        if numeric and _is_share(col):
            out_cols.append((col, [_pct(v) for v in s.tolist()], True))
        else:
            out_cols.append((col, [cell(v) for v in s.tolist()], numeric))
    legend: list[str] = []
    headers = []
    for name, _, _ in out_cols:
        short = name
        for long, abbr, entry in ABBREVIATIONS:
            if long in short:
                short = short.replace(long, abbr)
                if entry not in legend:
                    legend.append(entry)
        headers.append(short.replace("_", " ").strip())
    rows = [[values[i] for _, values, _ in out_cols] for i in range(len(df))]
    headers = [_stack(h, values) for h, (_, values, _) in zip(headers, out_cols)]
    return headers, rows, [j for _, _, j in out_cols], legend


def _make(title: str | None, headers: list[str], rows: list[list[str]], justify: list[bool], plain: bool = False):
    from rich.table import Table
    from rich.text import Text

    if plain:  # no box: columns separated by two spaces, easy to grep and paste
        table = Table(title=title, title_justify="left", box=None, pad_edge=False, show_edge=False,
                      header_style="bold", title_style="none")
    else:
        table = Table(title=title, title_justify="left", show_lines=False)
    for k, (h, right) in enumerate(zip(headers, justify)):
        # numbers and the key column never wrap; text folds rather than truncates ("0.02…" must never show)
        table.add_column(h, justify="right" if right else "left", overflow="fold", no_wrap=right or k == 0)
    for row in rows:  # Text: a "[...]" in data is shown as it is, never read as rich markup
        table.add_row(*(Text(c) for c in row))
    return table


def _need(headers: list[str], rows: list[list[str]], justify: list[bool]) -> int:
    """Columns the table needs with no number, key or header word broken: cells + 3 per column + 1."""
    total = 1
    for k, (h, right) in enumerate(zip(headers, justify)):
        cells = [r[k] for r in rows]
        whole = right or k == 0  # never wrapped
        w = max((len(c) if whole else max((len(x) for x in c.split()), default=1)) for c in cells) if cells else 1
        total += max(w, *(len(x) for x in h.split("\n"))) + 3
    return total


def _stack(header: str, cells: list[str]) -> str:
    """A header wider than its cells put one word per line ("cur\nresponse")."""
    widest = max((len(c) for c in cells), default=0)
    return header.replace(" ", "\n") if len(header) > widest else header


def _max_width(table: Any, console: Any) -> int:
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update(width=10_000), table).maximum


def fit_tables(df: pd.DataFrame, title: str | None, console: Any, *, n_integer: int | None = None,
               money: str | None = None, plain: bool = False) -> list[Any]:
    """Rich renderables (tables and legend lines) showing ``df`` within ``console.width`` columns.

    ``money`` (e.g. "$" or "USD") names the currency of money columns in the legend; ``plain``
    draws no box (columns separated by spaces).
    """
    if not isinstance(df.index, pd.RangeIndex):  # a named index (arm, channel...) is a column to show
        df = df.reset_index()
    width = console.width
    df, dropped = drop_uninformative(df, n_integer)
    note = [f"  (not shown: {', '.join(dropped)})"] if dropped else []
    full = _make(title, [str(c) for c in df.columns], [[cell(v) for v in r] for r in df.itertuples(index=False)],
                 [df[c].dtype.kind in "iuf" for c in df.columns], plain)
    if _max_width(full, console) <= width or len(df.columns) <= 1:
        return [full, *note]
    headers, rows, justify, legend = _compact(df)
    if money:
        legend.append(f"money in {money}")
    legend_lines = [f"  ({'; '.join(legend)})"] if legend else []
    if _need(headers, rows, justify) <= width:
        return [_make(title, headers, rows, justify, plain), *legend_lines, *note]
    # split: the key column in every part, the others greedily while the part fits
    parts: list[list[int]] = []
    current: list[int] = [0]
    for j in range(1, len(headers)):
        trial = current + [j]
        need = _need([headers[i] for i in trial], [[r[i] for i in trial] for r in rows], [justify[i] for i in trial])
        if len(current) > 1 and need > width:
            parts.append(current)
            current = [0, j]
        else:
            current = trial
    parts.append(current)
    out: list[Any] = []
    for k, idx in enumerate(parts, 1):
        part_title = f"{title} ({k}/{len(parts)})" if title else f"({k}/{len(parts)})"
        out.append(_make(part_title, [headers[i] for i in idx], [[r[i] for i in idx] for r in rows],
                         [justify[i] for i in idx], plain))
    return out + legend_lines + note
