"""Multiple-testing corrections against R p.adjust and statsmodels."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from experiments.multiple import adjust_by_scope, adjust_pvalues

P = [0.01, 0.04, 0.03, 0.005, 0.2, 0.5]


@pytest.mark.parametrize("method, expected", [
    ("holm", [0.05, 0.12, 0.12, 0.03, 0.40, 0.50]),
    ("bh", [0.03, 0.06, 0.06, 0.03, 0.24, 0.50]),
    ("bonferroni", [0.06, 0.24, 0.18, 0.03, 1.00, 1.00]),
])
def test_matches_r_p_adjust(method, expected):
    """R 4.x: p <- c(0.01, 0.04, 0.03, 0.005, 0.2, 0.5); p.adjust(p, "holm" / "BH" / "bonferroni")
    holm: 0.05 0.12 0.12 0.03 0.40 0.50; BH: 0.03 0.06 0.06 0.03 0.24 0.50; bonferroni: 0.06 0.24 0.18 0.03 1.00 1.00"""
    assert adjust_pvalues(P, method) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.sampled_from(["holm", "bh", "bonferroni"]))
def test_matches_statsmodels_and_is_monotone(p, method):
    from statsmodels.stats.multitest import multipletests

    sm = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}[method]
    ours = adjust_pvalues(p, method)
    assert ours == pytest.approx(multipletests(p, method=sm)[1], abs=1e-12)
    assert np.all(ours >= np.asarray(p) - 1e-15) and np.all(ours <= 1)


def test_scope_groups_families_and_nan_is_skipped():
    frame = pd.DataFrame({"metric": ["a", "a", "b", "b", "b"], "p_value": [0.01, 0.04, 0.01, np.nan, 0.02]})
    by_metric = adjust_by_scope(frame, "bonferroni", ("metric",))
    assert by_metric[:3] == pytest.approx([0.02, 0.08, 0.02])
    assert np.isnan(by_metric[3]) and by_metric[4] == pytest.approx(0.04)
    everything = adjust_by_scope(frame, "bonferroni", ())
    assert everything[0] == pytest.approx(0.04)  # 4 non-NaN tests
    with pytest.raises(ValueError, match="scope column"):
        adjust_by_scope(frame, "holm", ("variant",))


def test_unknown_method_suggests():
    with pytest.raises(ValueError, match="Did you mean 'holm'"):
        adjust_pvalues(P, "holn")
