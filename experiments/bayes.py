"""Bayesian comparisons: beta-binomial (conversions) and normal (means, ratios), vectorised.

**Beta-binomial.** With a Beta(a, b) prior (default a = b = 1, uniform) the posterior of a rate is
Beta(a + x, b + n - x). Chance to beat control ``P(p1 > p0)`` and the expected loss of shipping
the treatment ``E[max(p0 - p1, 0)]`` (in rate units) are one-dimensional integrals over p0 of
closed-form inner terms:

    P(p1 > p0)          = int f0(u) (1 - F1(u)) du
    E[max(p0 - p1, 0)]  = int f0(u) (u F1(u) - m1 G1(u)) du

where F1 is the Beta CDF of p1, m1 its mean and G1 the CDF of Beta(a1 + 1, b1) (because
``E[p1 1{p1 < u}] = m1 G1(u)``). The integral is Gauss-Legendre quadrature (128 nodes) over
the narrower posterior's mean +- 12 standard deviations clipped to [0, 1] (the same identities
with the roles swapped when p1's posterior is the narrower): exact to ~1e-7 against
Evan Miller's closed-form sum (tested), and vectorised over rows.

**Normal.** For means and ratio metrics, the posterior of each variant's mean is normal with the
frequentist estimate and its variance (flat prior; gbstats' default "uninformative" setting), so
the difference D is N(d, s^2): chance to beat = Phi(d / s), expected loss
``E[max(-D, 0)] = s phi(d/s) - d Phi(-d/s)`` (metric units). Credible intervals are
``d +- z s``; relative credible intervals use the delta method.
"""

from __future__ import annotations

import numpy as np

from experiments.means import difference_of_estimates, error_codes

__all__ = ["beta_binomial_arrays", "normal_arrays", "normal_chance_and_loss"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(128)


def beta_binomial_arrays(n0, x0, n1, x1, *, prior_alpha: float = 1.0, prior_beta: float = 1.0, alpha: float = 0.05):
    """Beta-binomial comparison per row.

    Returns
    -------
    dict of arrays
        ``chance_to_beat_control`` (probability), ``expected_loss`` (loss of shipping the
        treatment, rate units), ``expected_loss_control`` (loss of keeping control), credible
        interval of ``p1 - p0`` (normal approximation to the posterior difference, exact
        posterior means and variances), relative lift, and ``error_code``.
    """
    from scipy import stats

    if prior_alpha <= 0 or prior_beta <= 0:
        raise ValueError(f"prior_alpha, prior_beta are {prior_alpha}, {prior_beta}; both must be > 0.")
    n0, x0, n1, x1 = (np.asarray(a, dtype=float) for a in (n0, x0, n1, x1))
    codes = np.full(n0.shape, None, dtype=object)
    codes[(x0 < 0) | (x1 < 0) | (x0 > n0) | (x1 > n1)] = "INVALID_PROPORTION"
    codes[(n0 <= 0) | (n1 <= 0)] = "ZERO_USERS"
    bad = np.not_equal(codes, None)
    # Evaluate bad rows on a harmless stand-in, then blank them.
    a0 = np.where(bad, 1.0, prior_alpha + x0)
    b0 = np.where(bad, 1.0, prior_beta + n0 - x0)
    a1 = np.where(bad, 1.0, prior_alpha + x1)
    b1 = np.where(bad, 1.0, prior_beta + n1 - x1)

    def moments(a, b):
        m = a / (a + b)
        return m, a * b / ((a + b) ** 2 * (a + b + 1))

    m0, v0 = moments(a0, b0)
    m1, v1 = moments(a1, b1)
    # Integrate over the narrower posterior, so the other one's CDF is smooth on the grid.
    over0 = v0 <= v1
    mn, vn = np.where(over0, m0, m1), np.where(over0, v0, v1)
    an, bn = np.where(over0, a0, a1), np.where(over0, b0, b1)
    ao, bo = np.where(over0, a1, a0), np.where(over0, b1, b0)
    mo = np.where(over0, m1, m0)
    lo = np.clip(mn - 12 * np.sqrt(vn), 0.0, 1.0)
    hi = np.clip(mn + 12 * np.sqrt(vn), 0.0, 1.0)
    half = (hi - lo) / 2.0
    u = (lo + hi)[:, None] / 2.0 + half[:, None] * _NODES[None, :]  # rows x nodes
    w = half[:, None] * _WEIGHTS[None, :]
    f = stats.beta.pdf(u, an[:, None], bn[:, None])
    F = stats.beta.cdf(u, ao[:, None], bo[:, None])
    G = stats.beta.cdf(u, ao[:, None] + 1.0, bo[:, None])
    below = np.sum(w * f * F, axis=1)  # P(other < narrow)
    # E[(narrow - other)+] = int f(u) (u F(u) - m_other G(u)) du
    gap = np.sum(w * f * (u[:, :] * F - mo[:, None] * G), axis=1)
    beat = np.where(over0, 1.0 - below, below)
    # over p0: loss = E[(p0 - p1)+] = gap; over p1: gap = E[(p1 - p0)+], loss = gap - E[p1 - p0]
    loss = np.where(over0, gap, gap - (m1 - m0))
    # E[max(p1 - p0, 0)] = E[max(p0 - p1, 0)] + E[p1 - p0]
    loss_control = loss + (m1 - m0)
    out = difference_of_estimates(m0, v0, m1, v1, alpha=alpha)
    out.update(chance_to_beat_control=np.clip(beat, 0.0, 1.0), expected_loss=np.maximum(loss, 0.0),
               expected_loss_control=np.maximum(loss_control, 0.0), mean_control=m0, mean_treatment=m1,
               statistic=np.full(n0.shape, np.nan), p_value=np.full(n0.shape, np.nan), error_code=codes)
    for k in ("chance_to_beat_control", "expected_loss", "expected_loss_control", "lift_absolute_ci_low",
              "lift_absolute_ci_high", "lift_relative", "lift_relative_ci_low", "lift_relative_ci_high"):
        out[k] = np.where(bad, np.nan, out[k])
    return out


def normal_chance_and_loss(diff, se):
    """Chance ``P(D > 0)`` and expected loss ``E[max(-D, 0)]`` for ``D ~ N(diff, se^2)``."""
    from scipy import stats

    diff, se = np.asarray(diff, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(all="ignore"):
        z = diff / se
        chance = stats.norm.cdf(z)
        loss = se * stats.norm.pdf(z) - diff * stats.norm.cdf(-z)
    return chance, np.maximum(loss, 0.0)


def normal_arrays(mu0, v0, mu1, v1, n0, n1, *, alpha: float = 0.05):
    """Normal-model comparison per row from estimates ``mu`` and their variances ``v``.

    Returns the credible-interval columns, ``chance_to_beat_control``, ``expected_loss``
    (metric units) and ``error_code``.
    """
    out = difference_of_estimates(mu0, v0, mu1, v1, alpha=alpha)
    chance, loss = normal_chance_and_loss(out["lift_absolute"], out["se"])
    codes = error_codes(n0, n1, np.asarray(v0) + np.asarray(v1), min_n=2)
    bad = np.not_equal(codes, None)
    out.update(chance_to_beat_control=np.where(bad, np.nan, chance), expected_loss=np.where(bad, np.nan, loss),
               statistic=np.full(bad.shape, np.nan), p_value=np.full(bad.shape, np.nan), error_code=codes,
               mean_control=np.asarray(mu0, dtype=float), mean_treatment=np.asarray(mu1, dtype=float))
    for k in ("lift_absolute_ci_low", "lift_absolute_ci_high", "lift_relative", "lift_relative_ci_low", "lift_relative_ci_high"):
        out[k] = np.where(bad, np.nan, out[k])
    return out
