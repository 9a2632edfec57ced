"""Sample-ratio-mismatch checks against R chisq.test."""

import pandas as pd
import pytest

from experiments.srm import srm_by_dimension, srm_check


@pytest.mark.parametrize("counts, shares, chi2, p", [
    ({"a": 5050, "b": 4950}, None, 1.0, 0.3173105079),
    ({"a": 5200, "b": 4800}, None, 16.0, 6.334248367e-05),
    ({"a": 3100, "b": 3000, "c": 3900}, {"a": 0.3, "b": 0.3, "c": 0.4}, 5.83333333333, 0.05411376622),
])
def test_matches_r_chisq_test(counts, shares, chi2, p):
    """R 4.x: chisq.test(c(5050, 4950)) -> X-squared 1, p 0.3173105079;
    chisq.test(c(5200, 4800)) -> 16, 6.334248367e-05;
    chisq.test(c(3100, 3000, 3900), p=c(0.3,0.3,0.4)) -> 5.83333333333, 0.05411376622"""
    r = srm_check(counts, shares)
    assert r.chi2 == pytest.approx(chi2, rel=1e-10)
    assert r.p_value == pytest.approx(p, rel=1e-8)
    assert r.status == ("fail" if p < 0.001 else "ok")


def test_per_dimension_holm_adjusted():
    frame = pd.DataFrame({
        "variant": ["c", "t"] * 3,
        "country": ["FR", "FR", "DE", "DE", "US", "US"],
        "n": [1000, 1000, 2600, 2400, 5000, 5000],
    })
    res = srm_by_dimension(frame, dimension_cols=("country",), alpha=0.05)
    assert [r.dimension for r in res] == ["", "country=DE", "country=FR", "country=US"]
    raw = [r.p_value for r in res[1:]]
    # Holm on 3 p-values: the smallest is multiplied by 3
    assert res[1].p_value_adjusted == pytest.approx(min(1, 3 * min(raw)))
    assert res[1].p_value < 0.05 and res[1].status == "fail"
    assert res[2].status == "ok" and res[0].to_dict()["variant_to_users"] == {"c": 8600, "t": 8400}


def test_bad_and_degenerate_input():
    assert srm_check({"only": 10}).error_code == "SINGLE_VARIANT"
    assert srm_check({"a": 0, "b": 0}).error_code == "ZERO_USERS"
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        srm_check({"a": -1, "b": 5})
    with pytest.raises(ValueError, match="sum to 0.9"):
        srm_check({"a": 1, "b": 5}, {"a": 0.5, "b": 0.4})
    small = srm_check({"a": 2, "b": 3})
    assert small.warnings and "below 5" in small.warnings[0]
    assert "SRM overall" in str(small)
