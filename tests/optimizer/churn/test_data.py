"""Loading, validation and encoding: one broken fixture file per defect, each with its message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.churn.data import prepare, read_table
from optimizer.errors import DataError

BROKEN = [
    ("zero_duration.csv", ["plan", "fee"], r"2 row\(s\) have 'tenure_days' <= 0 \(e\.g\. 0 at data row 4\)"),
    ("negative_duration.csv", ["plan", "fee"], r"1 row\(s\) have 'tenure_days' <= 0 \(e\.g\. -4 at data row 6\)"),
    ("non_numeric_duration.csv", ["plan", "fee"], r"1 row\(s\) have a missing or non-numeric 'tenure_days' \(first at data row 5\)"),
    ("event_not_binary.csv", ["plan", "fee"], r"3 row\(s\) have 'churned' not in \{0, 1\} \(values seen: \['2'\]\)"),
    ("missing_column.csv", ["plan", "fee"],
     r"column\(s\) \['tenure_days'\] not found; the columns found are: customer_id, tenure, churned, plan, fee"),
    ("all_censored.csv", ["plan", "fee"], r"all 60 rows are censored"),
    ("constant_covariate.csv", ["plan", "fee", "region"], r"covariate\(s\) \['region'\] take a single value in every row"),
    ("duplicate_id.csv", ["plan", "fee"], r"1 row\(s\) repeat a 'customer_id' already seen \(e\.g\. 'c3'\)"),
    ("collinear_covariates.csv", ["plan", "fee", "fee_cents"],
     r"covariate column\(s\) \['fee_cents'\] are linear combinations of the columns before them"),
    ("too_few_events.csv", ["plan", "fee"], r"3 event\(s\) for 2 encoded covariate column\(s\) \(1\.5 per column\); at least 10"),
]


@pytest.mark.parametrize("name,covariates,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_inputs_have_clear_messages(fixtures_dir, name, covariates, message):
    df = read_table(fixtures_dir / name)
    with pytest.raises(DataError, match=message) as info:
        prepare(df, "tenure_days", "churned", covariates, id_col="customer_id", source=name)
    assert str(info.value).startswith(name)


def test_valid_fixture_encodes_categoricals(fixtures_dir):
    df = read_table(fixtures_dir / "valid.csv")
    d = prepare(df, "tenure_days", "churned", ["plan", "fee"], id_col="customer_id")
    assert d.columns == ("fee", "plan[plus]")
    np.testing.assert_array_equal(d.X[:, 1], (df["plan"] == "plus").to_numpy(dtype=float))
    assert d.ids[0] == "c0" and d.n == 60


def test_parquet_and_csv_give_the_same_data(fixtures_dir, tmp_path):
    df = read_table(fixtures_dir / "valid.csv")
    df.to_parquet(tmp_path / "valid.parquet")
    a = prepare(read_table(fixtures_dir / "valid.csv"), "tenure_days", "churned", ["plan", "fee"])
    b = prepare(read_table(tmp_path / "valid.parquet"), "tenure_days", "churned", ["plan", "fee"])
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.duration, b.duration)


def test_unknown_file_and_type(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match=r"file type '\.xlsx' is not supported"):
        read_table(tmp_path / "x.xlsx")


def test_new_customers_with_unseen_level_are_refused(fixtures_dir):
    d = prepare(read_table(fixtures_dir / "valid.csv"), "tenure_days", "churned", ["plan", "fee"])
    new = pd.DataFrame({"plan": ["gold"], "fee": [3.0]})
    with pytest.raises(DataError, match=r"level\(s\) \['gold'\] not seen when the model was fitted"):
        d.encoding.transform(new)
