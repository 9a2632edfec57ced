"""The curves file: round trip (inline and sidecar draws), version and field errors, evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.curves.curvefile import (
    ChannelCurves,
    CurveAdstock,
    CurveDraws,
    CurvesFile,
    Kpi,
    Source,
    evaluate,
    evaluate_draws,
    hill_response,
    load_curves,
    sidecar_path,
    write_curves,
)
from optimizer.errors import ScenarioError


def _file(n_draws: int = 0, seed: int = 1) -> CurvesFile:
    rng = np.random.default_rng(seed)
    draws = None
    if n_draws:
        draws = CurveDraws(kind="hill", params={
            "max_response": rng.uniform(900, 1100, n_draws).tolist(),
            "half_saturation_spend": rng.uniform(400, 600, n_draws).tolist(),
            "shape": rng.uniform(0.5, 1.5, n_draws).tolist(),
        })
    return CurvesFile(
        dmpopt_curves=1, source=Source(tool="robyn", tool_version="3.11.1", seed=7), currency="USD",
        kpi=Kpi(name="revenue", unit="currency"), period="week",
        channels={
            "search": ChannelCurves(response=hill_response(1000.0, 500.0, 0.8),
                                    adstock=CurveAdstock(decay=0.3, max_lag=4), draws=draws),
            "tv": ChannelCurves(response=hill_response(2000.0, 900.0, 2.5)),
        },
    )


@pytest.mark.parametrize("n_draws", [0, 5, 200])
def test_round_trip_inline_and_sidecar(tmp_path, n_draws):
    cf = _file(n_draws)
    path = write_curves(cf, tmp_path / "curves.yaml")
    assert sidecar_path(path).exists() == (n_draws > 50)
    back = load_curves(path)
    assert back == cf
    assert back.channels["tv"].response.kind == "s_hill"  # shape > 1 is the budget's s_hill


@settings(max_examples=30, deadline=None)
@given(m=st.floats(1e-3, 1e9), h=st.floats(1e-3, 1e9), n=st.floats(0.05, 1.0))
def test_round_trip_keeps_every_float_bit(tmp_path_factory, m, h, n):
    cf = CurvesFile(dmpopt_curves=1, source=Source(tool="dmpopt-fit"), currency="EUR",
                    kpi=Kpi(name="sales", unit="conversions"), period="day",
                    channels={"a": ChannelCurves(response=hill_response(m, h, n))})
    path = write_curves(cf, tmp_path_factory.mktemp("rt") / "c.yaml")
    assert load_curves(path) == cf


def test_evaluate_hill_known_values():
    """Hill at the half-saturation spend is max/2; at 3h with shape 1 it is 3/4 of max (closed form)."""
    r = hill_response(1000.0, 500.0, 1.0)
    np.testing.assert_allclose(evaluate(r, [0.0, 500.0, 1500.0]), [0.0, 500.0, 750.0], rtol=1e-12)
    d = CurveDraws(kind="hill", params={"max_response": [1000.0, 10.0], "half_saturation_spend": [500.0, 1.0],
                                        "shape": [1.0, 2.0]})
    np.testing.assert_allclose(evaluate_draws(d, [500.0, 1.0]), [[500.0, 1000.0 / 501.0], [10 * 500**2 / (500**2 + 1),
                                                                                          5.0]], rtol=1e-12)
    assert d.response(1)["kind"] == "s_hill"


def _write(tmp_path, text: str):
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """\
dmpopt_curves: 1
source: {tool: meridian}
currency: USD
kpi: {name: revenue, unit: currency}
period: week
channels:
  search:
    response: {kind: hill, max_response: 100, half_saturation_spend: 10, shape: 0.5}
"""


def test_good_minimal_file_loads(tmp_path):
    cf = load_curves(_write(tmp_path, GOOD))
    assert cf.channels["search"].response.max_response == 100


@pytest.mark.parametrize("version, expected", [
    ("2", "dmpopt_curves is 2; this dmpopt reads curves format version(s) 1"),
    ("'1'", "dmpopt_curves is '1'"),
    ("1.5", "dmpopt_curves is 1.5"),
])
def test_unknown_version_is_refused_with_line(tmp_path, version, expected):
    p = _write(tmp_path, GOOD.replace("dmpopt_curves: 1", f"dmpopt_curves: {version}"))
    with pytest.raises(ScenarioError) as exc:
        load_curves(p)
    assert f"{p}:1: {expected}" in str(exc.value)


def test_missing_version_says_not_a_curves_file(tmp_path):
    p = _write(tmp_path, GOOD.replace("dmpopt_curves: 1\n", ""))
    with pytest.raises(ScenarioError, match="not a dmpopt curves file"):
        load_curves(p)


def test_bad_fields_name_line_path_and_value(tmp_path):
    text = GOOD.replace("shape: 0.5}", "shape: -0.5}").replace("period: week", "period: weak")
    text = text.replace("source: {tool: meridian}", "source: {tool: meridian, tool_verison: '1'}")
    with pytest.raises(ScenarioError) as exc:
        load_curves(_write(tmp_path, text))
    msg = str(exc.value)
    assert "c.yaml:8: channels.search.response.shape is -0.5; input should be greater than 0" in msg
    assert "c.yaml:5: period is 'weak'" in msg
    assert "unknown key source.tool_verison; did you mean 'tool_version'?" in msg


def test_bad_draws_are_named(tmp_path):
    text = GOOD + "    draws: {kind: hill, params: {max_response: [1, 2], half_saturation_spend: [1, 2], shape: [1, -3]}}\n"
    with pytest.raises(ScenarioError, match=r"params.shape\[1\] is -3.0; every draw must be finite and > 0"):
        load_curves(_write(tmp_path, text))
    text = GOOD + "    draws: {kind: log, params: {scale: [1, 2]}}\n"
    with pytest.raises(ScenarioError, match=r"a 'log' draw needs exactly \['saturation_spend', 'scale'\]"):
        load_curves(_write(tmp_path, text))


def test_stale_or_missing_sidecar_is_refused(tmp_path):
    path = write_curves(_file(100), tmp_path / "curves.yaml")
    side = sidecar_path(path)
    other = write_curves(_file(100, seed=2), tmp_path / "other" / "curves.yaml")
    side.write_bytes(sidecar_path(other).read_bytes())
    with pytest.raises(ScenarioError, match="sidecar belongs to another export"):
        load_curves(path)
    side.unlink()
    with pytest.raises(ScenarioError, match=r"the draws sidecar .*curves.draws.npz cannot be read"):
        load_curves(path)


def test_steady_state_factor():
    """sum_{l=0..2} 0.5^l = 1.75; normalised weights sum to 1."""
    assert CurveAdstock(decay=0.5, max_lag=2).steady_state_factor == pytest.approx(1.75)
    assert CurveAdstock(decay=0.5, max_lag=2, normalised=True).steady_state_factor == 1.0


@pytest.mark.parametrize("tool, name", [("robyn", "robyn_v3_11.json"), ("pymc-marketing", "pymc_hill.nc"),
                                        ("meridian", "meridian_mmm.binpb")])
def test_every_import_round_trips_through_the_file(tmp_path, tool, name):
    """write_curves -> load_curves returns the imported object unchanged (tables, draws, settings)."""
    from pathlib import Path

    from optimizer.curves.importers import importer

    fix = Path(__file__).resolve().parents[2] / "fixtures" / "curves_import" / name
    cf = importer(tool)(fix, currency="USD")
    assert load_curves(write_curves(cf, tmp_path / "curves.yaml", inline_max_draws=10)) == cf
