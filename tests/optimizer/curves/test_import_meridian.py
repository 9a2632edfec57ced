"""Meridian import: parity with a REAL Meridian fit, plus versions and bad files.

Parity (``test_real_*``): tests/fixtures/curves/meridian/make_meridian_fixture.py fitted a small
Meridian model (google-meridian 2.1.0, TensorFlow 2.21.0, tfp-nightly 0.26.0.dev20260130; national,
3 channels, 80 weeks; data seed 20261202, MCMC seed 7; versions in meridian_fixture.json) in a
separate venv, wrote the Mmm proto with Meridian's own ``mmm_proto_generator.create_mmm_proto`` and,
independently, Meridian's ``Analyzer.response_curves(use_posterior=True, selected_times=...)`` to
meridian_response_curves.csv (spend, incremental_outcome mean / ci_lo / ci_hi per spend multiplier).
No TensorFlow is needed here: the test reads the committed files. The same CSVs (mean and 90 % interval)
are the known answer for the posterior draws that optimizer/curves/importers/meridian_draws.py rebuilds
from the proto.

Synthetic fixture (the other tests): tests/fixtures/curves_import/make_meridian.py, written with
Meridian's schema package (mmm-proto-schema 1.6.0) and hand-made curve values; it covers the text
format, a hand-set version string, the ROI interval layout and the error paths.
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
REAL = Path(__file__).resolve().parents[2] / "fixtures" / "curves" / "meridian"


@pytest.mark.parametrize("suffix", ["binpb", "txtpb"])
def test_synthetic_proto_points_in_both_formats(suffix):
    """Synthetic fixture, wire and text format: f(S / n) = Y / n and, per cell of n periods, n f(S / n) = Y."""
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
        assert cf.channels[ch].draws is None  # no posterior in the synthetic proto, so no draws
    assert any(w.startswith("no posterior draws carried: mmm_kernel.model has no inference_data.posterior")
               for w in cf.warnings)
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


# --------------------------------------------------------------------------- real Meridian fit
def _real_reference() -> tuple[dict, pd.DataFrame]:
    import json

    return json.loads((REAL / "meridian_fixture.json").read_text()), pd.read_csv(REAL / "meridian_response_curves.csv")


@pytest.mark.parametrize("analysis, tag, n", [(0, "all", 80), (1, "last_quarter", 13)])
def test_real_meridian_parity_with_analyzer_response_curves(analysis, tag, n):
    """dmpopt's curve at Meridian's own spend points equals Meridian's incremental outcome (rtol 1e-6).

    Reference: meridian_response_curves.csv, written by ``Analyzer(mmm).response_curves(use_posterior=True,
    selected_times=<the interval's weeks>, confidence_level=0.9)`` of google-meridian 2.1.0 (columns ``spend``
    and ``incremental_outcome`` at ``metric="mean"``), called separately from the proto writer. Conversion
    (importer docstring): per period f(spend / n) = outcome / n; per cell of n periods n f(spend / n) = outcome.
    """
    info, ref = _real_reference()
    cf = import_meridian(REAL / "meridian_mmm.binpb", analysis=analysis)
    assert cf.source.tool_version == info["versions"]["google-meridian"] == "2.1.0"
    assert cf.currency == "USD" and cf.period == "week" and cf.kpi.unit == "currency"  # metadata, not defaults
    assert cf.source.settings["n_periods"] == n and cf.source.settings["tag"] == tag
    assert cf.source.settings["date_interval"] == info["analyses"][tag]
    rows_all = ref[ref.analysis == tag]
    # the proto's synthetic "All Channels" media analysis has no response curve and is skipped
    assert sorted(cf.channels) == sorted(info["channels"]) == sorted(rows_all.channel.unique())
    for ch, rows in rows_all.groupby("channel"):
        r = cf.channels[ch].response
        s, y = rows.spend.to_numpy(), rows.incremental_outcome_mean.to_numpy()
        assert len(s) == 11 and y[0] == 0.0 and np.all(np.diff(y) > 0)
        np.testing.assert_allclose(evaluate(r, s / n), y / n, rtol=1e-6, atol=1e-9)
        cell = TableResponse(**_scaled("table", r.model_dump(), n))
        np.testing.assert_allclose(evaluate(cell, s), y, rtol=1e-6, atol=1e-6)
        # ROI (media_outcomes) and spend (spend_info) agree with the curve at multiplier 1: ROI = outcome / spend
        one = rows.iloc[int(np.argmin(np.abs(rows.spend_multiplier.to_numpy() - 1.0)))]
        assert cf.channels[ch].historical_spend.mean * n == pytest.approx(one.spend, rel=1e-9)
        assert cf.channels[ch].roi.mean == pytest.approx(one.incremental_outcome_mean / one.spend, rel=1e-6)
        assert cf.channels[ch].roi.interval == pytest.approx(0.9)
        assert cf.channels[ch].roi.low < cf.channels[ch].roi.mean < cf.channels[ch].roi.high
        assert cf.channels[ch].marginal_roi.mean > 0
        assert cf.channels[ch].draws.kind == "table" and cf.channels[ch].draws.n_draws == 100  # rebuilt posterior


def test_real_meridian_table_between_the_proto_points():
    """How far the table through the proto's 11 points (multipliers 0, 0.2, ..., 2) is from Meridian's curve
    between them, on the whole window.

    Reference: meridian_response_curves_dense.csv, Analyzer.response_curves at multipliers 0, 0.05, ..., 2
    (google-meridian 2.1.0, same fit). Meridian's curve is concave, so the table (its chords) lies at or below
    it. Measured when the fixture was made: relative gap <= 0.87 % for multipliers in [0.5, 2], <= 2.3 % in
    [0.2, 0.5), up to 24 % at 0.05 (the proto has no point between 0 and 0.2).
    """
    cf = import_meridian(REAL / "meridian_mmm.binpb")
    n = cf.source.settings["n_periods"]
    dense = pd.read_csv(REAL / "meridian_response_curves_dense.csv")
    for ch, rows in dense.groupby("channel"):
        k, s, y = rows.spend_multiplier.to_numpy(), rows.spend.to_numpy(), rows.incremental_outcome_mean.to_numpy()
        got = n * evaluate(cf.channels[ch].response, s / n)
        assert np.all(got <= y * (1 + 1e-9) + 1e-9)
        gap = (y - got)[k > 0] / y[k > 0]
        kk = k[k > 0]
        assert gap[kk >= 0.5].max() < 0.01 and gap[kk >= 0.2].max() < 0.025
        on_grid = np.isclose((kk / 0.2) % 1, 0) | np.isclose((kk / 0.2) % 1, 1)
        np.testing.assert_allclose(gap[on_grid], 0.0, atol=1e-9)


def test_real_meridian_cli_import_and_kernel_only_file(tmp_path):
    """The CLI imports the real proto; a bare MmmKernel (what save_meridian writes) is refused in one line."""
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.curves.curvefile import load_curves
    from optimizer.curves.importers.meridian import read_mmm

    res = CliRunner().invoke(app, ["curves", "import", "--from", "meridian", str(REAL / "meridian_mmm.binpb"),
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    written = sorted(tmp_path.joinpath("out").glob("*.yaml"))
    assert written and load_curves(written[0]).channels.keys() == {"tv", "search", "social"}
    msg, _ = read_mmm(REAL / "meridian_mmm.binpb")
    kernel = tmp_path / "model.binpb"
    kernel.write_bytes(msg.mmm_kernel.SerializeToString())  # same layout as meridian_serde.save_meridian
    res = CliRunner().invoke(app, ["curves", "import", "--from", "meridian", str(kernel), "--out", str(tmp_path / "k")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "is an mmm.v1.MmmKernel (what meridian.schema.serde.meridian_serde.save_meridian writes" in res.output
    msg.marketing_analysis_list.Clear()  # a real Mmm without analyses is not mistaken for a kernel
    no_curves = tmp_path / "no_curves.binpb"
    no_curves.write_bytes(msg.SerializeToString())
    with pytest.raises(DataError, match=r"has no media_analyses with a response_curve; write the Mmm proto with "
                                        r"meridian\.schema\.mmm_proto_generator\.create_mmm_proto"):
        import_meridian(no_curves)


def test_real_meridian_non_revenue_kpi():
    """A conversions model (kpi_type non_revenue, no revenue_per_kpi): the curve is in KPI units.

    Reference: meridian_response_curves_conversions.csv, ``Analyzer(mmm).response_curves(use_posterior=True,
    use_kpi=True)`` of google-meridian 2.1.0 (marketing_processor uses use_kpi=True for such a model); whole
    window, n = 80 weeks. Meridian's ``roi`` for it is incremental KPI per currency unit of spend.
    """
    cf = import_meridian(REAL / "meridian_mmm_conversions.binpb")
    assert cf.kpi.name == "kpi" and cf.kpi.unit == "conversions" and cf.currency == "USD"
    n = cf.source.settings["n_periods"]
    assert n == 80
    ref = pd.read_csv(REAL / "meridian_response_curves_conversions.csv")
    for ch, rows in ref.groupby("channel"):
        s, y = rows.spend.to_numpy(), rows.incremental_outcome_mean.to_numpy()
        np.testing.assert_allclose(evaluate(cf.channels[ch].response, s / n), y / n, rtol=1e-6, atol=1e-9)
        one = rows.iloc[int(np.argmin(np.abs(rows.spend_multiplier.to_numpy() - 1.0)))]
        assert cf.channels[ch].roi.mean == pytest.approx(one.incremental_outcome_mean / one.spend, rel=1e-6)


# --------------------------------------------------------------------------- posterior draws (no TensorFlow)
@pytest.mark.parametrize("proto, csv, analysis, tag", [
    ("meridian_mmm.binpb", "meridian_response_curves.csv", 0, "all"),
    ("meridian_mmm.binpb", "meridian_response_curves.csv", 1, "last_quarter"),
    ("meridian_mmm_conversions.binpb", "meridian_response_curves_conversions.csv", 0, None),
])
def test_real_meridian_draws_match_analyzer_mean_and_interval(proto, csv, analysis, tag):
    """Draws rebuilt from the proto's posterior and marketing data reproduce Meridian's curve and its 90 % interval.

    Reference: Meridian's own ``Analyzer.response_curves(use_posterior=True, confidence_level=0.9)``
    (google-meridian 2.1.0; ``incremental_outcome`` at metric mean, ci_lo, ci_hi) in the fixture CSVs;
    the proto itself only carries the mean. Relative tolerance 1e-6 (measured: about 1e-15).
    """
    from optimizer.curves.importers.meridian_draws import meridian_curve_draws

    d = meridian_curve_draws(REAL / proto, analysis=analysis)
    ref = pd.read_csv(REAL / csv)
    if tag is not None:
        ref = ref[ref.analysis == tag]
    assert d.n_periods == (13 if tag == "last_quarter" else 80)
    got = d.summary(0.9)
    assert sorted(d.outcome) == sorted(ref.channel.unique())
    for ch, want in ref.groupby("channel"):
        want = want.sort_values("spend")
        g = got[got.channel == ch].sort_values("spend")
        assert d.outcome[ch].shape == (100, 11)  # 1 chain x 100 kept draws, 11 spend multipliers
        np.testing.assert_allclose(g.spend, want.spend, rtol=1e-12)
        np.testing.assert_allclose(g["mean"], want.incremental_outcome_mean, rtol=1e-6, atol=1e-9)
        if "incremental_outcome_ci_lo" in want:
            np.testing.assert_allclose(g["low"], want.incremental_outcome_ci_lo, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(g["high"], want.incremental_outcome_ci_hi, rtol=1e-6, atol=1e-9)
        # and the same mean as the proto's ResponsePoints the importer turns into the table
        cf = import_meridian(REAL / proto, analysis=analysis)
        np.testing.assert_allclose(d.outcome[ch].mean(axis=0) / d.n_periods,
                                   evaluate(cf.channels[ch].response, d.spend[ch] / d.n_periods), rtol=1e-6, atol=1e-9)


def _mutate_model(tmp_path, fn):
    from optimizer.curves.importers.meridian import message_classes, read_mmm

    msg, _ = read_mmm(REAL / "meridian_mmm.binpb")
    mm = message_classes()["MeridianModelLite"]()
    mm.ParseFromString(msg.mmm_kernel.model.value)
    fn(msg, mm)
    msg.mmm_kernel.model.value = mm.SerializeToString()
    p = tmp_path / "m.binpb"
    p.write_bytes(msg.SerializeToString())
    return p


def test_meridian_draws_refuse_what_they_do_not_rebuild(tmp_path):
    from optimizer.curves.importers.meridian_draws import meridian_curve_draws

    with pytest.raises(DataError, match="mmm_kernel.model has no inference_data.posterior"):
        meridian_curve_draws(FIX / "meridian_mmm.binpb")  # synthetic: no fitted model inside
    cases = [
        (lambda m, mm: setattr(mm.hyperparameters, "hill_before_adstock", True), "hill_before_adstock is true"),
        (lambda m, mm: setattr(mm.hyperparameters, "global_adstock_decay", "binomial"),
         "global_adstock_decay is 'binomial'; dmpopt rebuilds 'geometric' only"),
        (lambda m, mm: m.mmm_kernel.marketing_data.marketing_data_points[5].reach_frequency_variables.add(
            channel_name="yt"), r"marketing_data_points\[5\] has reach_frequency_variables"),
        (lambda m, mm: mm.inference_data.ClearField("posterior"), "has no inference_data.posterior"),
    ]
    for fn, message in cases:
        with pytest.raises(DataError, match=message):
            meridian_curve_draws(_mutate_model(tmp_path, fn))
    # the unmodified round trip through the lite classes still works (unknown fields are kept)
    d = meridian_curve_draws(_mutate_model(tmp_path, lambda m, mm: None))
    assert d.outcome["tv"].shape == (100, 11)


# --------------------------------------------------------------------------- draws carried into the curves file
@pytest.mark.parametrize("analysis, tag", [(0, "all"), (1, "last_quarter")])
def test_real_meridian_imported_draws_are_the_posterior_per_period(analysis, tag):
    """The curves file's table draws are the rebuilt posterior / n on the point curve's knots.

    Known answers: (1) ``meridian_curve_draws`` (its outcome / n_periods, exactly); (2) Meridian's own
    ``Analyzer.response_curves(use_posterior=True, confidence_level=0.9)`` (google-meridian 2.1.0,
    meridian_response_curves.csv): the mean over the written draws at Meridian's spend points is its
    ``incremental_outcome`` mean / n, and their 5 % / 95 % quantiles its ci_lo / ci_hi / n (rtol 1e-6, the
    CSV's precision); (3) the mean over draws equals the imported point curve (the proto's posterior mean)
    to 1e-9 relative.
    """
    from optimizer.curves.curvefile import evaluate_draws
    from optimizer.curves.importers.meridian_draws import meridian_curve_draws

    cf = import_meridian(REAL / "meridian_mmm.binpb", analysis=analysis)
    d = meridian_curve_draws(REAL / "meridian_mmm.binpb", analysis=analysis)
    n = d.n_periods
    _, ref = _real_reference()
    assert any(w.startswith("posterior draws: 100 per channel for tv, search, social") for w in cf.warnings)
    for ch, rows in ref[ref.analysis == tag].groupby("channel"):
        c = cf.channels[ch]
        keep = d.spend[ch] > 0
        assert c.draws.kind == "table" and c.draws.spend == [x for x, _ in c.response.points]
        np.testing.assert_array_equal(c.draws.spend, d.spend[ch][keep] / n)
        np.testing.assert_array_equal(np.array(c.draws.params["response"]), d.outcome[ch][:, keep] / n)
        knots = np.array(c.draws.spend)
        np.testing.assert_allclose(evaluate_draws(c.draws, knots).mean(axis=0), evaluate(c.response, knots),
                                   rtol=1e-9, atol=0)
        rows = rows.sort_values("spend")
        y = evaluate_draws(c.draws, rows.spend.to_numpy() / n)  # includes spend 0 and between-knot checks
        np.testing.assert_allclose(y.mean(axis=0), rows.incremental_outcome_mean / n, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(np.quantile(y, 0.05, axis=0), rows.incremental_outcome_ci_lo / n, rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(np.quantile(y, 0.95, axis=0), rows.incremental_outcome_ci_hi / n, rtol=1e-6,
                                   atol=1e-9)


def test_real_meridian_point_curve_does_not_depend_on_draws():
    """Carrying draws changes nothing else: same point curves, ROI and settings as ``draws=False``."""
    with_d = import_meridian(REAL / "meridian_mmm.binpb")
    without = import_meridian(REAL / "meridian_mmm.binpb", draws=False)
    assert all(c.draws is None for c in without.channels.values())
    for ch, c in with_d.channels.items():
        assert c.model_copy(update={"draws": None}) == without.channels[ch]
    assert with_d.source == without.source


def _with_posterior(tmp_path, fn):
    """The real proto with its posterior (NetCDF3 in MeridianModel.inference_data.posterior) edited by ``fn``."""
    import io

    from scipy.io import netcdf_file

    def mutate(msg, mm):
        src = netcdf_file(io.BytesIO(mm.inference_data.posterior), mmap=False)
        buf = io.BytesIO()
        out = netcdf_file(buf, "w", version=src.version_byte)
        for name, size in src.dimensions.items():
            out.createDimension(name, size)
        for name, var in src.variables.items():
            v = out.createVariable(name, var.data.dtype, var.dimensions)
            data = np.array(var.data, copy=True)
            fn(name, data)
            v[:] = data
            for a, val in var._attributes.items():
                setattr(v, a, val)
        for a, val in src._attributes.items():
            setattr(out, a, val)
        out.flush()
        mm.inference_data.posterior = buf.getvalue()

    return _mutate_model(tmp_path, mutate)


def test_real_meridian_non_concave_draw_refuses_the_draws_not_the_import(tmp_path):
    """A posterior draw with Hill slope 3 (Meridian allows a slope prior > 1) is S-shaped: the channel's draws are
    refused with the draw and knot named, its point curve and the other channels' draws still import."""
    def steep(name, data):
        if name == "slope_m":
            data[0, 3, 0] = 3.0  # chain 0, draw 3, channel 0 (tv)

    p = _with_posterior(tmp_path, steep)
    cf = import_meridian(p)
    assert cf.channels["tv"].draws is None
    assert cf.channels["search"].draws.n_draws == cf.channels["social"].draws.n_draws == 100
    note = next(w for w in cf.warnings if w.startswith("channel 'tv': no posterior draws carried"))
    assert "draws.params.response[3][1]" in note and "draw 3 is not concave" in note and "\n" not in note
    assert cf.channels["tv"].response == import_meridian(REAL / "meridian_mmm.binpb").channels["tv"].response
