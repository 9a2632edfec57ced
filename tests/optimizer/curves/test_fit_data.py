"""Reading and checking a history: CSV and Parquet give the same arrays; rows may come unsorted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.curves.data import check_history, read_table
from optimizer.errors import DataError

FIX = Path(__file__).parents[2] / "fixtures" / "curves"
COLS = dict(date_col="date", kpi_col="revenue", spend_cols={"search": "search", "social": "social", "tv": "tv"},
            control_cols=["price"], holiday_cols=["holiday"])


def test_csv_and_parquet_give_the_same_history(tmp_path):
    df, digest = read_table(FIX / "good.csv")
    assert len(digest) == 64
    df.to_parquet(tmp_path / "good.parquet")
    dq, _ = read_table(tmp_path / "good.parquet")
    a = check_history(df, **COLS)
    b = check_history(dq, **COLS)
    np.testing.assert_array_equal(a.kpi, b.kpi)
    for c in a.spend:
        np.testing.assert_array_equal(a.spend[c], b.spend[c])


def test_rows_in_any_order_are_sorted_by_date():
    df, _ = read_table(FIX / "good.csv")
    h = check_history(df.sample(frac=1.0, random_state=0), **COLS)
    ref = check_history(df, **COLS)
    np.testing.assert_array_equal(h.kpi, ref.kpi)
    assert h.dates.is_monotonic_increasing


def test_holiday_column_must_be_0_or_1():
    df, _ = read_table(FIX / "good.csv")
    df.loc[3, "holiday"] = 2
    with pytest.raises(DataError, match=r"row 4, column 'holiday' \(holiday dummy\) is 2; expected 0 or 1"):
        check_history(df, **COLS)


def test_all_channels_dead_is_an_error():
    df, _ = read_table(FIX / "good.csv")
    df[["search", "social", "tv"]] = 0.0
    with pytest.raises(DataError, match="no channel ever spends"):
        check_history(df, **COLS)


def test_row_numbers_are_file_rows_even_when_dates_are_unsorted():
    df, _ = read_table(FIX / "good.csv")
    shuffled = df.iloc[::-1].reset_index(drop=True)  # newest first, as some exports are
    shuffled.loc[4, "tv"] = -5.0
    with pytest.raises(DataError, match=r"row 5, column 'tv' \(spend of 'tv'\) is -5"):
        check_history(shuffled, **COLS)
