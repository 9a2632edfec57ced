"""Non-contractual churn (BG/NBD / Pareto/NBD) in the churn section, and segments feeding the budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from optimizer.churn.clv import BetaGeoModel
from optimizer.churn.noncontractual import crossings, risk_curve
from optimizer.churn.section import ChurnConfig
from optimizer.churn.section import run as run_churn
from optimizer.errors import DataError, ScenarioError
from optimizer.sections import RunContext

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "scenarios" / "customers_noncontractual.yaml"
CDNOW = ROOT / "tests" / "fixtures" / "clv" / "cdnow_summary.csv"
BASE = dict(uplift=0.2, clv=100.0, contact_cost=1.0, start_date="2026-12-01")


def _ctx(results=None, base_dir=ROOT):
    return RunContext(seed=1, rng=np.random.default_rng(1), base_dir=base_dir, results=results or {})


def test_continuous_crossing_by_hand():
    """q = [0.1, 0.3, 0.6, 0.8], threshold 0.5: first whole day 2; linear root 1 + (0.5-0.3)/(0.6-0.3) = 1.6667.
    Already past today: day 0; never: -1 / -1."""
    q = np.array([[0.1, 0.3, 0.6, 0.8], [0.7, 0.8, 0.9, 0.95], [0.1, 0.1, 0.2, 0.3]])
    first, cont, status = crossings(q, 0.5)
    assert first.tolist() == [2, 0, -1]
    assert cont[0] == pytest.approx(1 + 0.2 / 0.3) and cont[1] == 0.0 and cont[2] == -1.0
    assert status.tolist() == ["crosses", "already_crossed", "never_crosses"]


def test_risk_curve_is_one_minus_p_alive_and_rises():
    m = BetaGeoModel(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    x, tx, T = np.array([2.0, 5.0]), np.array([10.0, 30.0]), np.array([38.0, 38.0])
    q = risk_curve(m, x, tx, T, 20)
    np.testing.assert_allclose(q[:, 0], 1 - m.p_alive(x, tx, T))
    np.testing.assert_allclose(q[:, 7], 1 - m.p_alive(x, tx, T + 7))
    assert np.all(np.diff(q, axis=1) >= 0)


def test_summary_file_with_paretonbd_schedules_one_time_buyers(tmp_path):
    """CDNOW summary as a file (its unit is weeks; the section treats it as days: fine for a mechanics test).
    Pareto/NBD gives customers without a repeat purchase P(alive) < 1, so they can be scheduled."""
    cfg = ChurnConfig(data=str(CDNOW), model="paretonbd", frequency_col="x", recency_col="t_x", tenure_col="T",
                      id_col="ID", horizon_days=30, threshold=0.6, lead_days=3, **BASE)
    res = run_churn(cfg, _ctx())
    c = res.customers
    assert res.report.selected == "paretonbd" and res.report.n_customers == 2357
    assert c["p_alive"].between(0, 1).all()
    assert (c.loc[c["frequency"] == 0, "status"] != "never_crosses").any()
    # Every contacted customer has positive expected value; the totals add up.
    assert (c.loc[c["contact"], "value"] > 0).all()
    assert res.totals["total_cost"] == pytest.approx(res.schedule["cost"].sum())
    assert res.totals["n_contacts"] == res.schedule["n_contacts"].sum() == c["contact"].sum()
    crossed = c["status"] == "crosses"
    assert (c.loc[crossed, "crossing_in_days_continuous"] <= c.loc[crossed, "crossing_in_days"]).all()
    assert (c.loc[crossed, "crossing_in_days_continuous"] > c.loc[crossed, "crossing_in_days"] - 1).all()


def test_incentives_and_fixed_cost_are_counted(tmp_path):
    common = dict(data=str(CDNOW), model="bgnbd", frequency_col="x", recency_col="t_x", tenure_col="T",
                  horizon_days=30, threshold=0.6, lead_days=0, **BASE)
    plain = run_churn(ChurnConfig(**common), _ctx())
    costly = run_churn(ChurnConfig(**common, incentive_cost=10.0, acceptance_if_staying=0.5, fixed_cost=50.0), _ctx())
    assert costly.totals["n_contacts"] <= plain.totals["n_contacts"]
    assert costly.totals["incentive_cost"] > 0 and costly.totals["fixed_cost"] == 50.0
    assert costly.totals["total_cost"] == pytest.approx(
        costly.totals["contact_cost"] + costly.totals["incentive_cost"] + costly.totals["fixed_cost"])
    huge = run_churn(ChurnConfig(**common, fixed_cost=1e9), _ctx())
    assert huge.totals["n_contacts"] == 0 and huge.totals["campaign_status"] == "not_worth_fixed_cost"


def test_bad_noncontractual_inputs():
    with pytest.raises(ScenarioError, match="no segments result"):
        run_churn(ChurnConfig(data="segments", model="bgnbd", **BASE), _ctx())
    with pytest.raises(DataError, match=r"churn.frequency_col.*\['frequency'\]"):
        run_churn(ChurnConfig(data=str(CDNOW), model="bgnbd", recency_col="t_x", tenure_col="T", **BASE), _ctx())
    with pytest.raises(ValidationError, match="needs model bgnbd or paretonbd"):
        ChurnConfig(data="segments", model="cox", **BASE)


@pytest.fixture(scope="module")
def shop_plan():
    from optimizer.runner import run
    from optimizer.scenario import load_scenario

    return run(load_scenario(SCENARIO))


def test_shipped_scenario_end_to_end(shop_plan):
    """segments -> churn (BG/NBD on the segments' summaries) -> budget with the segments' audience sizes."""
    seg = shop_plan.sections["segments"][1]
    churn = shop_plan.sections["churn"][1]
    budget = shop_plan.sections["budget"][1]
    sizes = seg.segment_to_size()
    assert sum(sizes.values()) == seg.counts["n_customers"] == churn.totals["n_active"]
    assert any("audience sizes from the segments section" in a for a in budget.adjustments)
    assert any("reserved for retention contacts" in a for a in budget.adjustments)
    # The shop's segments are RFM/K-means segments, cut on the purchase model's own data, so the scenario
    # fits once (fit_by: all) and reports per segment: every customer then has the segments section's
    # P(alive) (same model, same summaries), and each segment's log-likelihood is its customers' share.
    merged = seg.customers.merge(churn.customers, left_on="customer", right_on="customer_id")
    fits = {f.segment: f for f in churn.report.fits.segments}
    assert set(fits) == set(sizes) and {f.fit for f in fits.values()} == {"pooled"}
    np.testing.assert_allclose(merged["p_alive_x"], merged["p_alive_y"], rtol=1e-9)
    for name, f in fits.items():
        rows = merged[merged["segment_y"] == name]
        assert (rows["purchase_model_fit"] == "pooled").all() and f.n_customers == len(rows) and f.reason
        pooled = BetaGeoModel(params=f.params)
        assert f.loglik == pytest.approx(pooled.loglik(rows["frequency_y"], rows["t_x_days_y"], rows["tenure_days_y"]))
    # Per-segment parameters reach the plan's JSON and report.
    d = churn.to_dict()["model"]
    assert [s["segment"] for s in d["segments"]] == sorted(sizes) and d["fit_by"] == "all"
    from optimizer.churn.section import markdown

    assert "Purchase-model parameters by segment" in markdown(churn)
    assert churn.totals["n_contacts"] > 0 and list(churn.schedule["segment"].unique())
    assert set(churn.schedule["segment"]) <= set(sizes)


def test_budget_sizes_only_when_every_name_matches():
    from optimizer.budget.upstream import segment_sizes_from_segments

    class FakeSeg:
        rfm_groups = pd.DataFrame({"group": ["champions"], "n_customers": [7]})

        def segment_to_size(self):
            return {"S1": 10, "S2": 30}

    class S:
        def __init__(self, name, size=None):
            self.name, self.audience_share, self.audience_size = name, None, size

    class Cfg:
        segments = [S("S1"), S("lapsed")]

    cfg, notes = segment_sizes_from_segments(Cfg(), {"segments": FakeSeg()})
    assert cfg is not None and "['lapsed'] are not segments or RFM groups" in notes[0]
    Cfg.segments = [S("S1", 5), S("S2")]
    assert segment_sizes_from_segments(Cfg(), {"segments": FakeSeg()})[1] == ()


def test_fit_by_segment_on_rfm_segments_warns_about_truncation(shop_plan):
    """Per-segment fits on segments cut on recency/frequency are asked for explicitly: the plan says why they
    are biased (selection on the model's own data) and still scores each segment with a fit it can use."""
    from optimizer.scenario import load_scenario

    sc = load_scenario(SCENARIO)
    cfg = sc.model.churn.model_copy(update={"fit_by": "segment"})
    res = run_churn(cfg, _ctx({"segments": shop_plan.sections["segments"][1]}, base_dir=SCENARIO.parent))
    assert any("truncated" in w and "biased" in w for w in res.warnings)
    assert res.report.fits.fit_by == "segment"
