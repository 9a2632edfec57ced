"""DuckDB aggregation: stable moments, week-to-date looks, events -> users, bad input messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.aggregate import AggregationError, aggregate, variant_issues, weekly_looks
from experiments.config import ExperimentConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "experiments"


def make_exp(path, kind="users", metrics=None, variants=("control", "treatment"), **data_kw) -> ExperimentConfig:
    metrics = metrics or [{"name": "conversion", "kind": "proportion", "column": "converted"},
                          {"name": "revenue", "kind": "mean", "column": "revenue"}]
    data = {"kind": kind, "path": str(path), **data_kw}
    if kind == "users":
        data.setdefault("timestamp_col", None)
    return ExperimentConfig.model_validate({
        "name": "exp", "start_date": "2026-11-02", "data": data, "control": variants[0],
        "variants": list(variants), "metrics": metrics,
    })


def rel_err(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def test_large_offset_gives_exact_variance(tmp_path):
    """The naive formula sum(y^2) - sum(y)^2/n gives 0 for 1e9 + {1, 2, 3}; the true variance is 1."""
    path = tmp_path / "u.csv"
    pd.DataFrame({"user_id": [1, 2, 3, 4, 5, 6], "variant": ["control"] * 3 + ["treatment"] * 3,
                  "converted": [0, 1, 0, 1, 1, 0], "revenue": [1e9 + 1, 1e9 + 2, 1e9 + 3] * 2}).to_csv(path, index=False)
    naive = np.sum(np.array([1e9 + 1, 1e9 + 2, 1e9 + 3]) ** 2) - (3e9 + 6) ** 2 / 3
    assert naive / 2 != 1.0  # the trap is real in float64
    stats = aggregate(make_exp(path)).stats("revenue")
    assert stats["control"].var == 1.0
    assert stats["treatment"].var == 1.0
    assert stats["control"].mean == 1e9 + 2


def test_events_large_offset_gives_exact_variance(tmp_path):
    """Same trap on the events path (per-user sums first, then var_pop without a shift)."""
    path = tmp_path / "e.csv"
    pd.DataFrame({"user_id": [1, 2, 3, 4, 5, 6], "variant": ["control"] * 3 + ["treatment"] * 3,
                  "event": "purchase", "value": [1e9 + 1, 1e9 + 2, 1e9 + 3] * 2}).to_csv(path, index=False)
    exp = make_exp(path, kind="events", timestamp_col=None,
                   metrics=[{"name": "revenue", "kind": "mean", "event": "purchase", "column": "value"}])
    stats = aggregate(exp).stats("revenue")
    assert stats["control"].var == 1.0 and stats["treatment"].var == 1.0


def random_users(rng, n=3000, offset=0.0):
    return pd.DataFrame({
        "user_id": np.arange(n), "variant": rng.choice(["control", "treatment"], n),
        "converted": rng.binomial(1, 0.2, n), "revenue": offset + rng.gamma(2.0, 10.0, n),
        "pre": rng.normal(50, 10, n), "sessions": rng.poisson(3, n) + 1,
    })


def numpy_moments(y, x=None, d=None):
    out = {"n": len(y), "mean": y.mean(), "m2": ((y - y.mean()) ** 2).sum()}
    if x is not None:
        out.update(cov_mean=x.mean(), cov_m2=((x - x.mean()) ** 2).sum(), cross_m2=((x - x.mean()) * (y - y.mean())).sum())
    if d is not None:
        out.update(den_mean=d.mean(), den_m2=((d - d.mean()) ** 2).sum(), num_den_m2=((y - y.mean()) * (d - d.mean())).sum())
    if x is not None and d is not None:
        out["cov_den_m2"] = ((x - x.mean()) * (d - d.mean())).sum()
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_users_moments_match_numpy(tmp_path, fmt):
    """Every centred moment agrees with numpy's two-pass formulas to 1e-9 relative (offset 1e6 too)."""
    rng = np.random.default_rng(7)
    df = random_users(rng, offset=1e6)
    path = tmp_path / f"u.{fmt}"
    df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path)
    metrics = [{"name": "conversion", "kind": "proportion", "column": "converted"},
               {"name": "revenue", "kind": "mean", "column": "revenue", "covariate_column": "pre"},
               {"name": "rps", "kind": "ratio", "column": "revenue", "denominator_column": "sessions",
                "covariate_column": "pre"}]
    agg = aggregate(make_exp(path, metrics=metrics))
    for variant, g in df.groupby("variant"):
        cases = {"conversion": numpy_moments(g.converted.to_numpy(float)),
                 "revenue": numpy_moments(g.revenue.to_numpy(), x=g.pre.to_numpy()),
                 "rps": numpy_moments(g.revenue.to_numpy(), x=g.pre.to_numpy(), d=g.sessions.to_numpy(float))}
        for metric, expected in cases.items():
            row = agg.moments[(agg.moments.metric == metric) & (agg.moments.variant == variant)].iloc[0]
            for key, value in expected.items():
                assert rel_err(row[key], value) < 1e-9, (metric, key, row[key], value)


def test_events_week_to_date_matches_pandas(tmp_path):
    """Events -> per-user week-to-date values -> per-variant moments, checked against pandas."""
    rng = np.random.default_rng(11)
    n_users = 400
    users = pd.DataFrame({"user_id": np.arange(n_users), "variant": rng.choice(["control", "treatment"], n_users),
                          "first": pd.Timestamp("2026-11-04") + pd.to_timedelta(rng.uniform(0, 18 * 86400, n_users), unit="s")})
    rows = [users.assign(timestamp=users["first"], event="exposure", value=0.0)]
    k = rng.poisson(2, n_users)
    ev = users.loc[np.repeat(users.index, k)].reset_index(drop=True)
    ev["timestamp"] = ev["first"] + pd.to_timedelta(rng.uniform(0, 9 * 86400, len(ev)), unit="s")
    ev["event"] = rng.choice(["click", "purchase"], len(ev), p=[0.7, 0.3])
    ev["value"] = np.where(ev["event"] == "purchase", rng.gamma(2, 10, len(ev)).round(2), 0.0)
    events = pd.concat(rows + [ev], ignore_index=True).drop(columns="first")
    events["timestamp"] = events["timestamp"].dt.floor("s")
    # a pre-start event that must be ignored, and a user later seen in the other variant
    events.loc[len(events)] = [0, users.variant[0], pd.Timestamp("2026-10-30"), "purchase", 999.0]
    flip = "treatment" if users.variant[1] == "control" else "control"
    events.loc[len(events)] = [1, flip, pd.Timestamp("2026-11-05 12:00"), "click", 0.0]
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    metrics = [{"name": "clicks", "kind": "count", "event": "click"},
               {"name": "buyer", "kind": "proportion", "event": "purchase"},
               {"name": "revenue", "kind": "mean", "event": "purchase", "column": "value"},
               {"name": "rev_per_click", "kind": "ratio", "event": "purchase", "column": "value", "denominator_event": "click"}]
    exp = make_exp(path, kind="events", metrics=metrics)  # start 2026-11-02 (Monday of 2026-W45)
    agg = aggregate(exp, week="2026-W48")
    assert [lk.label for lk in agg.looks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    ev_all = events[events.timestamp >= pd.Timestamp("2026-11-02")]
    per_user_variants = ev_all.groupby("user_id")["variant"].nunique()
    clean = ev_all[ev_all.user_id.isin(per_user_variants[per_user_variants == 1].index)]
    for look in agg.looks:
        end = pd.Timestamp(dt.datetime.fromtimestamp(look.end_epoch, dt.UTC).replace(tzinfo=None))
        cur = clean[clean.timestamp < end]
        per_user = cur.groupby(["user_id", "variant"]).apply(lambda g: pd.Series({
            "clicks": (g.event == "click").sum(), "buyer": float((g.event == "purchase").any()),
            "revenue": g.loc[g.event == "purchase", "value"].sum()}), include_groups=False).reset_index()
        for variant, g in per_user.groupby("variant"):
            for metric in ("clicks", "buyer", "revenue"):
                expected = numpy_moments(g[metric].to_numpy(float))
                row = agg.moments[(agg.moments.k == look.k) & (agg.moments.metric == metric)
                                  & (agg.moments.variant == variant)].iloc[0]
                assert row["n"] == expected["n"]
                for key in ("mean", "m2"):
                    assert rel_err(row[key], expected[key]) < 1e-9 or abs(row[key] - expected[key]) < 1e-12
            ratio = agg.moments[(agg.moments.k == look.k) & (agg.moments.metric == "rev_per_click")
                                & (agg.moments.variant == variant)].iloc[0]
            assert rel_err(ratio["den_mean"], g["clicks"].mean()) < 1e-12
    assert agg.n_multi_variant_users == 1
    assert [i.code for i in variant_issues(exp, agg)] == ["MULTI_VARIANT_USERS"]


def test_users_looks_count_exposed_users_per_week(tmp_path):
    path = tmp_path / "u.csv"
    pd.DataFrame({"user_id": [1, 2, 3, 4], "variant": ["control", "treatment", "control", "treatment"],
                  "exposed": ["2026-11-02 00:00:00", "2026-11-08 23:59:59", "2026-11-09 00:00:00", "2026-11-30 00:00:00"],
                  "converted": [1, 0, 1, 1], "revenue": [1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    agg = aggregate(make_exp(path, timestamp_col="exposed"), week="2026-W46")
    n = agg.moments[agg.moments.metric == "conversion"].pivot(index="week", columns="variant", values="n").fillna(0)
    # W45 ends Sunday 2026-11-08 24:00 UTC: users 1 and 2; W46 adds user 3; user 4 is after the report week.
    assert n.loc["2026-W45"].to_dict() == {"control": 1, "treatment": 1}
    assert n.loc["2026-W46"].to_dict() == {"control": 2, "treatment": 1}


def test_dimension_counts(tmp_path):
    path = tmp_path / "u.csv"
    pd.DataFrame({"user_id": range(6), "variant": ["control", "treatment"] * 3, "country": ["US", "US", "DE", "US", None, "DE"],
                  "converted": 0, "revenue": 1.0}).to_csv(path, index=False)
    exp = make_exp(path).model_copy(update={"dimensions": ["country"]})
    counts = aggregate(exp).dimension_counts
    got = {(r.level, r.variant): r.n for r in counts.itertuples()}
    assert got == {("(missing)", "control"): 1, ("DE", "control"): 1, ("DE", "treatment"): 1,
                   ("US", "control"): 1, ("US", "treatment"): 2}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40),
       offset=st.sampled_from([0.0, 1e3, 1e8]))
def test_property_variance_matches_two_pass(tmp_path, values, offset):
    """For any values (also far from 0), SQL M2 equals numpy's two-pass M2 up to rounding of the data."""
    y = np.array(values) + offset
    path = tmp_path / "p.parquet"
    pd.DataFrame({"user_id": range(len(y)), "variant": "control", "converted": 0, "revenue": y}).to_parquet(path)
    row = aggregate(make_exp(path)).moments.query("metric == 'revenue'").iloc[0]
    m2 = ((y - y.mean()) ** 2).sum()
    scale = np.abs(y).max() ** 2 * len(y) * 1e-15  # float64 rounding of the inputs themselves
    assert abs(row["m2"] - m2) <= max(1e-9 * m2, scale)
    assert row["m2"] >= 0


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("fixture", "metrics", "code", "fragments"),
    [
        ("users_missing_column.csv", None, "MISSING_COLUMN", ["'converted'", "did you mean 'convertd'?"]),
        ("users_nan.csv", None, "NAN_VALUES", ["2 of 4 row(s)", "'revenue'", "NaN or empty"]),
        ("users_negative_count.csv", [{"name": "orders", "kind": "count", "column": "orders"}],
         "NEGATIVE_VALUES", ["1 of 4 row(s)", "'orders'", "negative"]),
        ("users_conversions_gt_1.csv", None, "NOT_BINARY", ["1 of 4 row(s)", "not 0 or 1"]),
        ("users_null_variant.csv", None, "NULL_IDS", ["1 of 4 row(s)", "variant column"]),
        ("users_empty.csv", None, "NO_DATA", ["no rows"]),
    ],
)
def test_bad_input_files(fixture, metrics, code, fragments):
    with pytest.raises(AggregationError) as info:
        aggregate(make_exp(FIXTURES / fixture, metrics=metrics))
    assert info.value.code == code
    for fragment in fragments:
        assert fragment in str(info.value)


def test_events_nan_value_only_counts_matching_events():
    """Empty values on exposure/click rows are fine; an empty purchase value is a defect."""
    exp = make_exp(FIXTURES / "events_nan_purchase_value.csv", kind="events",
                   metrics=[{"name": "revenue", "kind": "mean", "event": "purchase", "column": "value"}])
    with pytest.raises(AggregationError, match=r"1 of 5 row\(s\): metric 'revenue': column 'value' in 'purchase' events"):
        aggregate(exp)


def test_unknown_and_single_variant_are_reported_not_raised():
    agg = aggregate(make_exp(FIXTURES / "users_unknown_variant.csv"))
    issues = variant_issues(make_exp(FIXTURES / "users_unknown_variant.csv"), agg)
    assert [i.code for i in issues] == ["UNKNOWN_VARIANT"]
    assert "did you mean 'treatment'?" in issues[0].message and issues[0].blocking
    exp = make_exp(FIXTURES / "users_single_variant.csv")
    codes = [i.code for i in variant_issues(exp, aggregate(exp))]
    assert codes == ["ZERO_USERS", "SINGLE_VARIANT"]


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(AggregationError, match="not found") as info:
        aggregate(make_exp(tmp_path / "nope.csv"))
    assert info.value.code == "READ_ERROR"
    bad = tmp_path / "data.xlsx"
    bad.write_text("x")
    with pytest.raises(AggregationError, match="unknown file type"):
        aggregate(make_exp(bad))


def test_week_before_start_is_refused():
    with pytest.raises(AggregationError, match="before the experiment starts"):
        weekly_looks(dt.date(2026, 11, 2), "2026-W40")


def test_summary_source_moments_and_errors():
    base = {"name": "s", "start_date": "2026-11-02", "control": "a", "variants": ["a", "b"],
            "metrics": [{"name": "conv", "kind": "proportion"}, {"name": "rev", "kind": "mean"}]}
    rows = [{"variant": "a", "metric": "conv", "n": 100, "sum": 10}, {"variant": "b", "metric": "conv", "n": 100, "sum": 12},
            {"variant": "a", "metric": "rev", "n": 100, "sum": 500.0, "sum_sq": 3000.0},
            {"variant": "b", "metric": "rev", "n": 100, "sum": 520.0, "sum_sq": 3200.0}]
    exp = ExperimentConfig.model_validate({**base, "data": {"kind": "summary", "rows": rows}})
    stats = aggregate(exp).stats("conv")
    assert stats["a"].mean == 0.1 and stats["a"].var == pytest.approx(0.1 * 0.9 * 100 / 99, rel=1e-12)
    assert aggregate(exp).stats("rev")["b"].m2 == pytest.approx(3200 - 520**2 / 100, rel=1e-12)
    bad = [dict(rows[0], sum=150), rows[1], dict(rows[2], sum_sq=None), rows[3]]
    exp_bad = ExperimentConfig.model_validate({**base, "data": {"kind": "summary", "rows": bad}})
    with pytest.raises(AggregationError) as info:
        aggregate(exp_bad)
    assert info.value.code == "BAD_SUMMARY"
    assert "sum (conversions) is 150 for n = 100 users" in str(info.value)
    assert "sum_sq is missing" in str(info.value)


def test_no_week_means_all_the_data_up_to_its_latest_week(tmp_path):
    """Without a week the looks run to the ISO week of the latest timestamp: the same aggregates as that week
    given explicitly (known answer), not only the start week (the defect: `dmpopt experiments analyze` without
    --week analysed the first week's users only and said "as of latest")."""
    path = tmp_path / "u.csv"
    pd.DataFrame({"user_id": [1, 2, 3, 4, 5], "variant": ["control", "treatment", "control", "treatment", "control"],
                  "exposed": ["2026-10-30 10:00:00", "2026-11-02 00:00:00", "2026-11-08 23:59:59",
                              "2026-11-09 00:00:00", "2026-11-30 00:00:00"],
                  "converted": [1, 1, 0, 1, 1], "revenue": [9.0, 1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    exp = make_exp(path, timestamp_col="exposed")  # starts 2026-11-02; user 1 is before it
    auto, explicit = aggregate(exp), aggregate(exp, week="2026-W49")  # 2026-11-30 is the Monday of 2026-W49
    assert [lk.label for lk in auto.looks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert auto.looks == explicit.looks
    pd.testing.assert_frame_equal(auto.moments, explicit.moments)
    assert auto.variant_users == explicit.variant_users
    # users 2-5; user 1 was exposed before the start and is left out (as events before it are); the start-week-only
    # look of the defect held users 2 and 3
    assert auto.variant_users == {"control": 2, "treatment": 2}


def test_no_week_and_no_row_after_the_start_is_a_clear_error(tmp_path):
    path = tmp_path / "u.csv"
    pd.DataFrame({"user_id": [1, 2], "variant": ["control", "treatment"],
                  "exposed": ["2026-10-30 10:00:00", "2026-10-31 10:00:00"],
                  "converted": [1, 0], "revenue": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(AggregationError, match="no rows at or after start_date 2026-11-02"):
        aggregate(make_exp(path, timestamp_col="exposed"))
