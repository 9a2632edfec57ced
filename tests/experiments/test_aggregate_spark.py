"""The same aggregation SQL on Spark (local[1]): stable variance, agreement with DuckDB and numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # a JVM start and first-query compilation: ~40 s alone, more on a busy machine
pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: the Spark engine cannot be tested")

from experiments.aggregate import AggregationError, aggregate  # noqa: E402
from experiments.aggregate_spark import SparkEngine, local_session  # noqa: E402
from experiments.config import ExperimentConfig  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "experiments"
NUMERIC = ["n", "mean", "m2", "cov_mean", "cov_m2", "cross_m2", "den_mean", "den_m2", "num_den_m2", "cov_den_m2"]


@pytest.fixture(scope="module")
def spark():
    session = local_session("dmpopt-tests", cores=1)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def engine(spark):
    eng = SparkEngine(spark)
    yield eng
    eng.close()


def make_exp(path, metrics, kind="users", **data_kw):
    data = {"kind": kind, "path": str(path), **data_kw}
    if kind == "users":
        data.setdefault("timestamp_col", None)
    return ExperimentConfig.model_validate({"name": "exp", "start_date": "2026-11-02", "data": data, "control": "control",
                                            "variants": ["control", "treatment"], "metrics": metrics})


def assert_same(a: pd.DataFrame, b: pd.DataFrame, rel=1e-9):
    key = ["k", "metric", "variant"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key])
    for col in NUMERIC:
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), col
        ok = ~np.isnan(x)
        np.testing.assert_allclose(x[ok], y[ok], rtol=rel, atol=1e-12, err_msg=col)


def test_large_offset_gives_exact_variance_on_spark(tmp_path, engine):
    """1e9 + {1, 2, 3}: variance 1.0 (the naive sum-of-squares formula gives 0)."""
    path = tmp_path / "u.csv"
    pd.DataFrame({"user_id": range(6), "variant": ["control"] * 3 + ["treatment"] * 3,
                  "revenue": [1e9 + 1, 1e9 + 2, 1e9 + 3] * 2}).to_csv(path, index=False)
    exp = make_exp(path, [{"name": "revenue", "kind": "mean", "column": "revenue"}])
    stats = aggregate(exp, engine=engine).stats("revenue")
    assert stats["control"].var == 1.0 and stats["treatment"].var == 1.0


def test_users_spark_duckdb_numpy_agree(tmp_path, engine):
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame({"user_id": np.arange(n), "variant": rng.choice(["control", "treatment"], n),
                       "exposed": pd.Timestamp("2026-11-02") + pd.to_timedelta(rng.integers(0, 20 * 86400, n), unit="s"),
                       "converted": rng.binomial(1, 0.3, n), "revenue": 1e5 + rng.gamma(2.0, 5.0, n),
                       "pre": rng.normal(10, 3, n), "sessions": rng.poisson(2, n) + 1.0,
                       "country": rng.choice(["US", "DE"], n)})
    df["exposed"] = df["exposed"].astype("datetime64[us]")
    path = tmp_path / "u.parquet"
    df.to_parquet(path)
    metrics = [{"name": "conversion", "kind": "proportion", "column": "converted"},
               {"name": "revenue", "kind": "mean", "column": "revenue", "covariate_column": "pre"},
               {"name": "rps", "kind": "ratio", "column": "revenue", "denominator_column": "sessions", "covariate_column": "pre"}]
    exp = make_exp(path, metrics, timestamp_col="exposed").model_copy(update={"dimensions": ["country"]})
    duck = aggregate(exp, week="2026-W47")
    spark = aggregate(exp, week="2026-W47", engine=engine)
    assert spark.engine == "spark" and duck.engine == "duckdb"
    assert_same(duck.moments, spark.moments)
    assert duck.dimension_counts.equals(spark.dimension_counts)
    # no week: both engines find the data's latest week (exposures run to 2026-11-21, in 2026-W47)
    spark_all = aggregate(exp, engine=engine)
    assert [lk.label for lk in spark_all.looks] == [lk.label for lk in duck.looks]
    assert_same(duck.moments, spark_all.moments)
    # and both agree with numpy's two-pass formulas at the last look
    last = df[df.exposed < pd.Timestamp("2026-11-23")]
    for variant, g in last.groupby("variant"):
        y, x, d = g.revenue.to_numpy(), g.pre.to_numpy(), g.sessions.to_numpy()
        row = spark.moments.query("k == 2 and metric == 'rps' and variant == @variant").iloc[0]
        expected = {"n": len(y), "mean": y.mean(), "m2": ((y - y.mean()) ** 2).sum(),
                    "cross_m2": ((x - x.mean()) * (y - y.mean())).sum(), "den_m2": ((d - d.mean()) ** 2).sum(),
                    "num_den_m2": ((y - y.mean()) * (d - d.mean())).sum(), "cov_den_m2": ((x - x.mean()) * (d - d.mean())).sum()}
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-9), key


def test_events_weekly_spark_matches_duckdb(tmp_path, engine):
    rng = np.random.default_rng(5)
    n = 3000
    ev = pd.DataFrame({"user_id": rng.integers(0, 600, n), "event": rng.choice(["exposure", "click", "purchase"], n),
                       "timestamp": pd.Timestamp("2026-10-30") + pd.to_timedelta(rng.integers(0, 25 * 86400, n), unit="s"),
                       "value": rng.gamma(2.0, 10.0, n).round(2)})
    ev["variant"] = np.where(ev.user_id % 2 == 0, "control", "treatment")
    path = tmp_path / "events.csv"
    ev.to_csv(path, index=False)
    metrics = [{"name": "clicks", "kind": "count", "event": "click"},
               {"name": "buyer", "kind": "proportion", "event": "purchase"},
               {"name": "aov", "kind": "ratio", "event": "purchase", "column": "value", "denominator_event": "purchase"}]
    exp = make_exp(path, metrics, kind="events")
    duck = aggregate(exp, week="2026-W47")
    spark = aggregate(exp, week="2026-W47", engine=engine)
    assert [lk.label for lk in spark.looks] == ["2026-W45", "2026-W46", "2026-W47"]
    assert_same(duck.moments, spark.moments)


def test_bad_input_same_code_on_spark(engine):
    exp = make_exp(FIXTURES / "users_missing_column.csv", [{"name": "conversion", "kind": "proportion", "column": "converted"}])
    with pytest.raises(AggregationError) as info:
        aggregate(exp, engine=engine)
    assert info.value.code == "MISSING_COLUMN" and "did you mean 'convertd'?" in str(info.value)
    exp = make_exp(FIXTURES / "users_nan.csv", [{"name": "revenue", "kind": "mean", "column": "revenue"}])
    with pytest.raises(AggregationError, match=r"2 of 4 row\(s\)") as info:
        aggregate(exp, engine=engine)
    assert info.value.code == "NAN_VALUES"
