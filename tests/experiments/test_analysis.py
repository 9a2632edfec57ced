"""The analysis entry points: analyze() and the vectorised compare_table()."""

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from experiments.analysis import AnalysisSettings, analyze, compare_table
from experiments.proportions import proportions_arrays
from experiments.stats import VariantArrays, VariantStats
from optimizer.errors import DataError


def test_analyze_proportion_is_r_prop_test_with_continuity():
    """R: prop.test(c(56,48), c(70,80)) -> p 0.01340947518, CI 0.04411204201 0.35588795799."""
    (r,) = analyze(VariantStats.from_counts("control", 80, 48), VariantStats.from_counts("B", 70, 56), kind="proportion",
                   settings=AnalysisSettings(effect_scale="absolute", continuity=True))
    assert r.method == "z_pooled_cc_wald" and r.p_value == pytest.approx(0.01340947518, rel=1e-8)
    assert (r.lift_absolute_ci_low, r.lift_absolute_ci_high) == pytest.approx((0.04411204201, 0.35588795799), rel=1e-8)
    assert r.lift_relative == pytest.approx(0.8 / 0.6 - 1)
    json.dumps(r.to_dict())
    assert "B vs control" in str(r) and len(r.summary()) == 1


def test_single_variant_and_zero_users_do_not_crash():
    c = VariantStats.from_values("control", [1.0, 2.0])
    (r,) = analyze(c, [])
    assert r.error_code == "SINGLE_VARIANT" and "only one variant" in r.error_message
    (z,) = analyze(c, VariantStats("B", 0, 0, 0))
    assert z.status == "error" and z.error_code == "ZERO_USERS" and "0 users" in z.error_message
    assert "ERROR ZERO_USERS" in str(z)
    assert z.to_dict()["p_value"] is None  # NaN is JSON null


def test_more_conversions_than_users_is_refused_as_impossible_data():
    """Defect 3: 12 conversions of 10 users (sum_sq = 12 < sum^2 / n = 14.4) used to be clipped to a
    zero variance; it is impossible data and raises, naming the field and the values."""
    with pytest.raises(DataError, match=r"sum_sq = 12.0 is smaller than sum\^2 / n = 14.4.*conversions"):
        VariantStats("B", 10, 12.0, 12.0)  # built from SQL sums: 12 conversions of 10 users


def test_more_conversions_than_users_in_arrays_is_an_error_code():
    c = VariantArrays.from_columns([10], [0.3], [2.1])
    t = VariantArrays.from_columns([10], [1.2], [0.0])  # 12 conversions of 10 users, as columns
    (r,) = compare_table(c, t, kind="proportion")
    assert r.error_code == "INVALID_PROPORTION" and "exceed users" in r.error_message


def test_compare_table_mixed_kinds_and_correction_scope():
    rng = np.random.default_rng(0)
    ctrl, trt, kinds, metrics = [], [], [], []
    for m, kind in (("conv", "proportion"), ("rev", "mean"), ("orders", "count")):
        for dim in ("FR", "DE"):
            if kind == "proportion":
                ctrl.append(VariantStats.from_counts("control", 1000, int(rng.integers(90, 110))))
                trt.append(VariantStats.from_counts("B", 1000, int(rng.integers(90, 130))))
            else:
                ctrl.append(VariantStats.from_values("control", rng.gamma(2, 3, 500)))
                trt.append(VariantStats.from_values("B", rng.gamma(2, 3.2, 500)))
            kinds.append(kind)
            metrics.append(m)
    dims = ["FR", "DE"] * 3
    table = compare_table(ctrl, trt, kind=kinds, metric=metrics, dimension=dims, correction="holm", scope=("metric",))
    f = table.summary()
    assert list(f["method"]) == ["z_delta_relative"] * 2 + ["welch_relative"] * 4
    for m in ("conv", "rev", "orders"):
        sub = f[f.metric == m]
        p = np.sort(sub.p_value.to_numpy())
        assert sub.p_value_adjusted.min() == pytest.approx(min(1, 2 * p[0]))
    assert table.row(2).metric == "rev" and table.row(2).dimension == "FR"
    json.dumps(table.to_dict())
    assert "6 comparison(s)" in str(table)


def test_vectorised_equals_row_by_row():
    rng = np.random.default_rng(5)
    n0, n1 = rng.integers(50, 5000, 40), rng.integers(50, 5000, 40)
    x0, x1 = rng.binomial(n0, 0.1), rng.binomial(n1, 0.12)
    c = VariantArrays.from_columns(n0, x0 / n0, x0 * (1 - x0 / n0))
    t = VariantArrays.from_columns(n1, x1 / n1, x1 * (1 - x1 / n1))
    table = compare_table(c, t, kind="proportion")
    for i in (0, 17, 39):
        one = proportions_arrays([n0[i]], [x0[i]], [n1[i]], [x1[i]], scale="relative")
        assert table.frame.p_value[i] == pytest.approx(one["p_value"][0], rel=1e-12)


def test_20000_comparisons_under_two_seconds():
    """Requirement: all tests for 20,000 metric x variant x dimension comparisons <= 2 s."""
    rng = np.random.default_rng(1)
    k = 20_000
    n = rng.integers(1000, 100_000, (2, k)).astype(float)
    mean = rng.uniform(1, 20, (2, k))
    m2 = rng.uniform(1, 50, (2, k)) * (n - 1)
    conv = rng.binomial(n.astype(int), 0.05)
    kinds = np.where(np.arange(k) % 2 == 0, "mean", "proportion")
    mean = np.where(kinds == "proportion", conv / n, mean)
    m2 = np.where(kinds == "proportion", conv * (1 - conv / n), m2)
    c = VariantArrays.from_columns(n[0], mean[0], m2[0])
    t = VariantArrays.from_columns(n[1], mean[1], m2[1])
    start = time.perf_counter()
    table = compare_table(c, t, kind=kinds, metric=np.where(kinds == "mean", "rev", "conv"), correction="bh")
    elapsed = time.perf_counter() - start
    assert len(table) == k and (table.frame.status == "ok").all()
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_docs_tutorial_runs(capsys):
    """The first Python block of docs/experiments-methods.md runs and prints a SHIP decision."""
    import pathlib
    import re

    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "experiments-methods.md"
    code = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)[0]
    exec(compile(code, str(doc), "exec"), {})
    out = capsys.readouterr().out
    assert "SHIP: SUCCESS_SIG_POSITIVE" in out and "GUARDRAIL_OK" in out


_stats = st.builds(
    lambda n, mean, sd, dmean: VariantStats.from_moments("v", n, mean, sd * sd * max(n - 1, 0),
                                                         cov_mean=mean, cov_m2=sd * sd * max(n - 1, 0) / 2,
                                                         cross_m2=sd * sd * max(n - 1, 0) / 3,
                                                         den_mean=dmean, den_m2=max(n - 1, 0) * 0.5,
                                                         num_den_m2=max(n - 1, 0) * 0.1 * sd,
                                                         cov_den_m2=max(n - 1, 0) * 0.05 * sd),
    # sd below 1e-100 would underflow sd^2 to 0 while the co-moments stay > 0: impossible data, refused.
    st.integers(0, 10_000), st.floats(0, 1e4), st.floats(0, 1e3).map(lambda v: 0.0 if v < 1e-100 else v),
    st.floats(0, 50))


@settings(max_examples=150, deadline=None)
@given(_stats, _stats, st.sampled_from(["mean", "count", "ratio"]), st.booleans(), st.booleans(),
       st.sampled_from(["absolute", "relative"]))
def test_any_statistics_give_a_result_never_a_crash(c, t, kind, cuped, bayes, scale):
    """Invariants: every row is ok or carries an error code; ok rows have lo <= estimate <= hi, p in [0, 1]."""
    s = AnalysisSettings(effect_scale=scale, cuped=cuped, engine="bayes" if bayes else "frequentist")
    (r,) = analyze(c.with_name("control"), t.with_name("B"), kind=kind, settings=s)
    assert r.status in ("ok", "error")
    if r.ok:
        assert r.lift_absolute_ci_low <= r.lift_absolute + 1e-9 * (1 + abs(r.lift_absolute))
        assert r.lift_absolute <= r.lift_absolute_ci_high + 1e-9 * (1 + abs(r.lift_absolute))
        if not bayes:
            assert 0 <= r.p_value <= 1
        else:
            assert 0 <= r.extra["chance_to_beat_control"] <= 1 and r.extra["expected_loss"] >= 0
    else:
        assert r.error_code and r.error_message
    json.dumps(r.to_dict())


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000), st.data())
def test_any_counts_give_a_result_never_a_crash(n0, n1, data):
    x0 = data.draw(st.integers(0, n0 + 2))  # may exceed n: must become INVALID_PROPORTION, not a crash
    x1 = data.draw(st.integers(0, n1 + 2))
    bayes = data.draw(st.booleans())
    if x0 > n0 or x1 > n1:  # impossible sums are refused when the statistics are built (defect 3)
        with pytest.raises(DataError, match="conversions"):
            VariantStats("control", n0, float(x0), float(x0)), VariantStats("B", n1, float(x1), float(x1))
        return
    c, t = VariantStats("control", n0, float(x0), float(x0)), VariantStats("B", n1, float(x1), float(x1))
    scale = data.draw(st.sampled_from(["absolute", "relative"]))
    (r,) = analyze(c, t, kind="proportion", settings=AnalysisSettings(effect_scale=scale, engine="bayes" if bayes else "frequentist"))
    if r.ok and not bayes:
        assert 0 <= r.p_value <= 1 and r.lift_absolute_ci_low <= r.lift_absolute_ci_high


def test_count_kind_and_less_alternative():
    """R: t.test(y, x, alternative="less") equals t.test(x, y, alternative="greater"): p 0.01383591171."""
    x = [24.1, 26.3, 22.2, 30.8, 27.5]
    y = [19.1, 20.3, 25.7, 18.2, 22.9, 21.0]
    (r,) = analyze(VariantStats.from_values("c", x), VariantStats.from_values("t", y), kind="count",
                   settings=AnalysisSettings(effect_scale="absolute", alternative="less"))
    assert r.method == "welch" and r.p_value == pytest.approx(0.01383591171, rel=1e-8)
    assert r.lift_absolute_ci_low == -np.inf


def test_bayes_normal_with_cuped_uses_the_adjusted_variance():
    from scipy import stats as sps

    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 400))
    y = x + 0.5 * rng.normal(size=(2, 400)) + np.array([[0.0], [0.1]])
    c, t = (VariantStats.from_values(k, y[i], x=x[i]) for i, k in enumerate(("control", "B")))
    (freq,) = analyze(c, t, settings=AnalysisSettings(effect_scale="absolute", cuped=True))
    (bay,) = analyze(c, t, settings=AnalysisSettings(effect_scale="absolute", cuped=True, engine="bayes"))
    assert bay.method == "bayes_normal_cuped"
    assert bay.extra["chance_to_beat_control"] == pytest.approx(sps.norm.cdf(freq.lift_absolute / freq.extra["se"]), rel=1e-9)


def test_table_to_dict_equals_rows_and_is_json():
    tab = compare_table([VariantStats.from_counts("c", 10, 3), VariantStats("c", 0, 0, 0)],
                        [VariantStats.from_counts("t", 10, 5), VariantStats.from_counts("t", 10, 5)],
                        kind="proportion", correction="holm")
    assert tab.to_dict()["comparisons"] == [r.to_dict() for r in tab]
    assert tab.to_dict()["comparisons"][1]["error_code"] == "ZERO_USERS"
    json.dumps(tab.to_dict(), allow_nan=False)
