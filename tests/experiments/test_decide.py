"""Decisions: ship / stop / continue with reason codes."""

import datetime as dt

import pytest
from pydantic import ValidationError

from experiments.analysis import analyze
from experiments.decide import REASON_CODES, DecisionConfig, Progress, decide
from experiments.srm import srm_check
from experiments.stats import VariantStats

CFG = DecisionConfig(success_metrics=[{"metric": "conversion"}],
                     guardrails=[{"metric": "revenue", "margin_relative": 0.05}], max_duration_days=56)


def _results(conv_t, rev_t_mean, n=20000):
    conv = analyze(VariantStats.from_counts("control", n, 1000), VariantStats.from_counts("B", n, conv_t),
                   kind="proportion", metric="conversion")
    # revenue: mean 10, sd 5 per user in both variants
    sd2 = 25.0 * (n - 1)
    rev = analyze(VariantStats.from_moments("control", n, 10.0, sd2), VariantStats.from_moments("B", n, rev_t_mean, sd2),
                  metric="revenue")
    return conv + rev


def test_ship_when_success_positive_and_guardrail_non_inferior():
    d = decide(_results(1150, 10.0), CFG)
    assert d.action == "ship"
    assert d.reason_codes == ("SUCCESS_SIG_POSITIVE", "GUARDRAIL_OK")
    assert d.details == {"revenue": "GUARDRAIL_OK", "conversion": "SUCCESS_SIG_POSITIVE"}


def test_srm_blocks_ship():
    srm = srm_check({"control": 20000, "B": 21000})
    d = decide(_results(1150, 10.0), CFG, srm=srm)
    assert d.action == "stop" and d.reason_codes[0] == "SRM_FAIL" and "SHIP_BLOCKED" in d.reason_codes
    d2 = decide(_results(1150, 10.0), CFG, data_quality_failures=["revenue has 12 % nulls"])
    assert d2.action == "stop" and "DATA_QUALITY_FAIL" in d2.reason_codes


def test_guardrail_harm_stops():
    d = decide(_results(1150, 9.0), CFG)  # revenue -10 %, margin 5 %
    assert d.action == "stop" and "GUARDRAIL_HARM" in d.reason_codes


def test_guardrail_inconclusive_blocks_ship():
    d = decide(_results(1150, 9.55), CFG)  # -4.5 % +- ~1 %: CI reaches below -5 %
    assert d.details["revenue"] == "GUARDRAIL_INCONCLUSIVE" and d.action != "ship"


def test_success_negative_stops():
    d = decide(_results(850, 10.0), CFG)
    assert d.action == "stop" and "SUCCESS_SIG_NEGATIVE" in d.reason_codes


def test_continue_with_projected_end_date_from_conditional_power():
    res = _results(1075, 10.0)  # +7.5 %, z ~ 1.7 at half the plan: not significant yet
    prog = Progress(start_date=dt.date(2026, 1, 1), today=dt.date(2026, 1, 15), information_fraction=0.5)
    d = decide(res, CFG, progress=prog)
    assert d.action == "continue" and "CONTINUE_COLLECTING" in d.reason_codes
    assert d.projected_end_date is not None and d.projected_end_date > dt.date(2026, 1, 15)
    assert 0 < d.conditional_power < 1
    assert "CONTINUE" in str(d) and d.to_dict()["projected_end_date"] == d.projected_end_date.isoformat()


def test_underpowered_and_final_look():
    res = _results(1003, 10.0)  # tiny trend
    prog = Progress(start_date=dt.date(2026, 1, 1), today=dt.date(2026, 1, 29), information_fraction=0.5)
    assert decide(res, CFG, progress=prog).reason_codes[-1] == "UNDERPOWERED"
    end = Progress(start_date=dt.date(2026, 1, 1), today=dt.date(2026, 2, 26), information_fraction=1.0)
    d = decide(_results(1050, 10.0), CFG, progress=end)
    assert d.action == "stop" and d.reason_codes[-1] == "NO_SIGNIFICANT_EFFECT"


def test_analysis_error_blocks_ship():
    res = _results(1150, 10.0)
    broken = analyze(VariantStats.from_counts("control", 100, 0), VariantStats.from_counts("B", 100, 0),
                     kind="proportion", metric="revenue")
    d = decide([res[0]] + broken, CFG)
    assert d.action != "ship" and "ANALYSIS_ERROR" in d.reason_codes


def test_every_code_is_documented_and_config_validates():
    assert all(REASON_CODES[c] for c in REASON_CODES)
    with pytest.raises(ValidationError):
        DecisionConfig(success_metrics=[], guardrails=[])
    with pytest.raises(ValidationError, match="extra"):
        DecisionConfig(success_metrics=[{"metric": "a", "margin": 1}])


def test_sequential_interval_replaces_fixed_one():
    """Significant at the fixed horizon (z ~ 2.3) but not against the O'Brien-Fleming boundary at
    look 2 of 5 (c = 3.357): the decision must not ship on the fixed-horizon interval."""
    from experiments.sequential import group_sequential

    res = _results(1140, 10.0)
    conv = res[0]
    assert conv.lift_absolute_ci_low > 0  # fixed-horizon significant
    se = (conv.lift_absolute_ci_high - conv.lift_absolute_ci_low) / (2 * 1.959963984540054)
    seq = group_sequential([conv.lift_absolute * 0.9, conv.lift_absolute], [se * 1.4, se], [0.2, 0.4])
    assert not seq.rejected
    prog = Progress(start_date=dt.date(2026, 1, 1), today=dt.date(2026, 1, 15), information_fraction=0.4,
                    critical_value=2.031)
    d = decide(res, CFG, sequential={"conversion": seq}, progress=prog)
    assert d.action == "continue" and d.details["conversion"] == "SUCCESS_NOT_SIGNIFICANT"
    assert decide(res, CFG).action == "ship"


def test_tiny_srm_is_reported_but_does_not_block_and_a_harmful_one_does():
    """10,000,000 users per arm planned 50/50: 5,010,000 vs 4,990,000 is detected (chi2 = 40, p ~ 2.5e-10)
    but every share is within 0.2 % of the plan (< the 1 % tolerance): SRM_TINY, ship stands.
    55/45 is harmful: SRM_FAIL blocks."""
    from experiments.srm import srm_check

    tiny = srm_check({"control": 5_010_000, "B": 4_990_000})
    assert tiny.failed and tiny.severity() == "tiny" and tiny.max_share_deviation == pytest.approx(0.002)
    harmful = srm_check({"control": 5_500, "B": 4_500})
    assert harmful.severity() == "harmful"
    win = analyze(VariantStats.from_counts("control", 20000, 1000), VariantStats.from_counts("B", 20000, 1200),
                  kind="proportion", metric="conv")
    cfg = DecisionConfig(success_metrics=[{"metric": "conv"}])
    d = decide(win, cfg, srm=tiny)
    assert d.action == "ship" and "SRM_TINY" in d.reason_codes and "SRM_FAIL" not in d.reason_codes
    d2 = decide(win, cfg, srm=harmful)
    assert d2.action == "stop" and "SRM_FAIL" in d2.reason_codes
    strict = DecisionConfig(success_metrics=[{"metric": "conv"}], srm_tolerance_relative=0.0)
    assert decide(win, strict, srm=tiny).action == "stop"
