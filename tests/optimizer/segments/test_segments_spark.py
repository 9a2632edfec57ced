"""The segments SQL on Spark (local[1]) gives the same per-customer features as DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # a JVM start: ~30-40 s on a busy machine
pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: the Spark engine cannot be tested")

from experiments.aggregate_spark import SparkEngine, local_session  # noqa: E402
from optimizer.segments.aggregate import customer_features  # noqa: E402
from optimizer.segments.config import SegmentsConfig  # noqa: E402
from optimizer.segments.simulate import simulate_transactions  # noqa: E402


HAND = (Path(__file__).resolve().parents[2] / "fixtures" / "segments" / "hand.csv").read_text()


@pytest.fixture(scope="module")
def engine():
    session = local_session("dmpopt-segments-tests", cores=1)
    eng = SparkEngine(session)
    yield eng
    eng.close()
    session.stop()


def test_spark_equals_duckdb(engine, tmp_path):
    hand = tmp_path / "hand.csv"
    hand.write_text(HAND)
    sim = tmp_path / "sim.csv"
    simulate_transactions(300, dt.date(2025, 1, 1), 200, seed=2).to_csv(sim, index=False)
    for path, cfg in ((hand, SegmentsConfig(as_of=dt.date(2025, 1, 11))), (sim, SegmentsConfig())):
        duck = customer_features(cfg, path)
        spark = customer_features(cfg, path, engine=engine)
        assert spark.counts == duck.counts and spark.as_of == duck.as_of
        a, b = duck.customers, spark.customers
        assert list(a["customer"]) == list(b["customer"])
        for col in a.columns[1:]:
            np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-12, err_msg=col)
