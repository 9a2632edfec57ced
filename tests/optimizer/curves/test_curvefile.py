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


# --------------------------------------------------------------------------- table draws (e.g. Meridian's posterior)
def _table_draws(n_draws: int, seed: int = 5) -> CurveDraws:
    """Concave tables a * log1p(x / 300) on 6 shared knots, one scale a per draw."""
    rng = np.random.default_rng(seed)
    knots = [50.0, 100.0, 200.0, 400.0, 800.0, 1600.0]
    return CurveDraws(kind="table", spend=knots,
                      params={"response": [[float(a * np.log1p(x / 300)) for x in knots]
                                           for a in rng.uniform(500, 1500, n_draws)]})


@pytest.mark.parametrize("n_draws", [5, 120])
def test_table_draws_round_trip_inline_and_sidecar(tmp_path, n_draws):
    """Inline up to 50 draws; more go to the sidecar (array <channel>/response of shape (n_draws, n_knots)) while
    the shared knots stay in the YAML. load_curves returns an equal object either way."""
    cf = _file()
    cf = cf.model_copy(update={"channels": {**cf.channels, "search": cf.channels["search"].model_copy(
        update={"draws": _table_draws(n_draws)})}})
    path = write_curves(cf, tmp_path / "curves.yaml")
    assert sidecar_path(path).exists() == (n_draws > 50)
    assert load_curves(path) == cf
    import yaml

    stub = yaml.safe_load(path.read_text())["channels"]["search"]["draws"]
    assert stub["kind"] == "table" and stub["spend"] == _table_draws(2).spend
    if n_draws > 50:
        assert stub["n_draws"] == n_draws and "params" not in stub
        with np.load(sidecar_path(path)) as z:
            assert z["search/response"].shape == (n_draws, 6)


def test_table_draws_stale_sidecar_and_wrong_count_are_refused(tmp_path):
    cf = _file()
    cf = cf.model_copy(update={"channels": {"search": cf.channels["search"].model_copy(
        update={"draws": _table_draws(80)})}})
    path = write_curves(cf, tmp_path / "curves.yaml")
    other = cf.model_copy(update={"channels": {"search": cf.channels["search"].model_copy(
        update={"draws": _table_draws(80, seed=6)})}})
    other_path = write_curves(other, tmp_path / "other" / "curves.yaml")
    good = sidecar_path(path).read_bytes()
    sidecar_path(path).write_bytes(sidecar_path(other_path).read_bytes())
    with pytest.raises(ScenarioError, match=r"curves.yaml:\d+: channels.search.draws.file is 'curves.draws.npz', "
                                            r"but that file's SHA-256 .* another export"):
        load_curves(path)
    sidecar_path(path).write_bytes(good)
    path.write_text(path.read_text().replace("n_draws: 80", "n_draws: 81"))
    with pytest.raises(ScenarioError, match=r"says n_draws 81 but .*curves.draws.npz holds 80 draws for channel "
                                            r"'search'"):
        load_curves(path)


TABLE = GOOD + "    draws: {kind: table, spend: [10, 20, 30], params: {response: [[1, 2, 2.5], %s]}}\n"


@pytest.mark.parametrize("second, expected", [
    # slopes from (0, 0): 0.1, 0.2, 0.3 -> the first rise ends at knot 1
    ("[1, 3, 6]", r"c.yaml:9: channels.search.draws.params.response\[1\]\[1\] is 3; draw 1 is not concave: its slope "
                  r"rises from 0.1 to 0.2 up to spend 20 \(knot 1\); table draws must be concave from \(0, 0\) "
                  r"\(1 of 2 draws\)"),
    ("[1, 2, 3.5]", r"channels.search.draws.params.response\[1\]\[2\] is 3.5; draw 1 is not concave: its slope "
                    r"rises from 0.1 to 0.15 up to spend 30 \(knot 2\)"),
    ("[1, 2, 1.5]", r"channels.search.draws.params.response\[1\]\[2\] is 1.5; draw 1 falls as spend grows"),
    ("[1, 2]", r"channels.search.draws.params.response\[1\] is '2 values'; every draw needs one response per spend "
               r"knot \(3\)"),
    ("[1, .nan, 2]", r"channels.search.draws.params.response\[1\]\[1\] is nan; every response must be finite and >= 0"),
    ("[1, -2, 2]", r"channels.search.draws.params.response\[1\]\[1\] is -2; every response must be finite and >= 0"),
    ("[1, x, 2]", r"channels.search.draws.params.response\[1\]\[1\] is 'x'; expected a number"),
])
def test_bad_table_draws_name_file_line_path_and_draw(tmp_path, second, expected):
    with pytest.raises(ScenarioError, match=expected):
        load_curves(_write(tmp_path, TABLE % second))


def test_bad_table_knots_are_named(tmp_path):
    for text, expected in [
        (TABLE.replace("[10, 20, 30]", "[10, 30, 20]") % "[1, 2, 2.5]",
         r"channels.search.draws.spend\[2\] is 20; spend knots must increase strictly; 20 follows 30"),
        (TABLE.replace("[10, 20, 30]", "[-10, 20, 30]") % "[1, 2, 2.5]",
         r"channels.search.draws.spend\[0\] is -10; every knot must be finite and >= 0"),
        (TABLE.replace("spend: [10, 20, 30], ", "") % "[1, 2, 2.5]",
         r"channels.search.draws: table draws need spend"),
        (TABLE.replace("[10, 20, 30]", "[0, 20, 30]") % "[1, 2, 2.5]",
         r"channels.search.draws.params.response\[0\]\[0\] is 1; the response at spend 0 must be 0"),
        (GOOD + "    draws: {kind: hill, spend: [1], params: {max_response: [1, 2], half_saturation_spend: [1, 2], "
                "shape: [1, 1]}}\n", r"spend is given for 'hill' draws; only table draws have spend knots"),
    ]:
        with pytest.raises(ScenarioError, match=expected):
            load_curves(_write(tmp_path, text))


def test_evaluate_table_draws_known_values():
    """Straight lines from (0, 0) through the knots, flat after the last one (hand computed):
    draw 0 through (10, 1), (20, 2), (30, 2.5): f(5) = 0.5, f(15) = 1.5, f(25) = 2.25, f(99) = 2.5."""
    d = CurveDraws(kind="table", spend=[10.0, 20.0, 30.0], params={"response": [[1.0, 2.0, 2.5], [2.0, 3.0, 3.0]]})
    np.testing.assert_allclose(evaluate_draws(d, [0.0, 5.0, 15.0, 25.0, 99.0]),
                               [[0.0, 0.5, 1.5, 2.25, 2.5], [0.0, 1.0, 2.5, 3.0, 3.0]], rtol=1e-15)
    assert evaluate_draws(d, 15.0).shape == (2, 1)
    assert d.response(1) == {"kind": "table", "points": [[10.0, 2.0], [20.0, 3.0], [30.0, 3.0]]}


@settings(max_examples=60, deadline=None)
@given(knots=st.lists(st.integers(1, 10_000), min_size=1, max_size=8, unique=True),
       slopes=st.lists(st.lists(st.integers(0, 200), min_size=8, max_size=8), min_size=2, max_size=4),
       xs=st.lists(st.floats(0.0, 2e4), min_size=1, max_size=10))
def test_table_draws_evaluate_like_table_response(knots, slopes, xs):
    """Invariants: each draw evaluates as the budget's TableResponse of the same points (one model of a table),
    is non-decreasing in spend, and stays within [0, its largest knot response]."""
    from optimizer.budget.config import TableResponse

    k = np.sort(np.asarray(knots, dtype=float))
    widths = np.diff(np.r_[0.0, k])
    rows = []
    for s in slopes:  # non-increasing slopes (multiples of 1/4: exact sums) -> a concave table
        sl = np.sort(np.asarray(s[: k.size]) / 4)[::-1]
        rows.append(np.cumsum(sl * widths).tolist())
    d = CurveDraws(kind="table", spend=k.tolist(), params={"response": rows})
    x = np.sort(np.asarray(xs))
    y = evaluate_draws(d, x)
    for i in range(d.n_draws):
        np.testing.assert_allclose(y[i], evaluate(TableResponse(**d.response(i)), x), rtol=1e-12, atol=1e-9)
        assert np.all(np.diff(y[i]) >= -1e-9 * max(1.0, max(rows[i])))
        assert y[i].min() >= 0 and y[i].max() <= max(rows[i]) * (1 + 1e-12)
