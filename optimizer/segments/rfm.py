"""RFM scores (quantile bins 1-5) and named RFM groups.

Scores. For ``n`` customers, ``pct = (average rank - 0.5) / n`` and ``score = floor(5 pct) + 1``:
quintiles by rank, with tied values sharing the average rank and so the same score (a plain
``qcut`` on ranks would split 1,000 one-purchase customers over several scores by row order).
Recency is scored the other way round: the most recent customers get 5. ``fm`` is the rounded
mean of the F and M scores (half up).

Groups. The rule of :data:`RFM_RULES` that matches (R score range, FM score range) names the group; the
table covers every (R, FM) pair exactly once (tested):

=====================  ========  =========
group                  R score   FM score
=====================  ========  =========
champions              4-5       4-5
loyal                  3         4-5
potential_loyalists    4-5       2-3
new_customers          4-5       1
need_attention         3         2-3
about_to_sleep         3         1
cannot_lose_them       1         5
at_risk                2         4-5
at_risk                1         4
hibernating            1-2       2-3
lost                   1-2       1
=====================  ========  =========

Adapted from the widely used 11-group RFM map (Putler; "RFM Analysis for Successful Customer
Segmentation"), reduced to the R x FM grid so that every cell has exactly one name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: (group, R min, R max, FM min, FM max); the rules do not overlap and cover the 5 x 5 grid.
RFM_RULES: tuple[tuple[str, int, int, int, int], ...] = (
    ("champions", 4, 5, 4, 5),
    ("loyal", 3, 3, 4, 5),
    ("potential_loyalists", 4, 5, 2, 3),
    ("new_customers", 4, 5, 1, 1),
    ("need_attention", 3, 3, 2, 3),
    ("about_to_sleep", 3, 3, 1, 1),
    ("cannot_lose_them", 1, 1, 5, 5),
    ("at_risk", 2, 2, 4, 5),
    ("at_risk", 1, 1, 4, 4),
    ("hibernating", 1, 2, 2, 3),
    ("lost", 1, 2, 1, 1),
)


def quantile_score(values, higher_is_better: bool = True, n_bins: int = 5) -> np.ndarray:
    """Scores 1..n_bins by average-rank quantiles (ties share a score); see module docstring."""
    v = pd.Series(np.asarray(values, dtype=float))
    if not higher_is_better:
        v = -v
    pct = (v.rank(method="average").to_numpy() - 0.5) / len(v)
    return np.clip(np.floor(pct * n_bins).astype(int) + 1, 1, n_bins)


def rfm_group(r: np.ndarray, fm: np.ndarray) -> np.ndarray:
    """Group name per customer from the R and FM scores (the matching rule of :data:`RFM_RULES`)."""
    r, fm = np.asarray(r), np.asarray(fm)
    out = np.full(r.shape, "", dtype=object)
    for name, r0, r1, f0, f1 in RFM_RULES:
        out[(r >= r0) & (r <= r1) & (fm >= f0) & (fm <= f1)] = name
    return out


def rfm_table(features: pd.DataFrame) -> pd.DataFrame:
    """``r_score``, ``f_score``, ``m_score``, ``fm_score``, ``rfm`` ("545") and ``rfm_group`` per row."""
    r = quantile_score(features["recency_days"], higher_is_better=False)
    f = quantile_score(features["frequency"])
    m = quantile_score(features["monetary"])
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    return pd.DataFrame({
        "r_score": r, "f_score": f, "m_score": m, "fm_score": fm,
        "rfm": [f"{a}{b}{c}" for a, b, c in zip(r, f, m)],
        "rfm_group": rfm_group(r, fm),
    }, index=features.index)
