"""K-means segments on scaled RFM features, k by silhouette or elbow, labels stable across runs.

Features: ``log1p`` of each chosen feature (monetary clipped at 0 first: a net-negative customer is
a 0), then standardised (mean 0, sd 1). The log tames the long right tails of frequency and spend,
which would otherwise own the distance.

Choosing k (when ``k`` is not given): K-means is fitted for each k in [k_min, k_max] on a seeded
sample; ``silhouette`` takes the k with the largest mean silhouette, ``elbow`` the k whose
(k, inertia) point lies farthest from the chord between the first and the last point (both axes
scaled to 0-1). The whole curve is reported.

Labels. Segments are named ``S1..Sk`` by descending mean net revenue per customer, so the same
seed and data give the same labels. With a previous run's model (``segments_model.json``) the new
centroids are matched to the old ones by the Hungarian method
(``scipy.optimize.linear_sum_assignment``) on centroid distance in the new standardised space, and
keep the old labels; a new segment without a partner gets the next free label.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURE_COLUMNS = {"recency": "recency_days", "frequency": "frequency", "monetary": "monetary", "tenure": "tenure_days"}


def feature_matrix(features: pd.DataFrame, names: list[str]) -> np.ndarray:
    """log1p features (unscaled), columns in the order of ``names``."""
    cols = [np.log1p(np.clip(features[FEATURE_COLUMNS[n]].to_numpy(float), 0, None)) for n in names]
    return np.column_stack(cols)


@dataclass(frozen=True)
class KChoice:
    """The k curve: ``curve`` DataFrame (k, inertia, silhouette) and the chosen ``k`` with its rule."""

    k: int
    by: str
    curve: pd.DataFrame


class _OneThreadKMeans:
    """scikit-learn KMeans run with one OpenMP/BLAS thread.

    On the 2-core shared machine sklearn's default thread pool made a 3,000-row fit take 1.8 s
    (threads spinning against other processes) against 0.02 s with one thread; one thread also
    makes the result independent of the machine's core count.
    """

    def __init__(self, **kw):
        from sklearn.cluster import KMeans

        self._km = KMeans(**kw)

    def fit(self, Z):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            self._km.fit(Z)
        return self._km


def _kmeans(k: int, seed: int, n_init: int = 10):
    return _OneThreadKMeans(n_clusters=k, n_init=n_init, random_state=seed)


def choose_k(Z: np.ndarray, k_min: int, k_max: int, by: str, sample_size: int, seed: int) -> KChoice:
    """Fit k = k_min..k_max on a seeded sample and pick k (see module docstring)."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    S = Z if Z.shape[0] <= sample_size else Z[np.sort(rng.choice(Z.shape[0], sample_size, replace=False))]
    n_distinct = np.unique(S, axis=0).shape[0]
    ks = [k for k in range(k_min, k_max + 1) if k < n_distinct]
    if not ks:
        return KChoice(1, "too_few_distinct_customers", pd.DataFrame({"k": [1], "inertia": [np.nan], "silhouette": [np.nan]}))
    rows = []
    for k in ks:
        km = _kmeans(k, seed, n_init=4).fit(S)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            sil = float(silhouette_score(S, km.labels_, sample_size=min(S.shape[0], 5000), random_state=seed))
        rows.append((k, float(km.inertia_), sil))
    curve = pd.DataFrame(rows, columns=["k", "inertia", "silhouette"])
    if by == "silhouette" or len(ks) < 3:
        k = int(curve.loc[curve["silhouette"].idxmax(), "k"])
    else:
        x = (curve["k"] - curve["k"].iloc[0]) / (curve["k"].iloc[-1] - curve["k"].iloc[0])
        span = curve["inertia"].iloc[0] - curve["inertia"].iloc[-1]
        y = (curve["inertia"] - curve["inertia"].iloc[-1]) / (span if span > 0 else 1.0)
        # distance of (x, y) to the chord from (0, 1) to (1, 0): |x + y - 1| / sqrt(2)
        k = int(curve.loc[(1 - x - y).abs().idxmax(), "k"])
    return KChoice(k, by, curve)


@dataclass(frozen=True)
class KMeansSegments:
    """Fitted segments: per-customer ``labels`` (S1..), ``centroids_log`` (k x features, unscaled log1p
    units), the scaler (``mean``, ``scale``), ``label_names`` in centroid order and the ``matched``
    map (new label -> previous label distance) when a previous model was given."""

    labels: np.ndarray
    label_names: list[str]
    centroids_log: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    features: list[str]
    matched: dict[str, float] | None

    def model_dict(self, seed: int) -> dict:
        """What ``segments_model.json`` holds (no customer data)."""
        return {"features": self.features, "labels": self.label_names, "centroids_log": self.centroids_log.tolist(),
                "scaler_mean": self.mean.tolist(), "scaler_scale": self.scale.tolist(), "seed": seed}


def fit_segments(X: np.ndarray, k: int, seed: int, revenue: np.ndarray, features: list[str],
                 previous: dict | None = None) -> KMeansSegments:
    """K-means with ``k`` clusters on standardised ``X`` (log1p features); labels per module docstring."""
    from scipy.optimize import linear_sum_assignment

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = (X - mean) / scale
    if k <= 1:
        raw = np.zeros(X.shape[0], dtype=int)
        centers = Z.mean(axis=0, keepdims=True)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a sklearn ConvergenceWarning (duplicate points) becomes visible here
            km = _kmeans(k, seed).fit(Z)
        raw, centers = km.labels_, km.cluster_centers_
    k = centers.shape[0]
    mean_rev = np.array([revenue[raw == j].mean() if np.any(raw == j) else -np.inf for j in range(k)])
    order = np.argsort(-mean_rev, kind="stable")
    names = [""] * k
    matched = None
    if previous is not None and previous.get("features") == features:
        old = (np.asarray(previous["centroids_log"], dtype=float) - mean) / scale
        cost = np.linalg.norm(centers[:, None, :] - old[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        matched = {}
        for r_, c_ in zip(rows, cols):
            names[r_] = previous["labels"][c_]
            matched[names[r_]] = float(cost[r_, c_])
        used = {int(n[1:]) for n in previous["labels"] if n[1:].isdigit()}
        nxt = max(used, default=0) + 1
        for j in order:
            if not names[j]:
                names[j] = f"S{nxt}"
                nxt += 1
    else:
        for rank, j in enumerate(order, start=1):
            names[j] = f"S{rank}"
    labels = np.array(names, dtype=object)[raw]
    return KMeansSegments(labels, names, centers * scale + mean, mean, scale, list(features), matched)
