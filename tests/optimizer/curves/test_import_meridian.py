"""Meridian import: parity with the response points of the Mmm proto, versions and bad files.

Fixture: tests/fixtures/curves_import/make_meridian.py, written with Meridian's own schema package
(mmm-proto-schema 1.6.0, protobuf 6.33.6); meridian_mmm_points.csv lists the ResponsePoints it wrote
(input_value = spend over the interval, incremental_kpi = mean incremental outcome over the interval:
meridian/schema/processors/marketing_processor.py ``_compute_response_curve``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.curves.curvefile import evaluate
from optimizer.curves.importers.meridian import import_meridian
from optimizer.curves.reference import _scaled
from optimizer.budget.config import TableResponse
from optimizer.errors import DataError

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "curves_import"


@pytest.mark.parametrize("suffix", ["binpb", "txtpb"])
def test_parity_with_the_proto_response_points(suffix):
    """Per period: f(S / n) = Y / n; over the interval (periods_per_cell n): n f(S / n) = Y, for every point."""
    cf = import_meridian(FIX / f"meridian_mmm.{suffix}")
    assert cf.source.tool_version == "1.2.1" and cf.currency == "USD" and cf.period == "week"
    n = cf.source.settings["n_periods"]
    assert n == 104 and cf.source.settings["analysis"] == 1  # the longest interval is chosen
    pts = pd.read_csv(FIX / "meridian_mmm_points.csv")
    pts = pts[pts.analysis == 1]
    for ch, rows in pts.groupby("channel"):
        r = cf.channels[ch].response
        s, y = rows.input_value.to_numpy(), rows.incremental_kpi.to_numpy()
        np.testing.assert_allclose(evaluate(r, s / n), y / n, rtol=1e-6, atol=1e-9)
        cell = TableResponse(**_scaled("table", r.model_dump(), n))
        np.testing.assert_allclose(evaluate(cell, s), y, rtol=1e-6, atol=1e-9)
        assert cf.channels[ch].draws is None  # the proto holds posterior means only
    assert cf.channels["tv"].roi.interval == pytest.approx(0.9)
    # every field the lite schema declares came through: spend_info, the REVENUE enum, the ROI interval
    assert cf.channels["tv"].historical_spend.mean == pytest.approx(35_000.0)  # make_meridian.py weekly spend
    assert cf.kpi.unit == "currency"
    roi = cf.channels["search"].roi
    assert roi.low == pytest.approx(0.8 * roi.mean) and roi.high == pytest.approx(1.2 * roi.mean)


def test_a_chosen_analysis_and_its_period_count():
    cf = import_meridian(FIX / "meridian_mmm.binpb", analysis=0)
    assert cf.source.settings["n_periods"] == 13 and cf.source.settings["tag"] == "last quarter"


def _mutate(tmp_path, fn):
    from optimizer.curves.importers.meridian import read_mmm

    msg, _ = read_mmm(FIX / "meridian_mmm.binpb")
    fn(msg)
    p = tmp_path / "m.binpb"
    p.write_bytes(msg.SerializeToString())
    return p


def test_unsupported_version_and_bad_files(tmp_path):
    p = _mutate(tmp_path, lambda m: setattr(m.mmm_kernel.model, "value", b"\x12\x057.0.0"))
    with pytest.raises(DataError, match="model_version is '7.0.0'; dmpopt reads the Mmm proto of Meridian 1.x and 2.x"):
        import_meridian(p)
    p = _mutate(tmp_path, lambda m: m.marketing_analysis_list.Clear())
    with pytest.raises(DataError, match="has no media_analyses with a response_curve"):
        import_meridian(p)

    def s_shaped(m):
        pts = m.marketing_analysis_list.marketing_analyses[1].media_analyses[0].response_curve.response_points
        pts[1].incremental_kpi = 1.0  # slope rises after the second point: not concave
    with pytest.raises(DataError, match=r"media_analyses\[0\] \('tv'\) response_curve is not a concave table"):
        import_meridian(_mutate(tmp_path, s_shaped))
    bad = tmp_path / "x.binpb"
    bad.write_bytes(b"\xff\xff\xff")
    with pytest.raises(DataError, match="is not a wire-format mmm.v1.Mmm proto"):
        import_meridian(bad)
