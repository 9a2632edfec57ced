"""Segments end to end: features -> RFM groups -> P(alive)/CLV -> K-means segments -> profiles.

:func:`run_segments` is what both ``dmpopt segments fit`` and the ``segments:`` scenario section
call. Units: days for recency/tenure, purchase days for frequency, report currency for money
(``monetary`` per purchase day, ``revenue`` net over the data, ``clv`` over ``value.horizon_days``
discounted), shares as fractions 0-1.

What is written where (``files()``; the HMAC key and raw ids never reach plan.json, logs or reports):

=========================  ===========================================================  ==================
file                       content                                                      customer ids
=========================  ===========================================================  ==================
segments_profiles.csv      one row per segment: size, share, mean R/F/M, revenue share  none
segments_rfm_groups.csv    the same per RFM group                                       none
segments_report.json       counts of every data defect, k curve, model parameters       none
segments_model.json        scaler and centroids (to match next run's segments)          none
segments_customers.csv     per customer: features, scores, group, segment, P(alive),    raw, or pseudonyms
                           CLV                                                          with pseudonymize
=========================  ===========================================================  ==================
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import ConvergenceWarning, DataError, ScenarioError
from optimizer.segments.config import SegmentsConfig

PERIOD_DAYS = 30.0  # CLV cash-flow period


@dataclass(frozen=True)
class SegmentsResult:
    """Result of a segments run.

    Attributes
    ----------
    status: ``ok`` (when P(alive)/CLV could not be fitted, ``warnings`` says why and those columns are empty).
    warnings: data-handling notes with counts, and model warnings.
    seed: seed of K-means and of the k-choice sample.
    as_of: end of observation (exclusive, ISO date).
    counts: data-quality counts (see :class:`optimizer.segments.aggregate.FeatureTable`).
    k_curve: DataFrame k, inertia, silhouette (empty when ``k`` was given).
    k: number of segments; k_rule: ``silhouette``, ``elbow`` or ``given``.
    profiles: per segment (see :func:`profile_table`); rfm_groups: the same per RFM group.
    customers: per-customer DataFrame (``customer`` is a pseudonym when pseudonymized).
    value_models: fitted purchase and spend model parameters (dicts), or {}.
    model: the segments model (scaler, centroids, labels) as written to segments_model.json.
    matched: previous label -> centroid distance when labels were matched to a previous run.
    pseudonymized: whether ``customers.customer`` holds pseudonyms.
    """

    status: str
    warnings: tuple[str, ...]
    seed: int
    as_of: str
    counts: dict[str, Any]
    k_curve: Any
    k: int
    k_rule: str
    profiles: Any
    rfm_groups: Any
    customers: Any
    value_models: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    matched: dict[str, float] | None = None
    pseudonymized: bool = False

    def summary(self) -> pd.DataFrame:
        """The segment profiles."""
        return self.profiles

    def segment_to_audience_share(self) -> dict[str, float]:
        """Segment label -> share of customers (0-1); what the budget's audience share takes."""
        return {str(r.segment): float(r.share) for r in self.profiles.itertuples()}

    def segment_to_size(self) -> dict[str, int]:
        """Segment label -> number of customers."""
        return {str(r.segment): int(r.n_customers) for r in self.profiles.itertuples()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, without any customer id."""
        return {
            "status": self.status,
            "warnings": list(self.warnings),
            "seed": self.seed,
            "as_of": self.as_of,
            "counts": self.counts,
            "k": self.k,
            "k_rule": self.k_rule,
            "k_curve": _records(self.k_curve),
            "profiles": _records(self.profiles),
            "rfm_groups": _records(self.rfm_groups),
            "value_models": self.value_models,
            "matched_to_previous": self.matched,
            "pseudonymized": self.pseudonymized,
        }

    def __str__(self) -> str:
        c = self.counts
        head = (f"Segments ({self.status}, as of {self.as_of}): {c['n_customers']} customers from {c['n_rows']} rows; "
                f"k = {self.k} ({self.k_rule}), seed {self.seed}")
        body = self.profiles.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        notes = "".join(f"\n- {w}" for w in self.warnings)
        return f"{head}\n{body}{notes}"

    def files(self) -> dict[str, bytes]:
        """Output files by name (see module docstring)."""
        report = {k: v for k, v in self.to_dict().items() if k not in ("profiles", "rfm_groups")}
        return {
            "segments_profiles.csv": self.profiles.to_csv(index=False).encode(),
            "segments_rfm_groups.csv": self.rfm_groups.to_csv(index=False).encode(),
            "segments_report.json": (json.dumps(report, indent=2, allow_nan=False, default=_json_default) + "\n").encode(),
            "segments_model.json": (json.dumps(self.model, indent=2) + "\n").encode(),
            "segments_customers.csv": self.customers.to_csv(index=False).encode(),
        }


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    raise TypeError(type(v).__name__)


def _records(df) -> list[dict[str, Any]]:
    if df is None or len(df) == 0:
        return []
    out = []
    for row in df.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                        (v.item() if hasattr(v, "item") else v)) for k, v in row.items()})
    return out


def profile_table(customers: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of ``by``: n_customers, share, mean recency_days/frequency/monetary, revenue (net),
    revenue_share, mean p_alive and expected_value (mean CLV per customer; NaN without a value model)."""
    total_rev = customers["revenue"].sum()
    g = customers.groupby(by, sort=True)
    prof = pd.DataFrame({
        "n_customers": g.size(),
        "mean_recency_days": g["recency_days"].mean(),
        "mean_frequency": g["frequency"].mean(),
        "mean_monetary": g["monetary"].mean(),
        "revenue": g["revenue"].sum(),
        "mean_p_alive": g["p_alive"].mean(),
        "expected_value": g["clv"].mean(),
    })
    prof.insert(1, "share", prof["n_customers"] / len(customers))
    prof.insert(prof.columns.get_loc("revenue") + 1, "revenue_share",
                prof["revenue"] / total_rev if total_rev != 0 else np.nan)
    prof = prof.reset_index().rename(columns={by: "segment" if by == "segment" else by})
    return prof


def _value(cfg: SegmentsConfig, f: pd.DataFrame, warns: list[str]) -> tuple[dict, pd.DataFrame]:
    """P(alive), expected purchases and CLV per customer (NaN columns when the models cannot be fitted)."""
    from optimizer.churn.clv import PURCHASE_MODELS, GammaGammaModel, customer_lifetime_value

    n = len(f)
    out = pd.DataFrame({"p_alive": np.full(n, np.nan), "expected_purchases": np.full(n, np.nan),
                        "expected_spend": np.full(n, np.nan), "clv": np.full(n, np.nan)}, index=f.index)
    v = cfg.value
    if v.model == "none":
        return {}, out
    x, tx, T = (f[c].to_numpy(float) for c in ("frequency", "t_x_days", "tenure_days"))
    if (x > 0).sum() < 10:
        warns.append(f"only {int((x > 0).sum())} customer(s) bought more than once; P(alive) and CLV need >= 10 "
                     "repeat buyers and are left empty.")
        return {}, out
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            pm = PURCHASE_MODELS[v.model]().fit(x, tx, T)
            m = f["monetary_repeat"].to_numpy(float)
            ok = (x > 0) & (m > 0)
            if (~ok & (x > 0)).any():
                warns.append(f"{int((~ok & (x > 0)).sum())} repeat buyer(s) have net repeat spend <= 0 (returns); "
                             "they are left out of the Gamma-Gamma spend fit.")
            gg = GammaGammaModel().fit(x[ok], m[ok])
        warns.extend(str(w.message) for w in caught)
    except DataError as exc:
        warns.append(f"P(alive)/CLV not computed: {exc}")
        return {}, out
    spend = gg.expected_spend(x, np.where(ok, m, 0.0))
    if gg.params_["q"] <= 1:
        warns.append(f"Gamma-Gamma q = {gg.params_['q']:.3f} <= 1: mean spend is unbounded; CLV uses each "
                     "customer's own mean instead.")
        spend = np.where(ok, m, np.nanmedian(m[ok]) if ok.any() else 0.0)
    n_periods = max(1, math.ceil(v.horizon_days / PERIOD_DAYS))
    rate = (1 + v.discount_rate_annual) ** (PERIOD_DAYS / 365.0) - 1
    out["p_alive"] = pm.p_alive(x, tx, T)
    out["expected_purchases"] = pm.expected_purchases(float(v.horizon_days), x, tx, T)
    out["expected_spend"] = spend
    out["clv"] = customer_lifetime_value(pm, x, tx, T, spend, n_periods=n_periods, period_length=PERIOD_DAYS,
                                         discount_rate=rate, margin=v.margin)
    return {"purchase": pm.to_dict(), "spend": gg.to_dict(), "horizon_days": v.horizon_days,
            "discount_rate_per_30_days": rate, "margin": v.margin}, out


def read_previous(path: Path) -> dict:
    """A previous ``segments_model.json`` (the file or the folder holding it)."""
    p = path / "segments_model.json" if path.is_dir() else path
    try:
        model = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"segments.previous {str(p)!r} cannot be read as a segments model ({exc}).") from None
    if not {"features", "labels", "centroids_log"} <= set(model):
        raise ScenarioError(f"segments.previous {str(p)!r} is not a segments_model.json (keys {sorted(model)}).")
    return model


def run_segments(cfg: SegmentsConfig, base_dir: Path, seed: int, data: str | Path | None = None,
                 engine=None) -> SegmentsResult:
    """Features, RFM groups, value, K-means and profiles for the transactions of ``data`` or ``cfg.data``."""
    from optimizer.segments.aggregate import customer_features
    from optimizer.segments.kmeans import choose_k, feature_matrix, fit_segments
    from optimizer.segments.rfm import rfm_table

    src = data if data is not None else cfg.data
    if src is None:
        raise ScenarioError("segments.data is not set; give the transactions file (CSV or Parquet).")
    path = Path(src) if Path(src).is_absolute() else Path(base_dir) / src
    key = None
    if cfg.pseudonymize:
        from optimizer.segments.privacy import load_key

        key_file = cfg.pseudonym_key_file
        if key_file is not None and not Path(key_file).is_absolute():
            key_file = str(Path(base_dir) / key_file)
        key = load_key(cfg.pseudonym_key_env, key_file)  # fail before the heavy work
    previous = None
    if cfg.previous is not None:
        prev_path = Path(cfg.previous) if Path(cfg.previous).is_absolute() else Path(base_dir) / cfg.previous
        previous = read_previous(prev_path)
    table = customer_features(cfg, path, engine=engine)
    f = table.customers
    c = table.counts
    warns: list[str] = []
    if c["n_duplicates"]:
        warns.append(f"{c['n_duplicates']} exact duplicate row(s) "
                     + ("dropped." if cfg.duplicates == "drop" else "kept (duplicates: keep)."))
    if c["n_future"]:
        warns.append(f"{c['n_future']} row(s) dated on or after as_of {table.as_of} (future dates) dropped.")
    if c["n_returns"]:
        warns.append(f"{c['n_returns']} row(s) with a negative amount treated as returns: netted into revenue, "
                     "never a purchase occasion.")
    if c["n_customers_no_purchase"]:
        warns.append(f"{c['n_customers_no_purchase']} customer(s) with returns or zero amounts only are left out.")
    if c["n_single_purchase"]:
        warns.append(f"{c['n_single_purchase']} customer(s) bought on one day only (frequency 0): kept; "
                     "they are not in the spend model fit.")
    rfm = rfm_table(f)
    value_models, value = _value(cfg, f, warns)
    X = feature_matrix(f, list(cfg.features))
    if cfg.k is not None:
        n_distinct = np.unique(X, axis=0).shape[0]
        if cfg.k > n_distinct:
            raise DataError(f"segments.k is {cfg.k} but the customers have only {n_distinct} distinct feature "
                            f"row(s); k must be <= {n_distinct}.")
        k, rule, curve = cfg.k, "given", pd.DataFrame(columns=["k", "inertia", "silhouette"])
    else:
        mean, sd = X.mean(axis=0), X.std(axis=0)
        choice = choose_k((X - mean) / np.where(sd > 0, sd, 1.0), cfg.k_min, cfg.k_max, cfg.select_k_by,
                          cfg.sample_size, seed)
        k, rule, curve = choice.k, choice.by, choice.curve
    seg = fit_segments(X, k, seed, f["revenue"].to_numpy(float), list(cfg.features), previous)
    if previous is not None and seg.matched is None:
        warns.append(f"segments.previous uses features {previous.get('features')}, this run {list(cfg.features)}; "
                     "labels were not matched.")
    customers = pd.concat([f, rfm, value], axis=1)
    customers["segment"] = seg.labels
    profiles = profile_table(customers, "segment")
    groups = profile_table(customers, "rfm_group").rename(columns={"rfm_group": "group"})
    if key is not None:
        from optimizer.segments.privacy import pseudonymize

        customers["customer"] = pseudonymize(customers["customer"].tolist(), key)
    cols = ["customer", "segment", "rfm_group", "rfm", "r_score", "f_score", "m_score", "recency_days", "frequency",
            "monetary", "tenure_days", "t_x_days", "monetary_repeat", "n_transactions", "revenue", "returns",
            "p_alive", "expected_purchases", "expected_spend", "clv"]
    return SegmentsResult(
        status="ok",
        warnings=tuple(warns), seed=seed, as_of=table.as_of, counts=c, k_curve=curve, k=k, k_rule=rule,
        profiles=profiles, rfm_groups=groups, customers=customers[cols], value_models=value_models,
        model={**seg.model_dict(seed), "as_of": table.as_of}, matched=seg.matched, pseudonymized=key is not None,
    )


__all__ = ["SegmentsResult", "run_segments", "profile_table", "read_previous"]
