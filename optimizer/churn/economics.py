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

:func:`maximum_profit` evaluates a churn score ranking with the same profit: the best share of the
base to contact (MP) and its expectation over an uncertain uplift ``gamma ~ Beta`` (EMP; Verbraken,
Verbeke & Baesens 2013), matched to the R package EMP (``tests/optimizer/churn/test_economics.py``).
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


# --- Maximum profit of a churn score ranking (Verbraken, Verbeke & Baesens 2013) ------------------


def roc_convex_hull(scores, churned) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the ROC convex hull when the highest-scored customers are contacted first.

    Returns ``(F0, F1)``, each from 0 to 1 along the hull: ``F0`` the share of churners contacted
    (true-positive rate), ``F1`` the share of non-churners contacted (false-positive rate). Tied
    scores form one step (all or none of them are contacted), as in ROCR's ``performance(.., "rch")``;
    points on a straight hull edge are dropped (they never change a maximum).
    """
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(churned).ravel()
    if s.size != y.size:
        raise ValueError(f"scores has {s.size} value(s) and churned {y.size}; they must have the same length.")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores: {int((~np.isfinite(s)).sum())} value(s) are NaN or infinite.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("churned must hold 0/1 (or False/True) labels; 1 = churner.")
    y = y.astype(float)
    n0, n1 = y.sum(), (1 - y).sum()
    if n0 == 0 or n1 == 0:
        raise ValueError(f"churned has {int(n0)} churner(s) and {int(n1)} non-churner(s); both are needed.")
    u, inv = np.unique(-s, return_inverse=True)  # descending scores, ties grouped
    pos = np.bincount(inv, weights=y, minlength=u.size)
    neg = np.bincount(inv, weights=1 - y, minlength=u.size)
    f0 = np.concatenate([[0.0], np.cumsum(pos) / n0])
    f1 = np.concatenate([[0.0], np.cumsum(neg) / n1])
    hull: list[int] = []
    for i in range(f0.size):  # Andrew's monotone chain, upper hull (points already sorted by F1, then F0)
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (f1[b] - f1[a]) * (f0[i] - f0[a]) - (f0[b] - f0[a]) * (f1[i] - f1[a])
            if cross >= 0:  # b is below or on the segment a -> i
                hull.pop()
            else:
                break
        hull.append(i)
    return f0[hull], f1[hull]


@dataclass(frozen=True)
class MaximumProfit:
    """Maximum profit of contacting the top of a churn score ranking (per customer of the base).

    Attributes
    ----------
    max_profit: MP, the best campaign profit over every cut-off of the ranking at the economics'
        ``uplift`` (currency per customer of the scored base; 0 when no cut-off pays).
    max_profit_fraction: share of the base contacted at that cut-off (0-1).
    expected_max_profit: EMP, the same maximum averaged over ``uplift ~ Beta(alpha, beta)``, the
        cut-off chosen for each uplift value (currency per customer); None without a Beta.
    expected_fraction: share contacted, averaged the same way (0-1); None without a Beta.
    n_customers, churn_rate: the scored base.
    """

    max_profit: float
    max_profit_fraction: float
    expected_max_profit: float | None
    expected_fraction: float | None
    n_customers: int
    churn_rate: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])


def _upper_envelope(slope: np.ndarray, icept: np.ndarray) -> list[tuple[int, float, float]]:
    """Pieces (line index, lo, hi) of max_i(slope_i g + icept_i) over g in [0, 1]."""
    order = np.lexsort((icept, slope))
    lines: list[int] = []
    for i in order:
        if lines and slope[lines[-1]] == slope[i]:
            lines.pop()  # same slope: the later one (larger intercept, lexsort) dominates
        while len(lines) >= 2:
            a, b = lines[-2], lines[-1]
            # b is useless if the line i overtakes a no later than b does.
            if (icept[a] - icept[i]) * (slope[b] - slope[a]) <= (icept[a] - icept[b]) * (slope[i] - slope[a]):
                lines.pop()
            else:
                break
        lines.append(int(i))
    pieces, lo = [], -np.inf
    for k, i in enumerate(lines):
        hi = np.inf if k + 1 == len(lines) else (icept[i] - icept[lines[k + 1]]) / (slope[lines[k + 1]] - slope[i])
        a, b = max(lo, 0.0), min(hi, 1.0)
        if b > a:
            pieces.append((i, a, b))
        lo = hi
    return pieces


def maximum_profit(scores, churned, econ: CampaignEconomics, clv: float, acceptance_alpha: float | None = None,
                   acceptance_beta: float | None = None) -> MaximumProfit:
    """MP and EMP of a churn score ranking (Verbraken, Verbeke & Baesens 2013, IEEE TKDE 25(5), 961-973).

    Contacting the top share ``eta`` of the ranking contacts ``eta`` of the base, of whom a share
    ``beta = pi0 F0 / eta`` are churners (``pi0`` the churn rate, ``(F0, F1)`` a vertex of the ROC
    convex hull); its profit is Neslin's :meth:`CampaignEconomics.campaign_profit` with that
    ``alpha = eta`` and ``beta``, divided by the base size (targeting nobody: 0, no campaign and no
    fixed cost). MP maximises over the cut-offs at ``econ.uplift``; EMP averages that maximum over
    ``uplift ~ Beta(acceptance_alpha, acceptance_beta)`` exactly (the maximum is piecewise linear in
    the uplift; each piece integrates with regularised incomplete beta functions).

    Verbraken's setting is ``acceptance_if_staying = 1`` (every contacted non-churner takes the
    offer), ``incentive_cost = d``, ``contact_cost = f`` and ``fixed_cost = 0``; ``clv`` the same for
    every customer (currency per customer).
    """
    from dataclasses import replace

    from scipy.special import betainc

    if not np.isfinite(clv) or clv <= 0:
        raise ValueError(f"clv is {clv}; it must be a finite amount > 0 (currency per customer).")
    f0, f1 = roc_convex_hull(scores, churned)
    y = np.asarray(churned).ravel().astype(float)
    n, pi0 = int(y.size), float(y.mean())
    eta = pi0 * f0 + (1 - pi0) * f1
    beta_share = np.divide(pi0 * f0, eta, out=np.zeros_like(eta), where=eta > 0)

    def profit_at(g: float) -> np.ndarray:
        e = replace(econ, uplift=g)
        per = np.array([e.campaign_profit(n, a, b, clv) / n for a, b in zip(eta, beta_share)])
        return np.where(eta > 0, per, 0.0)

    p0, p1 = profit_at(0.0), profit_at(1.0)  # profit is linear in the uplift: p0 + g (p1 - p0)
    at = p0 + econ.uplift * (p1 - p0)
    best = int(np.argmax(at))
    emp = frac = None
    if (acceptance_alpha is None) != (acceptance_beta is None):
        raise ValueError("give both acceptance_alpha and acceptance_beta (the Beta of the uplift), or neither.")
    if acceptance_alpha is not None:
        a, b = float(acceptance_alpha), float(acceptance_beta)
        if not (a > 0 and b > 0):
            raise ValueError(f"acceptance_alpha and acceptance_beta are {a} and {b}; both must be > 0.")
        mean = a / (a + b)
        emp = frac = 0.0
        for i, lo, hi in _upper_envelope(p1 - p0, p0):
            mass = betainc(a, b, hi) - betainc(a, b, lo)
            # E[g; lo < g < hi] = mean * P_{Beta(a+1, b)}(lo < g < hi)
            emp += (p1[i] - p0[i]) * mean * (betainc(a + 1, b, hi) - betainc(a + 1, b, lo)) + p0[i] * mass
            frac += eta[i] * mass
        emp, frac = float(emp), float(frac)
    return MaximumProfit(float(at[best]), float(eta[best]), emp, frac, n, pi0)
