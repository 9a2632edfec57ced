"""Customer lifetime value from a purchase model (BG/NBD or Pareto/NBD) and a spend model.

CLV over ``n_periods`` periods of ``period_length`` time units (the unit of T), discounted at
``discount_rate`` per period, cash flows at the end of each period::

    CLV = margin * E[spend per transaction] * sum_{k=1..K} (E[Y(k L)] - E[Y((k-1) L)]) / (1+d)^k

where ``E[Y(t)]`` is the customer's expected purchases in the next ``t`` time units given her
history. This is the discretisation used by the ``lifetimes`` package (``customer_lifetime_value``),
which the tests use as an oracle; money is in the currency of ``monetary`` per customer over the
horizon.
"""

from __future__ import annotations

import numpy as np


def customer_lifetime_value(purchase_model, frequency, recency, T, spend_per_transaction, *, n_periods: int = 12,
                            period_length: float = 1.0, discount_rate: float = 0.01,
                            margin: float = 1.0) -> np.ndarray:
    """Discounted CLV per customer (currency over ``n_periods``); see module docstring.

    ``spend_per_transaction`` is an array (e.g. ``GammaGammaModel.expected_spend``) or a number.
    """
    if n_periods < 1 or period_length <= 0 or discount_rate < 0 or not np.isfinite(discount_rate):
        raise ValueError(f"n_periods={n_periods}, period_length={period_length}, discount_rate={discount_rate}: "
                         "need n_periods >= 1, period_length > 0 and discount_rate >= 0 (fraction per period).")
    x, tx, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    total = np.zeros(np.broadcast(x, tx, t).shape)
    prev = np.zeros_like(total)
    for k in range(1, n_periods + 1):
        cum = purchase_model.expected_purchases(k * period_length, x, tx, t)
        total += (cum - prev) / (1.0 + discount_rate) ** k
        prev = cum
    return margin * np.asarray(spend_per_transaction, dtype=float) * total
