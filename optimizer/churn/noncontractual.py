"""Churn timing for businesses without contracts: churn risk = 1 - P(alive) (BG/NBD or Pareto/NBD).

Nobody announces that they left a shop or an app, so there is no 0/1 churn flag. A purchase model
fitted on (frequency, recency, T) gives each customer's P(alive); with no purchase after today it
falls day by day. Churn risk after ``s`` more silent days is ``q(s) = 1 - P(alive | x, t_x, T + s)``.

Per segment (``fit_by: segment``; the default for segments from a summary file's ``segment_col``). The
purchase model is fitted on every customer (the pooled fit) and on each segment with enough data (>= ``fit_min_customers`` customers and >=
``fit_min_repeat_buyers`` repeat buyers; :mod:`optimizer.churn.clv.grouped`); each customer is
scored with her segment's parameters, a smaller segment with the pooled ones, and the report lists
every segment's size, parameters, log-likelihood and, when pooled, why. Segments made by the
segments section (``data: segments``) are cut on recency/frequency/tenure, the model's own data, so
there the default is ``fit_by: all`` (per-segment fits on truncated data are biased) and the
results are reported per segment.

Timing. The crossing is the first day ``s`` in 0..horizon_days with ``q(s) >= threshold``
(``crossing_in_days``, whole days) and, on a continuous scale, the root of ``q(s) = threshold``
between the two grid days around it (linear interpolation of ``q``, which is smooth and rises in
``s``; ``crossing_in_days_continuous``). The contact goes out ``lead_days`` before the whole-day
crossing, not before today. A customer already past the threshold today is contacted today.
BG/NBD customers with no repeat purchase have P(alive) = 1 by construction (dropout happens only
after a purchase), so they never cross; Pareto/NBD does not have that property.

Economics (Neslin et al. 2006; :mod:`optimizer.churn.economics`). With ``p`` = q at the contact
day, ``gamma`` the uplift, ``delta`` the incentive, ``psi`` the acceptance among would-stay
customers and ``c`` the contact cost, the contact's expected value is
``p gamma (clv - delta) - (1 - p) psi delta - c``; only positive values are contacted, and only
when their sum covers ``fixed_cost``. The weekly cost counts contacts, expected incentives and the
fixed cost (in the first contact week).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import DataError, ScenarioError

CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class NonContractualReport:
    """What the purchase-model fit found (the non-contractual counterpart of ``ModelReport``).

    Attributes: selected (``bgnbd`` / ``paretonbd``), select_by (``mle``), params (dict; the pooled
    fit on every customer; rates per day), loglik (pooled, total), n_customers, n_repeat (customers
    with >= 1 repeat purchase), source (``segments`` or the file name), warnings, fits
    (:class:`~optimizer.churn.clv.grouped.GroupedFit`: per-segment parameters, log-likelihoods,
    sizes, which segments were pooled and why, the likelihood-ratio test of per-segment vs pooled).
    """

    selected: str
    params: dict
    loglik: float
    n_customers: int
    n_repeat: int
    source: str
    select_by: str = "mle"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    fits: Any = None

    @property
    def ph_test(self) -> tuple[str, ...]:
        return ("not applicable (non-contractual purchase model, no hazard regression).",)

    def summary(self) -> pd.DataFrame:
        """One row per segment: n_customers, n_repeat, fit (own/pooled), parameters, loglik, reason."""
        return self.fits.summary() if self.fits is not None else pd.DataFrame()

    def to_dict(self) -> dict:
        out = {"selected": self.selected, "select_by": self.select_by, "params": self.params,
               "loglik": self.loglik, "n_customers": self.n_customers, "n_repeat": self.n_repeat,
               "source": self.source, "warnings": list(self.warnings)}
        if self.fits is not None:
            out.update(self.fits.to_dict())
        return out

    def detail_lines(self) -> list[str]:
        """Markdown: the per-segment parameter table and the pooled-vs-segment test."""
        if self.fits is None:
            return []
        names = list(self.params)
        lines = ["", f"Purchase-model parameters by segment (fit_by: {self.fits.fit_by}; an own fit needs >= "
                     f"{self.fits.min_customers} customers and >= {self.fits.min_repeat_buyers} repeat buyers):", "",
                 "| segment | customers | repeat buyers | fit | " + " | ".join(names) + " | log-likelihood | note |",
                 "|---|---:|---:|---|" + "---:|" * (len(names) + 1) + "---|"]
        for f in self.fits.segments:
            vals = " | ".join(f"{f.params[k]:.4g}" for k in names)
            lines.append(f"| {f.segment} | {f.n_customers} | {f.n_repeat} | {f.fit} | {vals} | {f.loglik:.2f} | "
                         f"{f.reason} |")
        pooled = " | ".join(f"{self.params[k]:.4g}" for k in names)
        lines.append(f"| (all, pooled) | {self.n_customers} | {self.n_repeat} | pooled | {pooled} | {self.loglik:.2f} | |")
        lr = self.fits.lr_test
        if lr is not None:
            lines += ["", f"Per-segment vs pooled: likelihood ratio {lr['statistic']:.2f} on {lr['df']} df, p = "
                          f"{lr['p_value']:.3g}; AIC {lr['aic_by_segment']:.1f} by segment vs {lr['aic_pooled']:.1f} pooled."]
        return lines

    def __str__(self) -> str:
        body = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        text = (f"Non-contractual churn model: {self.selected} ({body}); log-likelihood {self.loglik:.2f} over "
                f"{self.n_customers} customers ({self.n_repeat} with repeat purchases); data from {self.source}.")
        if self.fits is not None and len(self.fits.segments) > 1:
            text += "\n" + self.fits.summary().to_string(index=False)
        return text


def summaries(config, ctx) -> tuple[pd.DataFrame, str]:
    """(id, segment, x, t_x, T) per customer from the segments result or a summary file."""
    if config.data == "segments":
        seg = (ctx.results or {}).get("segments")
        if seg is None:
            raise ScenarioError("churn.data is 'segments' but the plan has no segments result; add a segments: "
                                "section (it runs before churn) or point churn.data to a summary file.")
        c = seg.customers
        return pd.DataFrame({"id": c["customer"].to_numpy(), "segment": c["segment"].to_numpy(),
                             "x": c["frequency"].to_numpy(float), "t_x": c["t_x_days"].to_numpy(float),
                             "T": c["tenure_days"].to_numpy(float)}), "segments"
    from optimizer.churn.data import read_table

    path = Path(config.data) if Path(config.data).is_absolute() else ctx.base_dir / config.data
    df = read_table(path)
    cols = {"frequency_col": config.frequency_col, "recency_col": config.recency_col, "tenure_col": config.tenure_col}
    if config.segment_col:
        cols["segment_col"] = config.segment_col
    if config.id_col:
        cols["id_col"] = config.id_col
    missing = {k: v for k, v in cols.items() if v not in df.columns}
    if missing:
        raise DataError(f"{config.data}: churn.{', churn.'.join(missing)} name column(s) {sorted(missing.values())} "
                        f"that the file does not have; columns found: {list(df.columns)[:20]}.")
    out = pd.DataFrame({
        "id": df[config.id_col].to_numpy() if config.id_col else np.arange(len(df)),
        "segment": df[config.segment_col].astype(str).to_numpy() if config.segment_col else "all",
        "x": pd.to_numeric(df[config.frequency_col], errors="coerce").to_numpy(float),
        "t_x": pd.to_numeric(df[config.recency_col], errors="coerce").to_numpy(float),
        "T": pd.to_numeric(df[config.tenure_col], errors="coerce").to_numpy(float),
    })
    return out, Path(config.data).name


def risk_curve(model, x, tx, T, horizon_days: int) -> np.ndarray:
    """q(s) = 1 - P(alive | x, t_x, T + s) for s = 0..horizon_days (rows: customers)."""
    grid = np.arange(horizon_days + 1, dtype=float)
    out = np.empty((x.size, grid.size))
    for lo in range(0, x.size, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, x.size)
        out[lo:hi] = 1.0 - model.p_alive(x[lo:hi, None], tx[lo:hi, None], T[lo:hi, None] + grid[None, :])
    return out


def crossings(q: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-day crossing (-1 if none), continuous crossing (-1 if none) and status per row."""
    hit = q >= threshold
    any_hit = hit.any(axis=1)
    first = np.where(any_hit, np.argmax(hit, axis=1), -1)
    cont = np.full(q.shape[0], -1.0)
    rows = np.flatnonzero(any_hit & (first > 0))
    f = first[rows]
    lo, hi = q[rows, f - 1], q[rows, f]
    cont[rows] = (f - 1) + (threshold - lo) / np.where(hi > lo, hi - lo, 1.0)
    cont[any_hit & (first == 0)] = 0.0
    status = np.where(~any_hit, "never_crosses", np.where(first == 0, "already_crossed", "crosses"))
    return first, cont, status


def run_noncontractual(config, ctx):
    """The churn section for ``model: bgnbd | paretonbd`` (see module docstring); returns a ChurnResult."""
    from optimizer.churn.economics import CampaignEconomics
    from optimizer.churn.section import ChurnResult, campaign_totals, pseudonymize_ids, resolve_uplift
    from optimizer.churn.clv._base import check_rfm
    from optimizer.churn.clv.grouped import fit_grouped

    df, source = summaries(config, ctx)
    x, tx, T = check_rfm(df["x"], df["t_x"], df["T"])
    warnings_: list[str] = []
    n_repeat = int((x > 0).sum())
    if n_repeat < 10:
        raise DataError(f"churn ({config.model}): only {n_repeat} customer(s) have a repeat purchase; the purchase "
                        "model needs >= 10 to say anything about dropout.")
    seg = df["segment"].astype(str).to_numpy()
    # Segments made by the segments section are cut on recency, frequency and tenure: the purchase
    # model's own data. Within such a segment (x, t_x) is truncated, so a per-segment maximum likelihood
    # fit is biased (selection on the outcome) and often degenerate; the pooled fit already scores each
    # customer on her own (x, t_x, T). Per-segment fits are for segments from outside the purchase
    # history (region, acquisition channel: segment_col of a summary file).
    endogenous = config.data == "segments"
    fit_by = config.fit_by or ("all" if endogenous else "segment")
    if endogenous and fit_by == "segment":
        warnings_.append("fit_by: segment on segments cut on recency/frequency/tenure (the purchase model's own "
                         "data): each segment's (frequency, recency) is truncated, so its own fit is biased; the "
                         "pooled fit (fit_by: all, the default here) already scores every customer on her own history.")
    grouped = fit_grouped(config.model, x, tx, T, seg, fit_by=fit_by, min_customers=config.fit_min_customers,
                          min_repeat_buyers=config.fit_min_repeat_buyers)
    warnings_ += list(grouped.warnings)
    if config.model == "bgnbd" and (x == 0).any():
        warnings_.append(f"{int((x == 0).sum())} customer(s) without a repeat purchase have P(alive) = 1 under "
                         "BG/NBD and are never scheduled (use model: paretonbd to score them).")
    uplift, uplift_warn = resolve_uplift(config, seg, ctx)
    warnings_ += uplift_warn
    econ = CampaignEconomics(contact_cost=config.contact_cost, incentive_cost=config.incentive_cost,
                             acceptance_if_staying=config.acceptance_if_staying, uplift=0.0,
                             fixed_cost=config.fixed_cost)
    q = np.empty((x.size, config.horizon_days + 1))
    for s_name, m in grouped.segment_to_model.items():
        rows = np.flatnonzero(seg == s_name)
        q[rows] = risk_curve(m, x[rows], tx[rows], T[rows], config.horizon_days)
    fit_source = pd.Series(seg).map({f.segment: f.fit for f in grouped.segments}).to_numpy()
    first, cont, status = crossings(q, config.threshold)
    crosses = first >= 0
    contact_in = np.where(crosses, np.maximum(first - config.lead_days, 0), -1)
    c_idx = np.maximum(contact_in, 0)
    p_at_contact = np.where(crosses, q[np.arange(x.size), c_idx], 0.0)
    value = np.where(crosses, econ.expected_profit(p_at_contact, config.clv, uplift), 0.0)
    cost = econ.expected_cost(p_at_contact, uplift)
    contact = crosses & (value > 0)
    campaign_status = "run"
    if contact.any() and value[contact].sum() <= config.fixed_cost:
        warnings_.append(f"the {int(contact.sum())} profitable contact(s) are worth {value[contact].sum():.2f} in "
                         f"total, not more than the fixed cost {config.fixed_cost:.2f}: no campaign.")
        contact[:] = False
        campaign_status = "not_worth_fixed_cost"
    plan = pd.DataFrame({
        "frequency": x, "t_x_days": tx, "tenure_days": T,
        "p_alive": 1.0 - q[:, 0],
        "p_churn_window": q[:, 0],
        "status": status,
        "crossing_in_days": first,
        "crossing_in_days_continuous": cont,
        "contact_in_days": contact_in,
        "p_save": p_at_contact,
        "uplift": uplift,
        "clv": float(config.clv),
        "value": value,
        "expected_cost": np.where(contact, cost, 0.0),
        "contact": contact,
        "purchase_model_fit": fit_source,
    })
    schedule = _schedule(plan, seg, config)
    customers = plan.copy()
    customers.insert(0, "customer_id", df["id"].to_numpy())
    customers.insert(1, "segment", seg)
    customers["contact_date"] = [(config.start_date + timedelta(days=int(d))).isoformat() if ok else ""
                                 for d, ok in zip(customers["contact_in_days"], customers["contact"])]
    seg_result = (ctx.results or {}).get("segments") if config.data == "segments" else None
    customers = pseudonymize_ids(config, ctx, customers, already=bool(getattr(seg_result, "pseudonymized", False)))
    n_contacts = int(contact.sum())
    totals = {**campaign_totals(plan, int(x.size), config), "campaign_status": campaign_status}
    pooled = grouped.pooled
    report = NonContractualReport(config.model, {k: float(v) for k, v in pooled.params_.items()},
                                  float(pooled.loglik_), int(x.size), n_repeat, source, warnings=tuple(warnings_),
                                  fits=grouped)
    return ChurnResult(status="ok" if n_contacts else "no_contacts", warnings=tuple(warnings_), name=config.name,
                       seed=ctx.seed, report=report, schedule=schedule, customers=customers, totals=totals)


def _schedule(plan: pd.DataFrame, seg: np.ndarray, config) -> pd.DataFrame:
    """Week x segment: contacts, cost (contacts + expected incentives + the fixed cost in the first week), value."""
    cols = ["week_start", "segment", "n_contacts", "cost", "expected_value"]
    chosen = plan[plan["contact"]].copy()
    if chosen.empty:
        return pd.DataFrame(columns=cols)
    chosen["segment"] = seg[plan["contact"].to_numpy()]
    chosen["week_start"] = [config.start_date + timedelta(days=int(7 * (d // 7))) for d in chosen["contact_in_days"]]
    out = (chosen.groupby(["week_start", "segment"], sort=True)
           .agg(n_contacts=("contact", "size"), cost=("expected_cost", "sum"), expected_value=("value", "sum"))
           .reset_index())
    first = out["week_start"] == out["week_start"].min()
    # The fixed cost is paid once, in the first contact week, shared over its segments by contacts.
    out.loc[first, "cost"] += config.fixed_cost * out.loc[first, "n_contacts"] / out.loc[first, "n_contacts"].sum()
    out.loc[first, "expected_value"] -= config.fixed_cost * out.loc[first, "n_contacts"] / out.loc[first, "n_contacts"].sum()
    return out[cols]
