"""The media plan pivot: channel x week with segments, whole units, CSV / XLSX / Markdown / 80 columns."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from optimizer.planreport.media_plan import media_plan_from_allocations


def allocations(n_weeks: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for ch in ("search", "social"):
        for seg in ("new", "loyal"):
            for w in range(1, n_weeks + 1):
                rows.append({"channel": ch, "segment": seg, "period": f"2026-W{w:02d}", "spend": rng.uniform(0, 5e4) / 3})
    return pd.DataFrame(rows)


def test_pivot_adds_up_in_every_output():
    alloc = allocations()
    mp = media_plan_from_allocations(alloc, "USD")
    df = mp.table()
    assert list(df.columns) == ["channel", "segment", "2026-W01", "2026-W02", "2026-W03", "total"]
    weeks = ["2026-W01", "2026-W02", "2026-W03", "total"]
    seg_rows = df[(df.segment != "total")]
    ch_rows = df[(df.segment == "total") & (df.channel != "total")]
    total = df[df.channel == "total"].iloc[0]
    # channel row = sum of its segment rows; total row = sum of channel rows; total column = row sums
    for ch in ("search", "social"):
        assert (seg_rows[seg_rows.channel == ch][weeks].sum().to_numpy() == ch_rows[ch_rows.channel == ch][weeks].to_numpy()[0]).all()
    assert (ch_rows[weeks].sum().to_numpy() == total[weeks].to_numpy()).all()
    assert (df[weeks[:-1]].sum(axis=1) == df["total"]).all()
    assert total["total"] == int(np.floor(alloc.spend.sum() + 0.5))
    # each cell within one unit of the optimiser's value
    merged = alloc.merge(seg_rows.melt(id_vars=["channel", "segment"], value_vars=weeks[:-1], var_name="period",
                                       value_name="rounded"), on=["channel", "segment", "period"])
    assert (abs(merged.rounded - merged.spend) < 1).all()

    csv = pd.read_csv(io.BytesIO(mp.to_csv()))
    assert (csv.currency == "USD").all() and csv.iloc[:, 2:6].equals(df.iloc[:, 2:6])

    wb = load_workbook(io.BytesIO(mp.to_xlsx({"extra": pd.DataFrame({"a": [1.5]})})))
    ws = wb["media plan"]
    assert "USD" in ws["A1"].value
    assert [c.value for c in ws[2]] == list(df.columns)
    last = [c.value for c in ws[ws.max_row]]
    assert last == total.tolist()
    assert ws.cell(row=3, column=3).number_format == "#,##0"
    assert wb["extra"]["A2"].value == 1.5

    md = mp.markdown()
    assert f"**{int(total['total']):,}**" in md and md.count("\n") == len(df) + 1


def test_terminal_fits_80_columns_and_says_where_the_rest_is():
    mp = media_plan_from_allocations(allocations(n_weeks=12), "USD")
    lines = mp.terminal_lines(80)
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "2026-W01" in lines[1] and "2026-W12" not in lines[1]
    assert "more period(s) not shown" in lines[-2] and "media_plan.csv" in lines[-1]
    short = media_plan_from_allocations(allocations(n_weeks=2), "USD").terminal_lines(80)
    assert "not shown" not in "\n".join(short) and "2026-W02" in short[1]


def test_without_segments_there_is_no_second_level():
    alloc = allocations().query("segment == 'new'").assign(segment="all")
    mp = media_plan_from_allocations(alloc, "EUR")
    assert not mp.has_segments
    assert list(mp.table().columns)[:2] == ["channel", "2026-W01"]
    assert mp.table()["channel"].tolist() == ["search", "social", "total"]


def test_many_channels_terminal_keeps_the_total_and_says_where_the_rest_is():
    rows = [{"channel": f"ch{i:03d}", "segment": "all", "period": f"W{w}", "spend": 100.4 + i}
            for i in range(100) for w in range(3)]
    mp = media_plan_from_allocations(pd.DataFrame(rows), "USD")
    lines = mp.terminal_lines(80, max_rows=20)
    # title, header, 19 channel rows, the gap line, the total row, where the rest is (2 lines)
    assert len(lines) == 2 + 19 + 1 + 1 + 2
    assert lines[-4] == "... 81 more row(s) before the total"
    assert lines[-3].startswith("total") and lines[-3].endswith(f"{mp.total:,}")
    assert lines[-1].strip().startswith("media_plan.csv") and all(len(ln) <= 80 for ln in lines)
