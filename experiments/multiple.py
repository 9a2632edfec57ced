"""Multiple-testing correction (Holm, Benjamini-Hochberg, Bonferroni) with a selectable scope.

:func:`adjust_pvalues` adjusts one family of p-values (same numbers as R ``p.adjust`` and
statsmodels ``multipletests``). :func:`adjust_by_scope` adjusts many families at once: the
*scope* names the columns that define a family, e.g.

* ``scope=()`` (``"all"``): every comparison of the experiment is one family;
* ``scope=("metric",)``: one family per metric (across variants and dimension slices);
* ``scope=("metric", "dimension")``: one family per metric and slice (across variants only).

NaN p-values (comparisons that carry an error code) are left NaN and do not count in ``m``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["adjust_pvalues", "adjust_by_scope", "METHODS"]

METHODS = ("holm", "bh", "bonferroni", "none")


def adjust_pvalues(p_values, method: str = "holm") -> np.ndarray:
    """Adjusted p-values of one family.

    Parameters
    ----------
    p_values : array-like
        Raw p-values in [0, 1]; NaN entries stay NaN and are excluded from the family size.
    method : {"holm", "bh", "bonferroni", "none"}
        Holm's step-down (FWER), Benjamini-Hochberg step-up (FDR), Bonferroni (FWER).
    """
    if method not in METHODS:
        import difflib

        hint = difflib.get_close_matches(str(method), METHODS, n=1)
        raise ValueError(f"method is {method!r}; it must be one of {', '.join(METHODS)}."
                         + (f" Did you mean {hint[0]!r}?" if hint else ""))
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]; got " + str(p[ok][(p[ok] < 0) | (p[ok] > 1)][:3]))
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    if method == "none":
        adj = q
    elif method == "bonferroni":
        adj = np.minimum(q * m, 1.0)
    elif method == "holm":
        order = np.argsort(q, kind="mergesort")
        stepped = np.maximum.accumulate((m - np.arange(m)) * q[order])
        adj = np.empty(m)
        adj[order] = np.minimum(stepped, 1.0)
    else:  # bh
        order = np.argsort(q, kind="mergesort")[::-1]
        stepped = np.minimum.accumulate(m / np.arange(m, 0, -1) * q[order])
        adj = np.empty(m)
        adj[order] = np.minimum(stepped, 1.0)
    out[ok] = adj
    return out


def adjust_by_scope(frame, method: str = "holm", scope: Sequence[str] = (), p_col: str = "p_value") -> np.ndarray:
    """Adjust ``frame[p_col]`` within each family defined by the ``scope`` columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per comparison.
    method : str
        See :func:`adjust_pvalues`.
    scope : sequence of str
        Columns whose values define a family; empty = the whole frame is one family.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values aligned with ``frame``'s rows.
    """
    missing = [c for c in scope if c not in frame.columns]
    if missing:
        raise ValueError(f"scope column(s) {missing} are not in the table; available: {list(frame.columns)}.")
    p = frame[p_col].to_numpy(dtype=float)
    if not scope:
        return adjust_pvalues(p, method)
    out = np.full(p.shape, np.nan)
    for idx in frame.groupby(list(scope), sort=False, dropna=False).indices.values():
        out[idx] = adjust_pvalues(p[idx], method)
    return out
