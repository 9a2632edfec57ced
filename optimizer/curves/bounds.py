"""Recommended spend bounds per channel: plan inside the spend range the curves were fitted on.

A curve fitted from history is only informed where the history spent. Planning far outside that range
(a channel cut to 0, or raised to several times anything seen) reads the curve where the data said
nothing, and the fitted shape there is mostly the prior's. Mature MMM allocators therefore bound each
channel to a multiple of its historical spend by default:

* Robyn's ``robyn_allocator()`` (facebookexperimental/Robyn, R/allocator.R): ``channel_constr_low = 0.5``,
  ``channel_constr_up = 2``, multipliers of each channel's mean spend over the allocation date range;
* Meridian's ``BudgetOptimizer.optimize()`` (google/meridian, analysis/optimizer.py and constants.py):
  ``SPEND_CONSTRAINT_DEFAULT_FIXED_BUDGET = 0.3``, i.e. each channel within +-30 % of its historical
  spend for a fixed budget.

:func:`historical_bounds` takes Robyn's default: ``[0.5, 2] x`` the channel's mean spend per period in
the history. Money is in currency PER PERIOD (the curves file's unit); a budget cell of ``n`` periods
or a plan over ``k`` cells multiplies both ends by ``n`` or ``k``.
"""

from __future__ import annotations

import math

#: Robyn's allocator defaults (``channel_constr_low``, ``channel_constr_up``): multipliers of mean spend.
DEFAULT_LOW = 0.5
DEFAULT_HIGH = 2.0


def historical_bounds(mean_spend: float, low: float = DEFAULT_LOW,
                      high: float = DEFAULT_HIGH) -> dict[str, float | str]:
    """``{"min_spend", "max_spend", "rule"}``: ``[low, high] x mean_spend`` (currency per period).

    ``mean_spend`` is the channel's mean spend per period over the history (currency, >= 0);
    ``0 <= low <= high`` are the multipliers (Robyn's defaults 0.5 and 2).
    """
    if not (isinstance(mean_spend, (int, float)) and math.isfinite(mean_spend) and mean_spend >= 0):
        raise ValueError(f"mean_spend is {mean_spend!r}; expected a finite number >= 0 (currency per period)")
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
        raise ValueError(f"low, high are {low!r}, {high!r}; expected finite multipliers with 0 <= low <= high")
    return {"min_spend": float(low * mean_spend), "max_spend": float(high * mean_spend),
            "rule": f"{low:g}-{high:g} x mean spend per period of the history (Robyn allocator default)"}
