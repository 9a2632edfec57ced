"""The media plan: spend per channel x week (segments as a second level) in whole currency units.

Built from the budget result's ``allocations`` (one row per channel x segment x period, spend in the
scenario currency over the horizon). Cells are rounded with :func:`~optimizer.planreport.rounding.round_table`
so that every row, channel subtotal, week total and the grand total shown are exact sums of the
cells shown, each cell within one currency unit of the optimiser's value, and the grand total is
the plan's total spend rounded half up. Outputs: ``media_plan.csv``, ``media_plan.xlsx``, a
Markdown table for plan.md and an 80-column terminal view that says where the rest is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.planreport.rounding import round_table

TOTAL = "total"


@dataclass(frozen=True)
class MediaPlan:
    """Spend per (channel, segment) row and period column, unrounded and in whole units.

    Attributes
    ----------
    channels, segments:
        Channel and segment of each row (same length); segment "all" when the budget has none.
    periods:
        Column names in plan order (e.g. "2026-W01"); "all" when the budget has no periods.
    spend:
        Unrounded spend (currency), shape (rows, periods).
    rounded:
        Whole currency units, same shape; sums are the totals shown.
    currency:
        Currency code of every amount.
    """

    channels: tuple[str, ...]
    segments: tuple[str, ...]
    periods: tuple[str, ...]
    spend: np.ndarray
    rounded: np.ndarray
    currency: str

    @property
    def has_segments(self) -> bool:
        """True when rows are split by segment (a second level under each channel)."""
        return any(s != "all" for s in self.segments)

    @property
    def channel_order(self) -> list[str]:
        return list(dict.fromkeys(self.channels))

    def channel_rows(self) -> dict[str, np.ndarray]:
        """Channel -> rounded spend per period (sum of its segment rows)."""
        ch = np.array(self.channels)
        return {c: self.rounded[ch == c].sum(axis=0) for c in self.channel_order}

    @property
    def period_totals(self) -> np.ndarray:
        """Rounded spend per period (currency): the column sums of the table."""
        return self.rounded.sum(axis=0)

    @property
    def total(self) -> int:
        """Grand total in whole units (= round half up of the plan's total spend)."""
        return int(self.rounded.sum())

    def table(self) -> pd.DataFrame:
        """The plan as rows: per channel its total then its segment rows; last, the period totals.

        Columns: ``channel``, ``segment`` (``total`` on a channel's subtotal row; omitted without
        segments), one column per period, ``total``; integers in the currency.
        """
        rows: list[list[Any]] = []
        ch = np.array(self.channels)
        for c in self.channel_order:
            idx = np.nonzero(ch == c)[0]
            if self.has_segments:  # the channel's total first, its segments under it
                sub = self.rounded[idx].sum(axis=0)
                rows.append([c, TOTAL, *sub.tolist(), int(sub.sum())])
                for i in idx:
                    rows.append([c, self.segments[i], *self.rounded[i].tolist(), int(self.rounded[i].sum())])
            else:
                sub = self.rounded[idx].sum(axis=0)
                rows.append([c, *sub.tolist(), int(sub.sum())])
        tot = self.period_totals
        rows.append([TOTAL, *([TOTAL] if self.has_segments else []), *tot.tolist(), int(tot.sum())])
        cols = ["channel", *(["segment"] if self.has_segments else []), *self.periods, TOTAL]
        return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------------ outputs
    def to_csv(self) -> bytes:
        """media_plan.csv: :meth:`table` plus a ``currency`` column (every amount in whole units)."""
        df = self.table()
        df["currency"] = self.currency
        return df.to_csv(index=False).encode("utf-8")

    def to_xlsx(self, extra_sheets: dict[str, pd.DataFrame] | None = None) -> bytes:
        """media_plan.xlsx: the table with thousands separators, bold totals, frozen headers."""
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        wb = Workbook()
        ws = wb.active
        ws.title = "media plan"
        df = self.table()
        ws.append([f"Media plan, spend in {self.currency} (whole units; rows and columns add up exactly)"])
        ws["A1"].font = Font(bold=True)
        ws.append(list(df.columns))
        for cell in ws[2]:
            cell.font = Font(bold=True)
        n_label = 2 if self.has_segments else 1
        bold = Font(bold=True)  # one style object for every bold cell (openpyxl shares it)
        for r, row in enumerate(df.itertuples(index=False), start=3):
            ws.append([v if isinstance(v, str) else int(v) for v in row])
            is_total = row[0] == TOTAL or (self.has_segments and row[1] == TOTAL)
            for j in range(1, len(df.columns) + 1):
                c = ws.cell(row=r, column=j)  # a dict lookup (ws[r] and ws.max_row rescan the sheet)
                if j > n_label:
                    c.number_format = "#,##0"
                if is_total or j == len(df.columns):
                    c.font = bold
        ws.freeze_panes = ws.cell(row=3, column=n_label + 1)
        for j, name in enumerate(df.columns, start=1):
            col = df.iloc[:, j - 1]
            longest = int(col.astype(str).str.len().max()) + (col.astype(str).str.len().max() // 3 if j > n_label else 0)
            ws.column_dimensions[get_column_letter(j)].width = max(len(str(name)), longest) + 2
        for title, extra in (extra_sheets or {}).items():
            sh = wb.create_sheet(title[:31])
            sh.append(list(extra.columns))
            for cell in sh[1]:
                cell.font = Font(bold=True)
            for row in extra.itertuples(index=False):
                sh.append([_xl(v) for v in row])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    def markdown(self) -> str:
        """The media plan table for plan.md (amounts with thousands separators)."""
        df = self.table()
        n_label = 2 if self.has_segments else 1
        head = "| " + " | ".join(str(c) for c in df.columns) + " |"
        align = "|" + "---|" * n_label + "---:|" * (len(df.columns) - n_label)
        lines = [head, align]
        for row in df.itertuples(index=False):
            cells = [str(v) if isinstance(v, str) else f"{int(v):,}" for v in row]
            if row[0] == TOTAL or (self.has_segments and row[1] == TOTAL):
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def terminal_lines(self, width: int = 80, where: str = "media_plan.csv / plan.md (with --out)",
                       max_rows: int = 60) -> list[str]:
        """Plain-text lines of at most ``width`` characters: as many weeks (and rows) as fit, then where the rest is."""
        df = self.table()
        n_rows_all = len(df)
        if n_rows_all > max_rows:  # the first rows and the total row
            df = df.iloc[list(range(max_rows - 1)) + [n_rows_all - 1]].reset_index(drop=True)
        n_label = 2 if self.has_segments else 1
        labels = []
        for row in df.itertuples(index=False):
            if self.has_segments:
                labels.append(row[0] if row[1] == TOTAL and row[0] != TOTAL else ("  " + row[1] if row[0] != TOTAL else TOTAL))
            else:
                labels.append(row[0])
        label_w = min(max(len(x) for x in labels + ["channel"]), 24)
        texts = {c: [f"{int(v):,}" for v in df[c]] for c in df.columns[n_label:]}
        widths = {c: max(len(str(c)), *(len(t) for t in texts[c])) for c in texts}
        total_w = widths[TOTAL] + 2
        shown: list[str] = []
        used = label_w + total_w
        for p in self.periods:
            if used + widths[p] + 2 > width:
                break
            shown.append(p)
            used += widths[p] + 2
        cols = shown + [TOTAL]
        lines = [f"Media plan ({self.currency}, whole units; rows and columns add up)"]
        lines.append("channel".ljust(label_w)[:label_w] + "".join(str(c).rjust(widths[c] + 2) for c in cols))
        for i, lab in enumerate(labels):
            lines.append(lab.ljust(label_w)[:label_w] + "".join(texts[c][i].rjust(widths[c] + 2) for c in cols))
        hidden = [p for p in self.periods if p not in shown]
        if n_rows_all > max_rows:
            lines.insert(len(lines) - 1, f"... {n_rows_all - max_rows} more row(s) before the total")
        if hidden:
            lines.append(f"{len(hidden)} more period(s) not shown here ({hidden[0]} .. {hidden[-1]}); the full plan is in"[:width])
        elif n_rows_all > max_rows:
            lines.append("The full plan is in")
        if hidden or n_rows_all > max_rows:
            lines.append(f"  {where}"[:width])
        return lines


def _xl(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v


def media_plan_from_allocations(allocations: pd.DataFrame, currency: str,
                                channel_order: list[str] | None = None) -> MediaPlan:
    """Pivot a budget result's ``allocations`` (channel, segment, period, spend) into a :class:`MediaPlan`."""
    df = allocations[["channel", "segment", "period", "spend"]].copy()
    df["spend"] = df["spend"].astype(float).fillna(0.0).clip(lower=0.0)
    channels = channel_order or list(dict.fromkeys(df["channel"]))
    segments = list(dict.fromkeys(df["segment"]))
    periods = list(dict.fromkeys(df["period"]))
    pivot = df.pivot_table(index=["channel", "segment"], columns="period", values="spend", aggfunc="sum",
                           fill_value=0.0, sort=False)
    keys = [(c, s) for c in channels for s in segments if (c, s) in pivot.index]
    pivot = pivot.reindex(index=pd.MultiIndex.from_tuples(keys), columns=periods, fill_value=0.0)
    values = pivot.to_numpy(dtype=float)
    ch = [k[0] for k in keys]
    rounded = round_table(values, np.array([channels.index(c) for c in ch]))
    return MediaPlan(tuple(ch), tuple(k[1] for k in keys), tuple(str(p) for p in periods), values, rounded, currency)
