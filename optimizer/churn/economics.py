"""Retention-campaign economics that count every cost (Neslin et al. 2006).

A campaign contacts a share ``alpha`` of ``N`` customers; among the contacted a share ``beta``
would churn without it. A contacted would-be churner is rescued with probability ``gamma`` (the
uplift) and then takes the incentive ``delta``; a would-stay customer takes the incentive with
probability ``psi`` (acceptance among would-stay customers: money spent on nobody's behalf). Every
contact costs ``c``; the campaign has a fixed cost ``A``. Campaign profit (Neslin, Gupta, Kamakura,
Lu & Mason 2006, "Defection Detection", Journal of Marketing Research 43(2), 204-211, eq. 1, with
Neslin's would-stay acceptance of 1 generalised to ``psi``)::

    Profit = N alpha [ beta gamma (LTV - c - delta) + beta (1 - gamma)(-c) + (1 - beta)(-c - psi delta) ] - A

Per customer ``i`` with churn probability ``p_i`` (``1 - P(alive)`` for non-contractual models) the
same terms give the expected profit of contacting her::

    pi_i = p_i gamma (LTV_i - delta) - (1 - p_i) psi delta - c

A customer is contacted only when ``pi_i > 0`` (the most profitable set for a given fixed cost), and
the campaign only runs when the sum over the contacted exceeds ``A``. Summing ``pi_i`` over the
contacted customers and subtracting ``A`` reproduces the aggregate formula with ``alpha`` the share
contacted and ``beta`` their mean churn probability (tested as an identity). Money in the scenario
currency; ``LTV`` per customer; probabilities 0-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CampaignEconomics:
    """The cost side of a retention campaign (currency; shares 0-1).

    Attributes
    ----------
    contact_cost: c, per contact.
    incentive_cost: delta, paid by every customer who accepts the offer.
    acceptance_if_staying: psi, share of would-stay customers who accept the incentive anyway.
    uplift: gamma, share of would-be churners a contact rescues.
    fixed_cost: A, per campaign (creative, set-up).
    """

    contact_cost: float
    incentive_cost: float = 0.0
    acceptance_if_staying: float = 1.0
    uplift: float = 0.1
    fixed_cost: float = 0.0

    def __post_init__(self):
        for name in ("contact_cost", "incentive_cost", "fixed_cost"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{name} is {v}; it must be a finite amount >= 0 (currency).")
        for name in ("acceptance_if_staying", "uplift"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"{name} is {v}; it must be a share between 0 and 1.")

    def expected_profit(self, p_churn, ltv, uplift=None) -> np.ndarray:
        """pi_i of contacting each customer (currency per customer; see module docstring).

        ``uplift`` overrides ``self.uplift`` per customer (e.g. per segment).
        """
        p = np.asarray(p_churn, dtype=float)
        ltv = np.asarray(ltv, dtype=float)
        g = self.uplift if uplift is None else np.asarray(uplift, dtype=float)
        d = self.incentive_cost
        return p * g * (ltv - d) - (1 - p) * self.acceptance_if_staying * d - self.contact_cost

    def expected_cost(self, p_churn, uplift=None) -> np.ndarray:
        """Contact cost plus the expected incentive paid, per contacted customer (currency)."""
        p = np.asarray(p_churn, dtype=float)
        g = self.uplift if uplift is None else np.asarray(uplift, dtype=float)
        return self.contact_cost + self.incentive_cost * (p * g + (1 - p) * self.acceptance_if_staying)

    def campaign_profit(self, n_customers: int, alpha: float, beta: float, ltv: float) -> float:
        """Neslin et al. (2006) eq. 1: total profit of contacting ``alpha * N`` customers."""
        g, c, d, psi = self.uplift, self.contact_cost, self.incentive_cost, self.acceptance_if_staying
        per = beta * g * (ltv - c - d) + beta * (1 - g) * (-c) + (1 - beta) * (-c - psi * d)
        return n_customers * alpha * per - self.fixed_cost


@dataclass(frozen=True)
class CampaignPlan:
    """Who to contact and what it is worth.

    Attributes
    ----------
    contact: boolean per customer (True: expected profit > 0 and the campaign covers its fixed cost).
    expected_profit: pi_i per customer (currency), contacted or not.
    status: ``run`` or ``not_worth_fixed_cost`` (sum of positive pi_i <= fixed cost) or ``no_profitable_customer``.
    totals: n_customers, n_contacts, contact_cost, incentive_cost (expected), expected_saved (customers),
        profit (expected, net of every cost and the fixed cost); currency over the campaign.
    """

    contact: np.ndarray
    expected_profit: np.ndarray
    status: str
    totals: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.totals])

    def to_dict(self) -> dict:
        return {"status": self.status, "totals": self.totals}


def plan_campaign(econ: CampaignEconomics, p_churn, ltv) -> CampaignPlan:
    """Contact exactly the customers with positive expected profit, if together they cover the fixed cost."""
    p = np.asarray(p_churn, dtype=float)
    ltv = np.broadcast_to(np.asarray(ltv, dtype=float), p.shape)
    pi = econ.expected_profit(p, ltv)
    pos = pi > 0
    gross = float(pi[pos].sum())
    if not pos.any():
        status, contact = "no_profitable_customer", np.zeros(p.shape, bool)
    elif gross <= econ.fixed_cost:
        status, contact = "not_worth_fixed_cost", np.zeros(p.shape, bool)
    else:
        status, contact = "run", pos
    n = int(contact.sum())
    pc = p[contact]
    totals = {
        "n_customers": int(p.size),
        "n_contacts": n,
        "contact_cost": float(n * econ.contact_cost),
        "incentive_cost": float(np.sum(pc * econ.uplift + (1 - pc) * econ.acceptance_if_staying) * econ.incentive_cost),
        "expected_saved": float(np.sum(pc) * econ.uplift),
        "fixed_cost": float(econ.fixed_cost if n else 0.0),
        "profit": float(pi[contact].sum() - (econ.fixed_cost if n else 0.0)),
    }
    return CampaignPlan(contact, pi, status, totals)
