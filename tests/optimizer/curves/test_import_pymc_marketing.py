"""PyMC-Marketing import: parity with the tool's own curves (mean and per draw) and bad files.

Fixtures: tests/fixtures/curves_import/make_pymc_marketing.py (pymc-marketing 0.19.2: MMM fitted by
NUTS and saved with MMM.save; response values from the components rebuilt from the saved attrs and
evaluated by pytensor).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.curves.curvefile import evaluate, evaluate_draws
from optimizer.curves.importers.pymc_marketing import import_pymc_marketing
from optimizer.errors import DataError

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "curves_import"


def test_logistic_mean_curve_parity():
    """The table is the posterior-mean curve: equal to PyMC-Marketing's mean over draws at its spends."""
    cf = import_pymc_marketing(FIX / "pymc_logistic.nc", currency="EUR")
    ref = pd.read_csv(FIX / "pymc_logistic_response.csv")
    for ch, rows in ref.groupby("channel"):
        got = evaluate(cf.channels[ch].response, rows.spend.to_numpy())
        np.testing.assert_allclose(got, rows.response.to_numpy(), rtol=1e-6, atol=1e-9)
        assert cf.channels[ch].draws.kind == "table"  # logistic has no closed form among the budget's kinds
        assert cf.channels[ch].adstock.normalised
    assert cf.period == "week" and cf.currency == "EUR" and cf.source.tool_version == "0.19.2"
    assert any("'logistic' saturation has no closed form" in w and "carried as tables" in w for w in cf.warnings)
    lo, hi = cf.channels["tv"].roi.low, cf.channels["tv"].roi.high
    assert lo <= cf.channels["tv"].roi.mean <= hi


def test_hill_draws_parity():
    """Every draw is carried in closed form: each equals the tool's own per-draw curve at its spends."""
    cf = import_pymc_marketing(FIX / "pymc_hill.nc", currency="USD")
    ref = pd.read_csv(FIX / "pymc_hill_draws.csv")
    for ch, rows in ref.groupby("channel"):
        d = cf.channels[ch].draws
        assert d is not None and d.kind == "hill" and d.n_draws == 60
        for i, r in rows.groupby("draw"):
            got = evaluate_draws(d, r.spend.to_numpy())[int(i)]
            np.testing.assert_allclose(got, r.response.to_numpy(), rtol=1e-6, atol=1e-9)
    mean = pd.read_csv(FIX / "pymc_hill_response.csv")
    for ch, rows in mean.groupby("channel"):
        got = evaluate_draws(cf.channels[ch].draws, rows.spend.to_numpy()).mean(axis=0)
        np.testing.assert_allclose(got, rows.response.to_numpy(), rtol=1e-6, atol=1e-9)
        if cf.channels[ch].response.kind == "table":
            np.testing.assert_allclose(evaluate(cf.channels[ch].response, rows.spend.to_numpy()),
                                       rows.response.to_numpy(), rtol=1e-6, atol=1e-9)


def test_logistic_draws_are_carried_as_tables():
    """Each posterior draw of the default (logistic) saturation becomes a table draw on the response's spends:
    equal to the tool's own per-draw curve (pytensor, make_pymc_marketing.py) at its spends, and their mean
    equal to the imported posterior-mean table."""
    cf = import_pymc_marketing(FIX / "pymc_logistic.nc", currency="EUR")
    ref = pd.read_csv(FIX / "pymc_logistic_draws.csv")
    for ch, rows in ref.groupby("channel"):
        d = cf.channels[ch].draws
        assert d.kind == "table" and d.n_draws == 60 and len(d.spend) == 240
        for i, r in rows.groupby("draw"):
            got = evaluate_draws(d, r.spend.to_numpy())[int(i)]
            np.testing.assert_allclose(got, r.response.to_numpy(), rtol=1e-6, atol=1e-9)
        knots = np.asarray(d.spend)
        np.testing.assert_allclose(evaluate_draws(d, knots).mean(axis=0), evaluate(cf.channels[ch].response, knots),
                                   rtol=1e-12)


def test_many_logistic_draws_are_thinned_evenly(monkeypatch):
    """Above MAX_TABLE_DRAWS the draws are thinned to evenly spaced ones (the first and last kept), and the
    warning says how many of how many."""
    import optimizer.curves.importers.pymc_marketing as pm

    full = import_pymc_marketing(FIX / "pymc_logistic.nc", currency="EUR")
    monkeypatch.setattr(pm, "MAX_TABLE_DRAWS", 20)
    cf = pm.import_pymc_marketing(FIX / "pymc_logistic.nc", currency="EUR")
    keep = np.unique(np.linspace(0, 59, 20).round().astype(int))
    assert keep[0] == 0 and keep[-1] == 59 and keep.size == 20
    for ch in ("tv", "search"):
        np.testing.assert_array_equal(np.asarray(cf.channels[ch].draws.params["response"]),
                                      np.asarray(full.channels[ch].draws.params["response"])[keep])
    assert any("its draws (20 of 60, evenly spaced) are carried as tables" in w for w in cf.warnings)


def test_a_draw_that_cannot_be_a_table_drops_the_draws_not_the_import(tmp_path):
    """A draw with a negative response (lam < 0 in one draw) cannot be a table draw: the point curve still
    imports, the draws are dropped and the warning names the draw."""
    import shutil

    import h5py

    p = tmp_path / "neg.nc"
    shutil.copy(FIX / "pymc_logistic.nc", p)
    with h5py.File(p, "r+") as f:
        lam = f["posterior"]["saturation_lam"]
        v = lam[()]
        v[0, 7, 0] = -abs(v[0, 7, 0])  # draw 7 of the first channel in the file
        lam[...] = v
    cf = import_pymc_marketing(p, currency="EUR")
    dropped = [c for c, ch in cf.channels.items() if ch.draws is None]
    assert len(dropped) == 1
    assert any(f"channel {dropped[0]!r}: the 'logistic' draws are not carried" in w and "[7]" in w for w in cf.warnings)


def _copy_with_attr(tmp_path, key, value):
    import shutil

    import h5py

    p = tmp_path / "model.nc"
    shutil.copy(FIX / "pymc_logistic.nc", p)
    with h5py.File(p, "r+") as f:
        f.attrs[key] = value
    return p


@pytest.mark.parametrize("key, value, expected", [
    ("adstock", '{"lookup_name": "weibull_pdf", "l_max": 6}', "attribute adstock is 'weibull_pdf'"),
    ("saturation", '{"lookup_name": "tanh", "prefix": "saturation"}', "attribute saturation is 'tanh'; supported"),
    ("dims", '["geo"]', "the model has extra dimensions ['geo']"),
    ("time_varying_media", "true", "time_varying_media is on"),
])
def test_unsupported_models_are_refused(tmp_path, key, value, expected):
    p = _copy_with_attr(tmp_path, key, value)
    with pytest.raises(DataError, match=re.escape(expected)):
        import_pymc_marketing(p, currency="USD")


def test_bad_files(tmp_path):
    p = tmp_path / "x.nc"
    p.write_text("not hdf5")
    with pytest.raises(DataError, match="is not a NetCDF4/HDF5 file"):
        import_pymc_marketing(p, currency="USD")
    z = tmp_path / "model.zarr"
    z.mkdir()
    with pytest.raises(DataError, match="is a Zarr store; dmpopt reads NetCDF"):
        import_pymc_marketing(z, currency="USD")
    with pytest.raises(DataError, match="pass --currency"):
        import_pymc_marketing(FIX / "pymc_logistic.nc")


def test_1x_attrs_with_type_keys_read_the_same(tmp_path):
    """pymc-marketing 1.x writes ``__type__`` (serialization.py: ``{"__type__": type_key, **to_dict()}``)
    instead of 0.x's ``lookup_name``; the same model must import the same."""
    import json

    import h5py

    p = _copy_with_attr(tmp_path, "version", "0.0.2")
    with h5py.File(p, "r+") as f:
        for key, cls in (("adstock", "adstock.GeometricAdstock"), ("saturation", "saturation.LogisticSaturation")):
            d = json.loads(f.attrs[key])
            d.pop("lookup_name")
            f.attrs[key] = json.dumps({"__type__": f"pymc_marketing.mmm.components.{cls}", **d})
    a = import_pymc_marketing(FIX / "pymc_logistic.nc", currency="USD")
    b = import_pymc_marketing(p, currency="USD")
    assert a.channels == b.channels


def test_s_shaped_mean_curve_falls_back_to_the_median_hill(tmp_path):
    """Slope 3 in every draw: the mean curve is convex at first, so no concave table; the response is
    the S-Hill at the posterior-median draw parameters (and the draws are still carried)."""
    import shutil

    import h5py

    p = tmp_path / "s.nc"
    shutil.copy(FIX / "pymc_hill.nc", p)
    with h5py.File(p, "r+") as f:
        f["posterior"]["saturation_slope"][...] = 3.0
    cf = import_pymc_marketing(p, currency="USD")
    for ch, c in cf.channels.items():
        assert c.response.kind == "s_hill" and c.response.shape == 3.0
        assert c.response.half_saturation_spend == pytest.approx(np.median(c.draws.params["half_saturation_spend"]))
        assert c.response.max_response == pytest.approx(np.median(c.draws.params["max_response"]))
    assert any("S-shaped; the response is the Hill curve at the posterior-median" in w for w in cf.warnings)


def test_unsupported_version_is_refused_by_the_cli(tmp_path):
    import shutil

    import h5py
    from typer.testing import CliRunner

    from optimizer.cli import app

    p = tmp_path / "model.nc"
    shutil.copy(FIX / "pymc_logistic.nc", p)
    with h5py.File(p, "r+") as f:
        f["posterior"].attrs["pymc_marketing_version"] = "0.4.2"
    res = CliRunner().invoke(app, ["curves", "import", "--from", "pymc-marketing", str(p), "--out",
                                   str(tmp_path / "out"), "--currency", "USD"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "pymc_marketing_version is '0.4.2'; dmpopt reads models saved by pymc-marketing 0.8 to 1.x" in res.output
