"""Seeded customer simulator with a known true uplift per segment.

Lifetimes follow a Weibull AFT: ``log T = mu + sigma * eps`` (``eps`` standard minimum extreme
value), ``mu = log(scale_days) - 0.4 x1 + 0.3 x2 + segment effect``. Customers join uniformly
over ``history_days``; those still active on the observation day are censored and are the ones a
contact plan is for. A contact prevents a churn that falls in the contact's window with the
segment's *true* uplift probability, which the planner does not see unless told.

:func:`compare_targeting` scores two policies with the same contact budget (number of contacts)
on the same simulated futures (common random numbers): *risk-only* contacts the highest
``p_save``; *uplift-aware* contacts the highest ``p_save * uplift * clv - cost``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: segment -> (true uplift 0-1, effect on log lifetime)
DEFAULT_SEGMENTS = {"basic": (0.02, -0.3), "plus": (0.30, 0.0), "premium": (0.15, 0.3)}


def simulate_customers(
    n: int,
    seed: int | None,
    *,
    scale_days: float = 400.0,
    sigma: float = 0.7,
    history_days: int = 720,
    segments: dict[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Customer history: ``customer_id, segment, x1, x2, tenure_days, churned, true_uplift``."""
    from optimizer.seeding import make_rng

    rng, _ = make_rng(seed)
    segments = segments or DEFAULT_SEGMENTS
    names = list(segments)
    seg = rng.choice(names, size=n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    effect = np.array([segments[s][1] for s in seg])
    mu = np.log(scale_days) - 0.4 * x1 + 0.3 * x2 + effect
    life = np.exp(mu + sigma * np.log(-np.log(rng.uniform(size=n))))
    joined = rng.uniform(0, history_days, size=n)
    observed = history_days - joined
    tenure = np.maximum(np.minimum(life, observed), 0.5).round(1)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "segment": seg,
            "x1": x1.round(4),
            "x2": x2.round(4),
            "tenure_days": tenure,
            "churned": (life <= observed).astype(int),
            "true_uplift": [segments[s][0] for s in seg],
            "_mu": mu,
        }
    )


def _future_churn_day(df: pd.DataFrame, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Draw the churn tenure of active customers from the true model, given alive at their tenure."""
    a, mu = df["tenure_days"].to_numpy(), df["_mu"].to_numpy()
    s_a = np.exp(-np.exp((np.log(a) - mu) / sigma))
    u = rng.uniform(size=len(df)) * s_a  # S(T) = U * S(a)  =>  T > a
    return np.exp(mu + sigma * np.log(-np.log(u)))


def compare_targeting(
    n: int = 20_000,
    seed: int = 0,
    *,
    budget_contacts: int = 1_000,
    window_days: float = 30,
    lead_days: int = 7,
    threshold: float = 0.02,
    horizon_days: int = 60,
    clv: float = 300.0,
    contact_cost: float = 5.0,
    sigma: float = 0.7,
    n_futures: int = 20,
) -> dict:
    """Fit on simulated history, target active customers two ways, realise the value.

    Returns realised net value (currency, mean over ``n_futures`` simulated futures) of both
    policies, their difference and its standard error.
    """
    from optimizer.churn.data import prepare
    from optimizer.churn.models import ChurnModel
    from optimizer.churn.timing import TimingSettings, plan_contacts

    df = simulate_customers(n, seed, sigma=sigma)
    data = prepare(df, "tenure_days", "churned", ["x1", "x2", "segment"], segment_col="segment")
    model = ChurnModel("weibull_aft", horizon_days=horizon_days, seed=seed).fit(data)
    active = df[df.churned == 0].reset_index(drop=True)
    Xa = data.encoding.transform(active)
    uplift = active["true_uplift"].to_numpy()  # the experiment's estimate, here the truth
    settings = TimingSettings(window_days, threshold, lead_days, horizon_days)
    plan = plan_contacts(model.model_, Xa, active["tenure_days"].to_numpy(), settings,
                         uplift=uplift, clv=clv, contact_cost=contact_cost)
    eligible = plan["status"].to_numpy() == "crosses"
    risk_rank = np.where(eligible, plan["p_save"], -np.inf)
    value_rank = np.where(eligible & (plan["value"] > 0), plan["value"], -np.inf)
    k = budget_contacts
    pick_risk = np.argsort(-risk_rank)[:k]
    pick_risk = pick_risk[np.isfinite(risk_rank[pick_risk])]
    pick_value = np.argsort(-value_rank)[:k]
    pick_value = pick_value[np.isfinite(value_rank[pick_value])]

    rng = np.random.default_rng([seed, 1])
    start = active["tenure_days"].to_numpy() + np.maximum(plan["contact_in_days"].to_numpy(), 0)
    end = start + lead_days + window_days
    results = {"risk_only": [], "uplift_aware": []}
    for _ in range(n_futures):
        churn_at = _future_churn_day(active, sigma, rng)
        saved_draw = rng.uniform(size=len(active)) < uplift
        in_window = (churn_at > start) & (churn_at <= end)
        for name, pick in (("risk_only", pick_risk), ("uplift_aware", pick_value)):
            saved = (in_window & saved_draw)[pick].sum()
            results[name].append(clv * saved - contact_cost * len(pick))
    r, u = np.array(results["risk_only"]), np.array(results["uplift_aware"])
    diff = u - r
    return {
        "risk_only_value": float(r.mean()),
        "uplift_aware_value": float(u.mean()),
        "difference": float(diff.mean()),
        "difference_se": float(diff.std(ddof=1) / np.sqrt(len(diff))),
        "n_contacts_risk_only": int(len(pick_risk)),
        "n_contacts_uplift_aware": int(len(pick_value)),
        "selected_model": model.report_.selected,
    }
