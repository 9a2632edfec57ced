"""``response: {from: curves.yaml, channel: c}`` in a budget channel: resolution, draws and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.curves.curvefile import (
    ChannelCurves,
    CurveDraws,
    CurvesFile,
    Kpi,
    Source,
    evaluate,
    hill_response,
    write_curves,
)
from optimizer.curves.reference import CurveRef
from optimizer.errors import ScenarioError
from optimizer.runner import run
from optimizer.scenario import load_scenario

runner = CliRunner()


def _curves(tmp_path, unit="currency", n_draws=40, shape_hi=0.95):
    rng = np.random.default_rng(3)
    draws = CurveDraws(kind="hill", params={
        "max_response": rng.uniform(500_000, 700_000, n_draws).tolist(),
        "half_saturation_spend": rng.uniform(100_000, 200_000, n_draws).tolist(),
        "shape": rng.uniform(0.6, shape_hi, n_draws).tolist(),
    })
    cf = CurvesFile(
        dmpopt_curves=1, source=Source(tool="dmpopt-fit", seed=3), currency="CNY",
        kpi=Kpi(name="revenue", unit=unit), period="week",
        channels={
            "tv": ChannelCurves(response=hill_response(600_000.0, 150_000.0, 0.9), draws=draws),
            "search": ChannelCurves(response=hill_response(400_000.0, 80_000.0, 0.8)),
            "video": ChannelCurves(response=hill_response(300_000.0, 90_000.0, 2.0)),
        },
    )
    write_curves(cf, tmp_path / "fitted" / "curves.yaml")
    return cf


SCENARIO = """\
name: from-curves
currency: CNY
budget:
  total_budget: {{amount: 500000}}
  channels:
  - name: tv
    response: {tv}
  - name: paid_search
    response: {search}
"""


def _scenario(tmp_path, tv, search, extra=""):
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO.format(tv=tv, search=search) + extra, encoding="utf-8")
    return p


def _budget_dict(path):
    plan = run(load_scenario(path), seed=1)
    doc = plan.to_dict()
    return doc["sections"]["budget"] if "sections" in doc else doc["budget"]


def test_reference_plans_identically_to_inline_curve(tmp_path):
    _curves(tmp_path)
    ref = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv}", "{from: fitted/curves.yaml, channel: search}")
    inline_dir = tmp_path / "inline"
    inline_dir.mkdir()
    inline = _scenario(inline_dir, "{kind: hill, max_response: 600000.0, half_saturation_spend: 150000.0, shape: 0.9}",
                       "{kind: hill, max_response: 400000.0, half_saturation_spend: 80000.0, shape: 0.8}")
    a, b = load_scenario(ref), load_scenario(inline)
    assert a.model.budget == b.model.budget  # the reference becomes the very same curve
    ra, rb = _budget_dict(ref), _budget_dict(inline)
    for d in (ra, rb):
        d.pop("time_seconds")
    # only the provenance differs: the reference records its curves file (optimizer/budget/curve_sources.py)
    assert [c["channel"] for c in ra.pop("curve_sources")] == ["tv", "paid_search"] and rb.pop("curve_sources") == []
    assert ra["status"] == "optimal" and ra["total_response"] > 0
    assert ra == rb  # every allocation, response and certificate


def test_reference_paths_are_relative_to_the_scenario_file(tmp_path, monkeypatch):
    _curves(tmp_path)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv}", "{from: fitted/curves.yaml, channel: search}")
    monkeypatch.chdir(tmp_path / "fitted")
    assert load_scenario(p).model.budget.channels[0].response.max_response == 600_000.0


def test_s_shaped_curve_comes_through_as_s_hill(tmp_path):
    _curves(tmp_path)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: video}", "{from: fitted/curves.yaml, channel: search}")
    assert load_scenario(p).model.budget.channels[0].response.kind == "s_hill"


def test_periods_per_cell_scales_to_n_f_of_x_over_n(tmp_path):
    """A quarter of 13 weekly periods as one cell: f_13(x) = 13 f(x / 13) (spend spread evenly)."""
    cf = _curves(tmp_path)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, periods_per_cell: 13}",
                  "{from: fitted/curves.yaml, channel: search}")
    cell = load_scenario(p).model.budget.channels[0].response
    x = np.array([1e4, 1e5, 1e6, 5e6])
    np.testing.assert_allclose(evaluate(cell, x), 13 * evaluate(cf.channels["tv"].response, x / 13), rtol=1e-12)


def test_draws_true_feeds_uncertainty(tmp_path):
    cf = _curves(tmp_path)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, draws: true}",
                  "{from: fitted/curves.yaml, channel: search}",
                  extra="  advanced:\n    uncertainty: {objective: cvar, cvar_level: 0.2}\n")
    unc = load_scenario(p).model.budget.advanced.uncertainty
    assert unc.objective == "cvar" and [c.channel for c in unc.channels] == ["tv"]
    assert [d.max_response for d in unc.channels[0].draws] == cf.channels["tv"].draws.params["max_response"]
    assert _budget_dict(p)["status"] == "optimal"


def _error(path) -> str:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    return str(exc.value)


def test_missing_curves_file_names_scenario_line_field_and_file(tmp_path):
    p = _scenario(tmp_path, "{from: fitted/nope.yaml, channel: tv}", "{kind: linear, roi: 2}")
    msg = _error(p)
    assert f"{p}:7: budget.channels[0].response: the curves file {tmp_path / 'fitted' / 'nope.yaml'} does not exist" in msg
    assert f"relative to the scenario's folder {tmp_path}" in msg


def test_unknown_channel_suggests_the_close_name(tmp_path):
    _curves(tmp_path)
    p = _scenario(tmp_path, "{kind: linear, roi: 2}", "{from: fitted/curves.yaml, channel: serach}")
    msg = _error(p)
    assert f"{p}:9: budget.channels[1].response" in msg
    assert "channel 'serach' is not in the curves file" in msg and "did you mean 'search'?" in msg


def test_bad_reference_keys_are_named(tmp_path):
    _curves(tmp_path)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, chanel: tv}", "{kind: linear, roi: 2}")
    msg = _error(p)
    assert "unknown key chanel; did you mean 'channel'?" in msg and "channel is missing" in msg


def test_kpi_unit_mismatch_and_draw_problems(tmp_path):
    _curves(tmp_path, unit="conversions")
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv}", "{kind: linear, roi: 2}")
    assert f"{p}:7: budget.channels[0].response.from is 'fitted/curves.yaml'; channel 'tv' of" in _error(p)
    assert "has kpi.unit 'conversions', but budget.response_unit is 'currency'" in _error(p)
    _curves(tmp_path, shape_hi=1.5)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, draws: true}", "{kind: linear, roi: 2}")
    assert "have shape > 1 (S curves); the risk plan needs concave draws" in _error(p)
    p = _scenario(tmp_path, "{kind: linear, roi: 2}", "{from: fitted/curves.yaml, channel: search, draws: true}")
    assert f"{p}:9: budget.channels[1].response.draws is True; channel 'search' in" in _error(p)
    assert "has no draws" in _error(p)


def test_schema_documents_the_reference():
    from optimizer.budget.advanced.schema import AdvancedBudget

    text = str(AdvancedBudget.model_json_schema())
    assert "CurveRef" in text and "periods_per_cell" in text
    assert CurveRef.model_validate({"from": "a.yaml", "channel": "x"}).from_ == "a.yaml"


def test_cli_reports_a_bad_reference_without_traceback(tmp_path):
    p = _scenario(tmp_path, "{from: fitted/nope.yaml, channel: tv}", "{kind: linear, roi: 2}")
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 1
    assert "Traceback" not in res.output and "nope.yaml" in res.output


def test_curves_in_another_currency_are_refused(tmp_path):
    _curves(tmp_path)  # written in CNY
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv}", "{kind: linear, roi: 2}")
    p.write_text(p.read_text().replace("currency: CNY", "currency: EUR"))
    msg = _error(p)
    assert f"{p}:7: budget.channels[0].response.from is 'fitted/curves.yaml'; channel 'tv' of" in msg
    assert "is in CNY, but the scenario's currency is EUR" in msg
    p.write_text(p.read_text().replace("currency: EUR\n", ""))  # the header's default, CNY, matches
    assert load_scenario(p).model.budget.channels[0].response.kind == "hill"


def test_draws_from_the_sidecar(tmp_path):
    """More than 50 draws go to curves.draws.npz; the reference reads them through the curves file."""
    cf = _curves(tmp_path, n_draws=80)
    assert (tmp_path / "fitted" / "curves.draws.npz").exists()
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, draws: true}", "{kind: linear, roi: 2}")
    unc = load_scenario(p).model.budget.advanced.uncertainty
    assert [d.half_saturation_spend for d in unc.channels[0].draws] == cf.channels["tv"].draws.params[
        "half_saturation_spend"]


def test_carryover_uses_the_effective_spend_curve_and_adds_the_adstock_rule(tmp_path):
    """With e = S x at steady state (S = 1 + 0.5 + 0.25 + 0.125 = 1.875 for decay 0.5, max_lag 3), the
    effective-spend curve g must satisfy g(S x) = f(x): the budget's adstock then reproduces the
    steady-state curve of the curves file."""
    from optimizer.curves.curvefile import CurveAdstock, load_curves, write_curves

    _curves(tmp_path)
    path = tmp_path / "fitted" / "curves.yaml"
    cf = load_curves(path)
    tv = cf.channels["tv"].model_copy(update={"adstock": CurveAdstock(decay=0.5, max_lag=3)})
    write_curves(cf.model_copy(update={"channels": {**cf.channels, "tv": tv}}), path)
    periods = "  periods: [{name: w1}, {name: w2}, {name: w3}, {name: w4}]\n"
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, carryover: true}",
                  "{from: fitted/curves.yaml, channel: search}", extra=periods)
    budget = load_scenario(p).model.budget
    g = budget.channels[0].response
    x = np.array([1e3, 5e4, 2e5, 1e6])
    np.testing.assert_allclose(evaluate(g, 1.875 * x), evaluate(tv.response, x), rtol=1e-12)
    rule = budget.advanced.rules_for("tv")
    assert rule.adstock.decay == 0.5 and rule.adstock.max_lag_periods == 3
    assert _budget_dict(p)["status"] == "optimal"
    no_periods = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, carryover: true}", "{kind: linear, roi: 2}")
    assert "budget.channels[0].response.carryover is True; carry-over runs between periods" in _error(no_periods)
    no_adstock = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: search, carryover: true}",
                           "{kind: linear, roi: 2}", extra=periods)
    assert "carryover is true but channel 'search'" in _error(no_adstock)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["hill", "s_hill", "log", "power", "linear", "table"]),
       a=st.floats(0.1, 1e6), b=st.floats(0.1, 1e6), c=st.floats(0.05, 0.95),
       xs=st.floats(0.01, 100.0), ys=st.floats(0.01, 100.0))
def test_transform_is_y_times_f_of_x_over_xs(kind, a, b, c, xs, ys):
    """Invariant behind periods_per_cell and carryover: the transformed curve is ys * f(x / xs) for every kind."""
    from optimizer.curves.curvefile import CurveResponse
    from optimizer.curves.reference import _transform
    from pydantic import TypeAdapter

    params = {"hill": {"max_response": a, "half_saturation_spend": b, "shape": c},
              "s_hill": {"max_response": a, "half_saturation_spend": b, "shape": 1 + 3 * c},
              "log": {"scale": a, "saturation_spend": b}, "power": {"coefficient": a, "exponent": c},
              "linear": {"roi": c * 10}, "table": {"points": [[b, a], [2 * b, a * (1 + c)]]}}[kind]
    adapter = TypeAdapter(CurveResponse)
    f = adapter.validate_python({"kind": kind, **params})
    g = adapter.validate_python({"kind": kind, **_transform(kind, params, xs, ys)})
    x = np.array([0.0, 0.3 * b, b, 3 * b, 30 * b])
    np.testing.assert_allclose(evaluate(g, x), ys * evaluate(f, x / xs), rtol=1e-9, atol=1e-9 * a)


# --------------------------------------------------------------------------- table draws (Meridian's posterior)
def _table_curves(tmp_path, n_draws=60):
    """tv with concave table draws (a * sqrt-like knots) on 4 shared knots; written with a sidecar (> 50 draws)."""
    from optimizer.budget.config import TableResponse

    rng = np.random.default_rng(8)
    knots = [20_000.0, 40_000.0, 80_000.0, 160_000.0]
    rows = [[float(a * np.sqrt(x)) for x in knots] for a in rng.uniform(800, 1200, n_draws)]
    draws = CurveDraws(kind="table", spend=knots, params={"response": rows})
    mean = [[x, float(np.mean([r[j] for r in rows]))] for j, x in enumerate(knots)]
    cf = CurvesFile(
        dmpopt_curves=1, source=Source(tool="meridian"), currency="CNY", kpi=Kpi(name="revenue", unit="currency"),
        period="week", channels={"tv": ChannelCurves(response=TableResponse(kind="table", points=mean), draws=draws),
                                 "search": ChannelCurves(response=hill_response(400_000.0, 80_000.0, 0.8))})
    write_curves(cf, tmp_path / "fitted" / "curves.yaml")
    return cf


def test_table_draws_pass_through_scaled_per_cell(tmp_path):
    """draws: true with table draws: each draw becomes a TableDraw of n * f(x / n) (periods_per_cell n = 13), the
    same scaling as the channel's curve, so a draw at 13 x a knot is 13 x the knot's response."""
    cf = _table_curves(tmp_path)
    p = _scenario(tmp_path, "{from: fitted/curves.yaml, channel: tv, draws: true, periods_per_cell: 13}",
                  "{from: fitted/curves.yaml, channel: search}")
    budget = load_scenario(p).model.budget
    unc = budget.advanced.uncertainty
    assert unc.objective == "expected" and [c.channel for c in unc.channels] == ["tv"]
    src = cf.channels["tv"].draws
    assert len(unc.channels[0].draws) == src.n_draws == 60
    for i, d in enumerate(unc.channels[0].draws):
        assert d.kind == "table"
        assert [list(pt) for pt in d.points] == [[13 * x, 13 * y] for x, y in zip(src.spend, src.params["response"][i])]
    first = budget.channels[0].response.points[0]
    assert first == (13 * 20_000.0, pytest.approx(13 * cf.channels["tv"].response.points[0][1]))
    assert _budget_dict(p)["status"] == "optimal"


def test_uncertainty_draws_without_kind_are_still_hill_and_tables_are_checked():
    """Existing YAML (draws without kind) keeps meaning Hill; a table draw is validated like kind: table."""
    from optimizer.budget.advanced.config import ChannelDraws, HillDraw, TableDraw
    from pydantic import ValidationError

    cd = ChannelDraws.model_validate({"channel": "tv", "draws": [
        {"max_response": 10, "half_saturation_spend": 5}, {"kind": "table", "points": [[1, 2], [3, 4]]}]})
    assert isinstance(cd.draws[0], HillDraw) and cd.draws[0].kind == "hill" and isinstance(cd.draws[1], TableDraw)
    with pytest.raises(ValidationError, match="the curve must be concave"):
        ChannelDraws.model_validate({"channel": "tv", "draws": [
            {"kind": "table", "points": [[1, 1], [2, 5]]}, {"kind": "table", "points": [[1, 2], [3, 4]]}]})
    with pytest.raises(ValidationError, match=r"a draw's kind must be 'hill' \(the default when left out\) or 'table'"):
        ChannelDraws.model_validate({"channel": "tv", "draws": [
            {"kind": "log", "scale": 1}, {"kind": "table", "points": [[1, 2], [3, 4]]}]})


def test_scenario_with_a_bad_table_draw_names_its_path(tmp_path):
    """Inline uncertainty draws in a scenario: a non-concave table draw is reported with file, line and path."""
    p = _scenario(tmp_path, "{kind: linear, roi: 2}", "{kind: linear, roi: 1}", extra=(
        "  advanced:\n    uncertainty:\n      channels:\n      - channel: tv\n        draws:\n"
        "        - {kind: table, points: [[10, 10], [20, 30]]}\n"
        "        - {kind: table, points: [[10, 10], [20, 15]]}\n"))
    msg = _error(p)
    assert ("budget.advanced.uncertainty.channels[0].draws[0].points[1] is [20.0, 30.0]; the curve must be "
            "concave") in msg
    assert "the risk plan needs concave draws" in msg and "s_hill" not in msg
