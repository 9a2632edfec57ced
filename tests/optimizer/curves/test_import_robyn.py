"""Robyn import: parity with Robyn's own response values, version conventions and bad exports.

Fixtures: tests/fixtures/curves_import/make_robyn.py (robyn_write() layout from facebookexperimental/
Robyn R/R/json.R v3.12.1; response values from robynpy 0.3.6's Transformation.adstock_geometric and
saturation_hill, and for v3.12 R/R/transformation.R:209 ``inflexion <- max(x) * gamma``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.curves.curvefile import evaluate, load_curves
from optimizer.curves.importers.robyn import import_robyn
from optimizer.errors import DataError

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "curves_import"
runner = CliRunner()


@pytest.mark.parametrize("name", ["robyn_v3_11", "robyn_v3_12"])
def test_parity_with_robyn_response_values(name):
    """The steady-state curve equals coef * hill(adstock(x repeated)) computed by Robyn's own functions."""
    cf = import_robyn(FIX / f"{name}.json", currency="USD")
    ref = pd.read_csv(FIX / f"{name}_response.csv")
    assert set(ref.channel) == set(cf.channels)
    for ch, rows in ref.groupby("channel"):
        got = evaluate(cf.channels[ch].response, rows.spend.to_numpy())
        np.testing.assert_allclose(got, rows.response.to_numpy(), rtol=1e-6)
    assert cf.channels["tv_S"].response.kind == "s_hill"  # alpha 2.2 > 1
    assert cf.channels["search_S"].response.kind == "hill"
    assert cf.channels["tv_S"].adstock.decay == 0.55 and not cf.channels["tv_S"].adstock.normalised
    assert cf.kpi.unit == "currency" and cf.period == "week"


def test_the_two_inflexion_conventions_differ_by_the_range_term():
    """Robyn <= 3.11: inflexion = (1-g) min(e) + g max(e) (R/R/transformation.R before #1132); 3.12: g max(e).

    Same data and hyperparameters, so the half-saturation spends differ by (1 - g) min(e) (1 - theta),
    with e the adstocked spend of the window (e_t = x_t + theta e_{t-1}, computed here independently).
    """
    doc = json.loads((FIX / "robyn_v3_11.json").read_text())
    rows = doc["Extras"]["raw_data"]
    g, th = 0.7, 0.55
    e, acc = [], 0.0
    for r in rows:
        acc = r["tv_S"] + th * acc
        e.append(acc)
    e_min = min(e[8:])  # the window starts at row 9
    assert e_min > 0
    a = import_robyn(FIX / "robyn_v3_11.json", currency="USD").channels["tv_S"].response
    b = import_robyn(FIX / "robyn_v3_12.json", currency="USD").channels["tv_S"].response
    assert a.half_saturation_spend - b.half_saturation_spend == pytest.approx((1 - g) * e_min * (1 - th), rel=1e-9)


def _edit(tmp_path, fn) -> Path:
    doc = json.loads((FIX / "robyn_v3_12.json").read_text())
    fn(doc)
    p = tmp_path / "RobynModel-x.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["InputCollect"].update(version=["Robyn (stable) v2.0.1 [R-4.1]"]),
     "InputCollect.version is 'Robyn (stable) v2.0.1 [R-4.1]'; dmpopt reads robyn_write() exports of Robyn 3.6"),
    (lambda d: d["InputCollect"].update(adstock=["weibull_pdf"]), "InputCollect.adstock is 'weibull_pdf'"),
    (lambda d: d.pop("ExportedModel"), "ExportedModel.hyper_values is missing"),
    (lambda d: d.pop("Extras"), "Extras.raw_data is not a table; re-export with robyn_write(..., add_data = TRUE)"),
    (lambda d: d["ExportedModel"]["hyper_values"].pop("tv_S_gammas"), "has no tv_S_gammas for channel 'tv_S'"),
])
def test_bad_exports_are_named(tmp_path, edit, expected):
    p = _edit(tmp_path, edit)
    with pytest.raises(DataError) as exc:
        import_robyn(p, currency="USD")
    assert str(exc.value).startswith(f"{p}: ") and expected in str(exc.value)


def test_cli_import_writes_a_curves_file_and_fails_cleanly(tmp_path):
    out = tmp_path / "fitted"
    res = runner.invoke(app, ["curves", "import", "--from", "robyn", str(FIX / "robyn_v3_12.json"), "--out", str(out),
                              "--currency", "USD"])
    assert res.exit_code == 0, res.output
    cf = load_curves(out / "curves.yaml")
    assert cf.source.tool == "robyn" and cf.source.tool_version.startswith("Robyn (stable) v3.12.1")
    bad = _edit(tmp_path, lambda d: d["InputCollect"].update(version=["Robyn (dev) v2.0.0"]))
    res = runner.invoke(app, ["curves", "import", "--from", "robyn", str(bad), "--out", str(out), "--currency", "USD"])
    assert res.exit_code == 1 and "Traceback" not in res.output and "InputCollect.version" in res.output
    res = runner.invoke(app, ["curves", "import", "--from", "robin", str(bad), "--out", str(out)])
    assert res.exit_code == 1 and "did you mean 'robyn'?" in res.output
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "curves.yaml").write_text("date: date\n")  # a `curves fit` config: never overwritten
    res = runner.invoke(app, ["curves", "import", "--from", "robyn", str(FIX / "robyn_v3_12.json"), "--out",
                              str(config), "--currency", "USD"])
    assert res.exit_code == 1 and "is not a curves file; refusing to overwrite it" in res.output
    assert (config / "curves.yaml").read_text() == "date: date\n"


def test_shipped_example_is_the_import_of_the_fixture():
    """scenarios/curves/imported/curves.yaml (used by scenarios/budget_from_curves.yaml) is not stale."""
    shipped = load_curves(FIX.parents[2] / "scenarios" / "curves" / "imported" / "curves.yaml")
    assert shipped == import_robyn(FIX / "robyn_v3_12.json", currency="USD")


def test_roi_is_robyns_performance_and_agrees_with_the_rebuilt_curve():
    """Robyn's summary.performance (ROAS over the window) equals sum(coef * hill(e_t)) / sum(x_t) recomputed
    here from raw_data with the imported parameters: the rebuilt inflexion and Robyn's numbers agree."""
    doc = json.loads((FIX / "robyn_v3_12.json").read_text())
    cf = import_robyn(FIX / "robyn_v3_12.json", currency="USD")
    rows = doc["Extras"]["raw_data"][8:]  # the window
    for ch, (a, th) in {"tv_S": (2.2, 0.55), "search_S": (0.8, 0.1)}.items():
        e, acc = [], 0.0
        for r in doc["Extras"]["raw_data"]:
            acc = r[ch] + th * acc
            e.append(acc)
        e = np.array(e[8:])
        r = cf.channels[ch].response
        infl = r.half_saturation_spend / (1 - th)  # back from the steady-state curve to Robyn's inflexion
        decomp = r.max_response * e**a / (e**a + infl**a)
        assert cf.channels[ch].roi.mean == pytest.approx(decomp.sum() / sum(x[ch] for x in rows), rel=1e-8)
